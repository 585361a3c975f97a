"""Copying a whole ledger into another database: how a shop moves from the embedded SQLite
file to a shared PostgreSQL (``flask halyk copy-ledger``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select, text

from ..errors import ConfigurationError
from .engine import READ_ONLY
from .tables import events, invoice_counter, metadata, operations, payments, schema_version

if TYPE_CHECKING:
    from . import Ledger

_BATCH = 500


def copy_ledger(source: Ledger, target: Ledger) -> dict[str, int]:
    """Copy every payment, event, the invoice counter and the schema history of ``source``
    into ``target``, which must hold no payment and no event yet. Returns rows copied per table.

    The counter row carries the key that turns counter values into invoice suffixes: it is
    copied as is, so ids allocated after the move never repeat an old suffix. Everything is
    written in one transaction of ``target``: a copy that fails leaves it as it was.
    """
    source.init_db()  # the same schema version on both sides
    target.init_db()
    copied: dict[str, int] = {}
    # A database lost on the way is LedgerUnavailable, like any ledger call's.
    with source._guard(), target._guard(), target.engine.begin() as dst:
        held = sum(int(dst.execute(select(func.count()).select_from(t)).scalar_one())
                   for t in (payments, events))
        if held:
            raise ConfigurationError(
                "HALYK_DATABASE_URL",
                f"the target ledger {target!r} already holds {held} payment(s) or event(s); "
                "copy into an empty one.",
            )
        # The fresh target's own counter key and version row give way to the source's.
        dst.execute(delete(invoice_counter))
        dst.execute(delete(schema_version))
        with source.engine.connect().execution_options(**{READ_ONLY: True}) as src:
            for table in metadata.sorted_tables:
                copied[table.name] = _copy_table(src, dst, table)
        if dst.dialect.name == "postgresql":
            # Rows came with their ids: the sequence must move past them.
            for name in (events.name, operations.name):
                dst.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                    f"COALESCE((SELECT max(id) FROM {name}), 0) + 1, false)"
                ))
    return copied


def _copy_table(src: Connection, dst: Connection, table: Any) -> int:
    count = 0
    batch: list[dict[str, Any]] = []
    for row in src.execute(select(table)):
        batch.append(dict(row._mapping))
        if len(batch) >= _BATCH:
            dst.execute(insert(table), batch)
            count += len(batch)
            batch = []
    if batch:
        dst.execute(insert(table), batch)
        count += len(batch)
    return count
