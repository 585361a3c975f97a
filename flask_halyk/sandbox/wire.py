"""The bank-shaped JSON bodies: postLink and status transaction."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ..money import js_amount
from .state import Transaction


def _text(value: Any) -> str:
    # ``data`` is a JSON string in the vendor's example; an object handed over nested is kept
    # as the JSON text it stands for.
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def language_code(language: Any) -> str:
    """The bank's answer spelling of a language (``RUS``/``KAZ``/``ENG``)."""
    value = str(language or "rus").lower()
    return {"ru": "RUS", "kz": "KAZ", "en": "ENG"}.get(value, value.upper())


def postlink_body(t: Transaction) -> dict[str, Any]:
    """The postLink JSON of ``t``: every field of the vendor's success and failure examples."""
    p = t.payment
    ok = t.reason_code == 0
    return {
        "id": t.id,
        "dateTime": t.created,
        "invoiceId": t.invoice_id,
        "invoiceIdAlt": str(p.get("invoiceIdAlt", "")),
        "amount": js_amount(t.amount),
        "currency": t.currency,
        "terminal": t.terminal,
        "accountId": str(p.get("accountId", "")),
        "description": str(p.get("description", "")),
        "language": language_code(p.get("language")),
        "cardMask": t.card_mask,
        "cardType": t.card_type,
        "cardId": t.card_id if ok else "",
        "issuer": t.issuer,
        "reference": t.reference,
        "approvalCode": t.approval_code,
        "secure": t.secure,
        "secureDetails": "F",
        "tokenRecipient": "",
        "code": "ok" if ok else "error",
        "reason": t.reason,
        "reasonCode": t.reason_code,
        "name": t.holder,
        "email": str(p.get("email", "")),
        "phone": str(p.get("phone", "")),
        "ip": t.ip,
        "ipCountry": "",
        "ipCity": "",
        "ipRegion": "",
        "ipDistrict": "",
        "ipLongitude": 0,
        "ipLatitude": 0,
        "secret_hash": t.secret_hash,
    }


def status_transaction(t: Transaction) -> dict[str, Any]:
    """The ``transaction`` object of the status answer, with the API's spellings."""
    p = t.payment
    return {
        "id": t.id,
        "createdDate": t.created,
        "invoiceID": t.invoice_id,
        "amount": js_amount(t.amount),
        "amountBonus": 0,
        "payoutAmount": js_amount(t.charged if t.status != "AUTH" else Decimal(0)),
        "orgAmount": js_amount(t.amount),
        "refundedAmount": js_amount(t.refunded),
        "approvalCode": t.approval_code,
        "data": _text(p.get("data", "")),
        "currency": t.currency,
        "terminal": t.terminal,
        "terminalID": t.terminal,
        "accountID": str(p.get("accountId", "")),
        "description": str(p.get("description", "")),
        "language": language_code(p.get("language")),
        "cardMask": t.card_mask,
        "cardType": t.card_type,
        "issuer": t.issuer,
        "reference": t.reference,
        "reason": t.reason,
        "reasonCode": str(t.reason_code),
        "intReference": t.reference,
        "secure": t.secure,
        "secureDetails": "F",
        "statusName": t.status,
        "name": t.holder,
        "email": str(p.get("email", "")),
        "phone": str(p.get("phone", "")),
        "cardID": t.card_id if t.reason_code == 0 else "",
        "ip": t.ip,
        "ipCountry": "",
        "ipCity": "",
    }
