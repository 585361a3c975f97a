"""What create_payment adds to the one call it cannot avoid, measured in the same run.

create_payment validates the arguments, records the payment in the ledger (allocating the
invoice id), computes the secret_hash, asks ePay for the invoice's token and validates the
payment object. The baseline is the token request alone, to the same embedded sandbox
(in-process, so the sandbox's own work is in both and no network noise is in either).

    python benchmarks/create_payment.py [--count 200] [--database-url URL]

Target (not asserted): create_payment within 3x the bare token request.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from flask_halyk import HalykEpay
from flask_halyk.state import get_state

TARGET_RATIO = 3.0


def timed(count: int, call: Callable[[int], object]) -> list[float]:
    samples = []
    for number in range(count):
        start = time.perf_counter()
        call(number)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        app = Flask("bench", instance_path=str(Path(tmp) / "instance"))
        app.config.update(SECRET_KEY="bench", HALYK_DATABASE_URL=args.database_url
                          or f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}")
        halyk = HalykEpay(app)
        state = get_state(app)
        with app.test_request_context("/"):
            def token(number: int) -> object:
                return state.client.payment_token(
                    f"{900000000 + number}", 1500, secret_hash="B" * 32,
                    post_link="http://localhost/halyk/postlink")

            def create(number: int) -> object:
                return halyk.create_payment(1500, description="Tea, 250 g",
                                            email="buyer@example.kz")

            token(args.count)  # warm up both paths outside the measurement
            create(0)
            baseline = timed(args.count, token)
            created = timed(args.count, create)
        state.client.close()

    base = statistics.median(baseline)
    print(f"payments: {args.count} on {args.database_url or 'SQLite'}")
    print(f"{'path':<26}{'median ms':>10}{'p95 ms':>10}{'ratio':>8}")
    for name, samples in (("token request alone", baseline), ("create_payment", created)):
        median = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[-1]
        print(f"{name:<26}{median * 1e3:>10.2f}{p95 * 1e3:>10.2f}{median / base:>8.1f}")
    ratio = statistics.median(created) / base
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"target: create_payment <= {TARGET_RATIO:.0f}x the token request: {verdict} "
          f"({ratio:.1f}x)")


if __name__ == "__main__":
    main()
