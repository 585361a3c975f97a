"""Exactly once under real concurrency: copies of one postLink racing over real sockets, to
threads of one server and to two server processes sharing one database (SQLite file or
PostgreSQL); invoice ids allocated by two processes at once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from ledger_support import (
    BACKENDS,
    SECRET_KEY,
    LiveServer,
    SignalLog,
    close_shop,
    database_url,
    make_shop,
    new_payment,
    postlink_for,
)

from flask_halyk.ledger import EventVerdict, Ledger, PaymentStatus

COPIES = 20


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def send_at_once(urls: list[str], body: dict, copies: int = COPIES) -> list[int]:
    """``copies`` POSTs of ``body``, spread over ``urls``, released together."""
    barrier = threading.Barrier(copies)
    statuses: list[int] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        with requests.Session() as session:
            barrier.wait()
            answer = session.post(urls[i % len(urls)] + "/halyk/postlink", json=body, timeout=60)
        with lock:
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return statuses


def test_twenty_copies_to_one_threaded_server(db_url: str, tmp_path: Path) -> None:
    # LiveServer, in this process: the test counts the signals the server's threads send.
    app = make_shop(db_url, tmp_path)
    server = LiveServer(app)
    log = SignalLog()
    try:
        invoice = new_payment(app)
        statuses = send_at_once([server.url], postlink_for(app, invoice, 100))
        assert statuses == [200] * COPIES
        assert len(log.named("payment_succeeded")) == 1
        verdicts = Counter(e.verdict for e in app.extensions["halyk"].ledger.events())
        assert verdicts == {EventVerdict.APPLIED: 1, EventVerdict.DUPLICATE: COPIES - 1}
        assert app.extensions["halyk"].ledger.get(invoice).status is PaymentStatus.PAID
    finally:
        log.disconnect()
        server.close()
        close_shop(app)


SHOP_PROCESS = """
import json, os, sys
from flask import Flask
from werkzeug.serving import make_server
from flask_halyk import signals
from flask_halyk.extension import HalykEpay

db_url, instance, out, secret = sys.argv[1:5]
app = Flask("shop", instance_path=instance)
app.config.update(SECRET_KEY=secret, HALYK_DATABASE_URL=db_url)
HalykEpay(app)

def record(sender, payment, postlink):
    with open(out, "a") as f:
        f.write(json.dumps({"invoice": payment.invoice_id, "pid": os.getpid()}) + "\\n")

signals.payment_succeeded.connect(record)
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def two_shop_processes(db_url: str, tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    # Two server processes of our own on one database: pytest-flask's live_server serves one
    # app, and the signals each process sends are written to a file the test reads.
    script = tmp_path / "shop_process.py"
    script.write_text(SHOP_PROCESS)
    out = tmp_path / "signals.jsonl"
    procs = []
    urls = []
    try:
        for n in range(2):
            proc = subprocess.Popen(
                [sys.executable, str(script), db_url, str(tmp_path / f"instance{n}"), str(out),
                 SECRET_KEY],
                stdout=subprocess.PIPE, text=True, cwd=str(tmp_path))
            procs.append(proc)
        for proc in procs:
            assert proc.stdout is not None
            port = proc.stdout.readline().strip()
            assert port.isdigit(), "shop process did not start"
            urls.append(f"http://127.0.0.1:{port}")
        yield urls, out
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def test_twenty_copies_to_two_processes_sharing_the_database(
        db_url: str, tmp_path: Path, two_shop_processes: tuple[list[str], Path]) -> None:
    urls, out = two_shop_processes
    app = make_shop(db_url, tmp_path)  # the same settings: builds the genuine postLinks
    try:
        ledger: Ledger = app.extensions["halyk"].ledger
        rounds = 3
        invoices = []
        for _ in range(rounds):
            invoice = new_payment(app)
            invoices.append(invoice)
            statuses = send_at_once(urls, postlink_for(app, invoice, 100))
            assert statuses == [200] * COPIES
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert sorted(line["invoice"] for line in lines) == sorted(invoices)
        for invoice in invoices:
            verdicts = Counter(e.verdict for e in ledger.events(invoice_id=invoice))
            assert verdicts == {EventVerdict.APPLIED: 1, EventVerdict.DUPLICATE: COPIES - 1}
            assert ledger.get(invoice).status is PaymentStatus.PAID  # type: ignore[union-attr]
        assert len(ledger.events()) == rounds * COPIES
    finally:
        close_shop(app)


ALLOCATOR = """
import json, sys
from decimal import Decimal
from flask_halyk.ledger import Ledger
ledger = Ledger(sys.argv[1])
ids = [ledger.create_payment(invoice_id=None, amount=Decimal(1), currency="KZT", terminal="t",
                             description="").invoice_id for _ in range(int(sys.argv[2]))]
print(json.dumps(ids))
"""


def test_invoice_ids_allocated_by_two_processes_at_once(db_url: str, tmp_path: Path) -> None:
    Ledger(db_url).init_db()
    procs = [subprocess.Popen([sys.executable, "-c", ALLOCATOR, db_url, "60"],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    started = time.monotonic()
    ids: list[str] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        ids.extend(json.loads(out))
    assert time.monotonic() - started < 120
    assert len(ids) == 120 and len(set(ids)) == 120 and len({i[-6:] for i in ids}) == 120
