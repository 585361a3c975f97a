"""docs/cards.md's code, run: its views and receiver on a sandbox shop, driven through the
test client and the sandbox's payment page."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from page_helpers import close, make_shop

PAGE = (Path(__file__).resolve().parent.parent / "docs" / "cards.md").read_text(
    encoding="utf-8")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


@pytest.fixture
def shop(tmp_path: Path) -> Any:
    app = make_shop(tmp_path, SERVER_NAME="shop.test")
    namespace: dict[str, Any] = {"app": app, "halyk": app.extensions["halyk"].extension}
    found = BLOCK.findall(PAGE)
    assert [language for language, _ in found] == ["python"] * 4
    for index, (_, code) in enumerate(found):
        exec(compile(code, f"cards.md (block {index})", "exec"), namespace)
    yield app
    sandbox(app).wait_for_postlinks(10)
    close(app)


def sandbox(app: Flask) -> Any:
    return app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]


def test_the_pages_shop_saves_lists_charges_and_removes_a_card(shop: Flask, caplog) -> None:
    client = shop.test_client()
    with client.session_transaction() as session:
        session["account_id"] = "customer-7"
    payment_object = client.post("/checkout").get_json()
    assert payment_object["cardSave"] is True and payment_object["accountId"] == "customer-7"
    sandbox(shop).pay(payment_object)
    [card] = client.get("/account/cards").get_json()
    assert card["mask"] == "440563...5096" and card["type"] == "VISA"

    repeated = client.post("/orders/5/repeat", data={"card_id": card["id"]})
    assert repeated.status_code == 200 and repeated.get_json()["status"] == "paid"

    sandbox(shop).options.card_payment_three_ds = True
    step = client.post("/orders/5/repeat", data={"card_id": card["id"]})
    assert b'action="/halyk-sandbox/payform/acs"' in step.data and b'name="PaReq"' in step.data
    assert b'value="http://shop.test/account/cards"' in step.data
    sandbox(shop).options.card_payment_three_ds = False

    with caplog.at_level(logging.INFO):
        verification = client.post("/account/cards/new").get_json()
        assert verification["amount"] == 0
        sandbox(shop).pay(verification, "5522042705066736")
    assert any("saved for customer-7" in r.getMessage() for r in caplog.records)
    assert len(client.get("/account/cards").get_json()) == 2

    assert client.post(f"/account/cards/{card['id']}/remove").status_code == 302
    assert [c["id"] for c in client.get("/account/cards").get_json()] != [card["id"]]
    assert len(client.get("/account/cards").get_json()) == 1
    refused = client.post("/orders/6/repeat", data={"card_id": card["id"]})
    assert refused.status_code == 402 and "deactivated" in refused.get_json()["error"]

    with client.session_transaction() as session:
        session["account_id"] = "someone-else"
    [other] = shop.extensions["halyk"].ledger.cards("customer-7")
    stolen = client.post("/orders/7/repeat", data={"card_id": other.card_id})
    assert stolen.status_code == 402 and "another account" in stolen.get_json()["error"]
