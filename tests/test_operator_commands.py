"""The operator's commands (``flask halyk show / payments / refund / charge / cancel``) with
click's runner, against the embedded sandbox: confirmation, the exact reason of a refusal, exit
statuses a script can rely on."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from ledger_support import close_shop, make_shop, new_payment, postlink_for, sandbox_of

from flask_halyk.cli import EXIT_BANK_REFUSED, EXIT_REFUSED
from flask_halyk.ledger import PaymentStatus

S = PaymentStatus


def _shop(tmp_path: Path, **config: object) -> Iterator[Flask]:
    app = make_shop(f"sqlite:///{tmp_path / 'db' / 'halyk.sqlite3'}", tmp_path, **config)
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Flask]:
    yield from _shop(tmp_path)


@pytest.fixture
def two_stage_shop(tmp_path: Path) -> Iterator[Flask]:
    yield from _shop(tmp_path, HALYK_TWO_STAGE=True)


def pay(app: Flask, amount: int = 5000) -> str:
    halyk = app.extensions["halyk"].extension
    with app.test_request_context("/"):
        payment = halyk.create_payment(amount, description="order", account_id="client-7")
    sandbox_of(app).pay(payment.to_js())
    return str(payment.invoice_id)


def run(app: Flask, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(args=["halyk", *args], input=input)


def test_refund_asks_first_and_does_nothing_when_told_no(shop: Flask) -> None:
    invoice = pay(shop)
    said_no = run(shop, "refund", invoice, "--amount", "200", input="n\n")
    assert said_no.exit_code == 1
    assert f"Refund 200.00 KZT of payment {invoice} (paid, 5000.00 KZT left)?" in said_no.output
    assert shop.extensions["halyk"].ledger.get(invoice).refunded_amount == 0
    said_yes = run(shop, "refund", invoice, "--amount", "200", input="y\n")
    assert said_yes.exit_code == 0, said_yes.output
    assert f"refunded 200.00 KZT of payment {invoice}" in said_yes.output
    assert "partially_refunded" in said_yes.output
    assert shop.extensions["halyk"].ledger.get(invoice).refunded_amount == Decimal(200)


def test_a_refund_over_what_is_left_says_exactly_why(shop: Flask) -> None:
    invoice = pay(shop)
    assert run(shop, "refund", invoice, "--amount", "200", "--yes").exit_code == 0
    over = run(shop, "refund", invoice, "--amount", "5000", "--yes")
    assert over.exit_code == EXIT_REFUSED
    assert "only 4800.00 is left" in over.output
    rest = run(shop, "refund", invoice, "--yes")
    assert rest.exit_code == 0, rest.output
    payment = shop.extensions["halyk"].ledger.get(invoice)
    assert payment.status is S.REFUNDED and payment.refunded_amount == Decimal(5000)
    again = run(shop, "refund", invoice, "--yes")
    assert again.exit_code == EXIT_REFUSED and "only a paid payment" in again.output


def test_usage_errors_and_unknown_payments(shop: Flask) -> None:
    assert run(shop, "refund", "100999999", "--yes").exit_code == EXIT_REFUSED
    invoice = pay(shop)
    bad = run(shop, "refund", invoice, "--amount", "12.345", "--yes")
    assert bad.exit_code == 2 and "--amount" in bad.output
    # A one-stage payment is taken: charge and cancel are refused without asking ePay.
    refused = run(shop, "cancel", invoice, "--yes")
    assert refused.exit_code == EXIT_REFUSED
    assert "only an authorised, uncharged payment can be cancelled" in refused.output


def test_charge_and_cancel_an_authorised_payment(two_stage_shop: Flask) -> None:
    app = two_stage_shop
    charged, voided = pay(app), pay(app)
    over = run(app, "charge", charged, "--amount", "6000", "--yes")
    assert over.exit_code == EXIT_REFUSED and "authorised 5000.00" in over.output
    done = run(app, "charge", charged, "--amount", "3000", input="y\n")
    assert done.exit_code == 0, done.output
    assert f"Charge 3000.00 KZT of payment {charged}" in done.output
    assert app.extensions["halyk"].ledger.get(charged).charged_amount == Decimal(3000)
    cancelled = run(app, "cancel", voided, "--yes")
    assert cancelled.exit_code == 0, cancelled.output
    assert app.extensions["halyk"].ledger.get(voided).status is S.CANCELLED


def test_the_banks_refusal_is_printed_with_its_own_exit_status(two_stage_shop: Flask) -> None:
    app = two_stage_shop
    invoice = pay(app)
    with app.app_context():
        # Charged at the bank behind the ledger's back: the ledger still offers a cancel,
        # and ePay refuses it.
        state = app.extensions["halyk"]
        state.client.charge(state.ledger.get(invoice).transaction_id)
    refused = run(app, "cancel", invoice, "--yes")
    assert refused.exit_code == EXIT_BANK_REFUSED, refused.output
    assert "refused by ePay" in refused.output
    assert app.extensions["halyk"].ledger.get(invoice).status is S.AUTHORIZED
    # The refused call is on the payment's timeline, with the bank's words.
    timeline = json.loads(run(app, "show", invoice, "--json").output)["timeline"]
    [cancel] = [e for e in timeline if e["kind"] == "cancel"]
    assert cancel["result"] == "refused" and cancel["reason"]
    assert "cancel  #" not in run(app, "show", invoice).output
    assert "  cancel  all  refused  (" in run(app, "show", invoice).output


def test_show_prints_the_timeline_with_secrets_redacted(shop: Flask) -> None:
    invoice = pay(shop, 4500)
    sandbox_of(shop).wait_for_postlinks(10)
    forged = postlink_for(shop, invoice, 4500, genuine=False)
    shop.test_client().post("/halyk/postlink", json=forged)
    shown = run(shop, "show", invoice, "--bodies")
    assert shown.exit_code == 0, shown.output
    assert f"payment {invoice}: paid" in shown.output
    assert "4500.00 KZT" in shown.output and "client-7" in shown.output
    assert "offers      refund (up to 4500.00 KZT)" in shown.output
    assert "postlink" in shown.output and "applied" in shown.output
    assert "rejected" in shown.output
    assert forged["secret_hash"] not in shown.output and '"secret_hash": "***"' in shown.output
    as_json = json.loads(run(shop, "show", invoice, "--json").output)
    assert as_json["payment"]["status"] == "paid" and as_json["payment"]["can_refund"]
    verdicts = [e["verdict"] for e in as_json["timeline"] if e["kind"] == "postlink"]
    assert verdicts == ["applied", "rejected"]
    assert run(shop, "show", "100999999").exit_code == EXIT_REFUSED


def test_payments_lists_filters_pages_and_exports(shop: Flask) -> None:
    paid = pay(shop, 700)
    waiting = [new_payment(shop, "150") for _ in range(3)]
    listed = run(shop, "payments", "--limit", "2")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 3 and lines[-1].startswith("more: --after ")
    rest = run(shop, "payments", "--limit", "2", *lines[-1].removeprefix("more: ").split())
    shown = [line.split()[0] for line in lines[:2] + rest.output.splitlines()]
    assert sorted(shown) == sorted([paid, *waiting])
    only_paid = run(shop, "payments", "--status", "paid")
    assert only_paid.output.split()[0] == paid and len(only_paid.output.splitlines()) == 1
    assert run(shop, "payments", "--min-amount", "1000").output == "no payments\n"
    bad = run(shop, "payments", "--to", "yesterday")
    assert bad.exit_code == 2 and "--to" in bad.output
    exported = list(csv.DictReader(io.StringIO(run(shop, "payments", "--csv").output)))
    assert {row["invoice_id"] for row in exported} == {paid, *waiting}
    assert {row["amount"] for row in exported} == {"700.00", "150.00"}
