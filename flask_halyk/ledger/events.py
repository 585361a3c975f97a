"""The raw events (``halyk_events``): everything the bank sent, stored before it is read, and
the verdict written on it later."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from ..invoices import is_invoice_id
from .core import LedgerCore
from .models import EventRecord
from .rows import clean, event_record
from .states import Change, EventVerdict
from .tables import events

__all__ = ["EventStore", "write_verdict"]


class EventStore(LedgerCore):
    """The ledger's events: :meth:`record_event` before anything is made of a body,
    :meth:`judge_event` once it is, :meth:`claim_event` for whoever runs its receivers again."""

    def record_event(
        self,
        *,
        kind: str,
        body: bytes,
        headers: Sequence[tuple[str, str]] = (),
        remote_addr: str | None = None,
        verdict: EventVerdict = EventVerdict.RECEIVED,
        reason: str | None = None,
    ) -> int:
        """Store a raw event as received, before anything is made of it; returns its id."""
        with self._write() as conn:
            now = self.now()
            result = conn.execute(
                insert(events)
                .values(
                    received_at=now,
                    kind=clean(kind, 24),
                    remote_addr=clean(remote_addr, 64),
                    # ASCII JSON: whatever the headers hold, the text column can store it.
                    headers=json.dumps([[str(k), str(v)] for k, v in headers]),
                    body=bytes(body),
                    verdict=verdict.value,
                    reason=clean(reason, 2000),
                    processed_at=None if verdict is EventVerdict.RECEIVED else now,
                )
                .returning(events.c.id)
            )
            return int(result.scalar_one())

    def judge_event(
        self,
        event_id: int,
        verdict: EventVerdict,
        *,
        reason: str | None = None,
        invoice_id: str | None = None,
        transaction_id: str | None = None,
    ) -> None:
        """Write the verdict on an event (and what it turned out to be about)."""
        with self._write() as conn:
            write_verdict(conn, self.clock, event_id, verdict, reason=reason,
                          invoice_id=invoice_id, transaction_id=transaction_id)

    def claim_event(
        self, event_id: int, from_verdicts: Iterable[EventVerdict], to: EventVerdict,
        *, older_than: datetime | None = None,
    ) -> bool:
        """Move an event from one of ``from_verdicts`` to ``to``, if no one else did first
        (and, with ``older_than``, only if its verdict was written before then): one
        conditional update, so of concurrent claimers one wins."""
        conditions = [events.c.id == event_id,
                      events.c.verdict.in_([v.value for v in from_verdicts])]
        if older_than is not None:
            conditions.append(events.c.processed_at < older_than)
        with self._write() as conn:
            result = conn.execute(
                update(events).where(and_(*conditions))
                .values(verdict=to.value, processed_at=self.now())
            )
        return result.rowcount == 1

    def get_event(self, event_id: int) -> EventRecord | None:
        """One event by id."""
        with self._read() as conn:
            row = conn.execute(select(events).where(events.c.id == event_id)).first()
        return event_record(row) if row is not None else None

    def events(
        self,
        invoice_id: str | None = None,
        verdict: EventVerdict | str | Iterable[EventVerdict | str] | None = None,
        limit: int = 1000,
        after_id: int | None = None,
    ) -> list[EventRecord]:
        """Stored events, oldest first, for inspection; ``after_id`` pages on from the last id
        of the previous page."""
        stmt = select(events)
        if after_id is not None:
            stmt = stmt.where(events.c.id > after_id)
        if invoice_id is not None:
            stmt = stmt.where(events.c.invoice_id == clean(invoice_id, 15))
        if verdict is not None:
            wanted = [verdict] if isinstance(verdict, str) else list(verdict)
            stmt = stmt.where(events.c.verdict.in_([EventVerdict(v).value for v in wanted]))
        stmt = stmt.order_by(events.c.id).limit(max(0, limit))
        with self._read() as conn:
            return [event_record(r) for r in conn.execute(stmt)]


def write_verdict(
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
    """Write the verdict on an event inside the caller's transaction, with what it changed and
    what it turned out to be about (only a valid invoice id is kept)."""
    values: dict[str, Any] = {"verdict": verdict.value, "processed_at": clock()}
    if reason is not None:
        values["reason"] = clean(reason, 2000)
    if outcome is not None:
        values["outcome"] = outcome.value
    if invoice_id is not None and is_invoice_id(invoice_id):
        values["invoice_id"] = invoice_id
    if transaction_id is not None:
        values["transaction_id"] = clean(transaction_id, 64)
    conn.execute(update(events).where(events.c.id == event_id).values(**values))
