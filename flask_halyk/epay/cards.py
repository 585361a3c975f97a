"""Saved cards at the bank: the list of an account's cards (``GET /cards/{accountId}``),
deactivating one (``POST /card/deactivate/{cardId}``), and a payment with one
(``POST /payments/cards/auth``, ``paymentType: "cardId"``, with the invoice's payment token).

The list and the deactivation are safe to repeat and are retried like the status call; the
payment moves money and is never retried: an answer lost on the way may mean a payment made,
and only the status of its invoice can tell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from marshmallow import ValidationError

from ..errors import InvalidArgument, RecurringNotAllowed
from ..redaction import validation_problem
from ..schemas import CardPaymentRequestSchema, CardPaymentResponseSchema, SavedCardSchema
from .results import BankCard, CardPaymentResult
from .transport import Reply

__all__ = [
    "CARD_PAYMENT_PATH",
    "NO_CARDS",
    "RECURRING_REFUSALS",
    "card_payment_body",
    "cards_path",
    "check_card_id",
    "deactivate_path",
    "read_card_payment",
    "read_cards",
    "read_deactivation",
]

#: The path of a payment with a saved card.
CARD_PAYMENT_PATH = "/payments/cards/auth"

#: The code of ``GET /cards/{accountId}`` for an account without cards ([CODE] integrations).
NO_CARDS = 1373

#: The bank's codes for "this terminal may not pay with saved cards without the customer".
#: Not published: 464 "Invalid merchant" (the vendor's reason-code table) is the likeliest,
#: and the one the sandbox answers (docs/sandbox.md, "Fidelity").
RECURRING_REFUSALS = frozenset({464})

_CARD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_card_id(card_id: object) -> str:
    """``card_id`` if it can be the bank's cardId (letters, digits, ``-``, ``_``)."""
    if not isinstance(card_id, str) or not _CARD_ID.fullmatch(card_id):
        raise InvalidArgument("card_id must be the bank's cardId (the postLink's cardId)")
    return card_id


def cards_path(account_id: str) -> str:
    """The path of the list of ``account_id``'s cards."""
    if not account_id or not isinstance(account_id, str):
        raise InvalidArgument("account_id must be the customer's account id")
    return f"/cards/{quote(account_id, safe='')}"


def deactivate_path(card_id: str) -> str:
    """The path deactivating ``card_id``."""
    return f"/card/deactivate/{check_card_id(card_id)}"


def read_cards(reply: Reply) -> list[BankCard]:
    """The bank's list: a JSON array of PascalCase entries; code 1373 (no cards) is an empty
    list; any other refusal :class:`ApiError`."""
    body = reply.json()
    if isinstance(body, dict) and body.get("code") == NO_CARDS:
        return []
    if not 200 <= reply.status < 300:
        raise reply.unexpected(body)
    if not isinstance(body, list):
        raise reply.invalid("no JSON array of cards")
    try:
        loaded: list[dict[str, Any]] = _CARDS.load(body)
    except ValidationError as exc:
        problem = validation_problem(exc)
    else:
        return [_bank_card(entry) for entry in loaded]
    raise reply.invalid(f"a card list with {problem}")


def _bank_card(entry: Mapping[str, Any]) -> BankCard:
    available = entry.get("PaymentAvailable")
    return BankCard(
        card_id=str(entry["ID"]), account_id=entry.get("AccountID"),
        card_mask=entry.get("CardMask"), payer_name=entry.get("PayerName"),
        payment_available=available if isinstance(available, bool) else None,
        created=entry.get("CreatedDate"), raw=dict(entry),
    )


def read_deactivation(reply: Reply) -> dict[str, Any]:
    """The answer to a deactivation (``{"status": "card successfully deactivated"}``); a
    refusal raises :class:`ApiError`."""
    body = reply.json()
    if 200 <= reply.status < 300:
        return body if isinstance(body, dict) else {}
    raise reply.unexpected(body, advice="the card may be unknown or already deactivated")


def card_payment_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The checked JSON body of a saved-card payment; :class:`InvalidArgument` (nothing sent)
    for what the bank would refuse."""
    try:
        body: dict[str, Any] = _REQUEST.dump(_REQUEST.load(dict(fields)))
    except ValidationError as exc:
        problem = validation_problem(exc)
    else:
        return body
    raise InvalidArgument(f"invalid payment with a saved card: {problem}")


def read_card_payment(reply: Reply, card_id: str) -> CardPaymentResult:
    """The answer to a saved-card payment. A 2xx is read as a :class:`CardPaymentResult` (a
    decline included: ``status`` REJECT, ``code`` its reason); the bank's refusal of the
    request raises :class:`RecurringNotAllowed` for the codes of
    :data:`RECURRING_REFUSALS`, else :class:`ApiError`."""
    body = reply.json()
    if 200 <= reply.status < 300 and isinstance(body, dict):
        try:
            loaded = _RESPONSE.load(body)
        except ValidationError as exc:
            raise reply.invalid(f"a payment answer with {validation_problem(exc)}") from None
        secure3d = loaded.get("secure3D")
        return CardPaymentResult(
            transaction_id=loaded.get("id"), invoice_id=loaded.get("invoiceID"),
            status=loaded.get("status"), code=loaded.get("code"),
            message=loaded.get("message"), card_id=loaded.get("cardID"),
            reference=loaded.get("reference"),
            secure3d=dict(secure3d) if secure3d else None, raw=dict(body),
        )
    error = reply.unexpected(body, advice="a payment with a saved card needs an active card "
                                          "of this account and a terminal allowed to use it")
    code = getattr(error, "code", None)
    if code in RECURRING_REFUSALS:
        raise RecurringNotAllowed(
            f"{error} This terminal may not charge saved cards without the customer: ask "
            "Halyk to enable payments by cardId (recurring) on it.",
            card_id, code=code, status=reply.status,
            bank_message=getattr(error, "bank_message", None),
        )
    raise error


_CARDS = SavedCardSchema(many=True)
_REQUEST = CardPaymentRequestSchema()
_RESPONSE = CardPaymentResponseSchema()
