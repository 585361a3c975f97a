"""What one postLink asks of the database: connection checkouts, statements and commits per
genuine, duplicate and forged delivery, counted with SQLAlchemy's events, on SQLite or
PostgreSQL. Counts, not times: they do not depend on the machine.

    python benchmarks/postlink_statements.py [--count 20] [--database-url URL]

A genuine postLink (a success, the status re-check off) locks the order, verifies it, applies
the change and stores the raw event with its verdict in one transaction; with a receiver
connected the event is claimed there, and the receivers' verdict ends the claim (a second
commit); with none (the "no receiver" row) the event is ``applied`` at once. A duplicate locks
the order and stores the event with its verdict; a forged one (a wrong secret_hash) is one
INSERT with its verdict. On PostgreSQL every checkout is also a
pre-ping (a round trip), so round trips are checkouts + statements + commits. On SQLite the
ledger sends BEGIN (IMMEDIATE) on the driver's connection, which SQLAlchemy's events do not see:
one per checkout, not counted under statements (before 0.2.0 it was counted there).

Target (the floor the guarantees allow, not asserted): one commit per postLink, a second only
when receivers run under a claim. The numbers are printed so that a change that adds a round
trip shows.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from flask import Flask
from postlink_throughput import body_for, build_app
from sqlalchemy import event

from flask_halyk import payment_succeeded
from flask_halyk.state import get_state

KINDS = ("checkouts", "statements", "commits")


def count(engine: object, counts: Counter[str]) -> None:
    event.listen(engine, "checkout", lambda *_: counts.update(["checkouts"]))
    event.listen(engine, "before_cursor_execute", lambda *_: counts.update(["statements"]))
    event.listen(engine, "commit", lambda *_: counts.update(["commits"]))


def forged(body: bytes) -> bytes:
    data = json.loads(body)
    data["secret_hash"] = "0" * len(data["secret_hash"])
    return json.dumps(data).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    logging.getLogger("flask_halyk").setLevel(logging.ERROR)  # the refusals would fill the screen

    with tempfile.TemporaryDirectory() as tmp:
        app: Flask = build_app(Path(tmp), args.database_url)
        state = get_state(app)
        fired: list[str] = []
        amount = Decimal(1500)
        bodies = []
        unheard = []  # paid before any receiver is connected
        for batch in (bodies, unheard):
            for _ in range(args.count + 1):
                record = state.ledger.create_payment(
                    invoice_id=None, amount=amount, currency=state.config.currency,
                    terminal=state.config.terminal_id, description="bench")
                batch.append(body_for(app, record.invoice_id, amount))
        client = app.test_client()
        client.post("/halyk/postlink", data=unheard.pop(), content_type="application/json")

        counts: Counter[str] = Counter()
        count(state.ledger.engine, counts)
        per_path: dict[str, dict[str, float]] = {}
        counts.clear()
        for body in unheard:
            client.post("/halyk/postlink", data=body, content_type="application/json")
        per_path["genuine, no receiver"] = {k: counts[k] / len(unheard) for k in KINDS}
        payment_succeeded.connect(lambda sender, **kw: fired.append(kw["payment"].invoice_id),
                                  app, weak=False)
        client.post("/halyk/postlink", data=bodies.pop(), content_type="application/json")
        paths: list[tuple[str, Callable[[bytes], bytes], int]] = [
            ("genuine", lambda b: b, 200), ("duplicate", lambda b: b, 200),
            ("forged", forged, 403)]
        for name, make, expected in paths:
            counts.clear()
            for body in bodies:
                status = client.post("/halyk/postlink", data=make(body),
                                     content_type="application/json").status_code
                assert status == expected, (name, status)
            per_path[name] = {k: counts[k] / len(bodies) for k in KINDS}
        assert len(fired) == args.count + 1, len(fired)
        state.ledger.dispose()

    print(f"postLinks: {args.count} of each on {args.database_url or 'SQLite'}")
    print(f"{'per postLink':<22}" + "".join(f"{k:>12}" for k in KINDS))
    for name, figures in per_path.items():
        print(f"{name:<22}" + "".join(f"{figures[k]:>12.1f}" for k in KINDS))


if __name__ == "__main__":
    main()
