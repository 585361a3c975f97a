"""The vocabulary and the rules of a payment's life: its statuses, which report from the bank
may move it from which status to which, what each move means to the shop, and which operations
ePay accepts in which status.

Reports only ever move a payment forward: a late failure never downgrades a success, refunds
and cancels are final. The same table drives every update as a conditional ``UPDATE ... WHERE
status IN (...)``, so the database, not a lock in one process, decides which of several
concurrent copies of a report wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # annotations only: the records module imports this one
    from .models import PaymentRecord

__all__ = [
    "ALLOWED_FROM",
    "BANK_STATUS",
    "OPERABLE_FROM",
    "Change",
    "EventVerdict",
    "Operation",
    "PaymentStatus",
    "Refusal",
    "RefusalCode",
    "change_for",
    "operation_refusal",
    "refusal_of",
    "target_for_bank_status",
    "verification_target",
]


class PaymentStatus(StrEnum):
    """A payment's state in the ledger (see docs/ledger.md for the transitions)."""

    NEW = "new"
    AUTHORIZED = "authorized"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    #: Never paid, and no longer payable: its token expired long ago and ePay does not know the
    #: invoice. A late success still moves it to ``paid`` / ``authorized`` (the bank decides).
    EXPIRED = "expired"
    #: A card verification (amount 0) the bank approved: the card is checked (and saved when
    #: asked), no money moved. Final.
    VERIFIED = "verified"

    @property
    def is_success_or_verified(self) -> bool:
        """The customer's card was accepted: paid, or verified (amount 0)."""
        return self.is_success or self is PaymentStatus.VERIFIED

    @property
    def is_success(self) -> bool:
        """The customer paid (money held or taken), whatever happened to it afterwards."""
        return self in _SUCCESSFUL

    @property
    def is_pending(self) -> bool:
        """The ledger does not know the outcome yet."""
        return self is PaymentStatus.NEW


_SUCCESSFUL = frozenset(
    {
        PaymentStatus.AUTHORIZED,
        PaymentStatus.PAID,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
    }
)


class EventVerdict(StrEnum):
    """What became of one stored postLink (or status answer)."""

    RECEIVED = "received"  # stored, not yet judged (or the process died while judging it)
    MALFORMED = "malformed"  # 400: not a postLink
    REJECTED = "rejected"  # 403: forged, foreign, unknown invoice, or the bank says otherwise
    DEFERRED = "deferred"  # 503: the status re-check could not reach ePay; reconcile settles it
    DUPLICATE = "duplicate"  # 200: the payment was already in this state
    STALE = "stale"  # 200: would move the payment backwards (a late failure); ignored
    DISPATCHING = "dispatching"  # applied; receivers are running
    APPLIED = "applied"  # 200: changed the payment, receivers ran
    FAILED = "failed"  # 200: changed the payment, a receiver raised; `flask halyk reprocess`


class Change(StrEnum):
    """What a ledger update meant for the shop; each one fires its own signal."""

    SUCCEEDED = "succeeded"  # payment_succeeded
    FAILED = "failed"  # payment_failed
    CHARGED = "charged"  # payment_charged
    CANCELLED = "cancelled"  # payment_cancelled
    REFUNDED = "refunded"  # payment_refunded
    EXPIRED = "expired"  # payment_expired
    VERIFIED = "verified"  # card_saved (a card verification, amount 0)


S = PaymentStatus

#: target status -> the statuses a report may move a payment from to reach it.
ALLOWED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    # A declined card may be followed by a good one on the same invoice: success beats failure.
    # Expiry is the ledger's inference, the bank's success is a fact: a late one still counts.
    S.AUTHORIZED: frozenset({S.NEW, S.FAILED, S.EXPIRED}),
    S.PAID: frozenset({S.NEW, S.FAILED, S.AUTHORIZED, S.EXPIRED}),
    # Not from EXPIRED: the shop was told once the payment will not come (payment_expired); a
    # late decline says nothing new and would tell it twice. The raw report stays in the events.
    S.FAILED: frozenset({S.NEW}),
    S.CANCELLED: frozenset({S.NEW, S.AUTHORIZED, S.PAID}),
    S.REFUNDED: frozenset({S.PAID, S.PARTIALLY_REFUNDED}),
    # Partial refunds are recorded by amount (see Ledger.record_refund), never by a report alone.
    S.PARTIALLY_REFUNDED: frozenset(),
    S.NEW: frozenset(),
    # Decided by reconcile alone (recovery.reconcile): the token expired long ago and ePay
    # answered "not found" (102); never from a postLink.
    S.EXPIRED: frozenset({S.NEW}),
    # A card verification (amount 0): a success of a payment of nothing, see verification_target.
    S.VERIFIED: frozenset({S.NEW, S.FAILED, S.EXPIRED}),
}

#: The shop's operations.
Operation = Literal["charge", "cancel", "refund"]

#: Operation -> the statuses ePay accepts it from: charge and cancel only from AUTH
#: (``authorized``: "only if the transaction is in Auth status", the vendor's cancel page),
#: refund only from CHARGE (``paid``, and what is left of a ``partially_refunded`` one).
OPERABLE_FROM: dict[Operation, frozenset[PaymentStatus]] = {
    "charge": frozenset({S.AUTHORIZED}),
    "cancel": frozenset({S.AUTHORIZED}),
    "refund": frozenset({S.PAID, S.PARTIALLY_REFUNDED}),
}

#: The bank's statusName -> ledger status. Absent names (NEW, 3D, FINGERPRINT) are
#: not final: they leave the payment as it is.
BANK_STATUS: dict[str, PaymentStatus] = {
    "AUTH": S.AUTHORIZED,
    "CHARGE": S.PAID,
    "CANCEL": S.CANCELLED,
    "CANCEL_OLD": S.CANCELLED,
    "REFUND": S.REFUNDED,
    "FAILED": S.FAILED,
    "REJECT": S.FAILED,
    # Only a card verification (amount 0) ends so.
    "VERIFIED": S.VERIFIED,
}


def target_for_bank_status(status_name: str | None) -> PaymentStatus | None:
    """The ledger status a statusName means, or None when it is not final."""
    if not status_name:
        return None
    return BANK_STATUS.get(status_name.strip().upper())


def verification_target(payment: PaymentRecord, target: PaymentStatus) -> PaymentStatus:
    """``target``, except that a success of a payment of amount 0 (a card verification) is
    ``verified``: no money moved, and no fulfilment signal is due."""
    if payment.amount == 0 and target in (S.PAID, S.AUTHORIZED):
        return S.VERIFIED
    return target


def change_for(previous: PaymentStatus, target: PaymentStatus) -> Change:
    """What moving from ``previous`` to ``target`` means to the shop (which signal fires)."""
    if target is S.VERIFIED:
        return Change.VERIFIED
    if target in (S.AUTHORIZED, S.PAID) and not previous.is_success:
        return Change.SUCCEEDED
    if target is S.PAID:
        return Change.CHARGED
    if target is S.FAILED:
        return Change.FAILED
    if target is S.CANCELLED:
        return Change.CANCELLED
    if target in (S.REFUNDED, S.PARTIALLY_REFUNDED):
        return Change.REFUNDED
    if target is S.EXPIRED:
        return Change.EXPIRED
    raise ValueError(f"no change leads from {previous} to {target}")


_VERB = {"charge": "charged", "cancel": "cancelled", "refund": "refunded"}

#: Why the ledger refuses an operation (:attr:`Refusal.code`).
RefusalCode = Literal["state", "no_transaction", "nothing_left", "over_left", "over_authorised"]


@dataclass(frozen=True)
class Refusal:
    """Why ePay would refuse an operation, in words (:attr:`text`, English) and in parts a
    back office words in its own language: ``code``, the payment's ``status``, the ``amount``
    asked, what is ``left`` (a refund's, or what a charge may take), and the refunds
    ``in_flight``."""

    code: RefusalCode
    text: str
    operation: Operation
    invoice_id: str
    status: PaymentStatus
    amount: Decimal | None = None
    left: Decimal | None = None
    in_flight: Decimal = Decimal(0)


def refusal_of(payment: PaymentRecord, operation: Operation, amount: Decimal | None = None, *,
               in_flight: Decimal = Decimal(0)) -> Refusal | None:
    """Why ePay would refuse ``operation`` (of ``amount``, when partial) on ``payment``, as far
    as the ledger knows; ``None`` when it would accept it. The one rule behind both the
    operations and what :class:`~flask_halyk.ledger.PaymentRecord` offers (``can_refund``...).

    Decided from the record alone, never from ``HALYK_TWO_STAGE``: that setting already chose,
    when the success was recorded, between ``authorized`` (held: charge or cancel it) and
    ``paid`` (taken: refund it). Every operation also needs the bank's transaction id.

    ``in_flight``: refunds already on their way to ePay and not answered yet (reserved in the
    ledger under the payment's row lock): they count as refunded, so that two refunds at once
    never promise the same money.
    """
    invoice_id, status = payment.invoice_id, payment.status

    def refused(code: RefusalCode, text: str, left: Decimal | None = None) -> Refusal:
        return Refusal(code, text, operation, invoice_id, status, amount, left, in_flight)

    if operation == "refund":
        if status not in OPERABLE_FROM["refund"]:
            return refused("state", f"payment {invoice_id} is {status}: only a paid payment "
                                    "can be refunded")
    elif status not in OPERABLE_FROM[operation] or payment.charged_amount is not None:
        return refused("state", f"payment {invoice_id} is {status}: only an authorised, "
                                f"uncharged payment can be {_VERB[operation]}")
    if not payment.transaction_id:
        return refused("no_transaction",
                       f"payment {invoice_id} has no ePay transaction id yet ({status})")
    if operation == "refund":
        remaining = payment.refundable_amount - in_flight
        busy = f" ({in_flight} more is being refunded right now)" if in_flight > 0 else ""
        if remaining <= 0:
            return refused("nothing_left",
                           f"payment {invoice_id}: nothing is left to refund{busy}", Decimal(0))
        if amount is not None and amount > remaining:
            return refused("over_left", f"cannot refund {amount} of payment {invoice_id}: "
                                        f"only {remaining} is left{busy}", remaining)
    if operation == "charge" and amount is not None and amount > payment.amount:
        return refused("over_authorised", f"cannot charge {amount}: payment {invoice_id} "
                                          f"authorised {payment.amount}", payment.amount)
    return None


def operation_refusal(payment: PaymentRecord, operation: Operation,
                      amount: Decimal | None = None, *,
                      in_flight: Decimal = Decimal(0)) -> str | None:
    """:func:`refusal_of`'s text, or ``None`` when ePay would accept the operation."""
    refusal = refusal_of(payment, operation, amount, in_flight=in_flight)
    return None if refusal is None else refusal.text
