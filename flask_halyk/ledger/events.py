"""The raw events (``halyk_events``): everything the bank sent, stored before it is read, and
the verdict written on it later. Functions of a connection the :class:`Ledger` opened (in a
transaction, for those that write); ``clock`` is the ledger's."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from . import invoices
from .models import Change, EventRecord, EventVerdict
from .rows import clean, event_record
from .tables import events


def record_event(
    conn: Connection,
    clock: Callable[[], datetime],
    *,
    kind: str,
    body: bytes,
    headers: Sequence[tuple[str, str]] = (),
    remote_addr: str | None = None,
    verdict: EventVerdict = EventVerdict.RECEIVED,
    reason: str | None = None,
) -> int:
    """Store a raw event; returns its id."""
    result = conn.execute(
        insert(events)
        .values(
            received_at=clock(),
            kind=clean(kind, 24),
            remote_addr=clean(remote_addr, 64),
            # ASCII JSON: whatever the headers hold, the text column can store it.
            headers=json.dumps([[str(k), str(v)] for k, v in headers]),
            body=bytes(body),
            verdict=verdict.value,
            reason=clean(reason, 2000),
            processed_at=None if verdict is EventVerdict.RECEIVED else clock(),
        )
        .returning(events.c.id)
    )
    return int(result.scalar_one())


def judge_event(
    conn: Connection,
    clock: Callable[[], datetime],
    event_id: int,
    verdict: EventVerdict,
    *,
    reason: str | None = None,
    outcome: Change | None = None,
    invoice_id: str | None = None,
    transaction_id: str | None = None,
) -> None:
    """Write the verdict on an event, with what it changed and what it turned out to be about
    (only a valid invoice id is kept)."""
    values: dict[str, Any] = {"verdict": verdict.value, "processed_at": clock()}
    if reason is not None:
        values["reason"] = clean(reason, 2000)
    if outcome is not None:
        values["outcome"] = outcome.value
    if invoice_id is not None and invoices.is_invoice_id(invoice_id):
        values["invoice_id"] = invoice_id
    if transaction_id is not None:
        values["transaction_id"] = clean(transaction_id, 64)
    conn.execute(update(events).where(events.c.id == event_id).values(**values))


def claim_event(
    conn: Connection,
    clock: Callable[[], datetime],
    event_id: int,
    from_verdicts: Iterable[EventVerdict],
    to: EventVerdict,
    *,
    older_than: datetime | None = None,
) -> bool:
    """Move an event from one of ``from_verdicts`` to ``to`` with one conditional update:
    whether this call was the one that did."""
    conditions = [events.c.id == event_id,
                  events.c.verdict.in_([v.value for v in from_verdicts])]
    if older_than is not None:
        conditions.append(events.c.processed_at < older_than)
    result = conn.execute(
        update(events).where(and_(*conditions)).values(verdict=to.value, processed_at=clock())
    )
    return result.rowcount == 1


def get_event(conn: Connection, event_id: int) -> EventRecord | None:
    """One event by id, or None."""
    row = conn.execute(select(events).where(events.c.id == event_id)).first()
    return event_record(row) if row is not None else None


def find_events(
    conn: Connection,
    invoice_id: str | None = None,
    verdict: EventVerdict | str | Iterable[EventVerdict | str] | None = None,
    limit: int = 1000,
    after_id: int | None = None,
) -> list[EventRecord]:
    """Events oldest first (by id), after ``after_id`` if given."""
    stmt = select(events)
    if after_id is not None:
        stmt = stmt.where(events.c.id > after_id)
    if invoice_id is not None:
        stmt = stmt.where(events.c.invoice_id == clean(invoice_id, 15))
    if verdict is not None:
        wanted = [verdict] if isinstance(verdict, str) else list(verdict)
        stmt = stmt.where(events.c.verdict.in_([EventVerdict(v).value for v in wanted]))
    stmt = stmt.order_by(events.c.id).limit(max(0, limit))
    return [event_record(r) for r in conn.execute(stmt)]


__all__ = ["claim_event", "find_events", "get_event", "judge_event", "record_event"]
