"""``reprocess``: receivers run again for events whose receivers raised, and for events a dead
worker left ``dispatching``; never twice for one event, however many runs race; every such
event reached, however many keep failing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from ledger_support import (
    BACKENDS,
    backend_shop,
    ledger_of,
    postlink_for,
)
from sqlalchemy import update

from flask_halyk import recovery, signals
from flask_halyk.ledger import EventVerdict, PaymentStatus
from flask_halyk.ledger.reports import report_from_postlink
from flask_halyk.ledger.tables import events
from flask_halyk.state import get_state

S = PaymentStatus


@pytest.fixture(params=BACKENDS)
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    with backend_shop(request.param, tmp_path) as app:
        yield app


class Receiver:
    """A payment_succeeded receiver that records each call and raises while ``broken``."""

    def __init__(self, broken: bool = True, pause: float = 0.0) -> None:
        self.broken = broken
        self.pause = pause
        self.calls: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, sender: Flask, payment: Any, postlink: Any) -> None:
        with self._lock:
            self.calls.append((payment.invoice_id, postlink))
        if self.pause:
            time.sleep(self.pause)  # widens the window in which a second run could interfere
        if self.broken:
            raise RuntimeError("the shop's mailer is down")

    def invoices(self) -> list[str]:
        return [invoice for invoice, _ in self.calls]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    one = Receiver()
    signals.payment_succeeded.connect(one)
    yield one
    signals.payment_succeeded.disconnect(one)


def paid_with_failed_receiver(app: Flask) -> str:
    """A payment paid by a genuine postLink whose receiver raised (event ``failed``)."""
    config = app.extensions["halyk"].config
    invoice = ledger_of(app).create_payment(
        invoice_id=None, amount=Decimal(100), currency=config.currency,
        terminal=config.terminal_id).invoice_id
    answer = app.test_client().post("/halyk/postlink", json=postlink_for(app, invoice, 100))
    assert answer.status_code == 200
    return invoice


def left_dispatching(app: Flask, age: timedelta) -> tuple[str, int]:
    """A postLink applied by a worker that died before its receivers finished, ``age`` ago:
    its claim's lease lapsed the dispatch lease after that (still held when ``age`` is 0)."""
    config = app.extensions["halyk"].config
    ledger = ledger_of(app)
    invoice = ledger.create_payment(invoice_id=None, amount=Decimal(100),
                                    currency=config.currency,
                                    terminal=config.terminal_id).invoice_id
    body = postlink_for(app, invoice, 100)
    event_id = ledger.record_event(kind="postlink", body=json.dumps(body).encode())
    result = ledger.apply(invoice, report_from_postlink(body), event_id=event_id)
    assert result.change is not None
    started = datetime.now(UTC) - age
    with ledger.engine.begin() as conn:
        conn.execute(update(events).where(events.c.id == event_id)
                     .values(processed_at=started, lease_until=started + ledger.dispatch_lease))
    return invoice, event_id


def test_a_dead_workers_event_is_dispatched_once_it_is_stale(
        shop: Flask, receiver: Receiver) -> None:
    receiver.broken = False
    dead, dead_event = left_dispatching(shop, timedelta(hours=1))
    busy, busy_event = left_dispatching(shop, timedelta(0))  # its worker may still be running
    with shop.app_context():
        report = recovery.reprocess(get_state(), stale_after=timedelta(minutes=10))
        assert (report.attempted, report.applied, report.failed) == (1, 1, 0)
        assert recovery.reprocess(get_state()).attempted == 0
    assert receiver.invoices() == [dead]
    # The receivers get the postLink as the live path gives it (validated, amounts Decimal).
    postlink = receiver.calls[0][1]
    assert postlink["invoiceId"] == dead and postlink["amount"] == Decimal(100)
    ledger = ledger_of(shop)
    assert ledger.get_event(dead_event).verdict is EventVerdict.APPLIED  # type: ignore[union-attr]
    assert ledger.get_event(busy_event).verdict is EventVerdict.DISPATCHING  # type: ignore[union-attr]
    assert ledger.get(busy).status is S.PAID  # type: ignore[union-attr]


def test_stale_after_from_the_command_line(shop: Flask, receiver: Receiver) -> None:
    receiver.broken = False
    invoice, _ = left_dispatching(shop, timedelta(minutes=5))
    runner = shop.test_cli_runner()
    young = runner.invoke(args=["halyk", "reprocess", "--stale-after", "10m"])
    assert young.exit_code == 0 and "reprocessed 0" in young.output
    old = runner.invoke(args=["halyk", "reprocess", "--stale-after", "2m"])
    assert old.exit_code == 0 and "1 applied" in old.output, old.output
    assert receiver.invoices() == [invoice]
    bad = runner.invoke(args=["halyk", "reprocess", "--stale-after", "soon"])
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_concurrent_runs_fire_each_event_once(shop: Flask, receiver: Receiver) -> None:
    failed = [paid_with_failed_receiver(shop) for _ in range(4)]
    assert receiver.invoices() == failed
    receiver.calls.clear()
    receiver.broken, receiver.pause = False, 0.05
    reports: list[recovery.ReprocessReport] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        try:
            with shop.app_context():
                reports.append(recovery.reprocess(get_state()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(receiver.invoices()) == sorted(failed)
    assert sum(r.applied for r in reports) == 4 and sum(r.failed for r in reports) == 0
    verdicts = {e.verdict for e in ledger_of(shop).events()}
    assert verdicts == {EventVerdict.APPLIED}


def test_every_failed_event_is_reached_however_many_keep_failing(
        shop: Flask, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "REPROCESS_BATCH", 2)
    failed = [paid_with_failed_receiver(shop) for _ in range(5)]
    receiver.calls.clear()
    with shop.app_context():
        report = recovery.reprocess(get_state())
    assert (report.attempted, report.failed) == (5, 5)
    assert receiver.invoices() == failed
