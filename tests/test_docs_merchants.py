"""docs/merchants.md's code, run: its settings and views on a sandbox shop with two merchants,
paying and refunding through the sandbox's payment page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from page_helpers import SHOP_TERMINAL, close, make_shop

from flask_halyk.ledger import PaymentStatus

PAGE = (Path(__file__).resolve().parent.parent / "docs" / "merchants.md").read_text(
    encoding="utf-8")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


@pytest.fixture
def shop(tmp_path: Path) -> Any:
    found = BLOCK.findall(PAGE)
    assert [language for language, _ in found] == ["python"] * 3
    settings: dict[str, Any] = {}
    exec(compile(found[0][1], "merchants.md (block 0)", "exec"), settings)
    app = make_shop(tmp_path, HALYK_MERCHANTS=settings["HALYK_MERCHANTS"])
    namespace: dict[str, Any] = {"app": app, "halyk": app.extensions["halyk"].extension}
    for index, (_, code) in enumerate(found[1:], 1):
        exec(compile(code, f"merchants.md (block {index})", "exec"), namespace)
    yield app
    sandbox(app).wait_for_postlinks(10)
    for client in app.extensions["halyk"].clients.values():
        client.close()
    close(app)


def sandbox(app: Flask) -> Any:
    return app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]


def test_the_pages_shop_sells_and_refunds_in_two_currencies(shop: Flask) -> None:
    usd_terminal = shop.extensions["halyk"].config.merchant("usd").terminal_id
    client, ledger = shop.test_client(), shop.extensions["halyk"].ledger
    paid = {}
    for currency, terminal, amount in (("KZT", SHOP_TERMINAL, 45000), ("USD", usd_terminal, 90)):
        payment_object = client.post("/checkout", data={"currency": currency}).get_json()
        assert (payment_object["currency"], payment_object["terminal"]) == (currency, terminal)
        sandbox(shop).pay(payment_object)
        record = ledger.get(payment_object["invoiceId"])
        assert (record.status, record.amount) == (PaymentStatus.PAID, amount)
        paid[currency] = payment_object["invoiceId"]
    assert client.post(f"/orders/{paid['USD']}/refund").status_code == 204
    assert ledger.get(paid["USD"]).status is PaymentStatus.REFUNDED
    assert ledger.get(paid["KZT"]).status is PaymentStatus.PAID
    [refunded] = [t for t in sandbox(shop).transactions if t.invoice_id == paid["USD"]]
    assert (refunded.status, refunded.terminal) == ("REFUND", usd_terminal)
