"""pytest plugin for flask-halyk: fixtures for testing shops against the offline ePay sandbox.

Loaded automatically (``pytest11`` entry point). Fixtures are documented in ``docs/testing.md``:

* ``halyk_sandbox``: a sandbox running on loopback for one test (a ``SandboxServer``).
* ``halyk_postlink``: a factory of bank-shaped postLink bodies, genuine or forged.
* ``halyk_signals``: records every flask-halyk signal sent during the test.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask, current_app, has_app_context

from . import signals as halyk_signal_module
from .postlink.verification import make_secret_hash
from .sandbox.server import SandboxServer


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
def halyk_postlink() -> PostLinkFactory:
    """A factory of postLink bodies as ePay sends them.

    ``halyk_postlink(invoice_id, amount, /, *, app=None, success=True, genuine=True,
    **fields)``: ``app`` (default: the current app) supplies the terminal, currency and postLink
    secret of its ``HalykEpay``; ``genuine=False`` gives a body whose ``secret_hash`` is wrong;
    ``fields`` override or add keys of the body after the hash is made (``amount=1`` tampers),
    except ``currency`` and ``terminal``, which enter the hash.
    """

    # invoice_id and amount are positional-only so that ``amount=...`` among ``fields`` can
    # tamper with the body's amount after the secret_hash was made for the real one.
    def make(invoice_id: str, amount: int | float | Decimal | str, /, *,
             app: Flask | None = None, success: bool = True, genuine: bool = True,
             **fields: Any) -> dict[str, Any]:
        if app is None and not has_app_context():
            raise RuntimeError("halyk_postlink needs the shop: pass app=..., or call it inside "
                               "app.app_context() / app.test_request_context()")
        flask_app = app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]
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
