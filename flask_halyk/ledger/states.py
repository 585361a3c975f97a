"""The state machine: which news may move a payment from which status to which.

News comes from postLinks and from the status API. It only ever moves a payment forward: a
late failure never downgrades a success, refunds and cancels are final. The same table drives
every update as a conditional ``UPDATE ... WHERE status IN (...)``, so the database, not a lock
in one process, decides which of several concurrent copies of the news wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .models import Change, PaymentStatus

S = PaymentStatus

#: target status -> the statuses news may move a payment from to reach it.
ALLOWED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    # A declined card may be followed by a good one on the same invoice: success beats failure.
    S.AUTHORIZED: frozenset({S.NEW, S.FAILED}),
    S.PAID: frozenset({S.NEW, S.FAILED, S.AUTHORIZED}),
    S.FAILED: frozenset({S.NEW}),
    S.CANCELLED: frozenset({S.NEW, S.AUTHORIZED, S.PAID}),
    S.REFUNDED: frozenset({S.PAID, S.PARTIALLY_REFUNDED}),
    # Partial refunds are recorded by amount (see Ledger.record_refund), never by news alone.
    S.PARTIALLY_REFUNDED: frozenset(),
    S.NEW: frozenset(),
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
    raise ValueError(f"no change leads from {previous} to {target}")
