"""Creating and migrating the ledger's tables, safely when several processes start at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, func, insert, select, text

from ..errors import ConfigurationError
from . import invoices
from .tables import SCHEMA_VERSION, invoice_counter, metadata, schema_version

# pg_advisory_xact_lock key: "halyk" in ASCII. Serialises DDL between app instances.
_PG_LOCK_KEY = 0x68616C796B


def migrate(conn: Connection) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` inside the caller's transaction; returns it.

    On PostgreSQL an advisory lock makes concurrent callers take turns; on SQLite the caller's
    ``BEGIN IMMEDIATE`` does.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    metadata.create_all(conn, checkfirst=True)
    current = conn.execute(select(func.max(schema_version.c.version))).scalar()
    if current is not None and current > SCHEMA_VERSION:
        raise ConfigurationError(
            "HALYK_DATABASE_URL",
            f"the ledger's schema is version {current}, newer than this flask-halyk "
            f"({SCHEMA_VERSION}): upgrade flask-halyk.",
        )
    # Migrations from older versions go here, one step per version, when there are any.
    if current is None or current < SCHEMA_VERSION:
        conn.execute(
            insert(schema_version).values(version=SCHEMA_VERSION, applied_at=datetime.now(UTC))
        )
    has_counter = conn.execute(
        select(invoice_counter.c.name).where(invoice_counter.c.name == "invoice")
    ).first()
    if has_counter is None:
        multiplier, offset = invoices.new_key()
        conn.execute(
            insert(invoice_counter).values(
                name="invoice", next_value=0, multiplier=multiplier, offset=offset
            )
        )
    return SCHEMA_VERSION
