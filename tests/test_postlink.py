"""The postLink blueprint through the Flask test client (pytest-flask's ``client``): every
verdict, the 413, the status re-check, receivers that raise, and bodies from hypothesis that must
never get a 5xx."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import (
    BACKENDS,
    SignalLog,
    backend_shop,
    close_shop,
    ledger_of,
    make_shop,
    new_payment,
    postlink_for,
)
from page_helpers import marked_options

from flask_halyk import signals
from flask_halyk.ledger import EventVerdict, PaymentStatus
from flask_halyk.recovery import reprocess

S = PaymentStatus


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The shop on each ledger backend, with the test's ``@pytest.mark.options`` settings;
    pytest-flask's ``client`` and ``live_server`` serve it."""
    with backend_shop(request.param, tmp_path, **marked_options(request)) as app:
        yield app


def post(client: FlaskClient, body: object, path: str = "/halyk/postlink", **kw: object):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(path, data=data, **kw)


def test_success_applies_once_and_duplicates_change_nothing(
        app: Flask, client: FlaskClient, signal_log: SignalLog) -> None:
    invoice = new_payment(app)
    body = postlink_for(app, invoice, 100)
    first = post(client, body, content_type="application/json")
    assert first.status_code == 200 and first.get_json() == {"status": "ok"}
    payment = ledger_of(app).get(invoice)
    assert payment is not None and payment.status is S.PAID
    assert payment.transaction_id == body["id"] and payment.card_mask == "440563...5096"
    assert payment.approval_code == "157911"
    for _ in range(3):
        assert post(client, body).status_code == 200
    succeeded = signal_log.named("payment_succeeded")
    assert len(succeeded) == 1
    assert succeeded[0]["payment"].status is S.PAID
    assert succeeded[0]["postlink"]["invoiceId"] == invoice
    assert succeeded[0]["postlink"]["amount"] == Decimal(100)
    verdicts = [e.verdict for e in ledger_of(app).events(invoice_id=invoice)]
    assert verdicts == [EventVerdict.APPLIED] + [EventVerdict.DUPLICATE] * 3
    event = ledger_of(app).events(invoice_id=invoice)[0]
    assert json.loads(event.body) == body and event.kind == "postlink"
    assert event.remote_addr == "127.0.0.1"
    assert ("Content-Type", "application/json") in event.headers


def test_failure_postlink_then_success(
        app: Flask, client: FlaskClient, signal_log: SignalLog) -> None:
    invoice = new_payment(app)
    failed = post(client, postlink_for(app, invoice, 100, success=False),
                  "/halyk/failure-postlink")
    assert failed.status_code == 200
    payment = ledger_of(app).get(invoice)
    assert payment is not None and payment.status is S.FAILED and payment.reason_code == 484
    assert len(signal_log.named("payment_failed")) == 1
    assert ledger_of(app).events(invoice_id=invoice)[0].kind == "failure_postlink"
    assert post(client, postlink_for(app, invoice, 100)).status_code == 200
    assert ledger_of(app).get(invoice).status is S.PAID  # type: ignore[union-attr]
    assert len(signal_log.named("payment_succeeded")) == 1


@pytest.mark.options(halyk_two_stage=True)
def test_two_stage_success_is_recorded_authorized(
        app: Flask, client: FlaskClient, signal_log: SignalLog) -> None:
    held, declined = new_payment(app), new_payment(app)
    body = postlink_for(app, held, 100)
    assert post(client, body).status_code == 200
    assert post(client, body).status_code == 200
    payment = ledger_of(app).get(held)
    assert payment is not None and payment.status is S.AUTHORIZED
    assert payment.transaction_id == body["id"]
    [succeeded] = signal_log.named("payment_succeeded")
    assert succeeded["payment"].status is S.AUTHORIZED
    verdicts = [e.verdict for e in ledger_of(app).events(invoice_id=held)]
    assert verdicts == [EventVerdict.APPLIED, EventVerdict.DUPLICATE]
    # A failure is a failure on any terminal.
    post(client, postlink_for(app, declined, 100, success=False), "/halyk/failure-postlink")
    assert ledger_of(app).get(declined).status is S.FAILED  # type: ignore[union-attr]


def test_one_stage_success_is_paid_not_authorized() -> None:
    from flask_halyk.ledger.reports import report_from_postlink

    ok = {"code": "ok", "reasonCode": 0, "id": "t1"}
    failed = {"code": "error", "reasonCode": 484}
    assert report_from_postlink(ok).status is S.PAID
    assert report_from_postlink(ok, two_stage=True).status is S.AUTHORIZED
    assert report_from_postlink(failed, two_stage=True).status is S.FAILED
    assert report_from_postlink(failed).status is S.FAILED


def test_late_failure_never_downgrades_a_success(
        app: Flask, client: FlaskClient, signal_log: SignalLog) -> None:
    invoice = new_payment(app)
    assert post(client, postlink_for(app, invoice, 100)).status_code == 200
    late = post(client, postlink_for(app, invoice, 100, success=False, reasonCode=-498),
                "/halyk/failure-postlink")
    assert late.status_code == 200
    assert ledger_of(app).get(invoice).status is S.PAID  # type: ignore[union-attr]
    assert signal_log.named("payment_failed") == []
    assert ledger_of(app).events(invoice_id=invoice)[-1].verdict is EventVerdict.STALE


@pytest.mark.parametrize(("amount", "tamper"), [
    (100, {"genuine": False}),
    (1, {}),  # a genuine-looking hash for another amount than the order's
    (100, {"currency": "USD"}),
    (100, {"terminal": "00000000-0000-0000-0000-000000000000"}),
])
def test_forged_postlinks_are_stored_and_refused(
        app: Flask, client: FlaskClient, signal_log: SignalLog, amount: int, tamper: dict) -> None:
    invoice = new_payment(app)
    body = postlink_for(app, invoice, amount, **tamper)
    answer = post(client, body)
    assert answer.status_code == 403 and answer.get_json()["error"]
    assert ledger_of(app).get(invoice).status is S.NEW  # type: ignore[union-attr]
    [event] = ledger_of(app).events(verdict="rejected")
    assert json.loads(event.body) == body and event.reason
    [rejected] = signal_log.named("postlink_rejected")
    assert rejected["status"] == 403 and rejected["event_id"] == event.id
    assert rejected["postlink"]["invoiceId"] == invoice  # validated, just not believed
    assert signal_log.named("payment_succeeded") == []


def test_unknown_invoice_is_refused(app: Flask, client: FlaskClient) -> None:
    answer = post(client, postlink_for(app, "555555555", 100))
    assert answer.status_code == 403 and "unknown invoice" in answer.get_json()["error"]


@pytest.mark.parametrize("raw", [
    b"", b"not json at all\xff", b"[1, 2, 3]", b'{"invoiceId": "123"', b"null",
    json.dumps({"invoiceId": "123456789", "code": "ok"}).encode(),
    json.dumps({"invoiceId": "12\u0000", "amount": "1e999"}).encode(),
])
def test_malformed_bodies_are_stored_byte_for_byte(
        app: Flask, client: FlaskClient, signal_log: SignalLog, raw: bytes) -> None:
    answer = post(client, raw, content_type="application/json")
    assert answer.status_code == 400 and "error" in answer.get_json()
    [event] = ledger_of(app).events()
    assert event.body == raw and event.verdict is EventVerdict.MALFORMED and event.reason
    [rejected] = signal_log.named("postlink_rejected")
    assert rejected["status"] == 400 and rejected["postlink"] is None


def test_json_whatever_the_content_type_and_form_bodies(app: Flask, client: FlaskClient) -> None:
    one, two = new_payment(app), new_payment(app)
    assert post(client, postlink_for(app, one, 100), content_type="text/plain").status_code == 200
    form = {k: str(v) for k, v in postlink_for(app, two, 100).items()}
    answer = client.post("/halyk/postlink", data=urlencode(form),
                                     content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200, answer.get_json()
    assert ledger_of(app).get(one).status is S.PAID  # type: ignore[union-attr]
    assert ledger_of(app).get(two).status is S.PAID  # type: ignore[union-attr]


@pytest.mark.options(halyk_max_postlink_bytes=1000)
def test_oversized_body_is_refused_by_content_length(app: Flask, client: FlaskClient) -> None:
    invoice = new_payment(app)
    body = postlink_for(app, invoice, 100, padding="x" * 2000)
    answer = post(client, body)
    assert answer.status_code == 413
    [event] = ledger_of(app).events()
    assert event.body == b"" and "larger than 1000" in (event.reason or "")
    assert ledger_of(app).get(invoice).status is S.NEW  # type: ignore[union-attr]
    assert post(client, postlink_for(app, invoice, 100)).status_code == 200


@pytest.mark.options(halyk_max_postlink_bytes=1000)
def test_oversized_chunked_body_is_refused_without_reading_it_all(live_server: Any) -> None:
    # A real server: the test client would hand the view the whole body at once.
    conn = http.client.HTTPConnection(urlsplit(live_server.url()).netloc, timeout=10)
    chunks = (b"{" + b" " * 500 for _ in range(20))
    conn.request("POST", "/halyk/postlink", body=chunks,
                 headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413
    conn.close()


@pytest.mark.options(halyk_postlink_allowed_ips="10.1.2.3, 192.0.2.0/24")
def test_address_allow_list(app: Flask, client: FlaskClient) -> None:
    invoice = new_payment(app)
    refused = post(client, postlink_for(app, invoice, 100))
    assert refused.status_code == 403 and "not allowed" in refused.get_json()["error"]
    allowed = post(client, postlink_for(app, invoice, 100),
                   environ_base={"REMOTE_ADDR": "192.0.2.77"})
    assert allowed.status_code == 200


def test_a_raising_receiver_keeps_the_payment_and_reprocess_runs_it_again(
        app: Flask, client: FlaskClient, signal_log: SignalLog) -> None:
    calls: list[str] = []
    broken = {"yes": True}

    def receiver(sender: Flask, payment, postlink) -> None:
        calls.append(payment.invoice_id)
        if broken["yes"]:
            raise RuntimeError("the app's mailer is down")

    signals.payment_succeeded.connect(receiver)
    try:
        invoice = new_payment(app)
        answer = post(client, postlink_for(app, invoice, 100))
        assert answer.status_code == 200
        assert ledger_of(app).get(invoice).status is S.PAID  # type: ignore[union-attr]
        [event] = ledger_of(app).events(invoice_id=invoice)
        assert event.verdict is EventVerdict.FAILED and "mailer is down" in (event.reason or "")
        with app.app_context():
            from flask_halyk.state import get_state

            still = reprocess(get_state())
            assert (still.attempted, still.failed) == (1, 1)
            broken["yes"] = False
            fixed = reprocess(get_state())
            assert (fixed.attempted, fixed.applied) == (1, 1)
            assert reprocess(get_state()).attempted == 0
        assert calls == [invoice] * 3
        assert ledger_of(app).events(invoice_id=invoice)[0].verdict is EventVerdict.APPLIED
        # The recorder after the raising one only heard the successful run.
        assert len(signal_log.named("payment_succeeded")) <= 3
    finally:
        signals.payment_succeeded.disconnect(receiver)


def test_reprocess_from_the_command_line(app: Flask, client: FlaskClient) -> None:
    state = {"fail": True}

    def receiver(sender: Flask, payment, postlink) -> None:
        if state["fail"]:
            raise RuntimeError("boom")

    signals.payment_succeeded.connect(receiver)
    try:
        invoice = new_payment(app)
        post(client, postlink_for(app, invoice, 100))
        runner = app.test_cli_runner()
        again = runner.invoke(args=["halyk", "reprocess"])
        assert again.exit_code == 1 and "1 failed again" in again.output
        state["fail"] = False
        ok = runner.invoke(args=["halyk", "reprocess"])
        assert ok.exit_code == 0 and "1 applied" in ok.output
    finally:
        signals.payment_succeeded.disconnect(receiver)


# Text at its worst as well as its ordinary: lone surrogates (a JSON body's "\\ud800" makes
# one), NULs, text far longer than any column.
_HOSTILE_TEXT = st.one_of(
    st.builds(lambda a, code, b: a + chr(code) + b, st.text(max_size=8),
              st.integers(0xD800, 0xDFFF), st.text(max_size=8)),
    st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=8), st.text(max_size=8)),
    st.integers(100, 20_000).map(lambda n: "7" * n),
)
_TEXT = st.text(max_size=30) | _HOSTILE_TEXT
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=6),
    max_leaves=20,
)
_KEYS = st.sampled_from(["id", "invoiceId", "amount", "currency", "terminal", "code",
                         "reasonCode", "secret_hash", "secretHash", "cardMask", "reason"])


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return json.dumps(draw(_JSONISH)).encode()
    fields = draw(st.dictionaries(_KEYS, _JSONISH, max_size=11))
    if kind == 2:
        return json.dumps(fields).encode()
    # Form bodies are bytes: a surrogate has no UTF-8 form, so it goes as the replacement
    # character percent-encoding would give (NULs and length stay).
    return urlencode({k: str(v).encode("utf-8", "replace") for k, v in fields.items()}).encode()


_HEADER_VALUE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


# One app for the whole module, under its own name: hypothesis runs its examples in one test,
# and the app and client of pytest-flask are per test.
@pytest.fixture(scope="module")
def fuzz_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("fuzz")
    app = make_shop(f"sqlite:///{tmp / 'fuzz.sqlite3'}", tmp, HALYK_VERIFY_WITH_STATUS=True)
    yield app
    close_shop(app)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies(), content_type=st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "", "multipart/x"]),
       extra=st.dictionaries(st.sampled_from(["X-Forwarded-For", "X-Real-Ip", "Accept",
                                              "Content-Encoding", "Transfer-Encoding-X"]),
                             _HEADER_VALUE, max_size=3),
       path=st.sampled_from(["/halyk/postlink", "/halyk/failure-postlink"]))
def test_no_body_or_header_gets_a_5xx(fuzz_shop: Flask, body: bytes, content_type: str,
                                      extra: dict, path: str) -> None:
    answer = fuzz_shop.test_client().post(path, data=body, content_type=content_type,
                                          headers=extra)
    assert answer.status_code < 500, answer.get_data()
    assert answer.status_code in (200, 400, 403, 413)


# One genuine postLink of a real payment with one field (or an extra key) replaced by text at
# its worst: the shop answers 200, 400 or 403, never 5xx, and judges every event.
_GENUINE_FIELDS = st.sampled_from(["id", "reason", "cardMask", "cardType", "issuer",
                                   "approvalCode", "reference", "email", "name", "phone",
                                   "description", "accountId", "dateTime", "ip", "language",
                                   "code", "secretHash", "newField"])


@pytest.fixture(scope="module", params=BACKENDS)
def hostile_shop(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("hostile")
    with backend_shop(request.param, tmp) as app:
        yield app


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=_GENUINE_FIELDS, text=_HOSTILE_TEXT | st.text(max_size=30),
       as_json=st.booleans(), success=st.booleans())
def test_genuine_postlinks_with_hostile_text_are_judged_never_5xx(
        hostile_shop: Flask, field: str, text: str, as_json: bool, success: bool) -> None:
    ledger = ledger_of(hostile_shop)
    invoice = new_payment(hostile_shop)
    body = postlink_for(hostile_shop, invoice, 100, success=success, **{field: text})
    if as_json:
        data = json.dumps(body).encode()
    else:
        data = urlencode({k: str(v).encode("utf-8", "replace") for k, v in body.items()}).encode()
    answer = hostile_shop.test_client().post(
        "/halyk/failure-postlink" if not success else "/halyk/postlink", data=data,
        content_type="application/json" if as_json else "application/x-www-form-urlencoded")
    assert answer.status_code in (200, 400, 403), answer.get_data()
    [event] = ledger.events(invoice_id=invoice) or ledger.events()[-1:]
    assert event.verdict not in (EventVerdict.RECEIVED, EventVerdict.DISPATCHING), event
    if answer.status_code == 200:
        payment = ledger.get(invoice)
        assert payment is not None and payment.status is (S.PAID if success else S.FAILED)
