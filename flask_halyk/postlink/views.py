"""The postLink blueprint: where ePay tells the shop how a payment ended.

The flow runs one way: refuse oversized bodies; parse and validate (:mod:`.intake`); verify
what the body alone proves (address, ``secret_hash``: :mod:`.verification`; a refusal is the
raw event stored with its verdict, one INSERT); optionally ask the status API
(:mod:`.confirmation`, no transaction held); then ONE transaction stores the raw event and
applies it, verified against the order under its row lock (:meth:`Ledger.receive`; should it
fail, the raw event is stored alone and the bank gets a 500); fire the signals only if this
event changed the payment (:mod:`flask_halyk.dispatch`); acknowledge. A delivery that
changes nothing (a copy, the bank's retry) first finishes the receivers a worker that died
left unfinished (:func:`flask_halyk.recovery.finish_interrupted`), so that the bank's retry
after a crash fulfils the order. Nothing a client can send makes it answer 5xx, except 503
when the status re-check cannot reach ePay, or the receivers are still running in another
worker (so that the bank may try again; the event is kept either way), and 500 when the
ledger's transaction fails (the event is kept too).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from .. import signals
from ..dispatch import dispatch_event, has_receivers
from ..errors import LedgerUnavailable
from ..ledger import Change, EventVerdict, PaymentRecord, PaymentStatus
from ..ledger.reports import report_from_postlink
from ..ledger.rows import clean
from ..recovery import finish_interrupted
from ..state import get_state
from .confirmation import Unconfirmed, confirm_unhashed, confirm_with_status
from .intake import loggable, parse_body, read_bounded, stored_headers, validate
from .verification import has_secret_hash, ip_allowed, order_mismatch, verify_postlink

__all__ = ["create_blueprint", "receive_postlink"]

log = logging.getLogger("flask_halyk.postlink")

#: Seconds a postLink that changed nothing waits, beyond the dispatch lease, for the claim of
#: a worker that died mid-receiver to lapse.
FINISH_SLACK = 1.0


def create_blueprint() -> Blueprint:
    """The ``halyk`` blueprint: ``POST /postlink`` (endpoint ``postlink``) and
    ``POST /failure-postlink`` (``failure_postlink``). The extension registers it under
    ``HALYK_URL_PREFIX`` and exempts it from CSRF protection."""
    blueprint = Blueprint("halyk", __name__, template_folder="../templates")
    blueprint.add_url_rule("/postlink", "postlink", _postlink, methods=["POST"])
    blueprint.add_url_rule(
        "/failure-postlink", "failure_postlink", _failure_postlink, methods=["POST"]
    )
    blueprint.register_error_handler(LedgerUnavailable, _ledger_unavailable)
    return blueprint


def _ledger_unavailable(exc: LedgerUnavailable) -> tuple[Response, int]:
    # The database is down: nothing could be stored, so nothing may be acknowledged. 503 tells
    # the bank to try again (if it does); reconcile recovers the payment otherwise.
    return _answer(503, error="the ledger is unavailable; try again later")


def _postlink() -> tuple[Response, int]:
    return receive_postlink("postlink")


def _failure_postlink() -> tuple[Response, int]:
    return receive_postlink("failure_postlink")


def _answer(http_status: int, **body: Any) -> tuple[Response, int]:
    return jsonify(body), http_status


def receive_postlink(kind: str) -> tuple[Response, int]:
    """Handle one postLink delivery (``kind``: ``postlink`` or ``failure_postlink``)."""
    state = get_state()
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    ledger = state.ledger
    config = state.config
    remote = request.remote_addr
    headers = stored_headers(request.headers.items())

    def store(verdict: EventVerdict = EventVerdict.RECEIVED, reason: str | None = None,
              invoice_id: str | None = None, transaction_id: str | None = None,
              raw: bytes | None = None) -> int:
        # The raw event, and its verdict when it is decided without the ledger: one INSERT.
        return ledger.record_event(kind=kind, body=(body or b"") if raw is None else raw,
                                   headers=headers, remote_addr=remote, verdict=verdict,
                                   reason=clean(reason, 2000), invoice_id=invoice_id,
                                   transaction_id=transaction_id)

    body = read_bounded(config.max_postlink_bytes)
    if body is None:
        reason = f"body larger than {config.max_postlink_bytes} bytes"
        # Kept without its body: an oversized body is not stored, only the fact it came.
        event_id = store(EventVerdict.MALFORMED, reason, raw=b"")
        return _refuse(app, event_id, b"", 413, reason)

    data = parse_body(body)
    if data is None:
        reason = "body is neither a JSON object nor a form"
        return _refuse(app, store(EventVerdict.MALFORMED, reason), body, 400, reason)
    postlink, invalid = validate(data)
    if postlink is None:
        invoice = data.get("invoiceId")
        invoice = invoice if isinstance(invoice, str) else None
        reason = invalid or "invalid postLink"
        return _refuse(app, store(EventVerdict.MALFORMED, reason, invoice), body, 400, reason)
    invoice_id = str(postlink["invoiceId"])
    transaction_id = clean(postlink.get("id"), 64)

    def refuse(reason: str) -> tuple[Response, int]:
        event_id = store(EventVerdict.REJECTED, reason, invoice_id, transaction_id)
        return _refuse(app, event_id, body, 403, reason, postlink=postlink)

    if not ip_allowed(config, remote):
        return refuse(f"address {remote} is not allowed")
    # What the body alone proves (the secret_hash, the terminal, the fields present) is
    # checked before anything is written: a forged postLink is one INSERT with its verdict.
    forged = verify_postlink(config, postlink, None, require_secret_hash=False)
    if forged is not None:
        return refuse(forged)
    # The two-stage mode of the postLink's merchant (its terminal is one of the shop's, checked
    # above; the payment's own, checked against the order below).
    news = report_from_postlink(postlink, two_stage=state.merchant_of(
        str(postlink["terminal"])).two_stage)
    hashed = has_secret_hash(postlink)  # without it, only the bank's status can confirm
    if not hashed or (news.status.is_success and config.verify_with_status):
        # The status re-check calls the bank: the order read and verified first, and no
        # transaction held across the call. A process that dies during it answered nothing:
        # the bank delivers the postLink again.
        payment = ledger.get(invoice_id)
        mismatch = order_mismatch(postlink, payment) if payment is not None else None
        if mismatch is not None or payment is None:
            return refuse(mismatch or "unknown invoice")
        if not (news.status.is_success and _settled(payment)):
            confirm = confirm_with_status if hashed else confirm_unhashed
            checked = confirm(state, payment, news)
            if isinstance(checked, Unconfirmed):
                if checked.http_status == 403:
                    return refuse(checked.reason)
                store(EventVerdict.DEFERRED, checked.reason, invoice_id, transaction_id)
                return _answer(checked.http_status, error=checked.reason)
            news = checked
        # else: a success for a payment no success can move (a copy, the bank's retry): the
        # bank is not asked, and the transaction below finds it a duplicate.
    # ONE transaction, one commit: the payment locked, the postLink verified against the order,
    # the change applied and the raw event stored with its verdict; applied at once when no
    # receiver is connected, else claimed for the receivers. Should that transaction fail, the
    # raw event is stored on its own (and the bank answered 500: it delivers it again).

    def against_order(payment: PaymentRecord | None) -> str | None:
        return order_mismatch(postlink, payment) if payment is not None else None

    def claim(change: Change) -> bool:
        return has_receivers(app, change)

    event_id, outcome = ledger.receive(
        kind=kind, body=body, headers=headers, remote_addr=remote, invoice_id=invoice_id,
        report=news, check=against_order, transaction_id=transaction_id, claim=claim)
    if isinstance(outcome, str):
        return _refuse(app, event_id, body, 403, outcome, postlink=postlink)
    result = outcome
    if result.change is not None:
        dispatch_event(app, ledger, event_id, result.change, result.payment, postlink,
                       claim=result.claim,
                       applied=result.verdict is EventVerdict.APPLIED)
        if result.unfinished:  # earlier news of it a dead worker may have left unfinished
            finish_interrupted(state, invoice_id)
        return _answer(200, status="ok")
    if not result.unfinished:
        return _answer(200, status="ok")
    # Nothing changed: this may be the bank retrying a delivery whose worker died while the
    # receivers ran. Finish them (once their claim lapses), or wait for a live worker to.
    wait = ledger.dispatch_lease.total_seconds() + FINISH_SLACK
    unfinished = finish_interrupted(state, invoice_id, wait=wait)
    if unfinished.running:
        events = ", ".join(str(e) for e in unfinished.running)
        reason = f"the receivers of this payment (event {events}) are still running: try later"
        ledger.judge_event(event_id, EventVerdict.DEFERRED, reason=reason,
                           invoice_id=invoice_id, transaction_id=transaction_id)
        return _answer(503, error=reason)
    return _answer(200, status="ok")


def _settled(payment: PaymentRecord) -> bool:
    """No success report can move the payment any more (it is paid, or past it)."""
    return payment.status.is_success and payment.status is not PaymentStatus.AUTHORIZED


def _refuse(
    app: Flask,
    event_id: int,
    body: bytes,
    status: int,
    reason: str,
    *,
    postlink: dict[str, Any] | None = None,
) -> tuple[Response, int]:
    """Refuse the postLink (its verdict already written on event ``event_id``): logged, and
    :data:`~flask_halyk.signals.postlink_rejected` sent."""
    reason = clean(reason, 2000) or ""
    log.warning("flask-halyk: postLink refused (%s, event %s): %s", status, event_id,
                loggable(reason))
    try:
        signals.postlink_rejected.send(app, reason=reason, status=status, body=body,
                                       event_id=event_id, postlink=postlink)
    except Exception:  # a shop's alerting receiver must not turn a refusal into a 500
        log.exception("flask-halyk: a postlink_rejected receiver raised")
    return _answer(status, error=reason)
