"""What every part of the :class:`~flask_halyk.ledger.Ledger` stands on: the engine, the clock,
the schema's readiness and the transactions.

Every guarantee is the database's: unique constraints, conditional updates and row locks, never
a lock held in one process. The same code runs on SQLite (one machine, threads and worker
processes) and PostgreSQL (any number of app instances).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import (
    TimeoutError as PoolTimeout,
)

from ..errors import LedgerUnavailable
from ..invoices import check_prefix
from .engine import READ_ONLY, make_engine
from .models import InvoiceCapacity
from .schema import migrate

__all__ = ["DISPATCH_LEASE", "SUFFIX_SCOPES", "LedgerCore", "in_background"]

#: Where an invoice id's last six digits are unique: per ``terminal`` (the default: the bank
#: keeps orders per merchant terminal), or across the whole ``ledger`` (the strict reading).
SUFFIX_SCOPES = ("terminal", "ledger")

#: How long a claim on an event's receivers holds unless its holder renews it, by default.
DISPATCH_LEASE = timedelta(seconds=10)

log = logging.getLogger("flask_halyk.ledger")

# PostgreSQL's SQLSTATEs for a table or schema that is not there: the database was replaced.
_MISSING = frozenset({"42P01", "3F000"})


#: The most commits in flight at once in one process (more wait for a free thread).
BACKGROUND_THREADS = 16

_background: ThreadPoolExecutor | None = None
_background_lock = threading.Lock()


def in_background(work: Callable[..., None], *args: Any) -> Future[None]:
    """``work(*args)`` on one of the process's background threads, started lazily (a commit
    that waits for the disk while the caller does something else)."""
    global _background
    pool = _background
    if pool is None:
        with _background_lock:
            pool = _background
            if pool is None:
                pool = _background = ThreadPoolExecutor(
                    BACKGROUND_THREADS, thread_name_prefix="flask-halyk-ledger")
    return pool.submit(work, *args)


def _forget_background_after_fork() -> None:
    # A forked worker has none of its parent's threads: it starts its own pool when needed.
    global _background, _background_lock
    _background = None
    _background_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_background_after_fork)


def _now() -> datetime:
    return datetime.now(UTC)


def _unusable(exc: Exception) -> bool:
    """Whether ``exc`` says the database cannot be used (rather than that a statement is
    wrong): no connection, a lost one, a file that cannot be opened, tables that are gone."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, ProgrammingError):
        return getattr(exc.orig, "sqlstate", None) in _MISSING
    return False


def _first_line(exc: Exception) -> str:
    # The driver's own words only: SQLAlchemy's text adds the statement and its parameters
    # (names, e-mails, postLink bodies with their secret_hash).
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return (lines[0] if lines else type(orig).__name__)[:300]


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

    ``suffix_scope``: where an invoice id's last six digits are unique, ``"terminal"`` (each
    terminal has its own 10**6 suffixes) or ``"ledger"`` (10**6 for the whole ledger); see
    docs/ledger.md, "Invoice ids".

    ``on_capacity``: called with an :class:`~.models.InvoiceCapacity` when a counter crosses
    80 % or 95 % of its suffixes (once per threshold, after the payment that crossed it is
    committed); the extension fires the ``invoice_ids_running_low`` signal from it.
    """

    def __init__(self, url: str, *, invoice_prefix: str = "100",
                 clock: Callable[[], datetime] | None = None,
                 dispatch_lease: timedelta = DISPATCH_LEASE, suffix_scope: str = "terminal",
                 **engine_options: Any) -> None:
        if dispatch_lease <= timedelta(0):
            raise ValueError("dispatch_lease must be a positive duration")
        if suffix_scope not in SUFFIX_SCOPES:
            raise ValueError(f"suffix_scope must be one of {', '.join(SUFFIX_SCOPES)}")
        self.url = url
        self.invoice_prefix = check_prefix(invoice_prefix)
        self.suffix_scope = suffix_scope
        self.on_capacity: Callable[[InvoiceCapacity], None] | None = None
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
        schema version. :class:`LedgerUnavailable` if the database cannot be used."""
        with self._guard(), self.engine.begin() as conn:
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

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a database that cannot be used into :class:`LedgerUnavailable`, and forget
        that the schema was ready: the database that comes back may be another one (restored,
        replaced, empty), so the next call checks the tables again."""
        problem: Exception
        try:
            yield
            return
        except DBAPIError as exc:
            if not _unusable(exc):
                raise
            problem = exc
        except PoolTimeout as exc:
            problem = exc
        self._ready = False
        reason = _first_line(problem)
        where = self.engine.url.render_as_string(hide_password=True)
        log.warning("flask-halyk: the ledger's database at %s cannot be used: %s", where, reason)
        # Not chained: SQLAlchemy's exception holds the statement's parameters.
        raise LedgerUnavailable(
            f"the ledger's database at {where} cannot be used ({reason}); nothing was "
            "recorded by this call. Check that the database is up and reachable, then try "
            "again: the ledger checks its tables again on the next call.",
            reason=reason,
        ) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection that only reads (SQLite then takes no write lock up front)."""
        with self._guard():
            self._ensure()
            with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
                yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction, committed when the ``with`` block ends without an exception."""
        with self._guard():
            self._ensure()
            with self.engine.begin() as conn:
                yield conn
