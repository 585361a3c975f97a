"""Saved cards: the list of an account's cards (``GET /cards/<accountId>``), deactivation
(``POST /card/deactivate/<cardId>``) and the payment with a saved card
(``POST /payments/cards/auth``, ``paymentType: "cardId"``), with the shapes of
EPAY-REFERENCE.md sections 11 to 13. Served at ``/`` and under ``/api`` (app.py).

Where the bank's material is silent the choices are the rows of docs/sandbox.md's fidelity
table (``options.card_payment_three_ds``, ``options.card_payments_allowed``, the decline shape).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from ..money import AmountError, js_amount, parse_amount
from . import cards
from .api import bearer_token, refused, unauthorized
from .faults import inject
from .i18n import TEXTS, language
from .instance import Sandbox, current_sandbox
from .payform import ALMATY
from .state import SavedCard, Token, Transaction
from .wire import language_code, postlink_body

bp = Blueprint("halyk_sandbox_saved", __name__)

#: ``GET /cards/<accountId>`` for an account without cards ([CODE] integrations).
NO_CARDS = 1373
#: The refusal of a terminal without the right to pay by cardId (not published; docs/sandbox.md).
NO_RECURRING = 464
#: The reason text of a decline forced by ``faults.card_decline`` (the test cards' texts).
DECLINES = {b.reason_code: b.reason for b in cards.CARDS.values() if not b.approved}


def _service_token(sandbox: Sandbox) -> Token | None:
    token = bearer_token(sandbox)
    return token if token is not None and token.invoice_id is None else None


def _entry(card: SavedCard) -> dict[str, Any]:
    """A card as the list spells it (PascalCase, the vendor's example's keys and order)."""
    return {
        "ID": card.card_id, "TransactionId": card.transaction_id,
        "MerchantID": str(uuid.uuid5(uuid.NAMESPACE_URL, card.terminal)),
        "CardHash": secrets.token_hex(32), "CardMask": card.card_mask,
        "PayerName": card.holder, "Reference": card.reference,
        "IntReference": card.int_reference, "Token": secrets.token_hex(16).upper(),
        "Terminal": card.processing_terminal, "CreatedDate": card.created,
        "PaymentAvailable": card.payment_available, "AccountID": card.account_id,
    }


@bp.get("/cards/<account_id>")
def list_cards(account_id: str) -> Any:
    """The account's active cards; ``{"code": 1373}`` when it has none."""
    sandbox = current_sandbox()
    token = _service_token(sandbox)
    if token is None:
        return unauthorized()
    fault = inject(sandbox.faults, "cards") or inject(sandbox.faults, "status")
    if fault:
        return fault
    found = sandbox.store.cards_of(account_id, token.merchant.terminal_id)
    if not found:
        return refused("cards not found", NO_CARDS)
    return jsonify([_entry(card) for card in found])


@bp.post("/card/deactivate/<card_id>")
def deactivate(card_id: str) -> Any:
    """Deactivate a card of the token's merchant."""
    sandbox = current_sandbox()
    token = _service_token(sandbox)
    if token is None:
        return unauthorized()
    fault = inject(sandbox.faults, "cards") or inject(sandbox.faults, "operation")
    if fault:
        return fault
    with sandbox.store.lock:
        card = sandbox.store.saved_cards.get(card_id)
        if card is None or card.terminal != token.merchant.terminal_id or not card.active:
            return refused("card not found")
        card.active = False
    return jsonify({"status": "card successfully deactivated"})


def _checked(sandbox: Sandbox, token: Token, body: dict[str, Any]
             ) -> tuple[SavedCard | None, tuple[Response, int] | None]:
    """The card to charge, or the bank's refusal of the request."""
    if str(body.get("invoiceId", "")) != token.invoice_id:
        return None, refused("the token was issued for another invoice")
    try:
        amount = parse_amount(str(body.get("amount", "")))
    except AmountError:
        return None, refused("amount must be a positive number")
    if amount != token.amount:
        return None, refused("the amount differs from the token's")
    if str(body.get("terminalId", "")) != token.merchant.terminal_id:
        return None, refused("the terminal differs from the token's")
    if body.get("paymentType") != "cardId":
        return None, refused("paymentType must be cardId")
    if not sandbox.options.card_payments_allowed:
        return None, refused("payments by cardId are not allowed on this terminal",
                             NO_RECURRING)
    card_ref = body.get("cardId")
    card_id = card_ref.get("id") if isinstance(card_ref, dict) else None
    card = sandbox.store.saved_cards.get(str(card_id))
    if card is None or not card.active or card.terminal != token.merchant.terminal_id \
            or card.account_id != str(body.get("accountId", "")):
        return None, refused("card not found")
    if sandbox.store.paid(str(token.invoice_id), token.merchant.terminal_id):
        return None, refused("this invoice is already paid")
    return card, None


@bp.post("/payments/cards/auth")
def card_payment() -> Any:
    """Pay the token's invoice with a saved card: CHARGE (AUTH on a two-stage terminal), a
    decline (HTTP 200, ``status`` REJECT, ``code`` its reason code, a failure postLink), or a
    3-D Secure step when the terminal requires it (``options.card_payment_three_ds``)."""
    sandbox = current_sandbox()
    token = bearer_token(sandbox)
    if token is None or token.invoice_id is None:
        return unauthorized()
    fault = inject(sandbox.faults, "cards") or inject(sandbox.faults, "operation")
    if fault:
        return fault
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return refused("the body is not a JSON object")
    with sandbox.store.lock:
        card, refusal = _checked(sandbox, token, body)
        if refusal is not None:
            return refusal
        assert card is not None and token.amount is not None
        if sandbox.options.card_payment_three_ds:
            md = secrets.token_urlsafe(12)
            sandbox.store.pending_card_3ds[md] = {"token": token, "card": card,
                                                  "body": dict(body)}
            return jsonify(_answer(body, token, card, None, status="3D", code=0, secure3d={
                "paReq": secrets.token_urlsafe(24), "md": md,
                "termURL": str(body.get("backLink") or ""),
                "action": f"{request.host_url.rstrip('/')}/payform/acs",
            }))
        transaction = _charge(sandbox, token, card, body, secure="no")
    return jsonify(_answer(body, token, card, transaction, status=transaction.status,
                           code=transaction.reason_code, secure3d=None))


def _charge(sandbox: Sandbox, token: Token, card: SavedCard, body: dict[str, Any], *,
            secure: str, code_ok: bool = True) -> Transaction:
    """Pay with ``card`` (caller holds the lock): the card's test behaviour, a decline when
    the list says it cannot pay (485) or the 3-D Secure code was wrong (473); the postLink
    sent to the token request's links."""
    assert token.amount is not None
    behaviour = cards.behaviour(card.pan)
    if not card.payment_available:
        behaviour = cards.CardBehaviour(485, "card expired", card.issuer)
    if not code_ok:
        behaviour = cards.CardBehaviour(*cards.THREE_DS_FAILURE, card.issuer)
    elif sandbox.faults.card_decline is not None:
        code = sandbox.faults.card_decline
        behaviour = cards.CardBehaviour(code, DECLINES.get(code, "declined"), card.issuer)
    ok = behaviour.approved
    status = ("AUTH" if sandbox.two_stage_of(token.merchant) else "CHARGE") if ok else "REJECT"
    transaction = Transaction(
        id=str(uuid.uuid4()), invoice_id=str(token.invoice_id), amount=token.amount,
        currency=token.currency, terminal=token.merchant.terminal_id, status=status,
        reason_code=behaviour.reason_code, reason=behaviour.reason,
        created=datetime.now(UTC).astimezone(ALMATY).isoformat(timespec="microseconds"),
        card_mask=card.card_mask, card_type=card.card_type,
        card_id=card.card_id if ok else "", issuer=card.issuer,
        approval_code=_digits(6) if ok else "", reference=_digits(12) if ok else "",
        holder=card.holder, payment=dict(body), secret_hash=token.secret_hash,
        secure=secure, ip=request.remote_addr or "",
        charged=token.amount if status == "CHARGE" else token.amount * 0,
        processing_terminal=token.merchant.tid,
        int_reference=secrets.token_hex(8).upper() if ok else "",
    )
    sandbox.store.transactions[transaction.id] = transaction
    # The token request's links (the shop's server named them); the failure one falls back
    # to the postLink.
    target = token.post_link if ok else (token.failure_post_link or token.post_link)
    if target:
        sandbox.sender.send(target, postlink_body(
            transaction, secret_hash=sandbox.options.postlink_secret_hash))
    return transaction


@bp.post("/payform/acs")
def acs() -> Any:
    """The issuer's 3-D Secure page of a payment by cardId (the answer's ``action``), posted
    to with ``PaReq``, ``MD`` and ``TermUrl`` as the bank's SDK does."""
    sandbox = current_sandbox()
    md = request.form.get("MD", "")
    with sandbox.store.lock:
        pending = sandbox.store.pending_card_3ds.get(md)
        if pending is None:
            return refused("no 3-D Secure step pending", status=404)
        pending["term_url"] = request.form.get("TermUrl", "") or pending.get("term_url", "")
    token, card = pending["token"], pending["card"]
    lang = language(pending["body"].get("language"))
    return render_template("acs.html", t=TEXTS[lang], lang=lang, md=md, amount=token.amount,
                           currency=token.currency, card_mask=card.card_mask)


@bp.post("/payform/acs/confirm")
def acs_confirm() -> Any:
    """The code: :data:`~.cards.THREE_DS_CODE` pays, anything else declines (473); each step
    is taken once. Then back to ``TermUrl`` with ``PaRes`` and ``MD``."""
    sandbox = current_sandbox()
    md = request.form.get("MD", "")
    with sandbox.store.lock:
        pending = sandbox.store.pending_card_3ds.pop(md, None)
        if pending is None:
            return refused("no 3-D Secure step pending", status=404)
        token, card, body = pending["token"], pending["card"], pending["body"]
        if sandbox.store.paid(str(token.invoice_id), token.merchant.terminal_id):
            return refused("this invoice is already paid")
        code_ok = secrets.compare_digest(request.form.get("code", "").strip(),
                                         cards.THREE_DS_CODE)
        transaction = _charge(sandbox, token, card, body, secure="yes", code_ok=code_ok)
    lang = language(body.get("language"))
    return render_template("acs_done.html", t=TEXTS[lang], lang=lang,
                           ok=transaction.reason_code == 0, transaction=transaction,
                           term_url=str(pending.get("term_url") or ""),
                           pa_res=secrets.token_urlsafe(24), md=md)


def _answer(body: dict[str, Any], token: Token, card: SavedCard, t: Transaction | None, *,
            status: str, code: int, secure3d: dict[str, Any] | None) -> dict[str, Any]:
    """The answer's shape of EPAY-REFERENCE.md section 11."""
    assert token.amount is not None
    return {
        "id": t.id if t is not None else str(uuid.uuid4()),
        "accountId": card.account_id, "amount": js_amount(token.amount), "amountBonus": 0,
        "currency": token.currency, "description": str(body.get("description", "")),
        "email": str(body.get("email", "")), "invoiceID": token.invoice_id,
        "invoiceIdAlt": str(body.get("invoiceIdAlt", "")),
        "language": language_code(body.get("language")), "phone": str(body.get("phone", "")),
        "reference": t.reference if t is not None else "",
        "intReference": t.int_reference if t is not None else "",
        "secure3D": secure3d, "cardID": card.card_id, "code": code, "status": status,
        "message": "" if code == 0 else (t.reason if t is not None else ""),
    }


#: ``/recurrent/subscribe``'s ``paymentFrequency`` values ([VENDOR-SDK]).
FREQUENCIES = ("WEEKLY", "MONTHLY", "QUARTERLY")


@bp.post("/recurrent/subscribe")
def recurrent_subscribe() -> Any:
    """The SDK's bank-side schedule of a paid transaction's card: the request and answer of
    EPAY-REFERENCE.md section 14. The sandbox records it (``store.recurrent_schedules``) and
    charges nothing later: the bank's later charges are not published (docs/sandbox.md)."""
    sandbox = current_sandbox()
    token = bearer_token(sandbox)
    if token is None:
        return unauthorized()
    fault = inject(sandbox.faults, "cards") or inject(sandbox.faults, "operation")
    if fault:
        return fault
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return refused("the body is not a JSON object")
    frequency = body.get("paymentFrequency")
    if frequency not in FREQUENCIES:
        return refused(f"paymentFrequency must be one of {', '.join(FREQUENCIES)}")
    transaction_id = str(body.get("transactionId", ""))
    with sandbox.store.lock:
        t = sandbox.store.transactions.get(transaction_id)
        # A service token of the merchant, or the payment token of the transaction's invoice.
        if t is None or t.terminal != token.merchant.terminal_id or (
                token.invoice_id is not None and token.invoice_id != t.invoice_id) \
                or t.status in ("REJECT", "CANCEL"):
            return refused("transaction not found")
        now = _sdk_date(datetime.now(UTC))
        schedule = sandbox.store.recurrent_schedules.get(transaction_id, {"createdDate": now})
        schedule.update({
            "paymentFrequency": frequency,
            "lastPaymentDate": _sdk_date(datetime.fromisoformat(t.created)),
            "clientId": token.merchant.client_id, "invoiceId": t.invoice_id,
            "amount": js_amount(t.amount), "currency": t.currency, "reference": t.reference,
        })
        sandbox.store.recurrent_schedules[transaction_id] = schedule
        answer = {key: schedule[key] for key in (
            "createdDate", "paymentFrequency", "lastPaymentDate", "clientId", "invoiceId",
            "amount", "currency", "reference")}
    return jsonify(answer)


def _sdk_date(moment: datetime) -> str:
    """The SDK's ``yyyy-MM-dd'T'HH:mm:ss.SSSSSSSZ`` in Almaty time: seven fraction digits,
    the offset as ``+0500``."""
    local = moment.astimezone(ALMATY)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0" \
        + local.strftime("%z")


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))
