"""The blueprint's verdict on postLinks, through HTTP requests to the app: every kind of forgery
on both endpoints refused with no payment signal, genuine ones accepted with one (unknown fields
kept), the allow-list behind a proxy only when the app says so, CSRFProtect in either order, and
genuine bodies mutated by hypothesis: never a 5xx, never believed once a bound field changed."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ledger_support import (
    BACKENDS,
    SignalLog,
    backend_shop,
    close_shop,
    ledger_of,
    new_payment,
    postlink_for,
)
from page_helpers import marked_options
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_halyk import HalykEpay
from flask_halyk.ledger import EventVerdict, PaymentStatus
from flask_halyk.postlink.verification import make_secret_hash

ENDPOINTS = ["/halyk/postlink", "/halyk/failure-postlink"]
OTHER_TERMINAL = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The shop on each ledger backend, with the test's ``@pytest.mark.options`` settings;
    pytest-flask's ``client`` and ``live_server`` serve it."""
    with backend_shop(request.param, tmp_path, **marked_options(request)) as app:
        yield app


def post(client: FlaskClient, body: object, path: str = "/halyk/postlink", **kw: Any) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **kw)


def rehash(app: Flask, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the secret_hash this app would have issued for its (changed) fields."""
    config = app.extensions["halyk"].config
    return {**body, "secret_hash": make_secret_hash(
        config.postlink_secret, str(body["invoiceId"]), body["amount"], body["currency"],
        body["terminal"])}


def forge(kind: str, app: Flask, invoice: str, other: str, success: bool) -> dict[str, Any]:
    """A postLink for ``invoice`` (an order of 100) forged the way ``kind`` says."""
    genuine = postlink_for(app, invoice, 100, success=success)
    if kind == "wrong secret_hash":
        return {**genuine, "secret_hash": "F" * 32}
    if kind == "amount raised, its own hash":
        return postlink_for(app, invoice, 1000, success=success)
    if kind == "amount lowered, its own hash":
        return postlink_for(app, invoice, 1, success=success)
    if kind == "amount raised, hash kept":
        return {**genuine, "amount": 101}
    if kind == "amount lowered, hash kept":
        return {**genuine, "amount": 99.99}
    if kind == "other currency, its own hash":
        return rehash(app, {**genuine, "currency": "USD"})
    if kind == "other currency, hash kept":
        return {**genuine, "currency": "USD"}
    if kind == "other terminal, its own hash":
        return rehash(app, {**genuine, "terminal": OTHER_TERMINAL})
    if kind == "another invoice's hash":
        return {**genuine, "secret_hash": postlink_for(app, other, 100)["secret_hash"]}
    if kind == "missing hash":
        return {k: v for k, v in genuine.items() if k != "secret_hash"}
    if kind == "empty hash":
        return {**genuine, "secret_hash": ""}
    if kind == "another app's secret":
        config = app.extensions["halyk"].config
        return {**genuine, "secret_hash": make_secret_hash(
            b"someone else's key", invoice, 100, config.currency, config.terminal_id)}
    raise AssertionError(kind)


FORGERIES = [
    "wrong secret_hash", "amount raised, its own hash", "amount lowered, its own hash",
    "amount raised, hash kept", "amount lowered, hash kept", "other currency, its own hash",
    "other currency, hash kept", "other terminal, its own hash", "another invoice's hash",
    "missing hash", "empty hash", "another app's secret",
]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("success", [True, False], ids=["success", "failure"])
@pytest.mark.parametrize("kind", FORGERIES)
def test_every_forgery_is_refused_with_no_payment_signal(
        app: Flask, client: FlaskClient, signal_log: SignalLog, kind: str, success: bool,
        path: str) -> None:
    invoice, other = new_payment(app), new_payment(app)
    body = forge(kind, app, invoice, other, success)
    answer = post(client, body, path)
    assert answer.status_code == 403, (kind, answer.get_json())
    assert answer.get_json()["error"]
    assert ledger_of(app).get(invoice).status is PaymentStatus.NEW  # type: ignore[union-attr]
    assert signal_log.named("payment_succeeded") == []
    assert signal_log.named("payment_failed") == []
    [rejected] = signal_log.named("postlink_rejected")
    assert rejected["status"] == 403 and rejected["reason"] == answer.get_json()["error"]
    [event] = ledger_of(app).events()
    assert event.verdict is EventVerdict.REJECTED and json.loads(event.body) == body
    # The genuine one is still believed afterwards: a forgery spoils nothing.
    assert post(client, postlink_for(app, invoice, 100, success=success), path).status_code == 200
    named = "payment_succeeded" if success else "payment_failed"
    assert len(signal_log.named(named)) == 1


@pytest.mark.parametrize("path", ENDPOINTS)
def test_genuine_postlinks_are_believed_once_with_unknown_fields_kept(
        app: Flask, client: FlaskClient, signal_log: SignalLog, path: str) -> None:
    paid, declined = new_payment(app), new_payment(app)
    extra = {"ipCity": "Almaty", "tokenRecipient": "", "newBankField": {"nested": [1, "two"]}}
    # The hash was issued for 100; "100.00" is the same amount.
    body = {**postlink_for(app, paid, 100, **extra), "amount": "100.00"}
    for _ in range(2):
        assert post(client, body, path).status_code == 200
    [succeeded] = signal_log.named("payment_succeeded")
    assert succeeded["payment"].invoice_id == paid
    postlink = succeeded["postlink"]
    assert {k: postlink[k] for k in extra} == extra
    assert postlink["amount"] == Decimal(100) and postlink["reasonCode"] == 0
    body = postlink_for(app, declined, 100, success=False, reasonCode=-498)
    assert post(client, body, path).status_code == 200
    [failed] = signal_log.named("payment_failed")
    assert failed["payment"].invoice_id == declined and failed["postlink"]["reasonCode"] == -498
    assert signal_log.named("postlink_rejected") == []


def test_the_secrethash_spelling_is_read_too(
        app: Flask, client: FlaskClient, signal_log: SignalLog) -> None:
    invoice = new_payment(app)
    body = postlink_for(app, invoice, 100)
    body["secretHash"] = body.pop("secret_hash")
    assert post(client, body).status_code == 200
    assert len(signal_log.named("payment_succeeded")) == 1


def test_a_malformed_body_gets_a_json_reason(
        app: Flask, client: FlaskClient, signal_log: SignalLog) -> None:
    invoice = new_payment(app)
    body = postlink_for(app, invoice, 100)
    del body["reasonCode"]
    answer = post(client, body)
    assert answer.status_code == 400 and "reasonCode" in answer.get_json()["error"]
    assert signal_log.named("payment_succeeded") == []
    assert ledger_of(app).get(invoice).status is PaymentStatus.NEW  # type: ignore[union-attr]


# --- the allow-list behind a reverse proxy ------------------------------------------------------

@pytest.mark.options(halyk_postlink_allowed_ips="203.0.113.0/24")
def test_allow_list_ignores_forwarded_headers_unless_the_app_trusts_its_proxy(
        app: Flask, client: FlaskClient, signal_log: SignalLog) -> None:
    invoice = new_payment(app)
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # Anyone can write X-Forwarded-For: without ProxyFix it is not believed.
    spoofed = post(client, postlink_for(app, invoice, 100), environ_base=proxy,
                   headers={"X-Forwarded-For": "203.0.113.5"})
    assert spoofed.status_code == 403 and "10.0.0.2" in spoofed.get_json()["error"]
    # The app says it sits behind one proxy: the proxy's X-Forwarded-For is the sender.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    outsider = post(client, postlink_for(app, invoice, 100), environ_base=proxy,
                    headers={"X-Forwarded-For": "198.51.100.9"})
    assert outsider.status_code == 403
    forwarded = post(client, postlink_for(app, invoice, 100), environ_base=proxy,
                     headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.5"})
    assert forwarded.status_code == 200
    assert len(signal_log.named("payment_succeeded")) == 1
    assert ledger_of(app).events(invoice_id=invoice)[-1].remote_addr == "203.0.113.5"


# --- Flask-WTF's CSRFProtect, initialised before or after ----------------------------------------

@pytest.mark.parametrize("csrf_first", [True, False], ids=["csrf-first", "halyk-first"])
@pytest.mark.parametrize("path", ENDPOINTS)
def test_genuine_postlinks_pass_csrf_protection(
        tmp_path: Path, signal_log: SignalLog, csrf_first: bool, path: str) -> None:
    from flask_wtf.csrf import CSRFProtect

    # Its own app: CSRFProtect must be initialised before or after HalykEpay, which the suite's
    # `app` (built with HalykEpay) cannot offer.
    app = Flask("csrf-shop", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="k", HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}")

    @app.post("/orders")
    def orders() -> str:
        return "created"

    csrf = CSRFProtect()
    if csrf_first:
        csrf.init_app(app)
        HalykEpay(app)
    else:
        HalykEpay(app)
        csrf.init_app(app)
    try:
        invoice = new_payment(app)
        client = app.test_client()
        assert client.post("/orders").status_code == 400  # still guarded
        answer = post(client, postlink_for(app, invoice, 100), path)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        assert len(signal_log.named("payment_succeeded")) == 1
        # A forged one is refused by the blueprint's verdict (403), not by CSRF's 400.
        forged = post(client, postlink_for(app, new_payment(app), 100, genuine=False), path)
        assert forged.status_code == 403 and forged.is_json
    finally:
        close_shop(app)


# --- hypothesis: genuine bodies, mutated ---------------------------------------------------------

_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=3),
    max_leaves=8,
)
_FREE_KEYS = st.sampled_from(["id", "code", "reason", "reasonCode", "cardMask", "cardId",
                              "approvalCode", "description", "name", "email", "phone",
                              "language", "ipLatitude", "dateTime", "invoiceIdAlt",
                              "newBankField"])


def _bound_changes(invoice: str, terminal: str) -> st.SearchStrategy[tuple[str, Any]]:
    """A bound field and a value that is certainly not the genuine one."""
    positive = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2)
    return st.one_of(
        st.tuples(st.just("invoiceId"), st.from_regex(r"[0-9]{6,15}", fullmatch=True)
                  .filter(lambda v: v != invoice)),
        st.tuples(st.just("invoiceId"), _JSONISH.filter(lambda v: v != invoice)),
        st.tuples(st.just("amount"), positive.map(lambda d: float(Decimal(100) + d))),
        st.tuples(st.just("amount"), st.decimals(min_value=Decimal("0"),
                                                 max_value=Decimal("99.99"), places=2)
                  .map(str)),
        st.tuples(st.just("amount"), _JSONISH.filter(
            lambda v: not isinstance(v, int | float) or v != 100)),
        st.tuples(st.just("currency"), st.text(max_size=5).filter(
            lambda v: v.strip().upper() != "KZT")),
        st.tuples(st.just("terminal"), st.uuids().map(str).filter(
            lambda v: v.lower() != terminal.lower())),
        st.tuples(st.just("secret_hash"), _JSONISH),
    )


# One app per backend for the whole module, under its own name: hypothesis runs its examples in
# one test, and the app and client of pytest-flask are per test.
@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_shop(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("mutated")
    with backend_shop(request.param, tmp) as app:
        yield app


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), success=st.booleans(), path=st.sampled_from(ENDPOINTS))
def test_a_changed_bound_field_is_never_believed(fuzz_shop: Flask, data: st.DataObject,
                                                 success: bool, path: str) -> None:
    config = fuzz_shop.extensions["halyk"].config
    invoice = new_payment(fuzz_shop)
    key, value = data.draw(_bound_changes(invoice, config.terminal_id), label="change")
    body = {**postlink_for(fuzz_shop, invoice, 100, success=success), key: value}
    if key == "secret_hash" and isinstance(value, str) and value.strip().upper() == \
            postlink_for(fuzz_shop, invoice, 100)["secret_hash"]:
        return  # hypothesis found the real hash: not a forgery
    log = SignalLog()
    try:
        answer = post(fuzz_shop.test_client(), body, path)
    finally:
        log.disconnect()
    event(f"answered {answer.status_code}")
    assert answer.status_code in (400, 403), (body, answer.get_data())
    assert answer.get_json()["error"]
    assert log.named("payment_succeeded") == [] and log.named("payment_failed") == []
    assert ledger_of(fuzz_shop).get(invoice).status is PaymentStatus.NEW  # type: ignore[union-attr]


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes=st.dictionaries(_FREE_KEYS, _JSONISH | st.just(uuid.uuid4().hex), max_size=4),
       dropped=st.sets(_FREE_KEYS, max_size=3), success=st.booleans(),
       path=st.sampled_from(ENDPOINTS))
def test_other_fields_never_cause_a_5xx_or_a_refusal_as_forged(
        fuzz_shop: Flask, changes: dict[str, Any], dropped: set[str], success: bool,
        path: str) -> None:
    invoice = new_payment(fuzz_shop)
    body = {**postlink_for(fuzz_shop, invoice, 100, success=success), **changes}
    for key in dropped:
        body.pop(key, None)
    log = SignalLog()
    try:
        answer = post(fuzz_shop.test_client(), body, path)
    finally:
        log.disconnect()
    event(f"answered {answer.status_code}")
    # The hash binds invoice, amount, currency and terminal only: what else changed may make the
    # body malformed (400) but never forged, and never a server error.
    assert answer.status_code in (200, 400), (body, answer.get_data())
    payment = ledger_of(fuzz_shop).get(invoice)
    assert payment is not None
    heard = log.named("payment_succeeded") + log.named("payment_failed")
    if answer.status_code == 400:
        assert heard == [] and payment.status is PaymentStatus.NEW
    else:
        assert len(heard) == 1 and heard[0]["payment"].invoice_id == invoice
        assert payment.status in (PaymentStatus.PAID, PaymentStatus.FAILED)


# --- the body limit is HALYK_MAX_POSTLINK_BYTES, whatever the app's MAX_CONTENT_LENGTH -----------

@pytest.mark.options(max_content_length=200, halyk_max_postlink_bytes=2000)
def test_the_apps_smaller_max_content_length_does_not_refuse_postlinks(
        app: Flask, client: FlaskClient, live_server: Any, signal_log: SignalLog) -> None:
    @app.post("/upload")
    def upload() -> str:
        return str(len(request.get_data()))

    invoice = new_payment(app)
    body = postlink_for(app, invoice, 100)
    assert len(json.dumps(body)) > 200
    assert post(client, body).status_code == 200
    assert len(signal_log.named("payment_succeeded")) == 1
    # Still the app's limit for its own routes.
    assert client.post("/upload", data=b"x" * 300).status_code == 413
    # Beyond HALYK_MAX_POSTLINK_BYTES: refused in JSON and recorded, with or without a
    # Content-Length (a real server for the chunked body; it records in the same ledger).
    big = postlink_for(app, invoice, 100, padding="x" * 3000)
    answer = post(client, big)
    assert answer.status_code == 413 and "2000" in answer.get_json()["error"]
    conn = http.client.HTTPConnection(urlsplit(live_server.url()).netloc, timeout=10)
    raw = json.dumps(big).encode()
    conn.request("POST", "/halyk/postlink", encode_chunked=True,
                 body=(raw[i:i + 500] for i in range(0, len(raw), 500)),
                 headers={"Content-Type": "application/json"})
    chunked = conn.getresponse()
    assert chunked.status == 413
    assert "2000" in json.loads(chunked.read())["error"]
    conn.close()
    verdicts = [e.verdict for e in ledger_of(app).events()]
    assert verdicts.count(EventVerdict.MALFORMED) == 2
