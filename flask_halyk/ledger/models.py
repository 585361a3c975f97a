"""What the ledger hands out: frozen records of payments and events, the bank's reports in
ledger terms, and the outcome of applying one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from .states import Change, EventVerdict, PaymentStatus, operation_refusal

__all__ = ["ApplyResult", "BankReport", "EventRecord", "InvoiceCapacity", "PaymentRecord"]


@dataclass(frozen=True)
class InvoiceCapacity:
    """One invoice counter's suffix space: ``terminal`` (None: not claimed by a terminal yet),
    ``ordinal`` (the digits its ids carry after the prefix; 0: none), ``used`` (counter values
    handed out, each one suffix spent) of ``space`` (10**6)."""

    terminal: str | None
    ordinal: int
    used: int
    space: int

    @property
    def left(self) -> int:
        """Suffixes this counter may still hand out."""
        return self.space - self.used

    @property
    def percent_used(self) -> float:
        """``used`` as a percentage of ``space``."""
        return 100.0 * self.used / self.space


@dataclass(frozen=True)
class PaymentRecord:
    """One payment (one invoice id) as the ledger knows it."""

    invoice_id: str
    amount: Decimal
    currency: str
    terminal: str
    description: str
    account_id: str | None
    language: str | None
    name: str | None
    email: str | None
    phone: str | None
    status: PaymentStatus
    #: The bank's last known statusName (CHARGE, AUTH, ...), when the news came with one.
    bank_status: str | None
    transaction_id: str | None
    card_mask: str | None
    card_type: str | None
    card_id: str | None
    issuer: str | None
    reference: str | None
    approval_code: str | None
    reason: str | None
    reason_code: int | None
    charged_amount: Decimal | None
    refunded_amount: Decimal
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    #: When the payment's token expires, as ePay said (``expires_in``) when it was issued; None
    #: when no token was recorded (the token request failed, or the payment predates schema 2).
    token_expires_at: datetime | None = None
    #: The shop asked the bank to keep the card (``create_payment(save_card=True)``).
    card_save: bool = False

    @property
    def is_paid(self) -> bool:
        """The customer paid (see :attr:`PaymentStatus.is_success`)."""
        return self.status.is_success

    @property
    def can_refund(self) -> bool:
        """ePay would accept a refund (in full or in part): the money was taken (``paid``, or
        ``partially_refunded`` with something left) and the bank's transaction id is known."""
        return self._can("refund")

    @property
    def can_charge(self) -> bool:
        """ePay would accept a charge: the money is only held (``authorized``, a two-stage
        terminal's payment) and not charged yet."""
        return self._can("charge")

    @property
    def can_cancel(self) -> bool:
        """ePay would accept a cancel (void): the money is only held (``authorized``) and not
        charged yet. A payment already taken is refunded instead."""
        return self._can("cancel")

    def _can(self, operation: Literal["charge", "cancel", "refund"]) -> bool:
        return operation_refusal(self, operation) is None

    @property
    def taken_amount(self) -> Decimal:
        """What the bank took: the charged amount of a (partly) charged two-stage payment,
        else the whole amount. ePay refunds at most this, so refunds count against it."""
        return self.charged_amount if self.charged_amount is not None else self.amount

    @property
    def refundable_amount(self) -> Decimal:
        """What may still be refunded."""
        if self.status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
            return Decimal(0)
        return max(Decimal(0), self.taken_amount - self.refunded_amount)


@dataclass(frozen=True)
class EventRecord:
    """One stored postLink (or status answer), raw, with the verdict on it."""

    id: int
    received_at: datetime
    kind: str
    remote_addr: str | None
    headers: list[tuple[str, str]]
    body: bytes
    invoice_id: str | None
    transaction_id: str | None
    verdict: EventVerdict
    #: What this event changed, when it changed the payment.
    outcome: Change | None
    reason: str | None
    processed_at: datetime | None
    #: While ``dispatching``: until when the claim of the process running its receivers holds
    #: (renewed while they run); None for other verdicts, or a claim of before schema 3.
    lease_until: datetime | None = None


@dataclass(frozen=True)
class BankReport:
    """What a postLink or a status answer says about a payment, in ledger terms: the status it
    moves the payment to, and the transaction's details it carries (``None``: not said)."""

    status: PaymentStatus
    transaction_id: str | None = None
    bank_status: str | None = None
    card_mask: str | None = None
    card_type: str | None = None
    card_id: str | None = None
    issuer: str | None = None
    reference: str | None = None
    approval_code: str | None = None
    reason: str | None = None
    reason_code: int | None = None


@dataclass(frozen=True)
class ApplyResult:
    """The outcome of :meth:`Ledger.apply` (or of recording an operation): ``change`` is None
    when nothing changed."""

    payment: PaymentRecord
    change: Change | None
    verdict: EventVerdict
    reason: str | None = None
    #: The claim on the event's receivers when this report changed the payment (event
    #: ``dispatching``): whoever runs them renews and ends it (see
    #: :meth:`~flask_halyk.ledger.events.EventStore.renew_claim`).
    claim: str | None = None
    #: With ``apply(..., note_unfinished=True)``: the other events of the payment whose
    #: receivers were ``dispatching`` when this report was applied (running, or left by a
    #: worker that died), read in the same transaction; empty: none to finish or wait for.
    unfinished: tuple[int, ...] = ()

    @property
    def changed(self) -> bool:
        """This report moved the payment (and its signal is due)."""
        return self.change is not None
