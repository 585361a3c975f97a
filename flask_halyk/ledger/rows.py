"""Between Python values and the ledger's rows: text any backend stores, and table rows read back
as :class:`PaymentRecord` / :class:`EventRecord` (amounts from minor units by
:mod:`flask_halyk.money`)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row

from ..money import from_minor
from .models import EventRecord, PaymentRecord
from .states import Change, EventVerdict, PaymentStatus


def clean(value: object, length: int | None = None) -> str | None:
    """Text fit for any backend's column: NULs dropped (PostgreSQL refuses them), lone
    surrogates (which ``json.loads`` makes of ``"\\ud800"``, and no driver can encode) made
    U+FFFD, cut to ``length`` characters."""
    if value is None:
        return None
    text_value = str(value).replace("\x00", "")
    try:
        text_value.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16 with surrogatepass: a stray surrogate becomes U+FFFD, the rest stays.
        text_value = text_value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if length is not None:
        text_value = text_value[:length]
    return text_value


def card_last4(mask: str | None) -> str | None:
    """The last four digits of a card mask (``440043...3232``: ``3232``), or None when the
    mask does not end with four digits."""
    if not mask or len(mask) < 4:
        return None
    tail = mask[-4:]
    return tail if tail.isascii() and tail.isdigit() else None


def payment_record(row: Row[Any]) -> PaymentRecord:
    """A ``halyk_payments`` row as a :class:`PaymentRecord`."""
    m = row._mapping
    return PaymentRecord(
        invoice_id=m["invoice_id"],
        amount=from_minor(m["amount_minor"]),
        currency=m["currency"],
        terminal=m["terminal"],
        description=m["description"] or "",
        account_id=m["account_id"],
        language=m["language"],
        name=m["name"],
        email=m["email"],
        phone=m["phone"],
        status=PaymentStatus(m["status"]),
        bank_status=m["bank_status"],
        transaction_id=m["transaction_id"],
        card_mask=m["card_mask"],
        card_type=m["card_type"],
        card_id=m["card_id"],
        issuer=m["issuer"],
        reference=m["reference"],
        approval_code=m["approval_code"],
        reason=m["reason"],
        reason_code=m["reason_code"],
        charged_amount=None if m["charged_minor"] is None else from_minor(m["charged_minor"]),
        refunded_amount=from_minor(m["refunded_minor"] or 0),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        paid_at=m["paid_at"],
        token_expires_at=m["token_expires_at"],
        card_save=bool(m["card_save"]),
    )


def event_record(row: Row[Any]) -> EventRecord:
    """A ``halyk_events`` row as an :class:`EventRecord` (unreadable stored headers: none)."""
    m = row._mapping
    try:
        headers = [(str(k), str(v)) for k, v in json.loads(m["headers"] or "[]")]
    except (ValueError, TypeError):
        headers = []
    return EventRecord(
        id=int(m["id"]),
        received_at=m["received_at"],
        kind=m["kind"],
        remote_addr=m["remote_addr"],
        headers=headers,
        body=bytes(m["body"]),
        invoice_id=m["invoice_id"],
        transaction_id=m["transaction_id"],
        verdict=EventVerdict(m["verdict"]),
        outcome=Change(m["outcome"]) if m["outcome"] else None,
        reason=m["reason"],
        processed_at=m["processed_at"],
        lease_until=m["lease_until"],
    )


__all__ = ["card_last4", "clean", "event_record", "payment_record"]
