"""Engines the ledger can trust with concurrent writers: SQLite in WAL mode with ``BEGIN
IMMEDIATE`` transactions and a busy timeout, or PostgreSQL as it is."""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

#: How long a SQLite writer waits for another (thread or process) before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Execution option: this connection only reads (SQLite then takes no write lock up front).
READ_ONLY = "halyk_read_only"


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; SQLite files get their folder created."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(parsed, pool_pre_ping=True, **options)
    else:
        database = parsed.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ValueError(
                "the ledger needs a SQLite *file* (several threads and processes share it)"
            )
        folder = os.path.dirname(os.path.abspath(database))
        os.makedirs(folder, exist_ok=True)
        engine = create_engine(
            parsed,
            # The driver's own transaction handling would BEGIN lazily and deferred; the
            # "begin" hook below issues the BEGIN itself.
            connect_args={"isolation_level": None, "check_same_thread": False,
                          "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **options,
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    _dispose_after_fork(engine)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    # WAL is a property of the file: once one connection set it, the others only read it. The
    # switch itself needs the file to itself and, unlike other statements, may fail at once with
    # "database is locked" while another connection opens the fresh file: try again, bounded.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


#: How long a writer that found the write lock taken first sleeps before trying again, and
#: the most it sleeps between tries (doubling in between).
SQLITE_LOCK_POLL_FIRST = 0.0002
SQLITE_LOCK_POLL_MAX = 0.005


def _sqlite_begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes cannot wait for a lock: SQLite fails it
    # at once with "database is locked". Writers take the lock up front and wait their turn.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
        return
    # The wait for the write lock is ours, not SQLite's busy handler: that one sleeps 1, 2, 5,
    # 10... up to 100 ms between tries, where a writer's transaction lasts about a millisecond,
    # so that under two busy workers a postLink waited tens or hundreds of milliseconds for a
    # lock that had been free for most of it. Here the first try is free, then the sleeps
    # start at 0.2 ms and double up to 5 ms, within the same overall timeout.
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        delay = SQLITE_LOCK_POLL_FIRST
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, SQLITE_LOCK_POLL_MAX)
    finally:
        # The statements inside the transaction keep SQLite's own wait (a checkpoint may need
        # the file a moment).
        raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


def _dispose_after_fork(engine: Engine) -> None:
    # Pooled connections must not cross into a forked worker (gunicorn --preload and friends).
    ref = weakref.ref(engine)

    def after_fork() -> None:
        forked = ref()
        if forked is not None:
            forked.dispose(close=False)

    os.register_at_fork(after_in_child=after_fork)
