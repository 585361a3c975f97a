"""Reliability: what the outside world can send or break, and what the shop must still get.

Issue 10, items 1, 2, 6, 7, 8 and 9, each against real servers or databases where the defect
needs them: the Host header that chose where the bank posts, lone surrogates / NULs / overlong
text, a ledger database made unreachable and back, bank error bodies that echo the request,
``flask halyk status`` with wrong credentials, and the standalone sandbox's address.

No assertion here depends on time: every wait is for an event, bounded only so that a broken
run ends.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import werkzeug.serving
from click.testing import CliRunner
from client_fixtures import (
    API_PREFIX,
    INVOICE,
    SECRET,
    STATUS_PATH,
    TERMINAL,
    TOKEN_PATH,
    TX_ID,
    TokenIssuer,
    json_response,
    make_client,
)
from flask import Flask, request
from ledger_support import (
    BACKENDS,
    LiveServer,
    backend_shop,
    fresh_pg_url,
    ledger_of,
    make_shop,
    new_payment,
    postlink_for,
)
from ledger_support import close_shop as close_ledger_shop
from page_helpers import DISTINCT_SECRET, SHOP_TERMINAL
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import make_url
from werkzeug import Request, Response

from flask_halyk import HalykEpay
from flask_halyk.config import SHOP_INTERNAL_ORIGIN
from flask_halyk.epay import EpayClient
from flask_halyk.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EpayConnectionError,
    HalykError,
    InvalidPayment,
    InvalidResponse,
    LedgerUnavailable,
)
from flask_halyk.ledger import EventVerdict, PaymentStatus
from flask_halyk.postlink.verification import make_secret_hash
from flask_halyk.redaction import scrub
from flask_halyk.sandbox import Merchant, SandboxServer, create_sandbox_app
from flask_halyk.sandbox.cards import BLOCKED_CARD as DECLINED_CARD
from flask_halyk.sandbox.cli import sandbox_command
from flask_halyk.schemas.fields import ACCOUNT_ID_MAX, DATA_MAX_BYTES, EMAIL_MAX, NAME_MAX

EXTERNAL = "https://shop.example.kz"


@pytest.fixture
def bank() -> Iterator[SandboxServer]:
    """ePay's stand-in on loopback, knowing the shop's merchant."""
    merchant = Merchant("reliable-shop", DISTINCT_SECRET, SHOP_TERMINAL)
    with SandboxServer(create_sandbox_app(merchants=[merchant])) as server:
        yield server
        server.sandbox.wait_for_postlinks(5)


def real_host_shop(bank_url: str, tmp_path: Path, **config: Any) -> Flask:
    """A shop configured for ePay's test hosts (here: the sandbox on loopback)."""
    app = Flask("reliable", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="reliability-secret-key", HALYK_ENV="test",
        HALYK_TOKEN_URL=f"{bank_url}/oauth2/token", HALYK_API_URL=bank_url,
        HALYK_SCRIPT_URL=f"{bank_url}/payform/payment-api.js",
        HALYK_PAYFORM_URL=f"{bank_url}/payform/",
        HALYK_CLIENT_ID="reliable-shop", HALYK_CLIENT_SECRET=DISTINCT_SECRET,
        HALYK_TERMINAL_ID=SHOP_TERMINAL, HALYK_EXTERNAL_URL=EXTERNAL,
        HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    app.config.update(config)
    HalykEpay(app)
    return app


def close_shop(app: Flask) -> None:
    app.extensions["halyk"].client.close()
    app.extensions["halyk"].ledger.dispose()


def _embedded_shop(db_url: str, tmp_path: Path) -> Flask:
    app = Flask("unreachable", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="k", TESTING=True, HALYK_DATABASE_URL=db_url)
    HalykEpay(app)
    return app


def _create(app: Flask) -> Any:
    with app.test_request_context("/"):
        return app.extensions["halyk"].extension.create_payment(100, description="tea")


# --- 1. the Host header never decides where the bank posts -----------------------------------

ATTACKER = "attacker.example:8666"


class Catcher:
    """The attacker's server: keeps every body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        app = Flask("catcher")

        @app.post("/<path:anything>")
        def catch(anything: str) -> str:
            self.bodies.append(request.get_data())
            return "ok"

        self.server = LiveServer(app)
        self.host = self.server.url.split("://", 1)[1]


def _served_shop(bank_url: str, tmp_path: Path, **config: Any) -> tuple[Flask, LiveServer]:
    """A shop on ePay's test hosts (here: the sandbox), served on loopback; ``origin`` in
    ``config`` (a callable of the server's URL) configures where it says it lives."""
    app = Flask("served", instance_path=str(tmp_path / "instance"))
    server = LiveServer(app)  # serves nothing until the app is set up below
    where = config.pop("origin")(server.url)
    app.config.update(
        SECRET_KEY="served-secret-key", HALYK_ENV="test",
        HALYK_TOKEN_URL=f"{bank_url}/oauth2/token", HALYK_API_URL=bank_url,
        HALYK_SCRIPT_URL=f"{bank_url}/payform/payment-api.js",
        HALYK_PAYFORM_URL=f"{bank_url}/payform/",
        HALYK_CLIENT_ID="reliable-shop", HALYK_CLIENT_SECRET=DISTINCT_SECRET,
        HALYK_TERMINAL_ID=SHOP_TERMINAL,
        HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}", **where, **config)
    halyk = HalykEpay(app)

    @app.post("/buy")
    def buy() -> Any:
        return halyk.create_payment("1500", description="Tea").to_js()

    return app, server


@pytest.mark.parametrize("origin", [
    pytest.param(lambda url: {"HALYK_EXTERNAL_URL": url}, id="HALYK_EXTERNAL_URL"),
    pytest.param(lambda url: {"SERVER_NAME": url.split("://", 1)[1],
                              "PREFERRED_URL_SCHEME": "http"}, id="SERVER_NAME"),
])
def test_a_checkout_with_a_forged_host_cannot_divert_the_failure_postlink(
        bank: SandboxServer, tmp_path: Path, origin: Callable[[str], dict[str, str]]) -> None:
    # The attack of issue 10: a checkout request whose Host is the attacker's. Had the links
    # come from it, the bank would post the declined payment's failure postLink, secret_hash and
    # all, to the attacker, who turns it into a success and posts it to the shop (with the
    # status re-check off, as here, the order would be paid).
    catcher = Catcher()
    app, shop = _served_shop(bank.url, tmp_path, origin=origin, HALYK_VERIFY_WITH_STATUS=False)
    try:
        bought = requests.post(f"{shop.url}/buy", headers={"Host": catcher.host}, timeout=10)
        assert bought.status_code == 200, bought.text
        payment_object = bought.json()
        [token] = [t for t in bank.sandbox.store.tokens.values() if t.invoice_id]
        # What the token request (server to bank) named: the shop's configured origin.
        assert token.post_link == f"{shop.url}/halyk/postlink"
        assert token.failure_post_link == f"{shop.url}/halyk/failure-postlink"
        for link in ("postLink", "failurePostLink", "backLink", "failureBackLink"):
            assert payment_object[link].startswith(f"{shop.url}/"), (link, payment_object)
        result = bank.pay(payment_object, DECLINED_CARD)
        assert not result.approved
        assert [(d.url, d.status) for d in result.deliveries] == [
            (f"{shop.url}/halyk/failure-postlink", 200)]
        assert catcher.bodies == []
        record = app.extensions["halyk"].ledger.get(payment_object["invoiceId"])
        assert record is not None and record.status is PaymentStatus.FAILED
    finally:
        for server in (shop, catcher.server):
            server.close()
        close_shop(app)


@pytest.mark.parametrize("env", ["test", "prod"])
def test_bank_hosts_refuse_to_start_without_a_configured_origin(tmp_path: Path,
                                                                env: str) -> None:
    app = Flask("no-origin", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="k", HALYK_ENV=env, HALYK_CLIENT_ID="shop",
                      HALYK_CLIENT_SECRET=DISTINCT_SECRET, HALYK_TERMINAL_ID=SHOP_TERMINAL,
                      HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with pytest.raises(ConfigurationError) as info:
        HalykEpay(app)
    assert info.value.key == "HALYK_EXTERNAL_URL"
    message = str(info.value)
    assert "Host" in message and "https://shop.example.kz" in message
    assert "SERVER_NAME" in message
    assert "halyk" not in app.extensions


@pytest.mark.parametrize("setting", [
    {"HALYK_EXTERNAL_URL": EXTERNAL},
    {"SERVER_NAME": "shop.example.kz", "PREFERRED_URL_SCHEME": "https"},
])
def test_bank_hosts_start_with_a_configured_origin(tmp_path: Path,
                                                   setting: dict[str, str]) -> None:
    app = real_host_shop("https://epay.invalid", tmp_path,
                         **{"HALYK_EXTERNAL_URL": None, **setting})
    close_shop(app)


def test_the_embedded_sandbox_never_posts_where_the_host_header_says(tmp_path: Path) -> None:
    # No configuration at all: the server-to-server links name a fixed in-process origin, and
    # the sandbox delivers there in-process. Only the customer's own back link follows the Host
    # the customer's browser sent (it sends the customer nowhere else).
    catcher = Catcher()
    app = _embedded_shop(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path)
    halyk = app.extensions["halyk"].extension
    sandbox = app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]
    try:
        with app.test_request_context("/buy", base_url=f"http://{catcher.host}"):
            payment_object = halyk.create_payment(100, description="tea").to_js()
        [token] = [t for t in sandbox.store.tokens.values() if t.invoice_id]
        assert token.post_link == f"{SHOP_INTERNAL_ORIGIN}/halyk/postlink"
        assert token.failure_post_link == f"{SHOP_INTERNAL_ORIGIN}/halyk/failure-postlink"
        assert payment_object["backLink"] == f"http://{catcher.host}/"
        result = sandbox.pay(payment_object, DECLINED_CARD)
        assert [(d.status, d.in_process) for d in result.deliveries] == [(200, True)]
        assert catcher.bodies == []
        with app.app_context():
            record = halyk.ledger.get(payment_object["invoiceId"])
        assert record is not None and record.status is PaymentStatus.FAILED
    finally:
        catcher.server.close()
        close_shop(app)


def test_an_external_sandbox_needs_a_configured_origin_for_its_postlinks(
        bank: SandboxServer, tmp_path: Path) -> None:
    app = Flask("external", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="k", HALYK_ENV="sandbox", HALYK_SANDBOX_URL=bank.url,
                      HALYK_CLIENT_ID="reliable-shop", HALYK_CLIENT_SECRET=DISTINCT_SECRET,
                      HALYK_TERMINAL_ID=SHOP_TERMINAL,
                      HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    halyk = HalykEpay(app)
    try:
        with app.test_request_context("/buy", base_url=f"http://{ATTACKER}"), \
                pytest.raises(ConfigurationError) as info:
            halyk.create_payment(100, description="tea")
        assert info.value.key == "HALYK_EXTERNAL_URL"
        assert not [t for t in bank.sandbox.store.tokens.values() if t.invoice_id]
        app.config["SERVER_NAME"] = "127.0.0.1:5000"
        with app.test_request_context("/buy", base_url=f"http://{ATTACKER}"):
            payment_object = halyk.create_payment(100, description="tea").to_js()
        assert payment_object["postLink"] == "http://127.0.0.1:5000/halyk/postlink"
        assert payment_object["backLink"] == "http://127.0.0.1:5000/"
    finally:
        close_shop(app)


def test_the_embedded_sandbox_with_trusted_hosts(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    # Flask answers 400 to a Host outside TRUSTED_HOSTS, the in-process postLink's included:
    # the shop hears why at start-up, and HALYK_EXTERNAL_URL (a trusted host) is the cure.
    def shop(**config: Any) -> Flask:
        app = Flask("trusting", instance_path=str(tmp_path / "instance"))
        app.config.update(SECRET_KEY="k", TRUSTED_HOSTS=["shop.example.kz"],
                          HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                          **config)
        HalykEpay(app)
        return app

    with caplog.at_level("WARNING", logger="flask_halyk"):
        close_shop(shop())
    assert "TRUSTED_HOSTS does not name shop.halyk-sandbox.internal" in caplog.text
    caplog.clear()
    app = shop(HALYK_EXTERNAL_URL="https://shop.example.kz")
    try:
        assert "TRUSTED_HOSTS" not in caplog.text
        with app.test_request_context("/", base_url="https://shop.example.kz"):
            payment = app.extensions["halyk"].extension.create_payment(100, description="tea")
        sandbox = app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]
        result = sandbox.pay(payment.to_js(), DECLINED_CARD)
        assert [(d.url, d.status, d.in_process) for d in result.deliveries] == [
            ("https://shop.example.kz/halyk/failure-postlink", 200, True)]
    finally:
        close_shop(app)


# --- 2. lone surrogates, NULs and overlong text -----------------------------------------------

LONE_SURROGATES = ["\ud800", "\udc00", "a\udfffb", "\udbff\ud800"]


@pytest.fixture(params=BACKENDS)
def ledger_shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """A shop on the embedded sandbox whose ledger is SQLite or PostgreSQL."""
    with backend_shop(request.param, tmp_path) as app:
        yield app


def _hostile_bodies(app: Flask, invoice: str) -> list[tuple[str, bytes, str]]:
    """(what, body, content type): genuine postLinks of ``invoice`` but for one hostile text."""
    def genuine(**fields: Any) -> dict[str, Any]:
        return postlink_for(app, invoice, 100, **fields)

    bodies: list[tuple[str, bytes, str]] = []
    for text in LONE_SURROGATES:
        # json.dumps writes the surrogate as \\udXXX: json.loads on the shop's side revives it.
        for field in ("id", "reason", "cardMask", "issuer", "approvalCode", "email", "name",
                      "secretHash", "dateTime", "unknownKey"):
            bodies.append((f"{field}={text!r}", json.dumps(genuine(**{field: text})).encode(),
                           "application/json"))
        bodies.append((f"key {text!r}", json.dumps({**genuine(), text: "x"}).encode(),
                       "application/json"))
        bodies.append((f"nested {text!r}",
                       json.dumps(genuine(extra={"deep": [text]})).encode(), "application/json"))
    for field in ("id", "reason", "name", "code"):
        bodies.append((f"{field} with NUL", json.dumps(genuine(**{field: "a\x00b"})).encode(),
                       "application/json"))
        form = {k: str(v) for k, v in genuine().items()}
        form[field] = "a\x00b"
        bodies.append((f"form {field} with %00", urlencode(form).encode(),
                       "application/x-www-form-urlencoded"))
    bodies.append(("id of 10,000 characters",
                   json.dumps(genuine(id="7" * 10_000)).encode(), "application/json"))
    return bodies


def test_postlinks_with_lone_surrogates_or_nuls_are_refused_and_judged(
        ledger_shop: Flask) -> None:
    app, ledger = ledger_shop, ledger_of(ledger_shop)
    invoice = new_payment(app)
    tried = answered_4xx = 0
    for what, body, content_type in _hostile_bodies(app, invoice):
        answer = app.test_client().post("/halyk/postlink", data=body, content_type=content_type)
        tried += 1
        assert 400 <= answer.status_code < 500, (what, answer.status_code, answer.get_data())
        answered_4xx += 1
        assert answer.get_json()["error"], what  # with a reason
        event = ledger.events()[-1]
        assert event.verdict is EventVerdict.MALFORMED, (what, event.verdict)
        assert event.body == body  # stored byte for byte all the same
    assert tried == answered_4xx == len(LONE_SURROGATES) * 12 + 4 * 2 + 1 == 57
    assert ledger.get(invoice).status is PaymentStatus.NEW
    assert ledger.events(verdict=EventVerdict.RECEIVED) == []
    # And the genuine one still goes through afterwards.
    genuine = postlink_for(app, invoice, 100)
    assert app.test_client().post("/halyk/postlink", json=genuine).status_code == 200


def test_hostile_headers_are_stored_bounded_and_do_not_stop_a_genuine_postlink(
        ledger_shop: Flask) -> None:
    app, ledger = ledger_shop, ledger_of(ledger_shop)
    invoice = new_payment(app)
    headers = [("X-Latin-1", "Ä\xff\x7f"), ("X-Long", "7" * 100_000),
               ("Authorization", "Basic dXNlcjpwYXNz"), ("X-" + "N" * 500, "name too long")]
    headers += [(f"X-Extra-{i}", "v" * i) for i in range(100)]
    answer = app.test_client().post("/halyk/postlink", json=postlink_for(app, invoice, 100),
                                    headers=headers)
    assert answer.status_code == 200
    [event] = ledger.events(invoice_id=invoice)
    assert event.verdict is EventVerdict.APPLIED
    assert len(event.headers) == 32
    assert all(len(name) <= 100 and len(value) <= 1000 for name, value in event.headers)
    kept = dict(event.headers)
    assert kept["X-Latin-1"] == "Ä\xff\x7f" and kept["X-Long"] == "7" * 1000
    assert kept["Authorization"] == "[redacted]"


def test_the_ledger_stores_any_text_it_is_given(ledger_shop: Flask) -> None:
    # Below the schemas (the ledger is public API too): text is made storable, never a 500.
    ledger = ledger_of(ledger_shop)
    config = ledger_shop.extensions["halyk"].config
    record = ledger.create_payment(
        invoice_id=None, amount=100, currency="KZT", terminal=config.terminal_id,
        description="tea\ud800", name="\udc00Arman\x00", email="a\udfff@b.kz",
        account_id="x" * 1_000_000, phone="\ud800")
    assert record.name == "\ufffdArman" and record.description == "tea\ufffd"
    assert record.email == "a\ufffd@b.kz" and record.phone == "\ufffd"
    assert record.account_id is not None and len(record.account_id) == ACCOUNT_ID_MAX
    event_id = ledger.record_event(kind="postlink", body=b"{}", headers=[("X-\ud800", "\udc00")],
                                   remote_addr="\ud800", reason="why\ud800")
    ledger.judge_event(event_id, EventVerdict.MALFORMED, reason="bad \udc00\x00",
                       transaction_id="\ud800" * 100)
    event = ledger.get_event(event_id)
    assert event is not None and event.reason == "bad \ufffd"
    assert event.transaction_id == "\ufffd" * 64


@pytest.mark.parametrize(("field", "value"), [
    *[("name", text) for text in LONE_SURROGATES],
    ("name", "Arman\x00"),
    ("name", "x" * 1_000_000),
    ("name", "x" * (NAME_MAX + 1)),
    ("email", "a\udc00@b.kz"),
    ("email", "a\x00@b.kz"),
    ("email", "a" * 250 + "@b.kz"),
    ("account_id", "\ud800"),
    ("account_id", "c-\x00"),
    ("account_id", "7" * (ACCOUNT_ID_MAX + 1)),
    ("phone", "\ud800"),
    ("phone", "7" * 1_000_000),
    ("description", "tea\udc00"),
    ("description", "tea\x00"),
    ("data", '{"a": "\udc00"}'),
    ("data", {"a": "\udc00"}),
    ("data", {"a": "\x00"}),
    ("data", {"a": "x" * DATA_MAX_BYTES}),
    ("back_link", "https://shop.example.kz/\ud800"),
    ("failure_back_link", "/done/\udc00"),
])
def test_create_payment_refuses_text_it_cannot_store_or_send(
        tmp_path: Path, field: str, value: Any) -> None:
    app = make_shop(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path)
    try:
        kwargs: dict[str, Any] = {"description": "tea", field: value}
        with app.test_request_context("/"), pytest.raises(InvalidPayment) as info:
            app.extensions["halyk"].extension.create_payment(100, **kwargs)
        assert field in info.value.messages, info.value.messages
        # Refused before anything was recorded or asked of the bank.
        assert ledger_of(app).query() == []
        assert app.extensions["halyk"].sandbox.extensions["halyk_sandbox"].store.tokens == {}
    finally:
        close_ledger_shop(app)


def test_create_payment_takes_the_longest_texts_allowed(tmp_path: Path) -> None:
    app = make_shop(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path)
    try:
        with app.test_request_context("/"):
            payment = app.extensions["halyk"].extension.create_payment(
                100, description="т" * 62, name="Ә" * NAME_MAX,
                email="a" * (EMAIL_MAX - len("@b.kz")) + "@b.kz",
                account_id="7" * ACCOUNT_ID_MAX, phone="+" + "7" * 15,
                data={"note": "x" * (DATA_MAX_BYTES - 20)})
        record = payment.record
        assert record is not None and record.name == "Ә" * NAME_MAX
        assert len(record.email or "") == EMAIL_MAX
    finally:
        close_ledger_shop(app)


# --- 6. the ledger's database made unreachable, then back ------------------------------------


class TcpProxy:
    """A TCP forwarder on a loopback port that can be taken down (listener and every open
    connection closed: the database is unreachable) and brought back on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> TcpProxy:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]
        self._spawn(self._accept, self._listener)
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # close() alone would leave a blocked accept() listening (Linux): shut it down.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(10)
        self._threads = []

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # shut down by stop()
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _every_shop_call_is_typed(app: Flask, invoice: str) -> None:
    """What a shop reaches of the ledger, with its database down: typed errors, and a postLink
    answered 503 (nothing could be stored, nothing is acknowledged)."""
    halyk = app.extensions["halyk"].extension
    with pytest.raises(LedgerUnavailable) as info:
        _create(app)
    assert isinstance(info.value, HalykError) and info.value.reason
    assert "cannot be used" in str(info.value) and "try" in str(info.value)
    # SQLAlchemy's exception holds the statement's parameters (bodies, names): not shown.
    assert info.value.__cause__ is None and info.value.__suppress_context__
    shown = "".join(traceback.format_exception(info.value))
    assert "[parameters:" not in shown and "INSERT" not in shown
    with app.app_context():
        for call in (lambda: halyk.ledger.get(invoice), lambda: halyk.ledger.query(),
                     lambda: halyk.ledger.events(), lambda: halyk.refund(invoice)):
            with pytest.raises(LedgerUnavailable):
                call()
    answer = app.test_client().post("/halyk/postlink", json={"invoiceId": invoice})
    assert answer.status_code == 503, answer.get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["halyk", "init-db"])
    assert result.exit_code == 1 and "Error: the ledger's database" in result.output
    assert "Traceback" not in result.output


def test_sqlite_ledger_unreachable_then_back(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    app = _embedded_shop(f"sqlite:///{folder / 'halyk.sqlite3'}", tmp_path)
    ledger = app.extensions["halyk"].ledger
    try:
        invoice = _create(app).invoice_id
        # The folder goes away (an unmounted volume); pooled connections would still hold the
        # old file open, so they go too, as in a worker that reconnects.
        folder.rename(tmp_path / "db-away")
        ledger.dispose()
        _every_shop_call_is_typed(app, invoice)
        # Back: the same ledger serves again, without a restart.
        (tmp_path / "db-away").rename(folder)
        assert _create(app).invoice_id != invoice
        with app.app_context():
            assert app.extensions["halyk"].extension.ledger.get(invoice) is not None
    finally:
        close_shop(app)


def test_sqlite_ledger_replaced_by_an_empty_database(tmp_path: Path) -> None:
    # A restored or replaced database: the tables the process once checked are gone.
    folder = tmp_path / "db"
    app = _embedded_shop(f"sqlite:///{folder / 'halyk.sqlite3'}", tmp_path)
    ledger = app.extensions["halyk"].ledger
    try:
        invoice = _create(app).invoice_id
        folder.rename(tmp_path / "db-old")
        folder.mkdir()
        ledger.dispose()
        with pytest.raises(LedgerUnavailable):
            ledger.get(invoice)
        # The next call checks the schema again and creates the tables.
        assert ledger.get(invoice) is None
        assert _create(app).record.status == "new"
    finally:
        close_shop(app)


@pytest.mark.postgres
def test_postgres_ledger_unreachable_then_back(tmp_path: Path) -> None:
    with fresh_pg_url() as direct:
        url = make_url(direct)
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
        app = _embedded_shop(url.set(host="127.0.0.1", port=proxy.port)
                             .render_as_string(hide_password=False), tmp_path)
        try:
            invoice = _create(app).invoice_id
            proxy.stop()  # the server is gone: every connection cut, the port closed
            _every_shop_call_is_typed(app, invoice)
            proxy.start()  # back on the same address
            assert _create(app).invoice_id != invoice
            with app.app_context():
                assert app.extensions["halyk"].extension.ledger.get(invoice) is not None
        finally:
            proxy.stop()
            close_shop(app)


@pytest.mark.postgres
def test_postgres_ledger_replaced_by_an_empty_schema(tmp_path: Path) -> None:
    with fresh_pg_url() as url:
        app = _embedded_shop(url, tmp_path)
        ledger = app.extensions["halyk"].ledger
        try:
            invoice = _create(app).invoice_id
            schema = make_url(url).query["options"].rpartition("=")[2]
            with ledger.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            with pytest.raises(LedgerUnavailable):
                ledger.get(invoice)
            assert ledger.get(invoice) is None
            assert _create(app).record.status == "new"
        finally:
            close_shop(app)


# --- 7. a bank error that quotes the request shows none of its credentials --------------------

TOKEN_USER, TOKEN_PASS = "proxyuser", "Pr0xy-Pass-Never-Shown"
API_USER, API_PASS = "apiuser", "Ap1-Pass-Never-Shown"
TOKEN_QUERY_SECRET = "Qu3ry-Key-Never-Shown"
SECRET_HASH = make_secret_hash(b"echo-tests", "000123456", "100", "KZT", TERMINAL)


def echo(status: int, shape: str) -> Callable[[Request], Response]:
    """An error answer quoting the whole request, as some proxies, gateways and debug pages do:
    its line with the query, every header, the body, and the URL with the credentials the
    Basic header carried."""

    def handler(request: Request) -> Response:
        auth = request.authorization
        userinfo = f"{auth.username}:{auth.password}@" if auth and auth.type == "basic" else ""
        quoted = "\n".join([
            f"{request.method} {request.full_path}",
            *(f"{name}: {value}" for name, value in request.headers.items()),
            "",
            request.get_data(as_text=True),
            f"url: http://{userinfo}{request.host}{request.full_path}",
        ])
        if shape == "html":
            return Response(f"<html><body><pre>{quoted}</pre></body></html>", status=status,
                            content_type="text/html")
        if shape == "oauth":
            body: dict[str, Any] = {"error": "invalid_request", "error_description": quoted}
        elif shape == "oauth-client":
            body = {"error": "invalid_client", "error_description": quoted}
        elif shape == "operation":
            body = {"code": 100, "message": quoted}
        else:  # status
            body = {"resultCode": "103", "resultMessage": quoted}
        return json_response(body, status)

    return handler


def _echo_client(server: HTTPServer, api_credentials: bool = True) -> EpayClient:
    origin = server.url_for("/").rstrip("/")
    host = origin.split("://", 1)[1]
    # Credentials in the API URL become a Basic header that replaces the Bearer one; without
    # them the service token itself is what the echo quotes.
    api_host = f"{API_USER}:{API_PASS}@{host}" if api_credentials else host
    return make_client(
        server,
        token_url=f"http://{TOKEN_USER}:{TOKEN_PASS}@{host}{TOKEN_PATH}?key={TOKEN_QUERY_SECRET}",
        api_url=f"http://{api_host}{API_PREFIX}",
        retries=0,
    )


def _token_echo(shape: str, status: int) -> Callable[[HTTPServer], Callable[[], Any]]:
    def arrange(server: HTTPServer) -> Callable[[], Any]:
        server.expect_request(TOKEN_PATH).respond_with_handler(echo(status, shape))
        client = _echo_client(server)
        return lambda: client.payment_token("000123456", 100, secret_hash=SECRET_HASH,
                                            post_link="https://shop.example.kz/halyk/postlink")

    return arrange


def _api_echo(path: str, shape: str, status: int, call: Callable[[EpayClient], Any],
              api_credentials: bool = True) -> Callable[[HTTPServer], Callable[[], Any]]:
    def arrange(server: HTTPServer) -> Callable[[], Any]:
        server.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
        server.expect_request(path).respond_with_handler(echo(status, shape))
        client = _echo_client(server, api_credentials)
        return lambda: call(client)

    return arrange


ECHOES: dict[str, tuple[Callable[[HTTPServer], Callable[[], Any]], type[HalykError]]] = {
    "token refused (400 JSON)": (_token_echo("oauth", 400), ApiError),
    "token credentials refused (401 JSON)": (_token_echo("oauth-client", 401),
                                             AuthenticationError),
    "token error page (404 HTML)": (_token_echo("html", 404), InvalidResponse),
    "token garbage (200 HTML)": (_token_echo("html", 200), InvalidResponse),
    "status error (103)": (_api_echo(STATUS_PATH, "status", 200,
                                     lambda c: c.status(INVOICE)), ApiError),
    "status page (200 HTML)": (_api_echo(STATUS_PATH, "html", 200,
                                         lambda c: c.status(INVOICE)), InvalidResponse),
    "status error with the Bearer token (103)": (
        _api_echo(STATUS_PATH, "status", 200, lambda c: c.status(INVOICE),
                  api_credentials=False), ApiError),
    "refund refused with the Bearer token (400 JSON)": (
        _api_echo(f"{API_PREFIX}/operation/{TX_ID}/refund", "operation", 400,
                  lambda c: c.refund(TX_ID, 100), api_credentials=False), ApiError),
    "refund refused (400 JSON)": (_api_echo(f"{API_PREFIX}/operation/{TX_ID}/refund",
                                            "operation", 400,
                                            lambda c: c.refund(TX_ID, 100)), ApiError),
    "charge page (400 HTML)": (_api_echo(f"{API_PREFIX}/operation/{TX_ID}/charge", "html", 400,
                                         lambda c: c.charge(TX_ID)), InvalidResponse),
}


def _exception_texts(exc: BaseException) -> list[str]:
    """Everything an exception can show: str, repr, args, attributes, the traceback."""
    return [str(exc), repr(exc), repr(exc.args), repr(vars(exc)),
            "".join(traceback.format_exception(exc))]


@pytest.mark.parametrize("scenario", sorted(ECHOES))
def test_a_bank_error_quoting_the_request_shows_none_of_its_credentials(
        httpserver: HTTPServer, scenario: str) -> None:
    arrange, expected = ECHOES[scenario]
    call = arrange(httpserver)
    with pytest.raises(expected) as info:
        call()
    [(request, answer)] = httpserver.log[-1:]
    quoted = answer.get_data(as_text=True)
    authorization = request.headers.get("Authorization", "")
    scheme, _, credential = authorization.partition(" ")
    # The answer did quote them: the test would prove nothing otherwise.
    assert scheme in ("Basic", "Bearer") and credential and credential in quoted
    if "oauth2" in request.path:
        assert SECRET_HASH in quoted and TOKEN_QUERY_SECRET in quoted and SECRET in quoted
    hidden = [TOKEN_PASS, API_PASS, f"{TOKEN_USER}:", f"{API_USER}:", TOKEN_QUERY_SECRET,
              SECRET_HASH, SECRET, credential]
    for text in _exception_texts(info.value):
        for value in hidden:
            assert value not in text, (value, text)
    # What remains still tells the story: the call, and that the bank refused or garbled it.
    assert "://" in str(info.value)


def test_a_connection_error_does_not_quote_the_token_urls_query() -> None:
    # requests' own message names the URL it could not reach, query included.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    client = EpayClient(
        client_id="c", client_secret=SECRET, terminal_id=TERMINAL, retries=0,
        token_url=f"http://{TOKEN_USER}:{TOKEN_PASS}@127.0.0.1:{closed}{TOKEN_PATH}"
                  f"?key={TOKEN_QUERY_SECRET}",
        api_url=f"http://127.0.0.1:{closed}{API_PREFIX}")
    with pytest.raises(EpayConnectionError) as info:
        client.service_token()
    assert "ConnectionError" in str(info.value) and TOKEN_PATH in str(info.value)
    for text in _exception_texts(info.value):
        for value in (TOKEN_QUERY_SECRET, TOKEN_PASS, SECRET):
            assert value not in text, (value, text)


@pytest.mark.parametrize(("quoted", "hidden"), [
    ("url: https://user:pa55@epay.example/x", "pa55"),
    ("Authorization: Basic dXNlcjpwYTU1", "dXNlcjpwYTU1"),
    ("authorization=Bearer%20TOKEN-123", "TOKEN-123"),
    ('{"headers": {"Authorization": "Bearer abc.def-ghi"}}', "abc.def-ghi"),
    ("grant_type=client_credentials&client_secret=s3cr3t&x=1", "s3cr3t"),
    ('{"secret_hash": "0A1B2C3D4E5F"}', "0A1B2C3D4E5F"),
    ("{&quot;secretHash&quot;: &quot;0A1B2C3D4E5F&quot;}", "0A1B2C3D4E5F"),
    ("{'access_token': 'DCEB8O_ZM5U7SO'}", "DCEB8O_ZM5U7SO"),
])
def test_scrub_hides_credentials_however_they_are_quoted(quoted: str, hidden: str) -> None:
    text = scrub(quoted)
    assert hidden not in text and "***" in text


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "Invoice 000123456: insufficient funds (reasonCode 484), see https://epay.kz/help"
    assert scrub(text) == text


# --- 8. `flask halyk status` with wrong credentials -----------------------------------------


def test_status_with_wrong_credentials_prints_the_error_not_a_traceback(
        bank: SandboxServer, tmp_path: Path) -> None:
    app = real_host_shop(bank.url, tmp_path, HALYK_CLIENT_SECRET="not-the-shops-secret")
    try:
        result = app.test_cli_runner().invoke(args=["halyk", "status", "123456"])
    finally:
        close_shop(app)
    # An uncaught exception is what printed the traceback: click's runner keeps it instead.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "Error: ePay refused the credentials" in result.output
    assert "HALYK_CLIENT_SECRET" in result.output
    assert "not-the-shops-secret" not in result.output


# --- 9. the standalone sandbox listens on loopback unless told otherwise ----------------------


def _run_sandbox(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[str, Any]:
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(werkzeug.serving, "run_simple",
                        lambda host, port, app, **kw: calls.append((host, port)))
    result = CliRunner().invoke(sandbox_command, list(args))
    assert result.exit_code == 0, result.output
    [(host, _port)] = calls
    return host, result


def test_standalone_sandbox_binds_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    host, result = _run_sandbox(monkeypatch)
    assert host == "127.0.0.1"
    assert "warning" not in result.output.lower()


@pytest.mark.parametrize("exposed", ["0.0.0.0", "::", "192.0.2.10", "shop.example.kz"])
def test_standalone_sandbox_on_another_address_says_what_it_exposes(
        monkeypatch: pytest.MonkeyPatch, exposed: str) -> None:
    host, result = _run_sandbox(monkeypatch, "--host", exposed)
    assert host == exposed
    warning = result.stderr.lower()
    assert "warning" in warning and "secret_hash" in warning and "/_sandbox/" in warning


@pytest.mark.parametrize("loopback", ["localhost", "127.0.0.2", "::1"])
def test_standalone_sandbox_on_another_loopback_address_is_quiet(
        monkeypatch: pytest.MonkeyPatch, loopback: str) -> None:
    _host, result = _run_sandbox(monkeypatch, "--host", loopback)
    assert "warning" not in result.output.lower()
