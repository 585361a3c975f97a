"""The bank-shaped JSON bodies: postLink and status transaction."""

from __future__ import annotations

import json
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


def postlink_body(t: Transaction, *, secret_hash: bool = True) -> dict[str, Any]:
    """The postLink JSON of ``t``: every field of the vendor's success and failure examples,
    and the token request's ``secret_hash`` unless ``secret_hash`` is False (the vendor's
    examples have none; docs/sandbox.md, "Fidelity")."""
    p = t.payment
    ok = t.reason_code == 0
    body: dict[str, Any] = {
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
    }
    if secret_hash:
        body["secret_hash"] = t.secret_hash
    return body


#: ``statusID`` is text in every client that reads it; its values are not published. The
#: sandbox numbers the statuses it uses.
STATUS_IDS = {"NEW": "1", "AUTH": "2", "CHARGE": "3", "CANCEL": "4", "REFUND": "5",
              "REJECT": "6", "VERIFIED": "7"}


def status_transaction(t: Transaction, *, amount_after_refunds: bool = False) -> dict[str, Any]:
    """The ``transaction`` object of the status answer: the vendor example's fields in its
    order, then those production clients read (``statusID``, ``xlsRRN``, the ``ip*`` fields),
    in the API's spellings: ``terminal`` the 8-digit processing terminal, ``terminalID`` the
    TerminalID, ``secure`` a boolean, ``reasonCode`` text. ``payoutAmount`` is what was
    refunded (the statement API calls ``payout_amount`` the refund amount); ``amount`` is the
    transaction's own amount, or what is left of it after refunds with
    ``amount_after_refunds`` (the vendor's example reads so: 22.22 - 10 = 12.22)."""
    p = t.payment
    ok = t.reason_code == 0
    amount = t.amount - t.refunded if amount_after_refunds else t.amount
    return {
        "id": t.id,
        "createdDate": t.created,
        "invoiceID": t.invoice_id,
        "amount": js_amount(amount),
        "amountBonus": 0,
        "payoutAmount": js_amount(t.refunded),
        "orgAmount": js_amount(t.amount),
        "approvalCode": t.approval_code,
        "data": _text(p.get("data", "")),
        "currency": t.currency,
        "terminal": t.processing_terminal,
        "terminalID": t.terminal,
        "accountID": str(p.get("accountId", "")),
        "description": str(p.get("description", "")),
        "language": language_code(p.get("language")),
        "cardMask": t.card_mask,
        "cardType": t.card_type,
        "issuer": t.issuer,
        "reference": t.reference,
        "intReference": t.int_reference,
        "secure": t.secure == "yes",
        "secureDetails": "F",
        "statusID": STATUS_IDS.get(t.status, ""),
        "statusName": t.status,
        "reason": t.reason,
        "reasonCode": str(t.reason_code),
        "name": t.holder,
        "email": str(p.get("email", "")),
        "phone": str(p.get("phone", "")),
        "cardID": t.card_id if ok else "",
        "xlsRRN": t.reference,
        "ip": t.ip,
        "ipCountry": "",
        "ipCity": "",
        "ipRegion": "",
        "ipDistrict": "",
        "ipLatitude": 0,
        "ipLongitude": 0,
    }
