"""The dashboard blueprint with Flask's test client, against the embedded sandbox: access rules,
filters and keyset pages, the confirmation of operations and the exact reason of a refusal, the
events page, reconcile now, the streamed CSV, CSRF (its own token, or Flask-WTF's), the CSP."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_wtf import CSRFProtect
from ledger_support import close_shop, make_shop, new_payment, postlink_for, sandbox_of
from page_helpers import DISTINCT_SECRET, SHOP_TERMINAL

from flask_halyk.dashboard import CSP, Dashboard
from flask_halyk.dashboard.words import money
from flask_halyk.errors import ExtensionSetupError
from flask_halyk.ledger import PaymentStatus

S = PaymentStatus
PREFIX = "/halyk-admin"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Person:
    """Who the shop's rules see: ``role`` is None (anonymous), "viewer" or "operator"."""

    role: str | None = None


def shop_with_dashboard(tmp_path: Path, person: Person | None = None, *,
                        rules: bool = True, **config: Any) -> Flask:
    app = make_shop(f"sqlite:///{tmp_path / 'db' / 'halyk.sqlite3'}", tmp_path, **config)
    halyk = app.extensions["halyk"].extension
    if rules:
        assert person is not None
        halyk.init_dashboard(app, can_view=lambda: person.role in ("viewer", "operator"),
                             can_act=lambda: person.role == "operator")
    else:
        halyk.init_dashboard(app)
    return app


@pytest.fixture
def person() -> Person:
    return Person()


@pytest.fixture
def shop(tmp_path: Path, person: Person) -> Iterator[Flask]:
    app = shop_with_dashboard(tmp_path, person)
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


def pay(app: Flask, amount: int = 5000, **kwargs: Any) -> str:
    halyk = app.extensions["halyk"].extension
    with app.test_request_context("/"):
        payment = halyk.create_payment(amount, description="order", **kwargs)
    sandbox_of(app).pay(payment.to_js())
    sandbox_of(app).wait_for_postlinks(10)
    return str(payment.invoice_id)


def token_of(html: str) -> str:
    found = TOKEN.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def text_of(html: str) -> str:
    """The page's text with tags and no-break spaces gone."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u00a0", " ")


def test_the_shops_rule_decides_who_sees_and_who_acts(shop: Flask, person: Person) -> None:
    invoice = pay(shop)
    client = shop.test_client()
    pages = [PREFIX + "/", f"{PREFIX}/payments/{invoice}", PREFIX + "/events",
             PREFIX + "/export.csv", PREFIX + "/static/dashboard.css"]
    for page in pages:
        assert client.get(page).status_code == 403, page  # anonymous
    person.role = "viewer"
    for page in pages:
        assert client.get(page).status_code == 200, page
    seen = client.get(f"{PREFIX}/payments/{invoice}").get_data(as_text=True)
    assert "Refund…" not in seen and "Ask ePay now" not in seen  # no action offered
    assert client.get(f"{PREFIX}/payments/{invoice}/refund").status_code == 403
    # A viewer's post is refused before anything else, even with a good token.
    person.role = "operator"
    token = token_of(client.get(f"{PREFIX}/payments/{invoice}/refund").get_data(as_text=True))
    person.role = "viewer"
    refused = client.post(f"{PREFIX}/payments/{invoice}/refund",
                          data={"csrf_token": token, "amount": "100"})
    assert refused.status_code == 403
    assert client.post(PREFIX + "/reconcile", data={"csrf_token": token}).status_code == 403
    assert shop.extensions["halyk"].ledger.get(invoice).refunded_amount == 0
    person.role = "operator"
    acting = client.get(f"{PREFIX}/payments/{invoice}").get_data(as_text=True)
    assert "Refund…" in acting and "Charge…" not in acting and "Cancel…" not in acting


def test_closed_outside_the_sandbox_without_a_rule(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "flask_halyk.dashboard"):
        app = shop_with_dashboard(
            tmp_path, rules=False, HALYK_ENV="test", HALYK_CLIENT_ID="shop",
            HALYK_CLIENT_SECRET=DISTINCT_SECRET, HALYK_TERMINAL_ID=SHOP_TERMINAL,
            HALYK_EXTERNAL_URL="https://shop.example.kz")
    try:
        assert app.test_client().get(PREFIX + "/").status_code == 403
        assert "closed (403 to everyone)" in caplog.text and "can_view" in caplog.text
        with pytest.raises(ExtensionSetupError):
            Dashboard(app)
    finally:
        close_shop(app)


def test_open_on_the_sandbox_without_a_rule(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "flask_halyk.dashboard"):
        app = shop_with_dashboard(tmp_path, rules=False)
    try:
        invoice = pay(app)
        page = app.test_client().get(f"{PREFIX}/payments/{invoice}").get_data(as_text=True)
        assert "Refund…" in page
        assert "open to anyone" in caplog.text
    finally:
        sandbox_of(app).wait_for_postlinks(10)
        close_shop(app)


def test_filters_and_keyset_pages(shop: Flask, person: Person) -> None:
    person.role = "viewer"
    paid = pay(shop, 45000, account_id="client-7")
    waiting = [new_payment(shop, "150") for _ in range(3)]
    client = shop.test_client()
    listing = text_of(client.get(PREFIX + "/").get_data(as_text=True))
    assert "45 000 ₸" in listing and "Paid" in listing and "Awaiting payment" in listing
    assert "KZT" not in listing and "CHARGE" not in listing  # words, one way of amounts
    only_paid = client.get(PREFIX + "/?status=paid").get_data(as_text=True)
    assert paid in only_paid and not any(w in only_paid for w in waiting)
    by_account = client.get(PREFIX + "/?account_id=client-7").get_data(as_text=True)
    assert paid in by_account and waiting[0] not in by_account
    by_amount = client.get(PREFIX + "/?amount_max=1+000").get_data(as_text=True)
    assert paid not in by_amount and all(w in by_amount for w in waiting)
    # Pages of two (the page size is patched): every payment once, newest first.
    from flask_halyk.dashboard import views
    old, views.PAGE_SIZE = views.PAGE_SIZE, 2
    try:
        seen: list[str] = []
        url: str | None = PREFIX + "/"
        while url is not None:
            html = client.get(url).get_data(as_text=True)
            seen += re.findall(r'id="payment-(\d+)"', html)
            found = re.search(r'href="([^"]+)" rel="next"', html)
            url = found.group(1).replace("&amp;", "&") if found else None
        assert sorted(seen) == sorted([paid, *waiting]) and len(seen) == 4
    finally:
        views.PAGE_SIZE = old
    bad = client.get(PREFIX + "/?created_to=yesterday")
    assert bad.status_code == 400 and "Created to: this cannot be read." in bad.get_data(
        as_text=True)
    assert client.get(PREFIX + "/?after=nonsense").status_code == 400


def test_the_csv_is_streamed_with_the_banks_amounts(shop: Flask, person: Person) -> None:
    person.role = "viewer"
    paid = pay(shop, 45000)
    new_payment(shop, "150.5")
    answer = shop.test_client().get(PREFIX + "/export.csv?status=paid")
    assert answer.status_code == 200 and answer.is_streamed
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(r["invoice_id"], r["amount"], r["status"]) for r in rows] == [
        (paid, "45000.00", "paid")]


def test_a_refund_is_confirmed_first_and_a_refusal_says_why(shop: Flask,
                                                            person: Person) -> None:
    person.role = "operator"
    invoice = pay(shop)
    ledger = shop.extensions["halyk"].ledger
    client = shop.test_client()
    confirm = client.get(f"{PREFIX}/payments/{invoice}/refund")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Confirm the refund" in html
    assert ledger.get(invoice).refunded_amount == 0  # the GET did nothing
    token = token_of(html)
    done = client.post(f"{PREFIX}/payments/{invoice}/refund",
                       data={"csrf_token": token, "amount": "200"})
    assert done.status_code == 302 and done.location.endswith(f"/payments/{invoice}")
    assert ledger.get(invoice).refunded_amount == Decimal(200)
    after = text_of(client.get(done.location).get_data(as_text=True))
    assert "Refunded: ePay accepted it." in after and "Partly refunded" in after
    assert "Refund sent to ePay 200 ₸ accepted" in after  # the timeline's line
    over = client.post(f"{PREFIX}/payments/{invoice}/refund",
                       data={"csrf_token": token, "amount": "5000"})
    said = text_of(over.get_data(as_text=True))
    assert over.status_code == 409
    assert "Cannot refund 5 000 ₸: only 4 800 ₸ is left." in said
    assert "impossible" not in said
    bad = client.post(f"{PREFIX}/payments/{invoice}/refund",
                      data={"csrf_token": token, "amount": "12.345"})
    assert bad.status_code == 409 and "The amount cannot be read" in bad.get_data(as_text=True)
    rest = client.post(f"{PREFIX}/payments/{invoice}/refund", data={"csrf_token": token})
    assert rest.status_code == 302
    assert ledger.get(invoice).status is S.REFUNDED
    again = client.post(f"{PREFIX}/payments/{invoice}/refund", data={"csrf_token": token})
    assert "The payment is refunded: this operation is not possible now." in text_of(
        again.get_data(as_text=True))


def test_charge_and_cancel_on_a_two_stage_terminal(tmp_path: Path, person: Person) -> None:
    person.role = "operator"
    app = shop_with_dashboard(tmp_path, person, HALYK_TWO_STAGE=True)
    try:
        charged, voided = pay(app), pay(app)
        client = app.test_client()
        page = client.get(f"{PREFIX}/payments/{charged}").get_data(as_text=True)
        assert "Charge…" in page and "Cancel…" in page and "Refund…" not in page
        token = token_of(client.get(f"{PREFIX}/payments/{charged}/charge").get_data(
            as_text=True))
        over = client.post(f"{PREFIX}/payments/{charged}/charge",
                           data={"csrf_token": token, "amount": "6000"})
        assert "only 5 000 ₸ was authorised" in text_of(over.get_data(as_text=True))
        assert client.post(f"{PREFIX}/payments/{charged}/charge",
                           data={"csrf_token": token, "amount": "3000"}).status_code == 302
        assert app.extensions["halyk"].ledger.get(charged).charged_amount == Decimal(3000)
        assert client.post(f"{PREFIX}/payments/{voided}/cancel",
                           data={"csrf_token": token}).status_code == 302
        assert app.extensions["halyk"].ledger.get(voided).status is S.CANCELLED
        assert client.get(f"{PREFIX}/payments/{voided}/nonsense").status_code == 404
    finally:
        sandbox_of(app).wait_for_postlinks(10)
        close_shop(app)


def test_posts_need_the_token(shop: Flask, person: Person) -> None:
    person.role = "operator"
    invoice = pay(shop)
    client = shop.test_client()
    assert client.post(f"{PREFIX}/payments/{invoice}/refund").status_code == 400
    assert client.post(f"{PREFIX}/payments/{invoice}/refund",
                       data={"csrf_token": "forged"}).status_code == 400
    assert shop.extensions["halyk"].ledger.get(invoice).refunded_amount == 0


def test_flask_wtf_csrf_is_used_when_the_app_has_it(tmp_path: Path, person: Person) -> None:
    person.role = "operator"
    app = shop_with_dashboard(tmp_path, person, WTF_CSRF_ENABLED=True)
    CSRFProtect(app)
    try:
        invoice = pay(app)
        client = app.test_client()
        html = client.get(f"{PREFIX}/payments/{invoice}/refund").get_data(as_text=True)
        assert client.post(f"{PREFIX}/payments/{invoice}/refund",
                           data={"csrf_token": "forged"}).status_code == 400
        good = client.post(f"{PREFIX}/payments/{invoice}/refund",
                           data={"csrf_token": token_of(html), "amount": "100"})
        assert good.status_code == 302
    finally:
        sandbox_of(app).wait_for_postlinks(10)
        close_shop(app)


def test_the_timeline_and_the_events_to_check(shop: Flask, person: Person) -> None:
    person.role = "operator"
    invoice = pay(shop, 4500)
    forged = postlink_for(shop, invoice, 4500, genuine=False)
    shop.test_client().post("/halyk/postlink", json=forged)
    client = shop.test_client()
    page = client.get(f"{PREFIX}/payments/{invoice}").get_data(as_text=True)
    assert "postLink from ePay" in page and "Applied" in page and "Refused" in page
    assert "secret_hash does not match" in page
    assert forged["secret_hash"] not in page and "&#34;secret_hash&#34;: &#34;***&#34;" in page
    assert "440563...5096" in page  # the card it paid with
    events = client.get(PREFIX + "/events").get_data(as_text=True)
    assert "secret_hash does not match" in events and "Reprocess" in events
    event_id = re.search(r'id="event-(\d+)"', events).group(1)  # type: ignore[union-attr]
    token = token_of(events)
    again = client.post(f"{PREFIX}/events/{event_id}/reprocess", data={"csrf_token": token})
    assert again.status_code == 200 and "Asked ePay about 1 payment(s)" in text_of(
        again.get_data(as_text=True))
    unknown = client.post(f"{PREFIX}/events/999999/reprocess", data={"csrf_token": token})
    assert unknown.status_code == 404


def test_reconcile_now(shop: Flask, person: Person) -> None:
    person.role = "operator"
    invoice = pay(shop)
    client = shop.test_client()
    token = token_of(client.get(f"{PREFIX}/payments/{invoice}").get_data(as_text=True))
    one = client.post(f"{PREFIX}/payments/{invoice}/reconcile", data={"csrf_token": token})
    assert one.status_code == 200
    assert "Asked ePay about 1 payment(s): 0 changed" in text_of(one.get_data(as_text=True))
    everything = client.post(PREFIX + "/reconcile", data={"csrf_token": token})
    assert everything.status_code == 200 and "Asked ePay about" in everything.get_data(
        as_text=True)


def test_pages_carry_a_strict_policy_and_no_inline_code(shop: Flask, person: Person) -> None:
    person.role = "operator"
    invoice = pay(shop)
    client = shop.test_client()
    for url in (PREFIX + "/", f"{PREFIX}/payments/{invoice}",
                f"{PREFIX}/payments/{invoice}/refund", PREFIX + "/events"):
        answer = client.get(url)
        assert answer.headers["Content-Security-Policy"] == CSP
        html = answer.get_data(as_text=True)
        assert "<script" not in html and "style=" not in html and "<style" not in html


def test_amounts_one_way() -> None:
    assert money(Decimal(45000)) == "45\u00a0000\u00a0₸"
    assert money(Decimal("1234.5")) == "1\u00a0234.50\u00a0₸"  # English without a locale
    assert money(Decimal(5), "USD") == "5\u00a0USD"
    assert money(None) == ""


def test_the_dashboard_speaks_the_locale_flask_babel_selects(tmp_path: Path,
                                                            person: Person) -> None:
    from flask_babel import Babel

    person.role = "operator"
    app = shop_with_dashboard(tmp_path, person)
    Babel(app, locale_selector=lambda: "ru")
    try:
        invoice = pay(app, 45000)
        client = app.test_client()
        listing = text_of(client.get(PREFIX + "/").get_data(as_text=True))
        assert "Платежи" in listing and "Оплачен" in listing and "45 000 ₸" in listing
        token = token_of(client.get(f"{PREFIX}/payments/{invoice}/refund").get_data(
            as_text=True))
        over = client.post(f"{PREFIX}/payments/{invoice}/refund",
                           data={"csrf_token": token, "amount": "50000,5"})
        assert "Нельзя вернуть 50 000,50 ₸: осталось только 45 000 ₸." in text_of(
            over.get_data(as_text=True))
    finally:
        sandbox_of(app).wait_for_postlinks(10)
        close_shop(app)


def test_times_in_the_dashboards_time_zone(tmp_path: Path, person: Person) -> None:
    person.role = "viewer"
    app = make_shop(f"sqlite:///{tmp_path / 'db' / 'halyk.sqlite3'}", tmp_path)
    Dashboard(app, can_view=lambda: person.role is not None, timezone="Asia/Almaty")
    try:
        ledger = app.extensions["halyk"].ledger
        late = datetime(2026, 2, 28, 20, 30, tzinfo=UTC)  # 1 March, 01:30 in Almaty
        ledger.clock = lambda: late
        invoice = new_payment(app)
        client = app.test_client()
        page = client.get(PREFIX + "/").get_data(as_text=True)
        assert "2026-03-01 01:30:00 +05" in page and "Times in Asia/Almaty." in page
        # Its date filters' days are Almaty's days too.
        assert invoice in client.get(PREFIX + "/?created_from=2026-03-01").get_data(
            as_text=True)
        assert invoice not in client.get(PREFIX + "/?created_to=2026-02-28").get_data(
            as_text=True)
        with pytest.raises(Exception, match="Mars/Olympus"):
            Dashboard(timezone="Mars/Olympus")
    finally:
        close_shop(app)
