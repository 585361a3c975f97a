"""docs/subscriptions.md's code, run: its views, receivers, Celery task (against a stand-in
for Celery, which the tests do not install) and test snippet on a sandbox shop. The crontab,
systemd and Kubernetes blocks are not Python: only their languages are checked."""

from __future__ import annotations

import logging
import re
import sys
import types
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from page_helpers import close, make_shop

from flask_halyk.sandbox.cards import APPROVED_CARD

PAGE = (Path(__file__).resolve().parent.parent / "docs" / "subscriptions.md").read_text(
    encoding="utf-8")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


class FakeCelery:
    """What the page's block uses of Celery: ``task(name=...)`` and ``conf.beat_schedule``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tasks: dict[str, Any] = {}
        self.conf = types.SimpleNamespace(beat_schedule={})

    def task(self, name: str) -> Any:
        def register(function: Any) -> Any:
            self.tasks[name] = function
            return function
        return register


def sandbox(app: Flask) -> Any:
    return app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    celery = types.ModuleType("celery")
    celery.Celery = FakeCelery  # type: ignore[attr-defined]
    schedules = types.ModuleType("celery.schedules")
    schedules.crontab = lambda **fields: ("crontab", fields)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "celery", celery)
    monkeypatch.setitem(sys.modules, "celery.schedules", schedules)
    app = make_shop(tmp_path, SERVER_NAME="shop.test")
    namespace: dict[str, Any] = {"app": app, "halyk": app.extensions["halyk"].extension}
    found = BLOCK.findall(PAGE)
    assert [language for language, _ in found] == [
        "python", "python", "python", "text", "ini", "yaml", "python", "python", "python"]
    python = [code for language, code in found if language == "python"]
    for index, code in enumerate(python[:-1]):
        exec(compile(code, f"subscriptions.md (block {index})", "exec"), namespace)
    app.config["DOCS_NAMESPACE"] = namespace
    app.config["DOCS_TEST_BLOCK"] = python[-1]
    yield app
    sandbox(app).wait_for_postlinks(10)
    close(app)


def saved_card(app: Flask, account: str) -> str:
    with app.test_request_context("/"):
        payment = app.extensions["halyk"].extension.create_payment(
            100, description="first", account_id=account, save_card=True)
    sandbox(app).pay(payment.to_js(), APPROVED_CARD, save_card=True)
    sandbox(app).wait_for_postlinks(10)
    with app.app_context():
        return str(app.extensions["halyk"].extension.cards(account)[0].card_id)


def test_the_pages_shop_subscribes_renews_manages_and_cancels(
        shop: Flask, caplog: pytest.LogCaptureFixture) -> None:
    card = saved_card(shop, "customer-7")
    client = shop.test_client()
    with client.session_transaction() as session:
        session["account_id"] = "customer-7"
    joined = client.post("/account/tea-club", data={"card_id": card}).get_json()
    assert joined["status"] == "active"
    ledger = shop.extensions["halyk"].ledger
    due = ledger.subscription(joined["id"]).next_charge_at
    ledger.clock = lambda: due  # the trial ended
    namespace = shop.config["DOCS_NAMESPACE"]
    with caplog.at_level(logging.INFO):
        result = namespace["charge_due"]()  # the Celery task
    sandbox(shop).wait_for_postlinks(10)
    assert result["renewed"] == [joined["id"]]
    assert any("ship the tea of" in r.getMessage() for r in caplog.records)
    assert namespace["celery"].conf.beat_schedule["charge-due"]["task"] == "shop.charge_due"

    [listed] = client.get("/account/subscriptions").get_json()
    assert listed["amount"] == "4900.00" and listed["status"] == "active"
    paused = client.post(f"/account/subscriptions/{joined['id']}/pause").get_json()
    assert paused["status"] == "paused"
    assert client.post(f"/account/subscriptions/{joined['id']}/resume").get_json()[
        "status"] == "active"
    assert client.post(f"/account/subscriptions/{joined['id']}/card",
                       data={"card_id": card}).status_code == 200
    ending = client.post(f"/account/subscriptions/{joined['id']}/cancel").get_json()
    assert ending == {"status": "active", "ends": True}

    # Another customer's card is refused, with the page's 402.
    stranger = saved_card(shop, "customer-8")
    refused = client.post("/account/tea-club", data={"card_id": stranger})
    assert refused.status_code == 402 and "another account" in refused.get_json()["error"]

    later = ledger.now() + timedelta(days=40)
    ledger.clock = lambda: later
    with caplog.at_level(logging.INFO), shop.app_context():
        assert shop.extensions["halyk"].extension.charge_due().cancelled == [joined["id"]]
    assert any("ended (cancel_at_period_end)" in r.getMessage() for r in caplog.records)


def test_the_pages_test_snippet_runs(shop: Flask, caplog: pytest.LogCaptureFixture) -> None:
    namespace = shop.config["DOCS_NAMESPACE"]
    with caplog.at_level(logging.INFO):
        exec(compile(shop.config["DOCS_TEST_BLOCK"], "subscriptions.md (test block)", "exec"),
             namespace)
    assert any("renewal of" in r.getMessage() and "card expired" in r.getMessage()
               for r in caplog.records)


def test_the_pages_bank_schedule_asks_the_bank_once(shop: Flask) -> None:
    """The page's ``/recurrent/subscribe`` call on the sandbox: the ledger knows nothing of
    it, and nothing more is charged."""
    saved_card(shop, "customer-9")
    [paid] = sandbox(shop).transactions
    with shop.app_context():
        schedule = shop.config["DOCS_NAMESPACE"]["bank_schedule"](paid.invoice_id)
        assert shop.extensions["halyk"].extension.subscriptions("customer-9") == []
    assert (schedule.payment_frequency, schedule.invoice_id) == ("MONTHLY", paid.invoice_id)
    assert list(sandbox(shop).store.recurrent_schedules) == [paid.id]
    assert len(sandbox(shop).transactions) == 1
