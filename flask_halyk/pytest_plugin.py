"""pytest plugin for flask-halyk: fixtures for testing shops against the offline ePay sandbox.

Loaded automatically (``pytest11`` entry point). Fixtures are documented in ``docs/testing.md``:

* ``halyk_sandbox``: a sandbox running on loopback for one test (a ``SandboxServer``).
* ``halyk_postlink``: a factory of bank-shaped postLink bodies, genuine or forged.
* ``halyk_pay``: pays a payment of the test's shop on the sandbox that shop uses.
* ``halyk_signals``: records every flask-halyk signal sent during the test.
* ``halyk_saved_card``: a card saved for an account (a payment with ``save_card=True`` paid).
* ``halyk_charge_due``: runs ``charge-due`` as of a given time (a subscription renewed in one
  line).

pytest-flask is not a dependency: nothing here imports it. Where a test has pytest-flask's
fixtures, the plugin uses them by name, and only then: ``halyk_postlink`` and ``halyk_pay``
fall back to the test's ``app`` fixture (any fixture of that name, pytest-flask or not), and a
test with both ``live_server`` and ``halyk_sandbox`` gets its postLinks routed to the live
server.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask, current_app, has_app_context

from . import signals as halyk_signal_module
from .checkout import Payment
from .ledger import SavedCard
from .postlink.verification import make_secret_hash
from .sandbox.cards import APPROVED_CARD
from .sandbox.instance import Sandbox
from .sandbox.payer import PaymentResult
from .sandbox.server import SandboxServer
from .state import get_state
from .subscriptions import ChargeDueReport, charge_due


def _shop(request: pytest.FixtureRequest, app: Flask | None, fixture: str) -> Flask:
    """The shop a factory fixture works for: ``app`` if given, else the current app (an app
    context is pushed, pytest-flask's for one), else the test's own ``app`` fixture."""
    if app is not None:
        return app
    if has_app_context():
        shop: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return shop
    if "app" in request.fixturenames:
        fixture_app: Flask = request.getfixturevalue("app")
        return fixture_app
    raise RuntimeError(f"{fixture} needs the shop: pass app=..., give the test an `app` "
                       "fixture, or call it inside app.app_context() / "
                       "app.test_request_context()")


@pytest.fixture
def halyk_sandbox() -> Iterator[SandboxServer]:
    """A fresh sandbox (test merchant, one-stage) served on 127.0.0.1 for this test.

    ``.url`` is its origin; ``.faults``, ``.transactions``, ``.deliveries`` and ``.sandbox``
    give access to its state. Point a shop at it with ``HALYK_SANDBOX_URL = halyk_sandbox.url``,
    and set the shop's ``SERVER_NAME`` (or ``HALYK_EXTERNAL_URL``) to where it is served: the
    postLinks go there, never where a request's Host says.
    ``.pay(payment.to_js(), cards.BLOCKED_CARD)`` pays on its payment page without a browser.
    """
    server = SandboxServer()
    with server:
        yield server
        server.sandbox.wait_for_postlinks(timeout=5)


PostLinkFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def halyk_postlink(request: pytest.FixtureRequest) -> PostLinkFactory:
    """A factory of postLink bodies as ePay sends them.

    ``halyk_postlink(invoice_id, amount, /, *, app=None, success=True, genuine=True,
    **fields)``: ``app`` (default: the current app, else the test's ``app`` fixture) supplies
    the terminal, currency and postLink secret of its ``HalykEpay``; ``genuine=False`` gives a
    body whose ``secret_hash`` is wrong; ``fields`` override or add keys of the body after the
    hash is made (``amount=1`` tampers), except ``currency`` and ``terminal``, which enter the
    hash.
    """

    # invoice_id and amount are positional-only so that ``amount=...`` among ``fields`` can
    # tamper with the body's amount after the secret_hash was made for the real one.
    def make(invoice_id: str, amount: int | float | Decimal | str, /, *,
             app: Flask | None = None, success: bool = True, genuine: bool = True,
             **fields: Any) -> dict[str, Any]:
        flask_app = _shop(request, app, "halyk_postlink")
        state = flask_app.extensions.get("halyk")
        if state is None:
            raise RuntimeError(f"HalykEpay is not initialised on the app {flask_app.name!r}")
        config = state.config
        currency = str(fields.get("currency", config.currency))
        terminal = str(fields.get("terminal", config.terminal_id))
        if genuine:
            secret_hash = make_secret_hash(config.postlink_secret, str(invoice_id), amount,
                                           currency, terminal)
        else:
            secret_hash = secrets.token_hex(16)
        body = _postlink_body(str(invoice_id), amount, currency, terminal, success)
        body["secret_hash"] = secret_hash
        body.update(fields)
        return body

    return make


def _postlink_body(invoice_id: str, amount: Any, currency: str, terminal: str,
                   success: bool) -> dict[str, Any]:
    value = Decimal(str(amount))
    wire_amount: int | float = int(value) if value == value.to_integral_value() else float(value)
    now = datetime.now(timezone(timedelta(hours=5))).isoformat(timespec="microseconds")
    return {
        "id": str(uuid.uuid4()), "dateTime": now, "invoiceId": invoice_id, "invoiceIdAlt": "",
        "amount": wire_amount, "currency": currency, "terminal": terminal, "accountId": "",
        "description": "", "language": "RUS",
        "cardMask": "440563...5096" if success else "400303...7597", "cardType": "VISA",
        "cardId": str(uuid.uuid4()) if success else "", "issuer": "JSC HALYK BANK",
        "reference": secrets.choice("123456789") + "".join(
            secrets.choice("0123456789") for _ in range(11)) if success else "",
        "approvalCode": f"{secrets.randbelow(10**6):06d}" if success else "",
        "secure": "no", "secureDetails": "F", "tokenRecipient": "",
        "code": "ok" if success else "error", "reason": "success" if success else "card blocked",
        "reasonCode": 0 if success else 465, "name": "STANDARD CARDHOLDER", "email": "",
        "phone": "", "ip": "127.0.0.1", "ipCountry": "", "ipCity": "", "ipRegion": "",
        "ipDistrict": "", "ipLongitude": 0, "ipLatitude": 0,
    }


PayFactory = Callable[..., PaymentResult]


@pytest.fixture
def halyk_pay(request: pytest.FixtureRequest) -> PayFactory:
    """Pays a payment of the test's shop on the sandbox that shop uses, as a customer would.

    ``halyk_pay(payment, /, pan=cards.APPROVED_CARD, *, app=None, **options)``: ``payment``
    is a ``Payment`` or its object (``payment.to_js()``, or the object a live shop's page
    gave); ``app`` as for ``halyk_postlink``; ``options`` are :meth:`Sandbox.pay`'s
    (``expiry``, ``cvc``, ``holder``, ``secure_code``, ``base_url``, ``wait``). Returns its
    ``PaymentResult``, after waiting for the postLink.

    The sandbox is the app's embedded one, or ``halyk_sandbox`` when the app's
    ``HALYK_SANDBOX_URL`` is that fixture's URL. With pytest-flask's ``live_server`` the app
    must be on ``halyk_sandbox``: the live server runs a copy of the app in another process,
    whose embedded sandbox this process cannot reach.
    """

    def pay(payment: Payment | Mapping[str, Any], /, pan: str = APPROVED_CARD, *,
            app: Flask | None = None, **options: Any) -> PaymentResult:
        sandbox = _sandbox_of(request, _shop(request, app, "halyk_pay"))
        payment_object = payment.to_js() if isinstance(payment, Payment) else payment
        return sandbox.pay(payment_object, pan, **options)

    return pay


SavedCardFactory = Callable[..., SavedCard]
ChargeDueFactory = Callable[..., ChargeDueReport]


@pytest.fixture
def halyk_saved_card(request: pytest.FixtureRequest) -> SavedCardFactory:
    """A card saved for a customer account, as a customer would save it.

    ``halyk_saved_card(account_id, /, pan=cards.APPROVED_CARD, *, app=None)``: creates a
    payment of 100 with ``save_card=True`` for ``account_id``, pays it on the shop's sandbox
    (as ``halyk_pay``) with the box ticked, and returns the ``SavedCard`` the ledger kept.
    """

    def save(account_id: str, /, pan: str = APPROVED_CARD, *,
             app: Flask | None = None) -> SavedCard:
        shop = _shop(request, app, "halyk_saved_card")
        state = get_state(shop)
        known = {card.card_id for card in state.ledger.cards(account_id)}
        with shop.test_request_context("/"):
            payment = state.extension.create_payment(100, description="card saved by a test",
                                                     account_id=account_id, save_card=True)
        _sandbox_of(request, shop).pay(payment.to_js(), pan, save_card=True)
        new = [card for card in state.ledger.cards(account_id) if card.card_id not in known]
        if not new:
            raise RuntimeError(f"halyk_saved_card: the sandbox did not save card {pan} (a "
                               "declined test card saves nothing)")
        return new[-1]

    return save


@pytest.fixture
def halyk_charge_due(request: pytest.FixtureRequest) -> ChargeDueFactory:
    """Runs what ``flask halyk charge-due`` runs, now or as of another time.

    ``halyk_charge_due(*, at=None, app=None, **options)``: ``at`` (an aware datetime, such as
    ``subscription.next_charge_at``) is the ledger's time for the run (its clock is put back
    afterwards); ``options`` are ``charge_due``'s (``stale_after``, ``limit``). Returns its
    ``ChargeDueReport`` once the sandbox's postLinks are delivered.
    """

    def run(*, at: datetime | None = None, app: Flask | None = None,
            **options: Any) -> ChargeDueReport:
        shop = _shop(request, app, "halyk_charge_due")
        state = get_state(shop)
        clock = state.ledger.clock
        if at is not None:
            state.ledger.clock = lambda: at
        try:
            with shop.app_context():
                report = charge_due(state, **options)
        finally:
            state.ledger.clock = clock
        if state.sandbox is not None:
            state.sandbox.extensions["halyk_sandbox"].wait_for_postlinks(10)
        return report

    return run


def _sandbox_of(request: pytest.FixtureRequest, app: Flask) -> Sandbox:
    """The sandbox ``app`` pays on, as this test's process can reach it."""
    state = get_state(app)
    live = "live_server" in request.fixturenames
    if state.sandbox is not None:
        if live:
            raise RuntimeError(
                "halyk_pay: this test's live_server serves the app from another process, with "
                "its own embedded sandbox; set the app's HALYK_ENV='sandbox' and "
                "HALYK_SANDBOX_URL=halyk_sandbox.url so that both processes use halyk_sandbox")
        embedded: Sandbox = state.sandbox.extensions["halyk_sandbox"]
        return embedded
    if "halyk_sandbox" in request.fixturenames:
        server: SandboxServer = request.getfixturevalue("halyk_sandbox")
        if state.config.api_url == server.url:
            return server.sandbox
    raise RuntimeError(
        f"halyk_pay pays on the embedded sandbox or on halyk_sandbox; the app {app.name!r} "
        f"talks to {state.config.api_url}: pay with that sandbox's own .pay(), or set "
        "HALYK_SANDBOX_URL=halyk_sandbox.url")


@pytest.fixture(autouse=True)
def _halyk_live_server_postlinks(request: pytest.FixtureRequest) -> None:
    """A test with pytest-flask's ``live_server`` and ``halyk_sandbox``: postLinks for the
    live app's ``SERVER_NAME`` (``localhost.localdomain:PORT``, which the request context
    pytest-flask pushes gives ``create_payment``, and which need not resolve) reach the live
    server. Nothing for any other test."""
    if "live_server" not in request.fixturenames or "halyk_sandbox" not in request.fixturenames:
        return
    server: SandboxServer = request.getfixturevalue("halyk_sandbox")
    live = request.getfixturevalue("live_server")
    name = getattr(getattr(live, "app", None), "config", {}).get("SERVER_NAME")
    url = getattr(live, "url", None)
    if not name or not callable(url):  # not pytest-flask's LiveServer: nothing to route
        return
    for scheme in ("http", "https"):
        server.sandbox.route_postlinks(f"{scheme}://{name}", url())


@dataclass
class SignalEvent:
    """One signal sent: its name, sender and keyword arguments."""

    name: str
    sender: Any
    kwargs: dict[str, Any] = field(default_factory=dict)


class SignalRecorder:
    """The signals sent while a test runs, in order."""

    def __init__(self) -> None:
        self.events: list[SignalEvent] = []

    def named(self, name: str) -> list[SignalEvent]:
        """The events of one signal (``"payment-succeeded"`` or ``"payment_succeeded"``)."""
        wanted = name.replace("_", "-")
        return [e for e in self.events if e.name == wanted]

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[SignalEvent]:
        return iter(self.events)


@contextmanager
def record_signals() -> Iterator[SignalRecorder]:
    """Record every signal of :mod:`flask_halyk.signals` sent inside the ``with`` block."""
    recorder = SignalRecorder()
    receivers = []
    for attr in halyk_signal_module.__all__:
        signal = getattr(halyk_signal_module, attr)

        def receive(sender: Any, _name: str = signal.name, **kwargs: Any) -> None:
            recorder.events.append(SignalEvent(_name, sender, kwargs))

        signal.connect(receive, weak=False)
        receivers.append((signal, receive))
    try:
        yield recorder
    finally:
        for signal, receive in receivers:
            signal.disconnect(receive)


@pytest.fixture
def halyk_signals() -> Iterator[SignalRecorder]:
    """Records every signal of :mod:`flask_halyk.signals` sent during the test."""
    with record_signals() as recorder:
        yield recorder
