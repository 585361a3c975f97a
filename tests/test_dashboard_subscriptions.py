"""The dashboard's subscriptions: the list and its status filter, a subscription's page with
its charges linking to their payments, pause / resume / cancel at period end behind the
confirmation page and the shop's rules, in the reader's language, under the strict policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from ledger_support import close_shop, sandbox_of
from test_dashboard import PREFIX, Person, shop_with_dashboard, text_of, token_of

from flask_halyk import Plan
from flask_halyk.dashboard import CSP
from flask_halyk.sandbox.cards import APPROVED_CARD


@pytest.fixture
def person() -> Person:
    return Person()


@pytest.fixture
def shop(tmp_path: Path, person: Person) -> Iterator[Flask]:
    app = shop_with_dashboard(tmp_path, person)
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


def halyk(app: Flask) -> Any:
    return app.extensions["halyk"].extension


def subscribed(app: Flask, account: str, *, renewed: bool = True) -> str:
    """A tea club subscription of ``account`` with a card saved by paying; renewed once (by
    ``charge_due``) unless ``renewed`` is False. Its id."""
    with app.test_request_context("/"):
        payment = halyk(app).create_payment(100, description="first", account_id=account,
                                            save_card=True)
    sandbox_of(app).pay(payment.to_js(), APPROVED_CARD, save_card=True)
    sandbox_of(app).wait_for_postlinks(10)
    with app.app_context():
        [card] = halyk(app).cards(account)
        sub = halyk(app).subscribe(account, card, Plan.monthly(4900, description="Tea club"))
        if renewed:
            assert halyk(app).charge_due().renewed == [sub.id]
    sandbox_of(app).wait_for_postlinks(10)
    return str(sub.id)


def test_the_list_filters_by_status_and_the_page_links_each_charge(
        shop: Flask, person: Person) -> None:
    first = subscribed(shop, "customer-1")
    second = subscribed(shop, "customer-2", renewed=False)
    with shop.app_context():
        halyk(shop).pause(second)
    client = shop.test_client()
    assert client.get(PREFIX + "/subscriptions").status_code == 403  # anonymous
    person.role = "viewer"
    listing = client.get(PREFIX + "/subscriptions").get_data(as_text=True)
    assert f'id="subscription-{first}" data-status="active"' in listing
    assert f'id="subscription-{second}" data-status="paused"' in listing
    paused = client.get(PREFIX + "/subscriptions?status=paused").get_data(as_text=True)
    assert f"subscription-{second}" in paused and f"subscription-{first}" not in paused
    assert "Paused" in text_of(paused)
    mine = client.get(PREFIX + "/subscriptions?account_id=customer-1").get_data(as_text=True)
    assert f"subscription-{first}" in mine and f"subscription-{second}" not in mine

    page = client.get(f"{PREFIX}/subscriptions/{first}").get_data(as_text=True)
    [charge] = shop.extensions["halyk"].ledger.charges(first)
    assert charge["status"] == "paid"
    assert f'href="{PREFIX}/payments/{charge["invoice_id"]}"' in page
    said = text_of(page)
    assert "Tea club" in said and "4 900 ₸, every month" in said and "Paid" in said
    assert "Pause" not in said  # a viewer is offered no action
    assert client.get(f"{PREFIX}/subscriptions/{first}/pause").status_code == 403
    assert client.get(f"{PREFIX}/subscriptions/nope").status_code == 404


def test_pause_resume_and_cancel_are_confirmed_first(shop: Flask, person: Person) -> None:
    person.role = "operator"
    sub = subscribed(shop, "customer-3")
    ledger = shop.extensions["halyk"].ledger
    client = shop.test_client()
    page = text_of(client.get(f"{PREFIX}/subscriptions/{sub}").get_data(as_text=True))
    assert "Pause" in page and "Cancel at period end" in page and "Resume" not in page
    confirm = client.get(f"{PREFIX}/subscriptions/{sub}/pause")
    assert confirm.status_code == 200 and ledger.subscription(sub).status == "active"
    token = token_of(confirm.get_data(as_text=True))
    assert client.post(f"{PREFIX}/subscriptions/{sub}/pause").status_code == 400  # no token
    done = client.post(f"{PREFIX}/subscriptions/{sub}/pause", data={"csrf_token": token})
    assert done.status_code == 302 and done.location.endswith(f"/subscriptions/{sub}")
    assert ledger.subscription(sub).status == "paused"
    after = text_of(client.get(done.location).get_data(as_text=True))
    assert "Paused: it is not charged until resumed." in after and "Resume" in after
    again = client.post(f"{PREFIX}/subscriptions/{sub}/pause", data={"csrf_token": token})
    assert again.status_code == 409
    assert "The subscription is paused: this is not possible now." in text_of(
        again.get_data(as_text=True))
    assert client.post(f"{PREFIX}/subscriptions/{sub}/resume",
                       data={"csrf_token": token}).status_code == 302
    assert ledger.subscription(sub).status == "active"
    assert client.post(f"{PREFIX}/subscriptions/{sub}/cancel",
                       data={"csrf_token": token}).status_code == 302
    ending = ledger.subscription(sub)
    assert (ending.status, ending.cancel_at_period_end) == ("active", True)
    assert "ends at period end" in text_of(
        client.get(f"{PREFIX}/subscriptions/{sub}").get_data(as_text=True))
    assert client.get(f"{PREFIX}/subscriptions/{sub}/refund").status_code == 404
    person.role = "viewer"
    assert client.post(f"{PREFIX}/subscriptions/{sub}/pause",
                       data={"csrf_token": token}).status_code == 403


def test_subscription_pages_are_strict_and_translated(tmp_path: Path, person: Person) -> None:
    from flask_babel import Babel

    person.role = "operator"
    app = shop_with_dashboard(tmp_path, person)
    Babel(app, locale_selector=lambda: "ru")
    try:
        sub = subscribed(app, "customer-4")
        client = app.test_client()
        for url in (PREFIX + "/subscriptions", f"{PREFIX}/subscriptions/{sub}",
                    f"{PREFIX}/subscriptions/{sub}/cancel"):
            answer = client.get(url)
            assert answer.headers["Content-Security-Policy"] == CSP
            html = answer.get_data(as_text=True)
            assert "<script" not in html and "style=" not in html and "<style" not in html
        page = text_of(client.get(f"{PREFIX}/subscriptions/{sub}").get_data(as_text=True))
        assert "Подписка" in page and "Активна" in page and "каждый месяц" in page
        assert "Приостановить" in page and "Списания" in page
    finally:
        sandbox_of(app).wait_for_postlinks(10)
        close_shop(app)
