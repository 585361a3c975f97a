"""The state machine: which news may move a payment from which status to which.

News comes from postLinks and from the status API. It only ever moves a payment forward: a
late failure never downgrades a success, refunds and cancels are final. The same table drives
every update as a conditional ``UPDATE ... WHERE status IN (...)``, so the database, not a lock
in one process, decides which of several concurrent copies of the news wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .models import Change, News, PaymentRecord, PaymentStatus

S = PaymentStatus

#: target status -> the statuses news may move a payment from to reach it.
ALLOWED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    # A declined card may be followed by a good one on the same invoice: success beats failure.
    # Expiry is the ledger's inference, the bank's success is a fact: a late one still counts.
    S.AUTHORIZED: frozenset({S.NEW, S.FAILED, S.EXPIRED}),
    S.PAID: frozenset({S.NEW, S.FAILED, S.AUTHORIZED, S.EXPIRED}),
    # Not from EXPIRED: the shop was told once the payment will not come (payment_expired); a
    # late decline says nothing new and would tell it twice. The raw news stays in the events.
    S.FAILED: frozenset({S.NEW}),
    S.CANCELLED: frozenset({S.NEW, S.AUTHORIZED, S.PAID}),
    S.REFUNDED: frozenset({S.PAID, S.PARTIALLY_REFUNDED}),
    # Partial refunds are recorded by amount (see Ledger.record_refund), never by news alone.
    S.PARTIALLY_REFUNDED: frozenset(),
    S.NEW: frozenset(),
    # Decided by reconcile alone (recovery.reconcile): the token expired long ago and ePay
    # answered "not found" (102); never from a postLink.
    S.EXPIRED: frozenset({S.NEW}),
}

#: The shop's own operations (operations.py) -> the statuses ePay accepts them from: charge and
#: cancel only from AUTH (``authorized``), refund only from CHARGE (``paid``, and what is left of a
#: ``partially_refunded`` one). What :class:`PaymentRecord` offers (``can_charge``...) follows it.
OPERABLE_FROM: dict[str, frozenset[PaymentStatus]] = {
    "charge": frozenset({S.AUTHORIZED}),
    "cancel": frozenset({S.AUTHORIZED}),
    "refund": frozenset({S.PAID, S.PARTIALLY_REFUNDED}),
}

#: The bank's statusName -> ledger status. Absent names (NEW, 3D, FINGERPRINT, VERIFIED) are
#: not final: they leave the payment as it is.
BANK_STATUS: dict[str, PaymentStatus] = {
    "AUTH": S.AUTHORIZED,
    "CHARGE": S.PAID,
    "CANCEL": S.CANCELLED,
    "CANCEL_OLD": S.CANCELLED,
    "REFUND": S.REFUNDED,
    "FAILED": S.FAILED,
    "REJECT": S.FAILED,
}


def target_for_bank_status(status_name: str | None) -> PaymentStatus | None:
    """The ledger status a statusName means, or None when it is not final."""
    if not status_name:
        return None
    return BANK_STATUS.get(status_name.strip().upper())


def postlink_succeeded(postlink: Mapping[str, Any]) -> bool:
    """A postLink reports success when ``code`` is ``ok`` and ``reasonCode`` is 0 (or absent).

    Any non-zero reasonCode is a failure, including the negative ones of the vendor's example.
    """
    code = str(postlink.get("code", "")).strip().lower()
    reason_code = postlink.get("reasonCode")
    try:
        reason_ok = reason_code in (None, "") or int(reason_code) == 0
    except (TypeError, ValueError):
        reason_ok = False
    return code == "ok" and reason_ok


def can_move(current: PaymentStatus, target: PaymentStatus) -> bool:
    """Whether news may move a payment from ``current`` to ``target``."""
    return current in ALLOWED_FROM[target]


def can_operate(payment: PaymentRecord, operation: str) -> bool:
    """Whether ePay would accept ``operation`` (``charge``, ``cancel``, ``refund``) on
    ``payment``, as far as the ledger knows.

    Decided from the record alone, never from ``HALYK_TWO_STAGE``: that setting already chose,
    when the success was recorded, between ``authorized`` (held: charge or cancel it) and
    ``paid`` (taken: refund it). A ``paid`` payment is taken, even one never charged through
    :func:`~flask_halyk.operations.charge` (a one-stage terminal's); an operation also needs
    the bank's transaction id, and charge and cancel a payment not charged yet.
    """
    if payment.status not in OPERABLE_FROM[operation] or not payment.transaction_id:
        return False
    if operation == "refund":
        return payment.taken_amount > payment.refunded_amount
    return payment.charged_amount is None


def change_for(previous: PaymentStatus, target: PaymentStatus) -> Change:
    """What moving from ``previous`` to ``target`` means to the shop (which signal fires)."""
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


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping | list):
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def news_from_postlink(postlink: Mapping[str, Any], *, two_stage: bool = False) -> News:
    """What a validated postLink body says: on success ``paid``, or ``authorized`` on a
    two-stage terminal (the money is held until the shop charges it; a postLink carries no
    statusName to tell); ``failed`` otherwise."""
    success = S.AUTHORIZED if two_stage else S.PAID
    return News(
        status=success if postlink_succeeded(postlink) else S.FAILED,
        transaction_id=_text(postlink.get("id")),
        card_mask=_text(postlink.get("cardMask")),
        card_type=_text(postlink.get("cardType")),
        card_id=_text(postlink.get("cardId")),
        issuer=_text(postlink.get("issuer")),
        reference=_text(postlink.get("reference")),
        approval_code=_text(postlink.get("approvalCode")),
        reason=_text(postlink.get("reason")),
        reason_code=_int(postlink.get("reasonCode")),
    )


def news_from_transaction(status_name: str, transaction: Any) -> News | None:
    """What a status answer's transaction says (a :class:`~flask_halyk.results.Transaction`),
    or None when its statusName is not final."""
    target = target_for_bank_status(status_name)
    if target is None:
        return None
    raw: Mapping[str, Any] = getattr(transaction, "raw", None) or {}
    return News(
        status=target,
        transaction_id=_text(getattr(transaction, "id", None)),
        bank_status=_text(status_name),
        card_mask=_text(getattr(transaction, "card_mask", None)),
        card_id=_text(raw.get("cardID")),
        reference=_text(getattr(transaction, "reference", None)),
        approval_code=_text(getattr(transaction, "approval_code", None)),
        reason=_text(getattr(transaction, "reason", None)),
        reason_code=_int(getattr(transaction, "reason_code", None)),
    )
