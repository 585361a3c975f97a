"""The back office's reads (ledger/listing.py): filters, keyset pages, the timeline with its
secrets redacted, the events that need a look, the streamed CSV; and schema version 4."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ledger_support import BACKENDS, database_url
from sqlalchemy import delete, inspect, select, text

from flask_halyk.errors import PaymentNotFound
from flask_halyk.ledger import BankReport, EventVerdict, Ledger, PaymentFilter, PaymentStatus
from flask_halyk.ledger.listing import CSV_COLUMNS, FilterError, decode_cursor, redacted_body
from flask_halyk.ledger.rows import card_last4
from flask_halyk.ledger.tables import SCHEMA_VERSION, payments, schema_version

S = PaymentStatus
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    with database_url(request.param, tmp_path) as url:
        ledger = Ledger(url)
        yield ledger
        ledger.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def seed(ledger: Ledger) -> list[str]:
    """Twelve payments a minute apart (two share a minute), of 100..1200 tenge; every third
    paid with a card, accounts alternating a/b."""
    clock = Clock()
    ledger.clock = clock
    made = []
    for i in range(12):
        clock.now = START + timedelta(minutes=min(i, 10))  # payments 10 and 11 tie
        record = ledger.create_payment(invoice_id=None, amount=Decimal(100 * (i + 1)),
                                       currency="KZT", terminal="t", description=f"order {i}",
                                       account_id="ab"[i % 2])
        if i % 3 == 0:
            ledger.apply(record.invoice_id, BankReport(
                S.PAID, transaction_id=f"tx{i}", card_mask=f"440043...{1000 + i}"))
        made.append(record.invoice_id)
    return made


def newest_first(ledger: Ledger, invoice_ids: list[str]) -> list[str]:
    records = [ledger.get(i) for i in invoice_ids]
    ordered = sorted(records, key=lambda r: (r.created_at, r.invoice_id),  # type: ignore
                     reverse=True)
    return [r.invoice_id for r in ordered]  # type: ignore[union-attr]


def walk(ledger: Ledger, filter: PaymentFilter | None, limit: int) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = ledger.list_payments(filter, after=after, limit=limit)
        pages.append([p.invoice_id for p in page.payments])
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


def test_keyset_pages_cover_every_payment_once_newest_first(ledger: Ledger) -> None:
    made = seed(ledger)
    pages = walk(ledger, None, limit=5)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [i for page in pages for i in page] == newest_first(ledger, made)
    # A payment arriving between pages does not shift the next one (no offset).
    first = ledger.list_payments(limit=5)
    ledger.clock.now = START + timedelta(hours=1)  # type: ignore[attr-defined]
    ledger.create_payment(invoice_id=None, amount=5, currency="KZT", terminal="t")
    second = ledger.list_payments(after=first.next_cursor, limit=5)
    assert [p.invoice_id for p in second.payments] == pages[1]


def test_each_filter(ledger: Ledger) -> None:
    made = seed(ledger)

    def ids(**kwargs: object) -> set[str]:
        return {p.invoice_id for p in ledger.list_payments(PaymentFilter(**kwargs),  # type: ignore[arg-type]
                                                             limit=100).payments}

    paid = {made[i] for i in (0, 3, 6, 9)}
    assert ids(status=(S.PAID,)) == paid
    assert ids(status=(S.PAID, S.NEW)) == set(made)
    assert ids(created_from=START + timedelta(minutes=2),
               created_until=START + timedelta(minutes=4)) == {made[2], made[3]}
    assert ids(amount_min=Decimal(300), amount_max=Decimal("500.00")) == set(made[2:5])
    assert ids(invoice_id=made[4]) == {made[4]}
    assert ids(invoice_prefix=made[4]) == {made[4]}
    assert ids(invoice_prefix="100") == set(made)
    assert ids(invoice_prefix="999") == set()
    assert ids(account_id="a") == set(made[0::2])
    assert ids(card_mask="440043...1003") == {made[3]}
    assert ids(card_mask="1006") == {made[6]}
    assert ids(status=(S.PAID,), account_id="b") == {made[3], made[9]}
    # Filters and pages together.
    assert [i for page in walk(ledger, PaymentFilter(account_id="b"), limit=2) for i in page] == \
        newest_first(ledger, made[1::2])


def test_bad_cursors_and_filters_are_value_errors(ledger: Ledger) -> None:
    for cursor in ("", "nonsense", "20260301T090000.000000_abc", "x_100000001"):
        with pytest.raises(ValueError):
            ledger.list_payments(after=cursor)
    with pytest.raises(ValueError):
        PaymentFilter(invoice_prefix="1%")
    with pytest.raises(ValueError):
        PaymentFilter(created_from=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        PaymentFilter(status=("bogus",))  # type: ignore[arg-type]
    assert decode_cursor("20260301T090000.000001_100000001") == (
        START.replace(microsecond=1), "100000001")


def test_the_csv_streams_every_row_with_the_banks_amounts(ledger: Ledger) -> None:
    made = seed(ledger)
    ledger.clock.now = START + timedelta(hours=1)  # type: ignore[attr-defined]
    ledger.create_payment(invoice_id=None, amount=Decimal("45000.5"), currency="KZT",
                          terminal="t", description="=HYPERLINK(\"http://evil\")")
    chunks = list(ledger.export_csv(PaymentFilter(), batch=4))
    assert len(chunks) == 1 + 4  # the header, then 13 rows in batches of 4
    rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert tuple(rows[0]) == CSV_COLUMNS
    column = {name: i for i, name in enumerate(CSV_COLUMNS)}
    assert [r[0] for r in rows[2:]] == newest_first(ledger, made)
    assert rows[1][column["amount"]] == "45000.50"
    assert rows[1][column["description"]].startswith("'=HYPERLINK")
    assert rows[-1][column["amount"]] == "100.00" and rows[-1][column["status"]] == "paid"
    assert rows[-1][column["card_mask"]] == "440043...1000"
    only_paid = list(csv.reader(io.StringIO("".join(
        ledger.export_csv(PaymentFilter(status=(S.PAID,)))))))
    assert len(only_paid) == 1 + 4


def test_the_timeline_shows_events_with_secrets_redacted(ledger: Ledger) -> None:
    invoice = ledger.create_payment(invoice_id=None, amount=100, currency="KZT",
                                    terminal="t").invoice_id
    body = json.dumps({"invoiceId": invoice, "code": "ok", "secret_hash": "s3cr3t-hash-value",
                       "nested": {"password": "hunter22"}}).encode()
    refused = ledger.record_event(kind="postlink", body=body,
                                  headers=[("Authorization", "Bearer abcdef"),
                                           ("Content-Type", "application/json")])
    ledger.judge_event(refused, EventVerdict.REJECTED, reason="secret_hash does not match",
                       invoice_id=invoice)
    good = ledger.record_event(kind="postlink",
                               body=f"invoiceId={invoice}&secret_hash=abcdef123".encode())
    ledger.apply(invoice, BankReport(S.PAID, transaction_id="t1"), event_id=good)
    ledger.record_refund(invoice, Decimal(40))
    timeline = ledger.timeline(invoice)
    assert timeline.payment.status is S.PARTIALLY_REFUNDED
    kinds = [e.kind for e in timeline.entries]
    assert kinds[0] == "created" and kinds.count("postlink") == 2
    assert "succeeded" in kinds
    first = next(e for e in timeline.entries if e.event_id == refused)
    assert first.verdict is EventVerdict.REJECTED
    assert first.reason == "secret_hash does not match"
    assert first.body is not None
    assert "s3cr3t" not in first.body and "hunter22" not in first.body
    assert json.loads(first.body)["secret_hash"] == "***"
    assert ("Authorization", "***") in first.headers
    second = next(e for e in timeline.entries if e.event_id == good)
    assert second.verdict is EventVerdict.DISPATCHING and "abcdef123" not in (second.body or "")
    assert [e.at for e in timeline.entries] == sorted(e.at for e in timeline.entries)
    # The refund recorded on the payment is in the journal too: each call its own line.
    ledger.note_operation(invoice, "refund", Decimal(9000), "refused", "only 60 is left")
    operations = [(e.kind, e.amount, e.result, e.reason)
                  for e in ledger.timeline(invoice).entries if e.result is not None]
    assert operations == [("refund", Decimal(40), "accepted", None),
                          ("refund", Decimal(9000), "refused", "only 60 is left")]
    with pytest.raises(PaymentNotFound):
        ledger.timeline("100999999")
    with pytest.raises(PaymentNotFound):
        ledger.timeline("not-an-id")


def test_redacted_body_of_anything() -> None:
    assert redacted_body(b"\xff\xfe secret_hash=zzzz1234") == "\ufffd\ufffd secret_hash=***"
    assert redacted_body(b"[1, 2]") == "[\n  1,\n  2\n]"
    assert redacted_body(b'"client_secret=abcd1234"') == '"client_secret=***"'


def test_attention_events_are_the_refused_ones_newest_first(ledger: Ledger) -> None:
    ids = []
    for verdict in (EventVerdict.REJECTED, EventVerdict.APPLIED, EventVerdict.DEFERRED,
                    EventVerdict.REJECTED):
        ids.append(ledger.record_event(kind="postlink", body=b"{}", verdict=verdict,
                                       reason=f"because {verdict}"))
    page = ledger.attention_events(limit=2)
    assert [e.id for e in page.events] == [ids[3], ids[2]]
    rest = ledger.attention_events(limit=2, before=page.next_before)
    assert [e.id for e in rest.events] == [ids[0]] and rest.next_before is None
    assert [e.id for e in ledger.attention_events(verdicts=["applied"]).events] == [ids[1]]


def test_a_version_3_ledger_gets_the_card_digits_and_indexes(ledger: Ledger) -> None:
    ledger.init_db()
    new_indexes = {"ix_halyk_payments_account_created", "ix_halyk_payments_card_created"}
    made = [ledger.create_payment(invoice_id=None, amount=100, currency="KZT", terminal="t")
            for _ in range(3)]
    # Make it the ledger version 3 left: the same tables without what versions 4, 5 and 7
    # added (7: the suffix scope and its index, the counters' terminal, ordinal and warning;
    # the unique index on the suffix alone back).
    with ledger.engine.begin() as conn:
        for name in (*new_indexes, "ux_halyk_payments_suffix_scope",
                     "ux_halyk_invoice_counter_terminal"):
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("ALTER TABLE halyk_payments DROP COLUMN suffix_scope"))
        for column in ("terminal", "ordinal", "warned"):
            conn.execute(text(f"ALTER TABLE halyk_invoice_counter DROP COLUMN {column}"))
        conn.execute(text("CREATE UNIQUE INDEX ix_v3_suffix ON halyk_payments (invoice_suffix)"))
        conn.execute(text("ALTER TABLE halyk_payments DROP COLUMN card_last4"))
        conn.execute(text("ALTER TABLE halyk_payments DROP COLUMN card_save"))
        conn.execute(text("DROP TABLE halyk_operations"))
        conn.execute(text("DROP TABLE halyk_cards"))
        conn.execute(delete(schema_version))
        conn.execute(schema_version.insert(), [
            {"version": v, "applied_at": START} for v in (1, 2, 3)])
        for record, mask in zip(made, ("440043...3232", "4400-43XX-XXXX-12X4", None),
                                strict=True):
            conn.execute(text("UPDATE halyk_payments SET card_mask = :mask "
                              "WHERE invoice_id = :invoice"),
                         {"mask": mask, "invoice": record.invoice_id})
    assert ledger.init_db() == SCHEMA_VERSION
    with ledger.engine.connect() as conn:
        found = {i["name"] for i in inspect(conn).get_indexes(payments.name)}
        history = conn.execute(select(schema_version.c.version)
                               .order_by(schema_version.c.version)).scalars().all()
        digits = dict(conn.execute(select(payments.c.invoice_id, payments.c.card_last4)).all())
        tables = set(inspect(conn).get_table_names())
    assert new_indexes <= found
    assert history == list(range(1, SCHEMA_VERSION + 1))
    assert {"halyk_operations", "halyk_cards"} <= tables
    ledger.record_cancel(made[0].invoice_id)  # journaled in the new table
    assert [j.operation for j in ledger.journal(made[0].invoice_id)] == ["cancel"]
    assert digits == {made[0].invoice_id: "3232", made[1].invoice_id: None,
                      made[2].invoice_id: None}
    assert [p.invoice_id for p in ledger.list_payments(PaymentFilter(card_mask="3232")
                                                        ).payments] == [made[0].invoice_id]
    assert ledger.init_db() == SCHEMA_VERSION


def test_card_digits_of_any_mask() -> None:
    assert card_last4("440043...3232") == "3232"
    assert [card_last4(m) for m in (None, "", "123", "12X4", "\uff14" * 4)] == [None] * 5


def test_a_filter_from_what_a_person_typed() -> None:
    parsed = PaymentFilter.parse(status=["paid", ""], created_from="2026-03-01",
                                 created_to="2026-03-05", amount_min="1 000,50",
                                 amount_max="", invoice=" 1004 ", account_id="  ", card="3232")
    assert parsed == PaymentFilter(
        status=(S.PAID,), created_from=datetime(2026, 3, 1, tzinfo=UTC),
        created_until=datetime(2026, 3, 6, tzinfo=UTC), amount_min=Decimal("1000.50"),
        invoice_prefix="1004", card_mask="3232")
    assert PaymentFilter.parse(created_from="2026-03-01T10:00:00+05:00").created_from == \
        datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert PaymentFilter.parse() == PaymentFilter()
    almaty = ZoneInfo("Asia/Almaty")  # UTC+5: its 1 March starts at 19:00 UTC the day before
    in_almaty = PaymentFilter.parse(created_from="2026-03-01", created_to="2026-03-01",
                                    zone=almaty)
    assert (in_almaty.created_from, in_almaty.created_until) == (
        datetime(2026, 2, 28, 19, tzinfo=UTC), datetime(2026, 3, 1, 19, tzinfo=UTC))
    for kwargs, field in (({"status": ["bogus"]}, "status"), ({"invoice": "12a"}, "invoice"),
                          ({"created_to": "05.03.2026"}, "created_to"),
                          ({"amount_min": "lots"}, "amount_min"),
                          ({"amount_max": "-5"}, "amount_max")):
        with pytest.raises(FilterError) as refused:
            PaymentFilter.parse(**kwargs)  # type: ignore[arg-type]
        assert refused.value.field == field
