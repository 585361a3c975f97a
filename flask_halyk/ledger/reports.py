"""What the bank's messages say about a payment, in the ledger's terms: a postLink body or a
status answer's transaction read as a :class:`BankReport`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..schemas import is_success
from .models import BankReport
from .states import PaymentStatus, target_for_bank_status

__all__ = ["report_from_postlink", "report_from_transaction"]

S = PaymentStatus


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


def report_from_postlink(postlink: Mapping[str, Any], *, two_stage: bool = False) -> BankReport:
    """What a validated postLink body says: on success ``paid``, or ``authorized`` on a
    two-stage terminal (the money is held until the shop charges it; a postLink carries no
    statusName to tell); ``failed`` otherwise."""
    success = S.AUTHORIZED if two_stage else S.PAID
    return BankReport(
        status=success if is_success(postlink) else S.FAILED,
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


def report_from_transaction(status_name: str, transaction: Any) -> BankReport | None:
    """What a status answer's transaction says (a :class:`~flask_halyk.epay.Transaction`),
    or None when its statusName is not final."""
    target = target_for_bank_status(status_name)
    if target is None:
        return None
    raw: Mapping[str, Any] = getattr(transaction, "raw", None) or {}
    return BankReport(
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
