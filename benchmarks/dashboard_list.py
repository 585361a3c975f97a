"""The back office's payment listing on a big ledger: page 1, a deep page and filtered pages of
``Ledger.list_payments`` (keyset-paged), against a primary-key lookup measured in the same run;
and, for contrast, the same deep page reached by OFFSET (``Ledger.query``).

    createdb -h 127.0.0.1 -U postgres bench_dashboard
    python benchmarks/dashboard_list.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_dashboard

The database's ledger tables are dropped and seeded with ``--payments`` rows (1,000,000 by
default) by one ``INSERT ... SELECT generate_series`` (a few seconds), then analysed. Nothing
is asserted: figures are medians, printed as ratios to the baseline (a busy machine weighs on
both).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text

from flask_halyk.ledger import Ledger, PaymentFilter, PaymentStatus
from flask_halyk.ledger.listing import encode_cursor
from flask_halyk.ledger.rows import payment_record
from flask_halyk.ledger.tables import metadata, payments

# Statuses in the proportions of a shop: mostly paid, some failed and new, few refunds.
_SEED = """
INSERT INTO halyk_payments (
    invoice_id, invoice_suffix, amount_minor, currency, terminal, description, account_id,
    status, bank_status, transaction_id, card_mask, card_last4, card_type, refunded_minor,
    created_at, updated_at, paid_at)
SELECT
    '100' || lpad(i::text, 6, '0'),
    lpad(i::text, 6, '0'),
    (1000 + (i * 7919) % 500000) * 100,
    'KZT', 'term', 'order ' || i, 'acct-' || (i % 20000),
    (ARRAY['paid','paid','paid','paid','paid','paid','failed','new','refunded',
           'partially_refunded'])[1 + i % 10],
    NULL, 'tx-' || i,
    '440043...' || lpad(((i * 31) % 10000)::text, 4, '0'),
    lpad(((i * 31) % 10000)::text, 4, '0'), 'VISA', 0,
    :start + (i * interval '30 seconds'),
    :start + (i * interval '30 seconds'),
    NULL
FROM generate_series(0::bigint, :count - 1) AS i
"""


def median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # warm: plans, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def seed(ledger: Ledger, count: int) -> datetime:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with ledger.engine.begin() as conn:
        metadata.drop_all(conn)
    ledger.init_db()
    began = time.perf_counter()
    with ledger.engine.begin() as conn:
        conn.execute(text(_SEED), {"start": start.replace(tzinfo=None), "count": count})
    with ledger.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE halyk_payments"))
    print(f"seeded {count:,} payments in {time.perf_counter() - began:.1f} s")
    return start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True,
                        help="a PostgreSQL database of its own (its ledger tables are dropped)")
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-seed", action="store_true", help="reuse the seeded tables")
    args = parser.parse_args()
    ledger = Ledger(args.database_url)
    count = args.payments
    start = seed(ledger, count) if not args.no_seed else datetime(2025, 1, 1, tzinfo=UTC)
    deep_at = int(count * 0.9)
    with ledger.engine.connect() as conn:
        row = conn.execute(select(payments).order_by(payments.c.created_at.desc(),
                                                     payments.c.invoice_id.desc())
                           .offset(deep_at).limit(1)).one()
    deep_cursor = encode_cursor(payment_record(row))
    some_invoice = "100" + str(count // 2).zfill(6)

    baseline = median_ms(lambda: ledger.get(some_invoice), args.repeat)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("page 1 (50 rows)", lambda: ledger.list_payments(limit=50)),
        (f"page at row {deep_at:,} (keyset)",
         lambda: ledger.list_payments(after=deep_cursor, limit=50)),
        ("status refunded, page 1",
         lambda: ledger.list_payments(PaymentFilter(status=(PaymentStatus.REFUNDED,)))),
        ("status refunded, deep page",
         lambda: ledger.list_payments(PaymentFilter(status=(PaymentStatus.REFUNDED,)),
                                      after=deep_cursor)),
        ("created in one week",
         lambda: ledger.list_payments(PaymentFilter(
             created_from=start + timedelta(days=100),
             created_until=start + timedelta(days=107)))),
        ("amount 1000..1500",
         lambda: ledger.list_payments(PaymentFilter(amount_min=Decimal(1000),
                                                    amount_max=Decimal(1500)))),
        ("account acct-42", lambda: ledger.list_payments(PaymentFilter(account_id="acct-42"))),
        ("card 440043...0042",
         lambda: ledger.list_payments(PaymentFilter(card_mask="440043...0042"))),
        ("card last four 0042",
         lambda: ledger.list_payments(PaymentFilter(card_mask="0042"))),
        ("invoice prefix 1005000", lambda: ledger.list_payments(
            PaymentFilter(invoice_prefix="1005000"))),
        ("invoice exact", lambda: ledger.list_payments(PaymentFilter(invoice_id=some_invoice))),
        (f"OFFSET {deep_at:,} (Ledger.query, for contrast)",
         lambda: ledger.query(limit=50, offset=deep_at)),
    ]
    print(f"baseline: primary-key lookup (Ledger.get) {baseline:.2f} ms "
          f"(median of {args.repeat})")
    print(f"{'listing':<44} {'median':>9} {'x baseline':>11}")
    for name, call in cases:
        repeat = max(3, args.repeat // 10) if name.startswith("OFFSET") else args.repeat
        ms = median_ms(call, repeat)
        print(f"{name:<44} {ms:>7.2f}ms {ms / baseline:>10.1f}x")
    ledger.dispose()


if __name__ == "__main__":
    main()
