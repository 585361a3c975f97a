"""Creating and migrating the ledger's tables, safely when several processes start at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, func, insert, inspect, select, text, update

from .. import invoices
from ..errors import ConfigurationError
from .rows import card_last4
from .tables import (
    SCHEMA_VERSION,
    cards,
    events,
    invoice_counter,
    metadata,
    payments,
    schema_version,
    subscription_charges,
    subscriptions,
)

# pg_advisory_xact_lock key: "halyk" in ASCII. Serialises DDL between app instances.
_PG_LOCK_KEY = 0x68616C796B

#: version -> the step that brings a ledger at ``version - 1`` to ``version``. A step alters the
#: tables that existed before it (add a column, backfill, index); tables new in its version are
#: created afterwards from :mod:`.tables`, as for a fresh ledger. Version 1 has no step.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}


def _add_column(conn: Connection, table: Table, name: str) -> None:
    """``ALTER TABLE ... ADD COLUMN`` for a nullable column as :mod:`.tables` declares it, in
    the backend's own type spelling."""
    column = table.c[name]
    assert column.nullable, "a column added to existing rows must be nullable (or backfilled)"
    preparer = conn.dialect.identifier_preparer
    kind = column.type.compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {preparer.format_table(table)} "
                      f"ADD COLUMN {preparer.format_column(column)} {kind}"))


def _v2_token_expiry(conn: Connection) -> None:
    # Payments of version 1 keep NULL: reconcile then reckons from created_at plus the bank's
    # usual token lifetime (ledger/expiry.py). The status column is a plain string (no CHECK,
    # no enum), so the new ``expired`` status needs no DDL of its own.
    _add_column(conn, payments, "token_expires_at")


def _v3_reservations_and_leases(conn: Connection) -> None:
    # Old payments have no refund in flight: NULL reads as none. An old event left
    # ``dispatching`` has no lease: it is taken over once it is older than a fixed time (as
    # before version 3), see EventStore.claim_dispatch.
    _add_column(conn, payments, "refund_pending_minor")
    _add_column(conn, payments, "refund_pending_until")
    _add_column(conn, events, "claim")
    _add_column(conn, events, "lease_until")


def _v4_back_office(conn: Connection) -> None:
    # The back office's listing (ledger/listing.py): the card's last four digits, filled in
    # for the payments already there (what rows.card_last4 would say of their mask), and the
    # indexes of the account and card filters, as .tables declares them.
    _add_column(conn, payments, "card_last4")
    last4 = _LAST4.get(conn.dialect.name)
    if last4 is not None:
        conn.execute(text(f"UPDATE halyk_payments SET card_last4 = {last4} "  # noqa: S608
                          "WHERE card_mask IS NOT NULL"))
    else:  # another backend: row by row
        for invoice_id, mask in conn.execute(
                select(payments.c.invoice_id, payments.c.card_mask)
                .where(payments.c.card_mask.is_not(None))).all():
            conn.execute(update(payments).where(payments.c.invoice_id == invoice_id)
                         .values(card_last4=card_last4(mask)))
    for index in payments.indexes:
        if index.name in _V4_INDEXES:
            index.create(conn, checkfirst=True)


# The four last characters of the mask when they are digits, else NULL, in each backend's SQL.
_LAST4 = {
    "postgresql": "CASE WHEN card_mask ~ '[0-9]{4}$' THEN right(card_mask, 4) END",
    "sqlite": "CASE WHEN substr(card_mask, -4) GLOB '[0-9][0-9][0-9][0-9]' "
              "THEN substr(card_mask, -4) END",
}
_V4_INDEXES = frozenset({"ix_halyk_payments_account_created",
                         "ix_halyk_payments_card_created"})

def _v5_saved_cards(conn: Connection) -> None:
    # ``halyk_cards`` is new in version 5: created afterwards from .tables, as for a fresh
    # ledger. Payments saved a card before only as their ``card_id`` (the bank gives one only
    # to a card it keeps): the cards of those that are paid and name an account become saved
    # cards, so that a shop upgrading keeps the cards its customers already chose to keep.
    _add_column(conn, payments, "card_save")
    cards.create(conn, checkfirst=True)
    rows = conn.execute(
        select(payments.c.card_id, payments.c.account_id, payments.c.card_mask,
               payments.c.card_type, payments.c.issuer, payments.c.name,
               payments.c.invoice_id, payments.c.updated_at)
        .where(payments.c.card_id.is_not(None), payments.c.account_id.is_not(None),
               payments.c.status.in_(["paid", "authorized", "partially_refunded",
                                      "refunded"]))
        .order_by(payments.c.updated_at)
    ).all()
    seen: dict[str, dict[str, object]] = {}
    for row in rows:
        seen[row.card_id] = {
            "card_id": row.card_id, "account_id": row.account_id[:255],
            "card_mask": row.card_mask, "card_type": row.card_type, "issuer": row.issuer,
            "payer_name": row.name, "invoice_id": row.invoice_id, "status": "active",
            "created_at": row.updated_at, "updated_at": row.updated_at,
        }
    if seen:
        conn.execute(insert(cards), list(seen.values()))


def _v6_subscriptions(conn: Connection) -> None:
    # ``halyk_subscriptions`` and ``halyk_subscription_charges`` are new in version 6 and
    # alter nothing that was there: created here (and by create_all afterwards, checkfirst).
    subscriptions.create(conn, checkfirst=True)
    subscription_charges.create(conn, checkfirst=True)


def _v7_suffix_per_terminal(conn: Connection) -> None:
    # Invoice suffixes unique per terminal (docs/ledger.md, "Invoice ids"): one counter per
    # terminal, and the unique index on the suffix alone replaced by one on (suffix, scope).
    # Every existing id is kept as it is: they were unique across the whole ledger, so they are
    # unique within their terminal too; their scope is their terminal.
    for name in ("terminal", "ordinal", "warned"):
        _add_column(conn, invoice_counter, name)
    conn.execute(update(invoice_counter).values(ordinal=0))
    # The ledger's one counter goes on for the terminal that took most of its ids (the shop's
    # terminal until now), so that terminal never sees one of its suffixes again; a ledger
    # without payments leaves it to the first terminal that allocates.
    busiest = conn.execute(
        select(payments.c.terminal).group_by(payments.c.terminal)
        .order_by(func.count().desc(), payments.c.terminal).limit(1)).scalar()
    if busiest is not None:
        conn.execute(update(invoice_counter).where(invoice_counter.c.name == "invoice")
                     .values(terminal=busiest))
    for index in invoice_counter.indexes:
        index.create(conn, checkfirst=True)
    if conn.dialect.name == "sqlite":
        _rebuild_sqlite_payments(conn)
        return
    _add_column(conn, payments, "suffix_scope")
    conn.execute(update(payments).values(suffix_scope=payments.c.terminal))
    found = inspect(conn)
    preparer = conn.dialect.identifier_preparer
    table = preparer.format_table(payments)
    for constraint in found.get_unique_constraints(payments.name):
        if constraint["column_names"] == ["invoice_suffix"] and constraint["name"]:
            conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT "
                              f"{preparer.quote(constraint['name'])}"))
    for old in found.get_indexes(payments.name):
        if old["unique"] and old["column_names"] == ["invoice_suffix"] and old["name"]:
            conn.execute(text(f"DROP INDEX {preparer.quote(old['name'])}"))
    for index in payments.indexes:
        if index.name == _V7_INDEX:
            index.create(conn, checkfirst=True)


_V7_INDEX = "ux_halyk_payments_suffix_scope"


def _rebuild_sqlite_payments(conn: Connection) -> None:
    """SQLite cannot drop the inline ``UNIQUE (invoice_suffix)`` of the old table: the table
    is made again as :mod:`.tables` declares it and its rows copied over, in the migration's
    transaction (SQLite's documented way to change a constraint)."""
    found = inspect(conn)
    old_columns = [c["name"] for c in found.get_columns(payments.name)]
    for index in found.get_indexes(payments.name):
        if index["name"]:  # its own indexes (the inline UNIQUE's is SQLite's, and goes along)
            conn.execute(text(f'DROP INDEX "{index["name"]}"'))
    conn.execute(text('ALTER TABLE "halyk_payments" RENAME TO "halyk_payments_v6"'))
    payments.create(conn)
    kept = ", ".join(f'"{name}"' for name in old_columns if name in payments.c)
    conn.execute(text(f'INSERT INTO "halyk_payments" ({kept}, "suffix_scope") '  # noqa: S608
                      f'SELECT {kept}, "terminal" FROM "halyk_payments_v6"'))
    conn.execute(text('DROP TABLE "halyk_payments_v6"'))


MIGRATIONS[2] = _v2_token_expiry
MIGRATIONS[3] = _v3_reservations_and_leases
MIGRATIONS[4] = _v4_back_office
MIGRATIONS[5] = _v5_saved_cards
MIGRATIONS[6] = _v6_subscriptions
MIGRATIONS[7] = _v7_suffix_per_terminal


def migrate(conn: Connection) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` inside the caller's transaction; returns it.

    A fresh database gets the current tables; an older one runs the :data:`MIGRATIONS` steps
    in order, each recorded in ``halyk_schema_version``; a newer one is refused (an older
    flask-halyk must not write to tables it does not understand). On PostgreSQL an advisory
    lock makes concurrent callers take turns; on SQLite the caller's ``BEGIN IMMEDIATE`` does.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    target = SCHEMA_VERSION
    current: int | None = None
    if inspect(conn).has_table(schema_version.name):
        current = conn.execute(select(func.max(schema_version.c.version))).scalar()
    if current is not None and current > target:
        raise ConfigurationError(
            "HALYK_DATABASE_URL",
            f"the ledger's schema is version {current}, newer than this flask-halyk "
            f"({target}): upgrade flask-halyk.",
        )
    if current is not None:
        for version in range(current + 1, target + 1):
            step = MIGRATIONS.get(version)
            if step is None:
                raise ConfigurationError(
                    "HALYK_DATABASE_URL",
                    f"no migration of the ledger from schema version {version - 1} to "
                    f"{version}: reinstall flask-halyk.",
                )
            step(conn)
            conn.execute(
                insert(schema_version).values(version=version, applied_at=datetime.now(UTC))
            )
    metadata.create_all(conn, checkfirst=True)
    if current is None:
        conn.execute(insert(schema_version).values(version=target, applied_at=datetime.now(UTC)))
    has_counter = conn.execute(
        select(invoice_counter.c.name).where(invoice_counter.c.name == "invoice")
    ).first()
    if has_counter is None:
        multiplier, offset = invoices.new_key()
        conn.execute(
            insert(invoice_counter).values(
                name="invoice", next_value=0, multiplier=multiplier, offset=offset,
                ordinal=0,
            )
        )
    return target
