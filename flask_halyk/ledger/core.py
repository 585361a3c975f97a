"""What every part of the :class:`~flask_halyk.ledger.Ledger` stands on: the engine, the clock,
the schema's readiness and the transactions.

Every guarantee is the database's: unique constraints, conditional updates and row locks, never
a lock held in one process. The same code runs on SQLite (one machine, threads and worker
processes) and PostgreSQL (any number of app instances).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ..invoices import check_prefix
from .engine import READ_ONLY, make_engine
from .schema import migrate

__all__ = ["DISPATCH_LEASE", "LedgerCore"]

#: How long a claim on an event's receivers holds unless its holder renews it, by default.
DISPATCH_LEASE = timedelta(seconds=10)


def _now() -> datetime:
    return datetime.now(UTC)


class LedgerCore:
    """The engine, clock and transactions of a ledger. ``url``: an SQLAlchemy URL, a SQLite
    file or PostgreSQL (``postgresql+psycopg://...``). The schema is created (or migrated) on
    first use, or by :meth:`init_db` (``flask halyk init-db``).

    ``invoice_prefix``: the digits put before the six allocated ones (default ``"100"``, so ids
    look like ``100483920``).

    ``clock``: what the ledger believes the time is (an aware UTC datetime); every time it
    writes, and every "older than" it reads, comes from it. The system clock by default; tests
    and tools may set ``ledger.clock`` to move time. Processes sharing a database must agree
    on the time within a few seconds (leases are compared across them).

    ``dispatch_lease``: how long a claim on an event's receivers holds unless renewed (its
    holder renews it while they run); once it lapses, its holder is taken for dead and another
    process may finish them (:meth:`~.events.EventStore.claim_dispatch`).
    """

    def __init__(self, url: str, *, invoice_prefix: str = "100",
                 clock: Callable[[], datetime] | None = None,
                 dispatch_lease: timedelta = DISPATCH_LEASE, **engine_options: Any) -> None:
        if dispatch_lease <= timedelta(0):
            raise ValueError("dispatch_lease must be a positive duration")
        self.url = url
        self.invoice_prefix = check_prefix(invoice_prefix)
        self.dispatch_lease = dispatch_lease
        self.clock: Callable[[], datetime] = clock or _now
        self.engine = make_engine(url, **engine_options)
        self._ready = False
        self._ready_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Ledger({self.engine.url.render_as_string(hide_password=True)!r})"

    def now(self) -> datetime:
        """The ledger's time (:attr:`clock`)."""
        return self.clock()

    def init_db(self) -> int:
        """Create or migrate the tables; idempotent and safe to run concurrently. Returns the
        schema version."""
        with self.engine.begin() as conn:
            version = migrate(conn)
        self._ready = True
        return version

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    def _ensure(self) -> None:
        if self._ready:
            return
        # The lock only spares this process repeated DDL; migrate() is safe across processes.
        with self._ready_lock:
            if not self._ready:
                self.init_db()

    def _read(self) -> Connection:
        """A connection that only reads (SQLite then takes no write lock up front)."""
        self._ensure()
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    def _write(self) -> AbstractContextManager[Connection]:
        """One transaction, committed when the ``with`` block ends without an exception."""
        self._ensure()
        return self.engine.begin()
