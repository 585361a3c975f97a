"""Moving a ledger from the embedded SQLite file to another database (PostgreSQL, or another
SQLite file) with ``flask halyk copy-ledger``: every row kept, the invoice key kept, ids and
events carry on after the move."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from ledger_support import BACKENDS, close_shop, database_url, make_shop, postlink_for
from sqlalchemy import select

from flask_halyk.errors import ConfigurationError
from flask_halyk.ledger import BankReport, EventVerdict, Ledger, PaymentStatus
from flask_halyk.ledger.tables import invoice_counter
from flask_halyk.ledger.transfer import copy_ledger

S = PaymentStatus


@pytest.fixture
def old_ledger(tmp_path: Path) -> Iterator[Ledger]:
    """The embedded SQLite ledger a shop has been running on: payments in several states,
    events of every kind, allocated ids."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'old' / 'halyk.sqlite3'}")
    made = [ledger.create_payment(invoice_id=None, amount=Decimal("100.50"), currency="KZT",
                                  terminal="term", description=f"order {n}", email="a@b.kz")
            for n in range(4)]
    ledger.create_payment(invoice_id="555000111", amount=Decimal(5), currency="KZT",
                          terminal="term")
    body = json.dumps({"invoiceId": made[0].invoice_id}).encode()
    event = ledger.record_event(kind="postlink", body=body, headers=[("X-A", "1")],
                                remote_addr="10.0.0.1")
    ledger.apply(made[0].invoice_id, BankReport(S.PAID, transaction_id="tr-0"), event_id=event)
    ledger.judge_event(event, EventVerdict.APPLIED)
    ledger.record_event(kind="postlink", body=b"\xff not json", verdict=EventVerdict.MALFORMED,
                        reason="not json")
    ledger.apply(made[1].invoice_id, BankReport(S.FAILED, reason_code=484))
    ledger.record_refund(made[0].invoice_id, Decimal("20.25"))
    yield ledger
    ledger.dispose()


@pytest.fixture(params=BACKENDS)
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path / "new") as url:
        yield url


def snapshot(ledger: Ledger) -> tuple[list, list, tuple]:
    with ledger.engine.connect() as conn:
        counter = tuple(conn.execute(select(invoice_counter)).one())
    return ledger.query(limit=1000), ledger.events(), counter


def test_copy_keeps_every_row_and_the_invoice_key(old_ledger: Ledger, new_url: str) -> None:
    new = Ledger(new_url)
    try:
        copied = copy_ledger(old_ledger, new)
        assert copied["halyk_payments"] == 5 and copied["halyk_events"] == 2
        assert snapshot(new) == snapshot(old_ledger)
        # Carrying on: the allocator continues the old sequence under the old key, so no
        # suffix repeats, and new events get fresh ids after the copied ones.
        before = {p.invoice_id[-6:] for p in old_ledger.query(limit=1000)}
        after = [new.create_payment(invoice_id=None, amount=Decimal(1), currency="KZT",
                                    terminal="term").invoice_id for _ in range(20)]
        assert not {i[-6:] for i in after} & before
        fresh = new.record_event(kind="postlink", body=b"{}")
        assert fresh > max(e.id for e in old_ledger.events())
        refunded = new.get(old_ledger.query(status=S.PARTIALLY_REFUNDED)[0].invoice_id)
        assert refunded is not None and refunded.refundable_amount == Decimal("80.25")
    finally:
        new.dispose()


def test_copy_refuses_a_ledger_in_use_and_changes_nothing(old_ledger: Ledger,
                                                         new_url: str) -> None:
    new = Ledger(new_url)
    try:
        mine = new.create_payment(invoice_id=None, amount=Decimal(1), currency="KZT",
                                  terminal="term")
        before = snapshot(new)
        with pytest.raises(ConfigurationError, match="already holds 1"):
            copy_ledger(old_ledger, new)
        assert snapshot(new) == before and new.get(mine.invoice_id) == mine
    finally:
        new.dispose()


def test_the_command_moves_a_shop_and_it_keeps_working(
        old_ledger: Ledger, new_url: str, tmp_path: Path) -> None:
    app: Flask = make_shop(new_url, tmp_path)  # its ledger is not touched before the copy
    config = app.extensions["halyk"].config
    pending = old_ledger.create_payment(invoice_id=None, amount=Decimal(100),
                                        currency=config.currency,
                                        terminal=config.terminal_id).invoice_id
    old_url = old_ledger.url
    old_ledger.dispose()
    try:
        runner = app.test_cli_runner()
        moved = runner.invoke(args=["halyk", "copy-ledger", old_url])
        assert moved.exit_code == 0, moved.output
        assert "6 halyk_payments" in moved.output and "2 halyk_events" in moved.output
        again = runner.invoke(args=["halyk", "copy-ledger", old_url])
        assert again.exit_code == 1 and "copy into an empty one" in again.output
        wrong = runner.invoke(args=["halyk", "copy-ledger", "sqlite://"])
        assert wrong.exit_code == 2
        # A source that cannot be reached: the typed error, no traceback, no password.
        down = runner.invoke(args=["halyk", "copy-ledger",
                                   "postgresql+psycopg://halyk:s3cret@127.0.0.1:9/none"])
        assert down.exit_code == 1 and "cannot be used" in down.output, down.output
        assert "Traceback" not in down.output and "s3cret" not in down.output
        # A postLink for a payment made before the move lands in the new ledger.
        answer = app.test_client().post("/halyk/postlink",
                                        json=postlink_for(app, pending, 100))
        assert answer.status_code == 200, answer.get_json()
        assert app.extensions["halyk"].ledger.get(pending).status is S.PAID
    finally:
        close_shop(app)
