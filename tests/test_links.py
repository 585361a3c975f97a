"""Payment links (EPAY-REFERENCE.md section 19) through the embedded sandbox: the password
grant, ``/invoice``, the link's page paid by card, the postLink into the ledger (exactly once,
with the signals), expiry, and the status checks that leave a trace in the timeline."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from ledger_support import BACKENDS, SignalLog, backend_shop, ledger_of, sandbox_of

from flask_halyk import (
    ApiError,
    ConfigurationError,
    HalykError,
    InvalidPayment,
    PaymentLinkResult,
    PaymentStatus,
)
from flask_halyk.recovery import reconcile
from flask_halyk.state import get_state

GOOD_CARD = "4405639704015096"
DECLINED_CARD = "4003032704547597"


def _halyk(app: Flask) -> Any:
    return app.extensions["halyk"].extension


def send_link(app: Flask, **kwargs: Any) -> PaymentLinkResult:
    kwargs.setdefault("description", "Invoice for the tea")
    kwargs.setdefault("recipient_email", "buyer@example.kz")
    with app.app_context():
        return _halyk(app).create_payment_link(kwargs.pop("amount", "2500"), **kwargs)


def pay_link(app: Flask, url: str, pan: str = GOOD_CARD) -> str:
    """Open the link's page, pay it with ``pan``; the result page's text."""
    client = app.test_client()
    page = client.get(url)
    assert page.status_code == 200, page.text
    checkout = re.search(r'name="checkout" value="([^"]+)"', page.text)
    assert checkout is not None
    result = client.post("/halyk-sandbox/payform/pay", data={
        "checkout": checkout.group(1), "pan": pan, "expiry": "01/30", "cvc": "321",
        "holder": "TEST BUYER"})
    sandbox_of(app).sender.join()
    return result.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_paid_link_lands_in_the_ledger_once(backend: str, tmp_path: Path) -> None:
    with backend_shop(backend, tmp_path) as app:
        signals = SignalLog()
        try:
            link = send_link(app, amount="2500.50", recipient_phone="+77011234567")
            assert link.invoice_url.startswith(
                "http://shop.halyk-sandbox.internal/halyk-sandbox/api/redirect/invoice-link/")
            assert link.id in link.invoice_url and link.expires_at is not None
            assert link.record.status == PaymentStatus.NEW
            record = ledger_of(app).get(link.invoice_id)
            assert record.amount == Decimal("2500.50") and record.email == "buyer@example.kz"
            pay_link(app, link.invoice_url)
            assert ledger_of(app).get(link.invoice_id).status == PaymentStatus.PAID
            paid = signals.named("payment_succeeded")
            assert [s["payment"].invoice_id for s in paid] == [link.invoice_id]
            # The page refuses a second payment of the same link.
            again = app.test_client().get(link.invoice_url)
            assert again.status_code == 409
            assert len(signals.named("payment_succeeded")) == 1
            kinds = [e.kind for e in ledger_of(app).timeline(link.invoice_id).entries]
            assert kinds[:2] == ["created", "link"] and "postlink" in kinds
        finally:
            signals.disconnect()


def test_the_sandbox_saw_the_bank_s_requests(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        link = send_link(app, expire_period="3d", language="kaz")
        stored = sandbox_of(app).store.invoice_link(link.id)
        answer = stored.answer
        # snake_case answer as the bank's recorded one, the postLinks the shop's own.
        assert answer["status"] == "ACTIVE" and answer["language"] == "kz"
        assert answer["expire_period"] == "3d"
        assert answer["post_link"] == "http://shop.halyk-sandbox.internal/halyk/postlink"
        assert answer["failure_post_link"].endswith("/halyk/failure-postlink")
        assert answer["invoice_id"] == link.invoice_id
        assert answer["updated_date"] == "0001-01-01T00:00:00Z"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+05:00",
                            answer["created_date"])
        assert (link.expires_at - link.link.created_date) == timedelta(days=3)
        assert ledger_of(app).get(link.invoice_id).token_expires_at == link.expires_at


def test_a_declined_card_fails_the_link_s_payment(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        link = send_link(app)
        pay_link(app, link.invoice_url, DECLINED_CARD)
        assert ledger_of(app).get(link.invoice_id).status == PaymentStatus.FAILED


def test_bad_input_records_nothing(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        for kwargs in ({"recipient_email": None}, {"recipient_phone": "call me"},
                       {"expire_period": "1w"}, {"amount": "-5"}, {"description": " "},
                       {"recipient_email": "not-an-address"}):
            with pytest.raises(InvalidPayment):
                send_link(app, **kwargs)
        assert ledger_of(app).count() == 0


def test_the_bank_s_refusal_leaves_the_payment_new(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        # The sandbox refuses a phone the client would send: 1079, as an integration saw.
        sandbox_of(app).options.invoice_client_credentials = False
        with app.app_context():
            client = get_state().client
            with pytest.raises(ApiError) as caught:
                client.create_invoice_link(
                    "000777001", "100", username="epay@halykbank.kz", password="XZG1E@Mm",
                    shop_id="not-the-shop", description="x", post_link="http://a.kz/p",
                    failure_post_link="http://a.kz/f", recipient_email="a@b.kz")
        assert "XZG1E@Mm" not in str(caught.value)


def test_a_wrong_cabinet_password_is_refused_and_never_quoted(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app, app.app_context():
        with pytest.raises(HalykError) as caught:
            get_state().client.create_invoice_link(
                "000777002", "100", username="epay@halykbank.kz", password="wrong-Pa55word!",
                shop_id=get_state().config.shop_id, description="x",
                post_link="http://a.kz/p", failure_post_link="http://a.kz/f",
                recipient_email="a@b.kz")
        assert "wrong-Pa55word!" not in str(caught.value)
        assert "invalid_grant" in str(caught.value) or "bad user" in str(caught.value)
        assert "XZG1E@Mm" not in repr(get_state().config)


def test_links_need_the_whole_cabinet_login(tmp_path: Path) -> None:
    shop = backend_shop("sqlite", tmp_path, HALYK_ENV="test", HALYK_EXTERNAL_URL="https://s.kz",
                        HALYK_CABINET_USERNAME="u@s.kz", HALYK_CABINET_PASSWORD="p")
    with pytest.raises(ConfigurationError, match="HALYK_SHOP_ID"), shop:
        pass


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unpaid_link_expires_and_reconcile_ends_it(backend: str, tmp_path: Path) -> None:
    with backend_shop(backend, tmp_path) as app:
        sandbox_of(app).options.invoice_expiry_seconds = 0
        link = send_link(app)
        assert app.test_client().get(link.invoice_url).status_code == 410
        with app.app_context():
            report = reconcile(get_state(), older_than=timedelta(0),
                               expire_after=timedelta(0))
        assert report.expired == 1
        assert ledger_of(app).get(link.invoice_id).status == PaymentStatus.EXPIRED


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_check_that_changed_nothing_is_in_the_timeline(backend: str, tmp_path: Path) -> None:
    with backend_shop(backend, tmp_path) as app:
        link = send_link(app)
        with app.app_context():
            # Not expired yet (a day's link): ePay knows no transaction, nothing changes.
            report = reconcile(get_state(), older_than=timedelta(0))
        assert report.not_found == 1
        entries = ledger_of(app).timeline(link.invoice_id).entries
        checks = [e for e in entries if e.kind == "check"]
        assert [(c.result, c.reason) for c in checks] == [("not_found", "not found at ePay")]
        # Asked again with the same answer: the line's time moves on, no second line.
        with app.app_context():
            reconcile(get_state(), older_than=timedelta(0))
        again = [e for e in ledger_of(app).timeline(link.invoice_id).entries if e.kind == "check"]
        assert len(again) == 1 and again[0].at >= checks[0].at


def test_the_dashboard_bills_a_customer(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        role = {"is": "viewer"}
        _halyk(app).init_dashboard(app, can_view=lambda: True,
                                   can_act=lambda: role["is"] == "operator")
        client = app.test_client()
        assert client.get("/halyk-admin/bill").status_code == 403
        role["is"] = "operator"
        form = client.get("/halyk-admin/bill").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None and "Bill a customer" in form
        fields = {"amount": "7 500", "description": "Tea by the kilo", "email": "",
                  "phone": "", "expire": "3d"}
        # Without a token nothing is sent; without a contact, the reason is shown.
        assert client.post("/halyk-admin/bill", data=fields).status_code in (400, 403)
        refused = client.post("/halyk-admin/bill", data={**fields, "csrf_token": token.group(1)})
        assert refused.status_code == 409 and "e-mail or phone" in refused.text
        assert ledger_of(app).count() == 0
        sent = client.post("/halyk-admin/bill", data={
            **fields, "phone": "+77011234567", "csrf_token": token.group(1)})
        assert sent.status_code == 302
        invoice_id = sent.headers["Location"].rsplit("/", 1)[1]
        page = client.get(f"/halyk-admin/payments/{invoice_id}").text
        url = re.search(r'class="payment-link"><a href="([^"]+)"', page)
        assert url is not None and "may be paid until" in page
        # The link, as the operator's browser saw it, pays the payment.
        assert url.group(1).startswith("http://localhost/halyk-sandbox/api/redirect/")
        pay_link(app, url.group(1))
        record = ledger_of(app).get(invoice_id)
        assert record.status == PaymentStatus.PAID and record.amount == Decimal("7500")
        assert record.phone == "+77011234567"


def test_flask_halyk_link(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        runner = app.test_cli_runner()
        done = runner.invoke(args=["halyk", "link", "1500", "--email", "a@shop.kz",
                                   "--expire", "3d", "--json"])
        assert done.exit_code == 0, done.output
        shown = json.loads(done.output[done.output.index("{"):])
        assert shown["amount"] == "1500" and "/invoice-link/" in shown["invoice_url"]
        assert ledger_of(app).get(shown["invoice_id"]).description == "Payment by link"
        said = runner.invoke(args=["halyk", "link", "99.50", "--phone", "+77011234567",
                                   "--description", "Delivery"])
        assert said.exit_code == 0 and "sent to +77011234567: http" in said.output
        assert runner.invoke(args=["halyk", "link", "100"]).exit_code == 2
        assert runner.invoke(args=["halyk", "link", "abc", "--email", "a@shop.kz"]
                             ).exit_code == 2
        assert runner.invoke(args=["halyk", "link", "100", "--email", "a@shop.kz",
                                   "--expire", "2w"]).exit_code == 2
        config = runner.invoke(args=["halyk", "config"])
        assert '"cabinet_password": "***"' in config.output
        assert "XZG1E@Mm" not in config.output


def test_a_check_ePay_did_not_answer_is_in_the_timeline(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path, HALYK_RETRIES=0) as app:
        link = send_link(app)
        sandbox_of(app).faults.status_error = 503
        with app.app_context():
            report = reconcile(get_state(), older_than=timedelta(0))
        assert report.errors == 1
        (check,) = [e for e in ledger_of(app).timeline(link.invoice_id).entries
                    if e.kind == "check"]
        assert check.result == "unanswered" and "EpayUnavailable" in str(check.reason)
        shown = app.test_cli_runner().invoke(args=["halyk", "show", link.invoice_id])
        assert "check  unanswered" in shown.output and "link  sent" in shown.output
