"""What create_payment adds to the one call it cannot avoid, measured in the same run.

create_payment validates the arguments, records the payment in the ledger (allocating the
invoice id), computes the secret_hash, asks ePay for the invoice's token and validates the
payment object. The baseline is the token request alone, to the same embedded sandbox
(in-process: an instant local token endpoint, whose own work is in both and no network noise
in either). The two are measured interleaved, so that a neighbour's load on the machine
weighs on both alike. Also counted, with SQLAlchemy's events: the ledger's connection
checkouts, statements and commits per payment.

    python benchmarks/create_payment.py [--count 300] [--database-url URL]

Target (not asserted): create_payment adds at most 1.0 ms to the bare token request, with one
connection and at most one commit before the bank call and one after. Since 0.2.0 the row is
complete before the call (nothing is written after a successful one), and on PostgreSQL its
commit, a WAL flush, runs while the token is requested: what it adds is then its own Python
and the statements before the call, plus whatever the flush takes beyond the token request.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event

from flask_halyk import HalykEpay
from flask_halyk.state import get_state

TARGET_OVERHEAD_MS = 1.0


def count_database_work(engine: Any, counts: Counter[str]) -> None:
    """Count checkouts, statements and commits on ``engine`` into ``counts``."""
    event.listen(engine, "checkout", lambda *_: counts.update(["checkouts"]))
    event.listen(engine, "before_cursor_execute", lambda *_: counts.update(["statements"]))
    event.listen(engine, "commit", lambda *_: counts.update(["commits"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        app = Flask("bench", instance_path=str(Path(tmp) / "instance"))
        app.config.update(SECRET_KEY="bench", HALYK_DATABASE_URL=args.database_url
                          or f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}")
        halyk = HalykEpay(app)
        state = get_state(app)
        counts: Counter[str] = Counter()
        with app.test_request_context("/"):
            def token(number: int) -> object:
                return state.client.payment_token(
                    f"{900000000 + number}", 1500, secret_hash="B" * 32,
                    post_link="http://localhost/halyk/postlink")

            def create() -> object:
                return halyk.create_payment(1500, description="Tea, 250 g",
                                            email="buyer@example.kz")

            for number in range(20):  # warm up both paths outside the measurement
                token(args.count + number)
                create()
            count_database_work(state.ledger.engine, counts)
            create()
            per_payment = dict(counts)
            baseline, created = [], []
            for number in range(args.count):
                start = time.perf_counter()
                token(number)
                middle = time.perf_counter()
                create()
                baseline.append(middle - start)
                created.append(time.perf_counter() - middle)
        state.client.close()
        state.ledger.dispose()

    base = statistics.median(baseline)
    made = statistics.median(created)
    print(f"payments: {args.count} on {args.database_url or 'SQLite'}")
    print(f"{'path':<26}{'median ms':>10}{'p95 ms':>10}{'ratio':>8}")
    for name, samples in (("token request alone", baseline), ("create_payment", created)):
        median = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[-1]
        print(f"{name:<26}{median * 1e3:>10.2f}{p95 * 1e3:>10.2f}{median / base:>8.2f}")
    overhead = (made - base) * 1e3
    print("ledger work per payment: " + ", ".join(
        f"{per_payment.get(key, 0)} {key}" for key in ("checkouts", "statements", "commits")))
    verdict = "within" if overhead <= TARGET_OVERHEAD_MS else "OVER"
    print(f"target: create_payment adds <= {TARGET_OVERHEAD_MS:.1f} ms to the token request: "
          f"{verdict} (+{overhead:.2f} ms, {made / base:.2f}x)")


if __name__ == "__main__":
    main()
