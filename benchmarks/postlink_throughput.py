"""How much a postLink costs the shop, against a bare JSON endpoint measured in the same run.

The postLink path stores the raw event, parses, validates, verifies the secret_hash, applies
the change to the ledger atomically and fires a signal. Two baselines, in the same app and run:
a bare endpoint that only parses JSON and answers (what Flask itself costs), and one that also
commits one row to the same database (what a single durable write costs there, which dominates
on PostgreSQL, where every commit waits for the disk). The duplicate row says what a
re-delivery costs.

    python benchmarks/postlink_throughput.py [--count 300] [--database-url URL]

Target (not asserted): a postLink, genuine or duplicate, within 6x the one-commit endpoint: it
makes a handful of commits (the raw event first, then the change with its verdict, then the
receivers' outcome) and little else.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from flask import Flask, jsonify, request
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from flask_halyk import HalykEpay, payment_succeeded
from flask_halyk.postlink.verification import make_secret_hash
from flask_halyk.state import get_state

TARGET_RATIO = 6.0


def build_app(directory: Path, database_url: str | None, *, fresh: bool = True,
              **config: object) -> Flask:
    """The benchmark's app; ``fresh``: its scratch table made anew (once, before any worker
    of a server builds it again with ``fresh=False``); ``config``: more settings."""
    app = Flask("bench", instance_path=str(directory / "instance"))
    app.config.update(
        SECRET_KEY="bench",
        HALYK_DATABASE_URL=database_url or f"sqlite:///{directory / 'ledger.sqlite3'}",
        **config,
    )
    HalykEpay(app)
    scratch = Table("halyk_bench_scratch", MetaData(),
                    Column("id", Integer, primary_key=True), Column("body", String))
    engine = get_state(app).ledger.engine
    if fresh:
        scratch.drop(engine, checkfirst=True)
        scratch.create(engine)

    @app.post("/baseline")
    def baseline() -> object:
        data = json.loads(request.get_data())
        return jsonify(status="ok", seen=len(data))

    @app.post("/baseline-commit")
    def baseline_commit() -> object:
        body = request.get_data(as_text=True)
        data = json.loads(body)
        with engine.begin() as conn:
            conn.execute(insert(scratch).values(body=body))
        return jsonify(status="ok", seen=len(data))

    return app


def body_for(app: Flask, invoice_id: str, amount: Decimal) -> bytes:
    config = get_state(app).config
    return json.dumps({
        "id": f"00000000-0000-4000-8000-{int(invoice_id):012d}",
        "invoiceId": invoice_id, "amount": int(amount), "currency": config.currency,
        "terminal": config.terminal_id, "code": "ok", "reason": "success", "reasonCode": 0,
        "cardMask": "440563...5096", "approvalCode": "157911", "reference": "411111111117",
        "language": "RUS", "dateTime": "2026-11-28T10:50:56.765674319+05:00",
        "secret_hash": make_secret_hash(config.postlink_secret, invoice_id, amount,
                                        config.currency, config.terminal_id),
    }).encode()


def timed(bodies: list[bytes], send: Callable[[bytes], int]) -> list[float]:
    samples = []
    for body in bodies:
        start = time.perf_counter()
        status = send(body)
        samples.append(time.perf_counter() - start)
        assert status == 200, status
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp), args.database_url)
        ledger = get_state(app).ledger
        config = get_state(app).config
        fired: list[str] = []
        payment_succeeded.connect(lambda sender, **kw: fired.append(kw["payment"].invoice_id),
                                  app, weak=False)
        client = app.test_client()
        amount = Decimal(1500)
        bodies = []
        for _ in range(args.count):
            record = ledger.create_payment(invoice_id=None, amount=amount,
                                           currency=config.currency,
                                           terminal=config.terminal_id, description="bench")
            bodies.append(body_for(app, record.invoice_id, amount))

        def post(path: str) -> Callable[[bytes], int]:
            return lambda body: client.post(path, data=body,
                                            content_type="application/json").status_code

        post("/baseline")(bodies[0])  # warm up both paths outside the measurement
        post("/baseline-commit")(bodies[0])
        bare = timed(bodies, post("/baseline"))
        baseline = timed(bodies, post("/baseline-commit"))
        genuine = timed(bodies, post("/halyk/postlink"))
        duplicate = timed(bodies, post("/halyk/postlink"))
        assert len(fired) == args.count, (len(fired), args.count)

    base = statistics.median(baseline)
    print(f"postLinks: {args.count} on {args.database_url or 'SQLite'}; "
          f"signals fired: {len(fired)}")
    print(f"{'path':<22}{'median ms':>10}{'p95 ms':>10}{'ratio':>8}")
    for name, samples in (("bare JSON endpoint", bare), ("one-commit endpoint", baseline),
                          ("genuine postLink", genuine), ("duplicate postLink", duplicate)):
        median = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[-1]
        print(f"{name:<22}{median * 1e3:>10.2f}{p95 * 1e3:>10.2f}{median / base:>8.1f}")
    worst = max(statistics.median(genuine), statistics.median(duplicate)) / base
    verdict = "within" if worst <= TARGET_RATIO else "OVER"
    print(f"target: postLink <= {TARGET_RATIO:.0f}x the one-commit endpoint: {verdict} "
          f"({worst:.1f}x)")


if __name__ == "__main__":
    main()
