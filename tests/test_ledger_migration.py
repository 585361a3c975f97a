"""The real migration steps, from a ledger written by an older flask-halyk: version 1 (no
``token_expires_at``, no refund reservations) to the current one, data kept, and its old
payments expire (and refund) like new ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ledger_support import BACKENDS, close_shop, database_url, make_shop
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
)

from flask_halyk.errors import InvoiceIdInUse
from flask_halyk.ledger import Change, EventVerdict, Ledger, PaymentStatus
from flask_halyk.ledger.tables import (
    SCHEMA_VERSION,
    UTCDateTime,
    schema_version,
)
from flask_halyk.recovery import reconcile
from flask_halyk.state import get_state

S = PaymentStatus

# halyk_payments, halyk_events and halyk_invoice_counter as version 1 created them, frozen here
# (tables.py moves on). halyk_schema_version is unchanged since version 1; a version that
# changes it must freeze it here too.
V1 = MetaData()
schema_version.to_metadata(V1)
V1_COUNTER = Table(
    "halyk_invoice_counter", V1,
    Column("name", String(32), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
    Column("multiplier", BigInteger, nullable=False),
    Column("offset", BigInteger, nullable=False),
)
V1_EVENTS = Table(
    "halyk_events", V1,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("remote_addr", String(64)),
    Column("headers", Text, nullable=False, default="[]"),
    Column("body", LargeBinary, nullable=False),
    Column("invoice_id", String(15)),
    Column("transaction_id", String(64)),
    Column("verdict", String(16), nullable=False),
    Column("outcome", String(24)),
    Column("reason", Text),
    Column("processed_at", UTCDateTime),
    Index("ix_halyk_events_invoice", "invoice_id"),
    Index("ix_halyk_events_verdict", "verdict"),
)
V1_PAYMENTS = Table(
    "halyk_payments", V1,
    Column("invoice_id", String(15), primary_key=True),
    Column("invoice_suffix", String(6), nullable=False, unique=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("terminal", String(64), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("account_id", Text),
    Column("language", String(3)),
    Column("name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("status", String(24), nullable=False),
    Column("bank_status", String(24)),
    Column("transaction_id", String(64)),
    Column("card_mask", String(32)),
    Column("card_type", String(32)),
    Column("card_id", String(64)),
    Column("issuer", Text),
    Column("reference", String(64)),
    Column("approval_code", String(32)),
    Column("reason", Text),
    Column("reason_code", Integer),
    Column("charged_minor", BigInteger),
    Column("refunded_minor", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime),
    Index("ix_halyk_payments_status_created", "status", "created_at"),
    Index("ix_halyk_payments_created", "created_at"),
)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as made:
        yield made


def _v1_ledger(url: str, rows: list[dict[str, object]],
               event_rows: list[dict[str, object]] | None = None) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    old = Ledger(url)  # only its engine: nothing of today's schema is created
    try:
        with old.engine.begin() as conn:
            V1.create_all(conn)
            conn.execute(insert(schema_version).values(version=1, applied_at=datetime.now(UTC)))
            conn.execute(insert(V1_PAYMENTS), rows)
            if event_rows:
                conn.execute(insert(V1_EVENTS), event_rows)
    finally:
        old.dispose()


def _row(invoice_id: str, status: str, created_at: datetime,
         **more: object) -> dict[str, object]:
    more = {"account_id": None, "card_id": None, "card_mask": None, "card_type": None,
            "issuer": None, **more}
    return {**more, "invoice_id": invoice_id, "invoice_suffix": invoice_id[-6:],
            "amount_minor": 10000,
            "currency": "KZT", "terminal": "67e34d63-102f-4bd1-898e-370781d0074d",
            "description": "order", "status": status, "refunded_minor": 0,
            "transaction_id": "tx-1" if status == "paid" else None,
            "created_at": created_at, "updated_at": created_at,
            "paid_at": created_at if status == "paid" else None}


def test_a_version_1_ledger_is_migrated_and_keeps_its_payments(url: str) -> None:
    assert SCHEMA_VERSION == 7
    created = datetime(2024, 7, 29, 10, 50, 56, tzinfo=UTC)
    # An event a worker of version 1 left dispatching (it died mid-receiver): no lease.
    dying = {"id": 7, "received_at": created, "kind": "postlink", "headers": "[]",
             "body": b"{}", "invoice_id": "100000002", "verdict": "dispatching",
             "outcome": "succeeded", "processed_at": created}
    _v1_ledger(url, [_row("100000001", "new", created), _row("100000002", "paid", created)],
               [dying])
    ledger = Ledger(url)
    try:
        assert ledger.init_db() == SCHEMA_VERSION
        with ledger.engine.connect() as conn:
            history = conn.execute(select(schema_version.c.version)
                                   .order_by(schema_version.c.version)).scalars().all()
            columns = {c["name"] for c in inspect(conn).get_columns("halyk_payments")}
            columns |= {c["name"] for c in inspect(conn).get_columns("halyk_events")}
        assert history == [1, 2, 3, 4, 5, 6, 7]
        assert {"token_expires_at", "refund_pending_minor", "refund_pending_until", "claim",
                "lease_until", "card_save"} <= columns
        # Its claim has no lease: it counts as lapsed once it is older than the cutoff given.
        old_event = ledger.get_event(7)
        assert old_event is not None and old_event.lease_until is None
        assert ledger.claim_dispatch(7, unleased_before=created) is None
        claim = ledger.claim_dispatch(7, unleased_before=created + timedelta(minutes=10))
        assert claim is not None and ledger.end_claim(7, claim, EventVerdict.APPLIED)
        old_new, old_paid = ledger.get("100000001"), ledger.get("100000002")
        assert old_new is not None and old_paid is not None
        assert (old_new.status, old_new.token_expires_at, old_new.created_at) == (
            S.NEW, None, created)
        assert old_paid.status is S.PAID and old_paid.can_refund
        # An old payment has no refund in flight: all of it may be reserved, and released.
        _, reserved = ledger.reserve_refund("100000002", None, lease=timedelta(minutes=1))
        assert reserved == Decimal(100)
        ledger.release_refund("100000002", reserved)
        # Written to like a fresh one: a token expiry, a new payment beside the old ones.
        noted = ledger.record_token("100000001", created + timedelta(hours=2))
        assert noted.token_expires_at == created + timedelta(hours=2)
        fresh = ledger.create_payment(invoice_id=None, amount=5, currency="KZT", terminal="t")
        assert ledger.get(fresh.invoice_id) == fresh
        assert ledger.init_db() == SCHEMA_VERSION  # again: nothing more to do
    finally:
        ledger.dispose()


def test_old_abandoned_payments_expire_after_the_migration(url: str, tmp_path: Path) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=3)
    recent = datetime.now(UTC) - timedelta(hours=5)
    _v1_ledger(url, [_row("100000011", "new", long_ago), _row("100000012", "new", recent)])
    app = make_shop(url, tmp_path)  # the ledger migrates on first use
    try:
        with app.app_context():
            report = reconcile(get_state())
        # No token expiry on record: created_at + the bank's 2 h + the 24 h grace decides.
        assert report.changes == {"100000011": Change.EXPIRED}
        assert (report.checked, report.expired, report.not_found) == (2, 1, 1)
        ledger = app.extensions["halyk"].ledger
        assert ledger.get("100000011").status is S.EXPIRED
        assert ledger.get("100000012").status is S.NEW
    finally:
        close_shop(app)


def test_version_5_keeps_the_cards_old_payments_saved(url: str) -> None:
    """The cards of paid payments with an account and a cardId become saved cards; a failed
    payment's, or one without an account, do not."""
    created = datetime(2024, 7, 29, 10, 50, 56, tzinfo=UTC)
    card = {"card_id": "11f1111b-f151-6f11-e161-1111010a2111", "card_mask": "440563...5096",
            "card_type": "VISA", "issuer": "JSC HALYK BANK"}
    _v1_ledger(url, [
        _row("100000021", "paid", created, account_id="customer-1", **card),
        _row("100000022", "paid", created, card_id="22f2c5db-64d8-475f-8066-af3de3dc8233"),
        _row("100000023", "failed", created, account_id="customer-1",
             card_id="33f2c5db-64d8-475f-8066-af3de3dc8233"),
    ])
    ledger = Ledger(url)
    try:
        assert ledger.init_db() == SCHEMA_VERSION
        saved = ledger.cards("customer-1")
        assert [(c.card_id, c.card_mask, c.card_type, c.invoice_id, c.is_active)
                for c in saved] == [(card["card_id"], "440563...5096", "VISA", "100000021",
                                     True)]
        assert ledger.card("22f2c5db-64d8-475f-8066-af3de3dc8233") is None
        assert ledger.init_db() == SCHEMA_VERSION
    finally:
        ledger.dispose()


def test_version_7_scopes_suffixes_per_terminal_and_keeps_every_id(url: str) -> None:
    """The old unique index on the suffix alone gives way to one per (suffix, terminal); every
    id is kept, each old payment's scope is its terminal, and the ledger's counter goes on for
    the terminal that took most of its ids (never repeating one of their suffixes)."""
    created = datetime(2024, 7, 29, 10, 50, 56, tzinfo=UTC)
    a, b = "67e34d63-102f-4bd1-898e-370781d0074d", "d9d7978c-d6ee-4ec0-8cda-165251a4bf16"
    rows = [_row("100000031", "paid", created), _row("100000032", "new", created),
            {**_row("100000033", "new", created), "terminal": b}]
    _v1_ledger(url, rows)
    old = Ledger(url)
    try:
        with old.engine.begin() as conn:
            conn.execute(insert(V1_COUNTER).values(name="invoice", next_value=3,
                                                   multiplier=7, offset=31))
    finally:
        old.dispose()
    ledger = Ledger(url)
    try:
        assert ledger.init_db() == SCHEMA_VERSION
        assert [p.invoice_id for p in ledger.query(limit=10)] == [
            "100000033", "100000032", "100000031"]
        with ledger.engine.connect() as conn:
            found = inspect(conn)
            unique = [(i["name"], i["column_names"])
                      for i in found.get_indexes("halyk_payments") if i["unique"]]
            unique += [(c["name"], c["column_names"])
                       for c in found.get_unique_constraints("halyk_payments")]
            scopes = dict(conn.execute(text(
                "SELECT invoice_id, suffix_scope FROM halyk_payments")).all())
        assert unique == [("ux_halyk_payments_suffix_scope", ["invoice_suffix", "suffix_scope"])]
        assert scopes == {"100000031": a, "100000032": a, "100000033": b}
        assert {(c.terminal, c.ordinal, c.used) for c in ledger.invoice_capacity()} == {
            (a, 0, 3)}
        # Terminal a's counter goes on where the ledger's stopped: value 3, same key.
        fresh = ledger.create_payment(invoice_id=None, amount=5, currency="KZT", terminal=a)
        assert fresh.invoice_id == f"100{(3 * 7 + 31) % 10**6:06d}"
        # An old suffix: refused on its own terminal, free on another.
        with pytest.raises(InvoiceIdInUse):
            ledger.create_payment(invoice_id="900000031", amount=5, currency="KZT", terminal=a)
        other = ledger.create_payment(invoice_id="900000031", amount=5, currency="KZT",
                                      terminal=b)
        assert other.invoice_id == "900000031"
        assert ledger.init_db() == SCHEMA_VERSION
    finally:
        ledger.dispose()
