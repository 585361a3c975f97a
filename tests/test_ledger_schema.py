"""The ledger's database: created on first use (SQLite in the instance folder, WAL mode),
versioned, migrated step by step from an older version, refused when newer; and the shop's
view of it through ``halyk.ledger``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from ledger_support import BACKENDS, database_url
from sqlalchemy import Connection, insert, inspect, select, text

from flask_halyk import HalykEpay
from flask_halyk.errors import ConfigurationError
from flask_halyk.ledger import BankReport, Ledger, PaymentStatus, schema
from flask_halyk.ledger.tables import SCHEMA_VERSION, schema_version

S = PaymentStatus


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as made:
        yield made


def versions(ledger: Ledger) -> list[int]:
    with ledger.engine.connect() as conn:
        return list(conn.execute(select(schema_version.c.version)
                                 .order_by(schema_version.c.version)).scalars())


def test_the_default_ledger_is_created_on_first_use_in_wal_mode(tmp_path: Path) -> None:
    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config["SECRET_KEY"] = "k"
    halyk = HalykEpay(app)
    path = tmp_path / "instance" / "halyk.sqlite3"
    with app.app_context():
        assert halyk.ledger.get("123456789") is None  # first use: the file and tables appear
        made = halyk.ledger.create_payment(invoice_id=None, amount=Decimal(5),
                                             currency="KZT", terminal="t")
    try:
        assert path.is_file()
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
            assert {"halyk_payments", "halyk_events", "halyk_invoice_counter",
                    "halyk_schema_version"} <= tables
            assert raw.execute("SELECT invoice_id FROM halyk_payments").fetchall() == [
                (made.invoice_id,)]
    finally:
        app.extensions["halyk"].ledger.dispose()
        app.extensions["halyk"].client.close()


def test_the_shop_reads_payments_by_id_status_and_date(tmp_path: Path) -> None:
    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config["SECRET_KEY"] = "k"
    halyk = HalykEpay(app)
    try:
        with app.app_context():
            ledger = halyk.ledger
            start = datetime.now(UTC) - timedelta(seconds=1)
            one = ledger.create_payment(invoice_id=None, amount=Decimal(5), currency="KZT",
                                        terminal="t", description="tea").invoice_id
            two = ledger.create_payment(invoice_id=None, amount=Decimal(7), currency="KZT",
                                        terminal="t").invoice_id
            ledger.apply(one, BankReport(S.PAID, transaction_id="tr-1", card_mask="4405...5096"))
            record = halyk.ledger.get(one)
            assert record is not None and record.status is S.PAID
            assert (record.amount, record.description, record.card_mask) == (
                Decimal("5.00"), "tea", "4405...5096")
            assert [p.invoice_id for p in halyk.ledger.query(status="paid")] == [one]
            assert [p.invoice_id for p in halyk.ledger.query(status=S.NEW, since=start)] == [
                two]
            assert halyk.ledger.query(until=start) == []
    finally:
        app.extensions["halyk"].ledger.dispose()
        app.extensions["halyk"].client.close()


def test_a_newer_schema_is_refused(url: str) -> None:
    Ledger(url).init_db()
    future = Ledger(url)
    with future.engine.begin() as conn:
        conn.execute(insert(schema_version).values(version=SCHEMA_VERSION + 1,
                                                   applied_at=datetime.now(UTC)))
    try:
        with pytest.raises(ConfigurationError, match="newer than this flask-halyk"):
            Ledger(url).init_db()
        with pytest.raises(ConfigurationError):
            Ledger(url).get("123456789")  # first use checks too
    finally:
        future.dispose()


def _add_note_column(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE halyk_payments ADD COLUMN note TEXT"))
    conn.execute(text("UPDATE halyk_payments SET note = 'migrated'"))


def test_an_older_schema_is_migrated_step_by_step_once(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old = Ledger(url)
    kept = old.create_payment(invoice_id=None, amount=Decimal(5), currency="KZT", terminal="t")
    old.dispose()
    steps: list[int] = []

    def step(conn: Connection) -> None:
        steps.append(SCHEMA_VERSION + 1)
        _add_note_column(conn)

    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, SCHEMA_VERSION + 1, step)
    upgraded = Ledger(url)
    try:
        assert upgraded.init_db() == SCHEMA_VERSION + 1
        assert upgraded.init_db() == SCHEMA_VERSION + 1
        assert steps == [SCHEMA_VERSION + 1]  # once, however often init runs
        assert versions(upgraded) == [SCHEMA_VERSION, SCHEMA_VERSION + 1]
        with upgraded.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("halyk_payments")}
            notes = conn.execute(text("SELECT note FROM halyk_payments")).scalars().all()
        assert "note" in columns and notes == ["migrated"]
        assert upgraded.get(kept.invoice_id) == kept  # the data survived the step
    finally:
        upgraded.dispose()


def test_a_missing_migration_step_is_a_clear_error(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    Ledger(url).init_db()
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(ConfigurationError, match=f"from schema version {SCHEMA_VERSION} to"):
        Ledger(url).init_db()
