"""The :class:`Sandbox` object of one sandbox app: merchants, state, faults, postLink sender."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from .cards import APPROVED_CARD
from .delivery import PostLinkSender
from .faults import Faults
from .merchants import TEST_MERCHANT, Merchant
from .options import Options
from .payer import PaymentPageError, PaymentResult, pay_through_page
from .state import Delivery, Store, Token, Transaction
from .wire import status_transaction


class Sandbox:
    """One offline ePay. Found at ``app.extensions["halyk_sandbox"]``."""

    def __init__(self, merchants: Iterable[Merchant] | None = None, *, two_stage: bool = False,
                 local_app: Flask | None = None,
                 local_origins: Callable[[], Iterable[str]] | None = None,
                 postlink_timeout: float = 10, options: Options | None = None,
                 admin_key: str | None = None) -> None:
        self.merchants: tuple[Merchant, ...] = tuple(merchants or (TEST_MERCHANT,))
        #: Behaviour switches where the bank's own material is silent (docs/sandbox.md).
        self.options = options if options is not None else Options()
        if two_stage:
            self.options.two_stage = True
        self.store = Store()
        self.faults = Faults()
        self.sender = PostLinkSender(self.store, self.faults, local_app=local_app,
                                     local_origins=local_origins, timeout=postlink_timeout)
        #: What ``POST /_sandbox/pay`` requires in its ``X-Halyk-Sandbox-Key`` header (the
        #: embedded sandbox's; None: nothing, as the standalone sandbox's other admin routes).
        self.admin_key = admin_key
        #: The sandbox app serving this sandbox (set by :func:`create_sandbox_app`).
        self.app: Flask | None = None

    def merchant(self, client_id: str, client_secret: str,
                 terminal: str = "") -> Merchant | None:
        """The merchant with these credentials (and ``terminal``, when named and one of its
        client's merchants has it: one client may hold several terminals), or None."""
        found: Merchant | None = None
        for merchant in self.merchants:
            # Constant time: the sandbox may be reachable by others (an embedded demo shop).
            if merchant.client_id == client_id and secrets.compare_digest(
                    merchant.client_secret.encode(), client_secret.encode()):
                if not terminal or merchant.terminal_id == terminal:
                    return merchant
                found = found or merchant
        return found

    def two_stage_of(self, merchant: Merchant) -> bool:
        """Whether ``merchant``'s payments stop at AUTH: its own mode, else the sandbox's."""
        return self.two_stage if merchant.two_stage is None else merchant.two_stage

    @property
    def two_stage(self) -> bool:
        """Whether payments stop at AUTH until charged (``options.two_stage``)."""
        return self.options.two_stage

    @two_stage.setter
    def two_stage(self, value: bool) -> None:
        self.options.update({"two_stage": value})

    @property
    def transactions(self) -> list[Transaction]:
        """Every transaction so far, oldest first (a copy)."""
        return self.store.snapshot_transactions()

    @property
    def deliveries(self) -> list[Delivery]:
        """Every postLink sent or attempted so far, oldest first (a copy)."""
        return self.store.snapshot_deliveries()

    def transactions_json(self) -> list[dict[str, Any]]:
        """The transactions as the status API spells them."""
        with self.store.lock:
            return [status_transaction(t) for t in self.store.transactions.values()]

    def pay(self, payment_object: Mapping[str, Any], pan: str = APPROVED_CARD, *,
            expiry: str = "12/39", cvc: str = "123", holder: str = "TEST CARDHOLDER",
            secure_code: str | None = None, base_url: str | None = None,
            wait: float = 10, save_card: bool = True) -> PaymentResult:
        """Pay ``payment_object`` (``payment.to_js()``) with a card, as a browser would on the
        payment page, but without one: the page's own routes, through a test client of the
        sandbox app, so that every check of the page applies and the postLink is sent as
        after any payment.

        ``pan``, ``expiry`` (``MM/YY``), ``cvc`` and ``holder`` fill the card form (test cards:
        :mod:`flask_halyk.sandbox.cards`). A card with a 3-D Secure step gets ``secure_code``
        (default: the right one, :data:`~flask_halyk.sandbox.cards.THREE_DS_CODE`).
        ``base_url`` is the origin the simulated browser uses; by default the origin of the
        shop's postLink (where the postLink goes does not depend on it: an embedded sandbox
        delivers the shop's postLinks in-process whatever the browser). Waits up to ``wait``
        seconds for postLinks in flight (0: not at all).

        Returns a :class:`~flask_halyk.sandbox.payer.PaymentResult` for approvals and declines
        alike. Raises :class:`~flask_halyk.sandbox.payer.PaymentPageError` when the page refuses
        (unknown or expired token, another amount, invoice already paid, a malformed link) or
        the card form does (``errors``: invalid PAN, past expiry...).

        ``save_card``: leave the page's "save the card" box ticked, as it is shown (it is shown
        when the object has ``cardSave`` and an ``accountId``); False unticks it.
        """
        if self.app is None:
            raise RuntimeError("this Sandbox belongs to no app: build it with "
                               "create_sandbox_app() and use app.extensions['halyk_sandbox']")
        return pay_through_page(self, self.app, payment_object, pan, expiry=expiry, cvc=cvc,
                                holder=holder, secure_code=secure_code, base_url=base_url,
                                wait=wait, save_card=save_card)

    def latest_token(self, invoice_id: str) -> Token | None:
        """The last payment token this sandbox issued for ``invoice_id``, or None."""
        with self.store.lock:
            found = [t for t in self.store.tokens.values() if t.invoice_id == invoice_id]
        return found[-1] if found else None

    def pay_invoice(self, invoice_id: str, pan: str = APPROVED_CARD, *,
                    wait: float = 10) -> PaymentResult:
        """Pay the latest payment token issued for ``invoice_id`` with ``pan``, as
        :meth:`pay` pays a payment object: the one the shop would have handed over with that
        token (its amount, currency, terminal, and the postLinks of the token request).
        What ``POST /_sandbox/pay`` and ``flask halyk send-postlink`` do.

        Raises :class:`~flask_halyk.sandbox.payer.PaymentPageError` with ``status`` 404 when
        no payment token was issued for the invoice, 409 when it is already paid, and as
        :meth:`pay` when the page refuses (an expired token...).
        """
        token = self.latest_token(invoice_id)
        if token is None or token.amount is None:
            raise PaymentPageError(f"this sandbox issued no payment token for invoice "
                                   f"{invoice_id}: create the payment through the shop (its "
                                   "checkout) first", 404)
        if self.store.paid(invoice_id, token.merchant.terminal_id):
            raise PaymentPageError(f"invoice {invoice_id} is already paid", 409)
        payment_object = {
            "invoiceId": invoice_id, "amount": str(token.amount), "currency": token.currency,
            "terminal": token.merchant.terminal_id, "description": "sandbox pay_invoice",
            "auth": {"access_token": token.access_token, "token_type": "Bearer"},
            "postLink": token.post_link, "failurePostLink": token.failure_post_link,
        }
        return self.pay(payment_object, pan, wait=wait, save_card=False)

    def route_postlinks(self, origin: str, to: str) -> None:
        """Send the postLinks addressed to ``origin`` (``scheme://host[:port]``) to the origin
        ``to`` instead, path and query kept, as a hosts file would: for a shop that names
        itself by an address that does not resolve (pytest-flask's ``live_server`` calls its
        app ``localhost.localdomain:PORT``). The deliveries keep the URL the bank was given.
        """
        parts = urlsplit(origin)
        target = urlsplit(to)
        if parts.scheme not in ("http", "https") or not parts.netloc or \
                target.scheme not in ("http", "https") or not target.netloc:
            raise ValueError(f"route_postlinks takes two http(s) origins, not {origin!r} and "
                             f"{to!r}")
        self.sender.routes[f"{parts.scheme}://{parts.netloc}".lower()] = \
            f"{target.scheme}://{target.netloc}"

    def wait_for_postlinks(self, timeout: float = 10) -> None:
        """Block until postLinks in flight are delivered (or ``timeout`` passes)."""
        self.sender.join(timeout)

    def __repr__(self) -> str:
        return f"<Sandbox merchants={[m.client_id for m in self.merchants]} " \
               f"two_stage={self.two_stage}>"


def current_sandbox() -> Sandbox:
    """The sandbox of the app handling the current request."""
    sandbox: Sandbox = current_app.extensions["halyk_sandbox"]
    return sandbox
