"""The postLink blueprint: where ePay tells the shop how a payment ended.

The flow runs one way: refuse oversized bodies; store the raw event; parse (JSON whatever the
Content-Type, else a form body); validate (:class:`~flask_halyk.schemas.PostLinkSchema`);
verify (address, ``secret_hash``, the order's amount/currency/terminal, optionally the status
API); apply to the ledger atomically; fire the signals only if this event changed the payment;
acknowledge. Nothing a client can send makes it answer 5xx, except 503 when the status re-check
cannot reach ePay (so that the bank may try again; the event is kept either way).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from marshmallow import ValidationError

from . import signals
from .errors import HalykError
from .ledger import EventVerdict, News, PaymentStatus
from .ledger.dispatch import dispatch_event
from .ledger.states import news_from_postlink
from .ledger.store import clean
from .schemas import PostLinkSchema
from .verification import ip_allowed, verify_postlink

if TYPE_CHECKING:
    from .extension import HalykState
    from .ledger import PaymentRecord
    from .results import Transaction

log = logging.getLogger("flask_halyk.postlink")

_CHUNK = 16 * 1024
# Request headers that carry someone's credentials (a proxy's, a browser's): an event keeps
# that they came, never their value.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key",
                             "x-auth-token", "x-csrf-token", "x-csrftoken"})
# What an event keeps of the headers: plenty for an investigation, bounded for the database.
_HEADERS_KEPT = 32
_HEADER_NAME_MAX = 100
_HEADER_VALUE_MAX = 1000
# Built once: constructing a marshmallow schema costs more than loading a body with it, and
# load() keeps no state on the instance, so threads may share it.
_POSTLINK_SCHEMA = PostLinkSchema()


def create_blueprint() -> Blueprint:
    """The ``halyk`` blueprint: ``POST /postlink`` (endpoint ``postlink``) and
    ``POST /failure-postlink`` (``failure_postlink``). The extension registers it under
    ``HALYK_URL_PREFIX`` and exempts it from CSRF protection."""
    blueprint = Blueprint("halyk", __name__, template_folder="templates")
    blueprint.add_url_rule("/postlink", "postlink", _postlink, methods=["POST"])
    blueprint.add_url_rule(
        "/failure-postlink", "failure_postlink", _failure_postlink, methods=["POST"]
    )
    return blueprint


def _postlink() -> tuple[Response, int]:
    return receive_postlink("postlink")


def _failure_postlink() -> tuple[Response, int]:
    return receive_postlink("failure_postlink")


def _state() -> HalykState:
    from .extension import get_state

    return get_state()


def _answer(http_status: int, **body: Any) -> tuple[Response, int]:
    return jsonify(body), http_status


def read_bounded(limit: int) -> bytes | None:
    """The request body, or None if it is longer than ``limit`` bytes. Never reads more than
    ``limit + 1`` bytes, whatever Content-Length says (or does not say)."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    # The app's MAX_CONTENT_LENGTH is for its own forms. Left in force here, a smaller one
    # would refuse a postLink with Flask's HTML 413 before it is recorded; the bank's body is
    # judged by HALYK_MAX_POSTLINK_BYTES alone (one byte more, to see it was exceeded). Flask
    # 3.0 has no setter: there the app's own limit still applies first.
    with contextlib.suppress(AttributeError):
        request.max_content_length = limit + 1
    stream = request.stream
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        return None
    return b"".join(parts)


def stored_headers(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The request headers as an event stores them: credentials replaced by ``[redacted]``,
    at most :data:`_HEADERS_KEPT` of them, each cut to a bounded length."""
    kept = []
    for name, value in itertools.islice(items, _HEADERS_KEPT):
        if name.strip().lower() in _SECRET_HEADERS:
            value = "[redacted]"
        kept.append((name[:_HEADER_NAME_MAX], value[:_HEADER_VALUE_MAX]))
    return kept


def loggable(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\x1b``, ``\\n``, ``\\x85``...):
    what a sender wrote must not start a new log line or drive the terminal reading it."""
    return "".join(
        c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) <= 0xFF else f"\\u{ord(c):04x}")
        for c in text
    )


def parse_body(body: bytes) -> dict[str, Any] | None:
    """A JSON object, whatever the Content-Type said; else a urlencoded form; else None."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    else:
        return data if isinstance(data, dict) else None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    if not pairs:
        return None
    form: dict[str, Any] = {}
    for key, value in pairs:
        form.setdefault(key, value)  # a repeated key keeps its first value
    return form


def validate(data: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """``(postlink, None)`` if ``data`` is a valid postLink, else ``(None, reason)``."""
    try:
        loaded = _POSTLINK_SCHEMA.load(data)
    except ValidationError as exc:
        messages: Any = exc.messages
        return None, "invalid postLink: " + json.dumps(messages, default=str)[:500]
    except Exception as exc:  # a schema must never turn a bad body into a 500
        log.exception("flask-halyk: PostLinkSchema raised on a body")
        return None, f"invalid postLink: {type(exc).__name__}"
    assert isinstance(loaded, dict)
    return loaded, None


def receive_postlink(kind: str) -> tuple[Response, int]:
    """Handle one postLink delivery (``kind``: ``postlink`` or ``failure_postlink``)."""
    state = _state()
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    ledger = state.ledger
    remote = request.remote_addr
    headers = stored_headers(request.headers.items())

    body = read_bounded(state.config.max_postlink_bytes)
    if body is None:
        reason = f"body larger than {state.config.max_postlink_bytes} bytes"
        # Kept without its body: an oversized body is not stored, only the fact it came.
        event_id = ledger.record_event(kind=kind, body=b"", headers=headers, remote_addr=remote,
                                       verdict=EventVerdict.MALFORMED, reason=reason)
        return _refuse(app, event_id, b"", 413, reason)

    event_id = ledger.record_event(kind=kind, body=body, headers=headers, remote_addr=remote)

    data = parse_body(body)
    if data is None:
        return _refuse(app, event_id, body, 400, "body is neither a JSON object nor a form")
    postlink, invalid = validate(data)
    if postlink is None:
        invoice = data.get("invoiceId")
        return _refuse(app, event_id, body, 400, invalid or "invalid postLink",
                       invoice_id=invoice if isinstance(invoice, str) else None)
    invoice_id = str(postlink["invoiceId"])
    transaction_id = clean(postlink.get("id"), 64)

    if not ip_allowed(state.config, remote):
        return _refuse(app, event_id, body, 403, f"address {remote} is not allowed",
                       invoice_id=invoice_id, transaction_id=transaction_id, postlink=postlink)
    payment = ledger.get(invoice_id)
    forged = verify_postlink(state.config, postlink, payment)
    if forged is None and payment is None:
        forged = "unknown invoice"
    if forged is not None or payment is None:
        return _refuse(app, event_id, body, 403, forged or "unknown invoice",
                       invoice_id=invoice_id, transaction_id=transaction_id, postlink=postlink)
    news = news_from_postlink(postlink, two_stage=state.config.two_stage)
    if news.status.is_success and state.config.verify_with_status:
        checked = _confirm_with_status(state, event_id, payment, news)
        if isinstance(checked, tuple):
            if checked[1] == 403:
                return _refuse(app, event_id, body, 403, checked[0], invoice_id=invoice_id,
                               transaction_id=transaction_id, postlink=postlink)
            return _answer(503, error=checked[0])
        news = checked

    result = ledger.apply(invoice_id, news, event_id=event_id)
    if result.change is not None:
        dispatch_event(app, ledger, event_id, result.change, result.payment, postlink)
    return _answer(200, status="ok")


def _confirm_with_status(
    state: HalykState, event_id: int, payment: PaymentRecord, news: News
) -> News | tuple[str, int]:
    """Believe a success only if the status API says paid. Returns the news, its status
    decided by the bank's statusName whatever ``HALYK_TWO_STAGE`` says (AUTH: ``authorized``,
    CHARGE: ``paid``), or (reason, HTTP status) to answer instead."""
    invoice_id = payment.invoice_id
    try:
        status = state.client.status(invoice_id)
    except HalykError as exc:
        reason = f"status re-check failed: {type(exc).__name__}"
        log.warning("flask-halyk: postLink for %s deferred: %s", invoice_id, reason)
        state.ledger.judge_event(event_id, EventVerdict.DEFERRED, reason=reason,
                                 invoice_id=invoice_id, transaction_id=news.transaction_id)
        return reason, 503
    if status.paid:
        target = PaymentStatus.AUTHORIZED if status.authorized else PaymentStatus.PAID
        bank = str(status.status_name) if status.status_name is not None else None
        confirmed = replace(news, status=target, bank_status=bank)
        transaction = status.transaction
        mismatch = _differs_from_order(transaction, payment)
        if mismatch:
            return f"ePay's status does not match the order: {mismatch}", 403
        if transaction is not None:
            # The sender chose the postLink's fields; the bank's own answer names the
            # transaction that refunds and charges must go to, and the card it was paid with.
            confirmed = replace(
                confirmed, transaction_id=transaction.id,
                card_mask=transaction.card_mask or confirmed.card_mask,
                reference=transaction.reference or confirmed.reference,
                approval_code=transaction.approval_code or confirmed.approval_code,
            )
        return confirmed
    if status.pending:
        reason = "ePay's status is not final yet"
        state.ledger.judge_event(event_id, EventVerdict.DEFERRED, reason=reason,
                                 invoice_id=invoice_id, transaction_id=news.transaction_id)
        return reason, 503
    return f"ePay's status does not confirm the payment ({status.status_name})", 403


def _differs_from_order(transaction: Transaction | None, payment: PaymentRecord) -> str | None:
    # The token binds the amount, but the status answer is the last word: a paid transaction
    # for another sum or currency is not this order's payment.
    if transaction is None:
        return None
    if transaction.amount is not None and transaction.amount != payment.amount:
        return f"amount {transaction.amount} instead of {payment.amount}"
    currency = (transaction.currency or "").strip().upper()
    if currency and currency != payment.currency.upper():
        return f"currency {transaction.currency} instead of {payment.currency}"
    return None


def _refuse(
    app: Flask,
    event_id: int,
    body: bytes,
    status: int,
    reason: str,
    *,
    invoice_id: str | None = None,
    transaction_id: str | None = None,
    postlink: dict[str, Any] | None = None,
) -> tuple[Response, int]:
    verdict = EventVerdict.REJECTED if status == 403 else EventVerdict.MALFORMED
    reason = clean(reason, 2000) or ""
    _state().ledger.judge_event(event_id, verdict, reason=reason, invoice_id=invoice_id,
                                transaction_id=transaction_id)
    log.warning("flask-halyk: postLink refused (%s, event %s): %s", status, event_id,
                loggable(reason))
    try:
        signals.postlink_rejected.send(app, reason=reason, status=status, body=body,
                                       event_id=event_id, postlink=postlink)
    except Exception:  # a shop's alerting receiver must not turn a refusal into a 500
        log.exception("flask-halyk: a postlink_rejected receiver raised")
    return _answer(status, error=reason)
