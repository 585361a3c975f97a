"""Paying a payment object without a browser, for a shop's tests: :meth:`Sandbox.pay`.

It does what a customer's browser does, through the sandbox's own routes (a test client of its
app): open ``/payform/`` with the object handed over as the bank's script does (``?params=``),
post the card form, answer the 3-D Secure step when the card asks for one. So the page's every
check applies (token, amount, invoice already paid, the card form's validation) and the postLink
is sent by the page as after any payment; nothing is recorded any other way.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.test import TestResponse

from ..errors import HalykError
from .cards import THREE_DS_CODE
from .handover import encode_params
from .links import http_url
from .state import Delivery, Transaction

if TYPE_CHECKING:
    from .instance import Sandbox

_CHECKOUT = re.compile(r'name="checkout" value="([^"]+)"')
_TRANSACTION = re.compile(r'id="transaction-id">([^<]+)<')
_MESSAGE = re.compile(r'id="error-message">([^<]*)<')
_FIELD_ERROR = re.compile(r'id="error-(pan|expiry|cvc|holder)">([^<]*)<')
_SECURE_3D_FORM = 'id="secure3d-form"'


class PaymentPageError(HalykError):
    """The sandbox's payment page refused the payment object or the card form, as it would
    refuse a browser: ``status`` is the page's HTTP status, ``message`` its text, ``errors``
    the card form's field errors (``{"pan": ..., "cvc": ...}``; empty when the page itself
    was refused)."""

    def __init__(self, message: str, status: int, errors: Mapping[str, str] | None = None
                 ) -> None:
        self.message = message
        self.status = status
        self.errors = dict(errors or {})
        super().__init__(f"the sandbox's payment page refused: {message} (HTTP {status})")


@dataclass(frozen=True)
class PaymentResult:
    """What paying did: the transaction the page recorded and the postLinks sent for it.

    ``status`` is the transaction's at payment time (``CHARGE``, ``AUTH`` on a two-stage
    terminal, ``REJECT``); ``transaction`` is the sandbox's own record, which later operations
    (refunds...) change. ``deliveries`` are the postLink attempts for this transaction seen by
    the time :meth:`Sandbox.pay` returned.
    """

    approved: bool
    reason_code: int
    reason: str
    transaction_id: str
    status: str
    three_ds: bool
    transaction: Transaction = field(repr=False)
    deliveries: tuple[Delivery, ...] = field(default=(), repr=False)


def browser_origin(sandbox: Sandbox, payment_object: Mapping[str, Any]) -> str:
    """Where a customer's browser would reach the sandbox from: the shop's origin, as its
    postLink shows it (the token request's, else the object's), else its backLink's; an
    embedded sandbox delivers postLinks to that origin in-process."""
    auth = payment_object.get("auth")
    access = auth.get("access_token") if isinstance(auth, Mapping) else auth
    token = sandbox.store.token(str(access)) if access else None
    links = [token.post_link, token.failure_post_link] if token is not None else []
    links += [str(payment_object.get(key) or "") for key in
              ("postLink", "failurePostLink", "backLink")]
    for link in links:
        if link and http_url(link):
            parts = urlsplit(link)
            return f"{parts.scheme}://{parts.netloc}"
    return "http://localhost"


def _text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def _refused(response: TestResponse) -> PaymentPageError:
    page = _text(response)
    errors = {name: html.unescape(text) for name, text in _FIELD_ERROR.findall(page)}
    message = _MESSAGE.search(page)
    if message is not None:
        text = html.unescape(message.group(1))
    elif errors:
        text = "the card form was refused: " + ", ".join(
            f"{name}: {error}" for name, error in errors.items())
    else:
        text = f"unexpected page: {page[:200]!r}"
    return PaymentPageError(text, response.status_code, errors)


_SAVE_CARD_BOX = 'name="save_card"'


def pay_through_page(sandbox: Sandbox, app: Flask, payment_object: Mapping[str, Any],
                     pan: str, *, expiry: str, cvc: str, holder: str,
                     secure_code: str | None, base_url: str | None,
                     wait: float, save_card: bool = True) -> PaymentResult:
    """See :meth:`Sandbox.pay`."""

    client = app.test_client()
    origin = base_url or browser_origin(sandbox, payment_object)
    # The bank's hand-over, as its payment-api.js writes it (halyk.pay: no isShortForm).
    page = client.get("/payform/", query_string={"params": encode_params(payment_object)},
                      base_url=origin)
    checkout = _CHECKOUT.search(_text(page))
    if page.status_code != 200 or checkout is None:
        raise _refused(page)
    form = {"checkout": checkout.group(1), "pan": pan, "expiry": expiry, "cvc": cvc,
            "holder": holder}
    # The save-card box, ticked as the page shows it, as a browser submits it.
    if save_card and _SAVE_CARD_BOX in _text(page):
        form["save_card"] = "1"
    answer = client.post("/payform/pay", base_url=origin, data=form)
    three_ds = answer.status_code == 200 and _SECURE_3D_FORM in _text(answer)
    if three_ds:
        answer = client.post("/payform/3ds", base_url=origin, data={
            "checkout": checkout.group(1),
            "code": THREE_DS_CODE if secure_code is None else secure_code})
    found = _TRANSACTION.search(_text(answer))
    if answer.status_code != 200 or found is None:
        raise _refused(answer)
    transaction_id = html.unescape(found.group(1)).strip()
    with sandbox.store.lock:
        transaction = sandbox.store.transactions[transaction_id]
        status = transaction.status
    if wait > 0:
        sandbox.wait_for_postlinks(wait)
    deliveries = tuple(d for d in sandbox.deliveries if d.body.get("id") == transaction_id)
    return PaymentResult(
        approved=transaction.reason_code == 0, reason_code=transaction.reason_code,
        reason=transaction.reason, transaction_id=transaction_id, status=status,
        three_ds=three_ds, transaction=transaction, deliveries=deliveries)
