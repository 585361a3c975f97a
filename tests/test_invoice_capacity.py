"""Invoice suffixes unique per terminal (or across the ledger, the strict reading): each
terminal's own counter, the warning at 80 % and 95 % (once each), a clear error when a
terminal's suffixes are spent, allocation across terminals under concurrency, and the capacity
command. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from ledger_support import BACKENDS, close_shop, database_url, make_shop
from sqlalchemy import select, update

from flask_halyk import InvoiceCapacity, signals
from flask_halyk.errors import ConfigurationError, InvoiceIdExhausted, InvoiceIdInUse
from flask_halyk.invoices import SUFFIX_SPACE, invoice_for
from flask_halyk.ledger import Ledger, PaymentRecord
from flask_halyk.ledger.tables import invoice_counter

A = "67e34d63-102f-4bd1-898e-370781d0074d"
B = "d9d7978c-d6ee-4ec0-8cda-165251a4bf16"


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as made:
        yield made


@pytest.fixture
def ledger(url: str) -> Iterator[Ledger]:
    made = Ledger(url)
    try:
        yield made
    finally:
        made.dispose()


def new(ledger: Ledger, terminal: str, invoice_id: str | None = None) -> PaymentRecord:
    return ledger.create_payment(invoice_id=invoice_id, amount=Decimal(100), currency="KZT",
                                 terminal=terminal, description="order")


def seed(ledger: Ledger, terminal: str, used: int) -> None:
    """Move ``terminal``'s counter as if ``used`` ids had been handed out."""
    with ledger.engine.begin() as conn:
        conn.execute(update(invoice_counter).where(invoice_counter.c.terminal == terminal)
                     .values(next_value=used))


def test_each_terminal_has_its_own_suffixes(ledger: Ledger) -> None:
    first_a, first_b = new(ledger, A), new(ledger, B)
    # The first terminal takes the ledger's first counter (ids prefix + 6 digits), the next
    # one a counter of its own whose ids carry its number: full ids never meet.
    assert len(first_a.invoice_id) == 9 and first_a.invoice_id.startswith("100")
    assert len(first_b.invoice_id) == 10 and first_b.invoice_id.startswith("1001")
    counters = {c.terminal: c for c in ledger.invoice_capacity()}
    assert {t: (c.ordinal, c.used, c.left) for t, c in counters.items()} == {
        A: (0, 1, SUFFIX_SPACE - 1), B: (1, 1, SUFFIX_SPACE - 1)}
    # A suffix in use on A may be given on B, not on A again.
    same_suffix = "777" + first_a.invoice_id[-6:]
    assert new(ledger, B, same_suffix).invoice_id == same_suffix
    with pytest.raises(InvoiceIdInUse, match="terminal"):
        new(ledger, A, "555" + first_a.invoice_id[-6:])
    with pytest.raises(InvoiceIdInUse):  # the same full id, whatever the terminal
        new(ledger, A, same_suffix)


def test_the_strict_reading_keeps_suffixes_unique_across_the_ledger(url: str) -> None:
    ledger = Ledger(url, suffix_scope="ledger")
    try:
        ids = [new(ledger, t).invoice_id for t in (A, B, A, B)]
        assert all(len(i) == 9 for i in ids) and len({i[-6:] for i in ids}) == 4
        with pytest.raises(InvoiceIdInUse, match="in the ledger"):
            new(ledger, B, "777" + ids[0][-6:])
        [counter] = ledger.invoice_capacity()
        assert (counter.ordinal, counter.used) == (0, 4)
    finally:
        ledger.dispose()
    # A ledger switched to the strict reading also refuses a suffix written per terminal.
    loose = Ledger(url)
    try:
        taken = new(loose, B, "888123456")
    finally:
        loose.dispose()
    strict = Ledger(url, suffix_scope="ledger")
    try:
        with pytest.raises(InvoiceIdInUse):
            new(strict, A, "999" + taken.invoice_id[-6:])
    finally:
        strict.dispose()


def test_near_exhaustion_warns_at_80_and_95_percent_once_then_fails_clearly(
        ledger: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    heard: list[InvoiceCapacity] = []
    ledger.on_capacity = heard.append
    new(ledger, A)
    new(ledger, B)
    seed(ledger, A, SUFFIX_SPACE * 80 // 100 - 2)
    new(ledger, A)  # 799,999 used: not yet
    assert heard == []
    with caplog.at_level(logging.WARNING, "flask_halyk.ledger"):
        new(ledger, A)  # the 800,000th
        new(ledger, A)
    assert [(c.terminal, c.used, c.left) for c in heard] == [(A, 800_000, 200_000)]
    assert [r.getMessage() for r in caplog.records] == [
        f"flask-halyk: 80 % of the invoice suffixes of terminal {A!r} are used (200000 left): "
        "ask the bank for a further terminal before they run out (docs/ledger.md)."]
    seed(ledger, A, SUFFIX_SPACE * 95 // 100 - 1)
    new(ledger, A)
    new(ledger, A)
    assert [c.used for c in heard] == [800_000, 950_000]
    seed(ledger, A, SUFFIX_SPACE - 1)
    last = new(ledger, A)  # the last suffix: no third warning
    assert len(heard) == 2
    with ledger.engine.connect() as conn:
        key = conn.execute(select(invoice_counter.c.multiplier, invoice_counter.c.offset)
                           .where(invoice_counter.c.terminal == A)).one()
    assert last.invoice_id == invoice_for(SUFFIX_SPACE - 1, key[0], key[1], "100")
    with pytest.raises(InvoiceIdExhausted, match=f"terminal '{A}' are used.*further terminal"):
        new(ledger, A)
    assert new(ledger, B).terminal == B  # the other terminal goes on
    capacity = {c.terminal: c.left for c in ledger.invoice_capacity()}
    assert capacity == {A: 0, B: SUFFIX_SPACE - 2}


def test_the_strict_reading_fails_with_its_own_advice(url: str) -> None:
    ledger = Ledger(url, suffix_scope="ledger")
    try:
        new(ledger, A)
        with ledger.engine.begin() as conn:
            conn.execute(update(invoice_counter).values(next_value=SUFFIX_SPACE))
        with pytest.raises(InvoiceIdExhausted, match="HALYK_INVOICE_SUFFIX_SCOPE = 'terminal'"):
            new(ledger, B)
    finally:
        ledger.dispose()


def test_a_prefix_with_no_room_for_a_terminal_number_is_a_clear_error(url: str) -> None:
    ledger = Ledger(url, invoice_prefix="123456789")
    try:
        assert len(new(ledger, A).invoice_id) == 15
        with pytest.raises(InvoiceIdExhausted, match="shorter prefix"):
            new(ledger, B)
        assert new(ledger, A).terminal == A
    finally:
        ledger.dispose()


def test_allocation_across_terminals_under_concurrency(ledger: Ledger) -> None:
    terminals = [A, B, "terminal-c", "terminal-d"]
    ids: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(terminal: str) -> None:
        start.wait()  # every terminal claims its counter at once
        try:
            for _ in range(10):
                invoice = new(ledger, terminal).invoice_id
                with lock:
                    ids.append((terminal, invoice))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in terminals * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(ids) == 80 and len({i for _, i in ids}) == 80
    for terminal in terminals:
        assert len({i[-6:] for t, i in ids if t == terminal}) == 20
    counters = ledger.invoice_capacity()
    assert sorted(c.ordinal for c in counters) == [0, 1, 2, 3]
    assert {c.terminal: c.used for c in counters} == dict.fromkeys(terminals, 20)
    assert ledger.count() == 80


def test_the_shop_hears_the_signal_and_sees_the_capacity(url: str, tmp_path: Path) -> None:
    app = make_shop(url, tmp_path)
    heard: list[InvoiceCapacity] = []

    def receiver(sender: object, capacity: InvoiceCapacity) -> None:
        heard.append(capacity)

    signals.invoice_ids_running_low.connect(receiver)
    try:
        ledger = app.extensions["halyk"].ledger
        new(ledger, A)
        seed(ledger, A, SUFFIX_SPACE * 95 // 100 - 1)
        new(ledger, A)
        new(ledger, A)
        # Crossing both thresholds at once tells the higher one, once.
        assert [(c.terminal, c.used) for c in heard] == [(A, 950_000)]
        runner = app.test_cli_runner()
        shown = runner.invoke(args=["halyk", "capacity"])
        assert shown.exit_code == 0, shown.output
        assert shown.output.splitlines() == [
            "invoice suffixes unique per terminal (HALYK_INVOICE_SUFFIX_SCOPE)",
            f"{A}: 950,001 used, 49,999 left (95.0 %)  LOW: ask the bank for a further "
            "terminal"]
        as_json = json.loads(runner.invoke(args=["halyk", "capacity", "--json"]).output)
        assert as_json == {"scope": "terminal", "counters": [
            {"terminal": A, "used": 950_001, "left": 49_999, "percent_used": 95.0}]}
    finally:
        signals.invoice_ids_running_low.disconnect(receiver)
        close_shop(app)


def test_the_scope_setting_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="HALYK_INVOICE_SUFFIX_SCOPE"):
        make_shop(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path,
                  HALYK_INVOICE_SUFFIX_SCOPE="merchant")
