"""QR payments (EPAY-REFERENCE.md section 17) through the embedded sandbox: the payment token,
``/payment/qr/generate``, the sandbox's scan page (SCANNED, PAID, REJECTED), ``GET /qr``, the
20-minute expiry, the postLink into the ledger (exactly once), and the ``halyk_qr`` macro."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string
from ledger_support import BACKENDS, SignalLog, backend_shop, ledger_of, sandbox_of

from flask_halyk import HalykError, InvalidPayment, PaymentStatus, QrPayment
from flask_halyk.recovery import reconcile
from flask_halyk.state import get_state

PAGE = """{% from "halyk/macros.html" import halyk_qr %}{{ halyk_qr(qr, status_url="/paid?") }}"""


def _halyk(app: Flask) -> Any:
    return app.extensions["halyk"].extension


def make_qr(app: Flask, amount: str = "3200", **kwargs: Any) -> QrPayment:
    kwargs.setdefault("description", "Coffee beans")
    with app.test_request_context("/checkout"):
        return _halyk(app).create_qr_payment(amount, **kwargs)


def status_of(app: Flask, invoice_id: str) -> Any:
    with app.test_request_context("/checkout"):
        return _halyk(app).qr_status(invoice_id)


def scan(app: Flask, qr: QrPayment, action: str | None) -> str:
    """Open the QR's link as the phone would, then pay or decline it (``action``)."""
    client = app.test_client()
    page = client.get(qr.qrcode)
    assert page.status_code == 200, page.text
    if action is None:
        return page.text
    done = client.post(qr.qrcode, data={"action": action})
    sandbox_of(app).sender.join()
    return done.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_scanned_and_paid_qr_lands_in_the_ledger_once(backend: str, tmp_path: Path) -> None:
    with backend_shop(backend, tmp_path) as app:
        signals = SignalLog()
        try:
            qr = make_qr(app)
            # The links a browser (or the phone) reaches: the sandbox under its prefix.
            assert qr.qrcode.startswith("http://localhost/halyk-sandbox/qr/scan/")
            assert qr.homebank_link == qr.qrcode and qr.bill_number in qr.qrcode
            assert status_of(app, qr.invoice_id).qr_status == "NEW"
            scan(app, qr, None)
            assert status_of(app, qr.invoice_id).qr_status == "SCANNED"
            assert "QR оплачен" in scan(app, qr, "pay")
            assert ledger_of(app).get(qr.invoice_id).status == PaymentStatus.PAID
            polled = status_of(app, qr.invoice_id)
            assert (polled.qr_status, polled.payment_status, polled.final) == (
                "PAID", PaymentStatus.PAID, True)
            assert [s["payment"].invoice_id for s in signals.named("payment_succeeded")] == [
                qr.invoice_id]
            kinds = [e.kind for e in ledger_of(app).timeline(qr.invoice_id).entries]
            assert "qr" in kinds and "postlink" in kinds
        finally:
            signals.disconnect()


def test_a_declined_qr_fails_the_payment(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        qr = make_qr(app, language="eng")
        assert "QR rejected" in scan(app, qr, "reject")
        assert ledger_of(app).get(qr.invoice_id).status == PaymentStatus.FAILED
        assert status_of(app, qr.invoice_id).qr_status == "REJECTED"
        # Declined is final: the phone cannot pay it afterwards.
        again = app.test_client().post(qr.qrcode, data={"action": "pay"})
        assert "QR rejected" in again.text
        assert ledger_of(app).get(qr.invoice_id).status == PaymentStatus.FAILED


def test_an_expired_qr_is_rejected_and_polling_settles_the_ledger(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        sandbox_of(app).options.qr_lifetime_seconds = 0
        qr = make_qr(app)
        assert app.test_client().get(qr.qrcode).status_code == 410
        polled = status_of(app, qr.invoice_id)
        # No postLink for an expiry: the poll asked the status API, which reports the
        # rejected transaction.
        assert (polled.qr_status, polled.payment_status) == ("REJECTED", PaymentStatus.FAILED)
        assert "expired" in str(ledger_of(app).get(qr.invoice_id).reason)


def test_reconcile_settles_a_paid_qr_whose_postlink_was_lost(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        sandbox_of(app).faults.drop_postlink = True
        qr = make_qr(app)
        scan(app, qr, "pay")
        assert ledger_of(app).get(qr.invoice_id).status == PaymentStatus.NEW
        with app.app_context():
            report = reconcile(get_state(), older_than=timedelta(0))
        assert report.changed == 1
        assert ledger_of(app).get(qr.invoice_id).status == PaymentStatus.PAID


def test_bad_input_records_nothing(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        for kwargs in ({"amount": "0"}, {"description": ""}, {"language": "fr"}):
            with pytest.raises(InvalidPayment):
                make_qr(app, **kwargs)
        assert ledger_of(app).count() == 0


def test_the_macro_draws_the_qr_without_script(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        qr = make_qr(app)
        with app.test_request_context("/checkout"):
            html = render_template_string(PAGE, qr=qr)
        assert "<script" not in html and "style=" not in html
        assert re.search(r"<svg [^>]*class=\"segno\"", html)
        assert f'href="{qr.homebank_link}"' in html and 'href="/paid?"' in html
        assert "The code is valid for 20 more min." in html
        assert f'data-bill-number="{qr.bill_number}"' in html


def test_a_png_qrcode_is_shown_as_a_data_image() -> None:
    png = QrPayment(invoice_id="000000123", bill_number="1", qrcode="iVBORw0KGgoAAAANSUhEUg==",
                    homebank_link=None, onlinebank_link=None, amount=1, currency="KZT",
                    expires_at=None)  # type: ignore[arg-type]
    assert png.png_data_url == "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="
    assert png.svg() is None
    text = QrPayment(invoice_id="000000123", bill_number="1", qrcode="https://x.kz/q",
                     homebank_link=None, onlinebank_link=None, amount=1, currency="KZT",
                     expires_at=None)  # type: ignore[arg-type]
    assert text.png_data_url is None


def test_the_sandbox_answers_as_the_evidence_shows(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        qr = make_qr(app)
        assert set(qr.qr.raw) == {"qrcode", "billNumber", "homebankLink", "onlinebankLink"}
        answer = status_of(app, qr.invoice_id).qr.raw
        assert {"qrcode", "status", "trType", "secure3D", "issuer", "issuerBankCountry", "fee",
                "amount", "currency", "paymentChannel", "errDescription", "retCode"} <= set(
            answer)
        # A token of another invoice may not read it.
        other = make_qr(app)
        with app.test_request_context("/"):
            state = get_state()
            token = state.client.payment_token(other.invoice_id, "3200", secret_hash="X" * 16)
            with pytest.raises(HalykError, match=r"404|not found"):
                state.client.qr_status(qr.bill_number, token)


def test_the_dashboard_shows_a_qr_and_asks_how_it_stands(tmp_path: Path) -> None:
    with backend_shop("sqlite", tmp_path) as app:
        role = {"is": "viewer"}
        _halyk(app).init_dashboard(app, can_view=lambda: True,
                                   can_act=lambda: role["is"] == "operator")
        client = app.test_client()
        assert client.get("/halyk-admin/qr").status_code == 403
        role["is"] = "operator"
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          client.get("/halyk-admin/qr").text)
        assert token is not None
        shown = client.post("/halyk-admin/qr", data={
            "amount": "4 100", "description": "Flowers", "csrf_token": token.group(1)})
        assert shown.status_code == 200 and 'class="segno"' in shown.text
        invoice_id = re.search(r'data-invoice-id="(\d+)"', shown.text)
        scan_url = re.search(r'class="halyk-qr-homebank" href="([^"]+)"', shown.text)
        assert invoice_id is not None and scan_url is not None
        # The dashboard's CSP allows no script; the page has none.
        assert "<script" not in shown.text
        client.get(scan_url.group(1))
        client.post(scan_url.group(1), data={"action": "pay"})
        sandbox_of(app).sender.join()
        checked = client.get(f"/halyk-admin/qr/{invoice_id.group(1)}")
        assert checked.status_code == 302
        page = client.get(f"/halyk-admin/payments/{invoice_id.group(1)}").text
        assert "The QR code is PAID at ePay." in page
        assert ledger_of(app).get(invoice_id.group(1)).status == PaymentStatus.PAID
