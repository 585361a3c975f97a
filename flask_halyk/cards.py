"""Saved cards, for a shop: verify (and save) a card without a charge, list an account's
cards, bring them in line with the bank's list, remove one, and charge one server to server.

The ledger keeps the cards (``halyk_cards``): a card is saved in the transaction that applies
the success carrying its cardId (a payment created with ``save_card=True``, or a verification).
A charge with a saved card is a payment like any other: a ledger row and invoice id first, its
own payment token, then ``POST /payments/cards/auth``; the bank's answer is stored as an event
and applied exactly once, its signal fired once, and ``flask halyk reconcile`` settles a
payment whose answer never came. The bank call is never repeated.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from flask import Flask, current_app, has_request_context, request

from .checkout import (
    FAILURE_POSTLINK_ENDPOINT,
    POSTLINK_ENDPOINT,
    Payment,
    create_payment,
    server_origin,
)
from .config import SANDBOX_INTERNAL_ORIGIN, MerchantConfig
from .dispatch import dispatch_event
from .epay import CardPaymentResult
from .errors import (
    CardAccountMismatch,
    CardUnavailable,
    ConfigurationError,
    InvalidArgument,
    ThreeDSecureRequired,
)
from .ledger import BankReport, PaymentRecord, PaymentStatus, SavedCard
from .money import parse_amount
from .postlink.verification import make_secret_hash
from .state import HalykState

__all__ = [
    "card_merchant",
    "cards",
    "charge_card",
    "record_card_payment",
    "remove_card",
    "send_card_payment",
    "sync_cards",
    "usable_card",
    "verify_card",
]

log = logging.getLogger("flask_halyk")

#: The ledger event kind of a saved-card payment's answer.
CARD_PAYMENT_EVENT = "card_payment"

_BANK_STATUS = {"AUTH": PaymentStatus.AUTHORIZED, "CHARGE": PaymentStatus.PAID}


def verify_card(state: HalykState, *, account_id: str, description: str,
                **kwargs: Any) -> Payment:
    """A card verification (amount 0) that saves the card for ``account_id``: a payment whose
    page the customer fills in like any other (``halyk_widget`` / ``halyk_redirect``). Its
    success makes the payment ``verified`` (not ``paid``), keeps the card, and fires
    ``card_saved`` (never ``payment_succeeded``). Other keywords as for ``create_payment``."""
    kwargs.pop("save_card", None)
    return create_payment(state, 0, account_id=account_id, description=description,
                          save_card=True, **kwargs)


def cards(state: HalykState, account_id: str) -> list[SavedCard]:
    """The active saved cards of ``account_id`` in the ledger, oldest first."""
    return state.ledger.cards(account_id)


def sync_cards(state: HalykState, account_id: str) -> list[SavedCard]:
    """Ask the bank for the cards of ``account_id`` (``GET /cards/{accountId}``) and bring the
    ledger in line: cards it lists are kept (with ``PaymentAvailable``), cards it no longer
    lists are deactivated. Returns the account's active cards."""
    # The bank lists an account's cards per merchant: every merchant's list together, so
    # that one merchant's cards are not taken for gone by another's list.
    listed = [card for merchant in state.config.merchants
              for card in state.client_of(merchant).cards(account_id)]
    return state.ledger.sync_cards(account_id, [card.raw for card in listed])


def card_merchant(state: HalykState, saved: SavedCard) -> MerchantConfig:
    """The merchant a card was saved with: that of the payment that saved it (the bank keeps
    cards per merchant); the default one when the ledger does not know that payment."""
    payment = state.ledger.get(saved.invoice_id) if saved.invoice_id else None
    if payment is None:
        return state.config.merchants[0]
    return state.merchant_of(payment.terminal)


def remove_card(state: HalykState, card: SavedCard | str, *,
                account_id: str | None = None) -> SavedCard:
    """Deactivate the card at the bank (``POST /card/deactivate/{cardId}``), then in the
    ledger. ``account_id``: refuse (:class:`CardAccountMismatch`, nothing sent) a card of
    another account. A card already deactivated is not sent again."""
    saved = _own_card(state, card, account_id)
    if saved.is_active:
        state.client_of(card_merchant(state, saved)).deactivate_card(saved.card_id)
    return state.ledger.deactivate_card(saved.card_id)


def charge_card(
    state: HalykState,
    card: SavedCard | str,
    amount: Decimal | int | str,
    *,
    description: str,
    account_id: str | None = None,
    recurrent: bool | None = None,
    language: str | None = None,
    back_link: str | None = None,
) -> PaymentRecord:
    """Pay ``amount`` with a saved card, without the customer: returns the payment as the
    ledger recorded it (``paid``, ``authorized`` on a two-stage terminal, or ``failed`` with
    the bank's ``reason_code`` for a decline). ``account_id``: the customer the shop charges
    for; a card of another account is refused before any bank call
    (:class:`CardAccountMismatch`), as is a deactivated card or one the bank's list marks
    ``PaymentAvailable: false`` (:class:`CardUnavailable`). ``recurrent``: the bank's flag of a
    merchant-initiated repeat payment (subscriptions). ``back_link``: where the bank's 3-D
    Secure step sends the customer back (``TermUrl``), should the terminal require one.

    :class:`ThreeDSecureRequired`: the terminal wants the customer for 3-D Secure (the payment
    stays ``new``; the error carries the step). :class:`RecurringNotAllowed`: the terminal may
    not pay with saved cards. Transport errors: the call is never repeated; ``flask halyk
    reconcile`` asks the bank what became of the payment.
    """
    saved = usable_card(state, card, account_id)
    postlinks = _postlinks(state)  # a shop without the blueprint: refused before any record
    record = record_card_payment(state, saved, amount, description=description,
                                 language=language)
    return send_card_payment(state, saved, record, recurrent=recurrent, back_link=back_link,
                             postlinks=postlinks)


def usable_card(state: HalykState, card: SavedCard | str,
                account_id: str | None = None) -> SavedCard:
    """The saved card, if it may be charged for ``account_id``: :class:`CardAccountMismatch`
    or :class:`CardUnavailable` otherwise (nothing sent)."""
    saved = _own_card(state, card, account_id)
    if not saved.is_active:
        raise CardUnavailable(f"card {saved.card_id} is deactivated: ask the customer for "
                              "another card", saved.card_id)
    if saved.payment_available is False:
        raise CardUnavailable(f"the bank will not charge card {saved.card_id} "
                              "(PaymentAvailable: false; expired or blocked): ask the customer "
                              "for another card", saved.card_id)
    return saved


def record_card_payment(state: HalykState, saved: SavedCard, amount: Decimal | int | str, *,
                        description: str, language: str | None = None) -> PaymentRecord:
    """The ledger's ``new`` payment of a charge of ``saved`` (nothing sent yet)."""
    value = parse_amount(amount)
    config = state.config
    merchant = card_merchant(state, saved)
    return state.ledger.create_payment(
        invoice_id=None, amount=value, currency=merchant.currency, terminal=merchant.terminal_id,
        description=description, account_id=saved.account_id,
        language=language or config.language, name=saved.payer_name,
    )


def send_card_payment(state: HalykState, saved: SavedCard, record: PaymentRecord, *,
                      recurrent: bool | None = None, back_link: str | None = None,
                      postlinks: tuple[str, str] | None = None) -> PaymentRecord:
    """Charge the payment ``record`` (recorded by :func:`record_card_payment`) with ``saved``:
    its token, ``POST /payments/cards/auth`` once, the answer applied; as
    :func:`charge_card`."""
    config = state.config
    merchant = state.merchant_of(record.terminal)
    client = state.client_of(merchant)
    value = record.amount
    description = record.description
    lang = record.language or config.language
    post_link, failure_post_link = postlinks or _postlinks(state)
    secret_hash = make_secret_hash(config.postlink_secret, record.invoice_id, value,
                                   merchant.currency, merchant.terminal_id)
    token = client.payment_token(record.invoice_id, value, currency=merchant.currency,
                                       secret_hash=secret_hash, post_link=post_link,
                                       failure_post_link=failure_post_link)
    state.ledger.record_token(record.invoice_id, token.expires_at)
    result = client.card_payment(
        token, card_id=saved.card_id, account_id=saved.account_id, amount=value,
        description=description, language=lang, recurrent=recurrent,
        currency=merchant.currency, post_link=post_link, failure_post_link=failure_post_link,
        back_link=back_link,
    )
    if result.secure3d is not None:
        secure3d = dict(result.secure3d)
        action = str(secure3d.get("action") or "")
        if config.embedded_sandbox and action.startswith(SANDBOX_INTERNAL_ORIGIN):
            # The embedded sandbox answers from its in-process origin; the browser reaches it
            # under HALYK_SANDBOX_PREFIX in the shop.
            secure3d["action"] = config.sandbox_prefix + action[len(SANDBOX_INTERNAL_ORIGIN):]
        raise ThreeDSecureRequired(
            f"the terminal requires 3-D Secure for invoice {record.invoice_id}: send the "
            "customer to the bank's step (error.action with PaReq, MD and TermUrl); the "
            "postLink or reconcile records the outcome", saved.card_id,
            invoice_id=record.invoice_id, secure3d=secure3d)
    return _record(state, record, saved, result)


def _record(state: HalykState, record: PaymentRecord, card: SavedCard,
            result: CardPaymentResult) -> PaymentRecord:
    """Apply the bank's answer, as an event of the payment, exactly once."""
    status = _BANK_STATUS.get((result.status or "").upper()) if not result.code else None
    report = BankReport(
        status=status or PaymentStatus.FAILED, transaction_id=result.transaction_id,
        bank_status=(result.status or "").upper() or None, card_mask=card.card_mask,
        card_type=card.card_type, card_id=card.card_id if status else None,
        issuer=card.issuer, reference=result.reference or None,
        reason=result.message or None, reason_code=result.code,
    )
    body = json.dumps(result.raw, default=str, ensure_ascii=False).encode()
    event_id = state.ledger.record_event(kind=CARD_PAYMENT_EVENT, body=body)
    applied = state.ledger.apply(record.invoice_id, report, event_id=event_id)
    if applied.change is not None:
        dispatch_event(_app(), state.ledger, event_id, applied.change, applied.payment, None,
                       claim=applied.claim)
    return state.ledger.require(record.invoice_id)


def _own_card(state: HalykState, card: SavedCard | str, account_id: str | None) -> SavedCard:
    if isinstance(card, SavedCard):
        card_id = card.card_id
    elif isinstance(card, str) and card:
        card_id = card
    else:
        raise InvalidArgument("card must be a SavedCard (halyk.cards(account_id)) or its "
                              "card_id")
    saved = state.ledger.require_card(card_id)
    if account_id is not None and saved.account_id != account_id:
        raise CardAccountMismatch(f"card {card_id} belongs to another account", card_id)
    return saved


def _postlinks(state: HalykState) -> tuple[str, str]:
    origin = server_origin(state.config, current_app.config)
    root = request.script_root.rstrip("/") if has_request_context() else \
        str(current_app.config.get("APPLICATION_ROOT") or "").rstrip("/")
    adapter = current_app.url_map.bind("localhost", script_name="/")
    try:
        paths = (adapter.build(POSTLINK_ENDPOINT), adapter.build(FAILURE_POSTLINK_ENDPOINT))
    except Exception:
        raise ConfigurationError("HALYK_URL_PREFIX", "the postLink endpoints are not "
                                 "registered: initialise HalykEpay on this app.") from None
    return origin + root + paths[0], origin + root + paths[1]


def _app() -> Flask:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app
