"""The raw events (``halyk_events``): everything the bank sent, stored before it is read, the
verdict written on it later, and the claims on their receivers.

An event that changed a payment is ``dispatching`` while its receivers run, under a claim: a
random token and a lease (``lease_until``) that its holder renews while they run. Only the
holder renews or ends it; once the lease lapses (the holder died: a killed worker), anyone may
claim the event again and finish its receivers. Every claim is one conditional update, so of
concurrent claimers one wins.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from ..invoices import is_invoice_id
from .core import LedgerCore
from .models import EventRecord
from .rows import clean, event_record
from .states import Change, EventVerdict
from .tables import events

__all__ = ["EventStore", "dispatching_events", "insert_event", "new_claim", "write_verdict"]


class EventStore(LedgerCore):
    """The ledger's events: :meth:`record_event` before anything is made of a body,
    :meth:`judge_event` once it is, :meth:`claim_dispatch`, :meth:`renew_claim` and
    :meth:`end_claim` for whoever runs its receivers (again)."""

    def record_event(
        self,
        *,
        kind: str,
        body: bytes,
        headers: Sequence[tuple[str, str]] = (),
        remote_addr: str | None = None,
        verdict: EventVerdict = EventVerdict.RECEIVED,
        reason: str | None = None,
        invoice_id: str | None = None,
        transaction_id: str | None = None,
    ) -> int:
        """Store a raw event, before anything is made of it (``received``), or with its
        verdict when it was judged without the ledger (``malformed``, ``rejected``): one
        INSERT, one commit. Returns its id."""
        with self._write() as conn:
            return insert_event(conn, self.now(), kind=kind, body=body, headers=headers,
                                remote_addr=remote_addr, verdict=verdict, reason=reason,
                                invoice_id=invoice_id, transaction_id=transaction_id)

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

    def claim_dispatch(
        self, event_id: int, *, failed: bool = False, started_before: datetime | None = None,
        unleased_before: datetime | None = None,
    ) -> str | None:
        """Claim the receivers of an event, to run them (again): a ``failed`` one (``failed``),
        or a ``dispatching`` one whose claim lapsed (its holder died). Returns the new claim,
        with a fresh lease, or None when the event is not there or someone else holds it.

        ``started_before``: only if its receivers started before then. ``unleased_before``: a
        claim without a lease (written before schema 3) counts as lapsed when it was written
        before then (never, when None).
        """
        now = self.now()
        if failed:
            conditions = [events.c.verdict == EventVerdict.FAILED.value]
        else:
            lapsed = events.c.lease_until < now
            if unleased_before is not None:
                lapsed = or_(lapsed, and_(events.c.lease_until.is_(None),
                                          events.c.processed_at < unleased_before))
            conditions = [events.c.verdict == EventVerdict.DISPATCHING.value, lapsed]
        if started_before is not None:
            conditions.append(events.c.processed_at < started_before)
        claim = new_claim()
        with self._write() as conn:
            result = conn.execute(
                update(events).where(events.c.id == event_id, *conditions).values(
                    verdict=EventVerdict.DISPATCHING.value, processed_at=now, claim=claim,
                    lease_until=now + self.dispatch_lease,
                )
            )
        return claim if result.rowcount == 1 else None

    def renew_claim(self, event_id: int, claim: str) -> bool:
        """Extend the lease of a claim its holder still holds; False if it lapsed and another
        process claimed the event (or it ended)."""
        now = self.now()
        with self._write() as conn:
            result = conn.execute(
                update(events).where(
                    events.c.id == event_id, events.c.claim == claim,
                    events.c.verdict == EventVerdict.DISPATCHING.value,
                ).values(lease_until=now + self.dispatch_lease)
            )
        return result.rowcount == 1

    def end_claim(self, event_id: int, claim: str, verdict: EventVerdict, *,
                  reason: str | None = None) -> bool:
        """Write the verdict of the receivers run under ``claim`` (``applied`` or ``failed``),
        if the claim still holds; False if another process took the event over meanwhile (its
        verdict is then theirs to write)."""
        values: dict[str, Any] = {"b_id": event_id, "b_claim": claim,
                                  "verdict": verdict.value, "processed_at": self.now()}
        if reason is not None:
            values["reason"] = clean(reason, 2000)
        with self._write() as conn:
            result = conn.execute(_END_CLAIM, values)
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


def new_claim() -> str:
    """A claim token: whoever holds it runs the event's receivers."""
    return secrets.token_hex(16)


def dispatching_events(conn: Connection, invoice_id: str, *,
                       but: int | None = None) -> tuple[int, ...]:
    """The ids of the payment's events whose receivers are ``dispatching`` (other than
    ``but``), read inside the caller's transaction."""
    # Event ids start at 1: 0 excludes none.
    found = conn.execute(_DISPATCHING, {"b_invoice_id": invoice_id, "b_but": but or 0}).scalars()
    return tuple(int(event_id) for event_id in found)


# The statements of every postLink, built once (parameters bound at execution): building one
# per call cost more than SQLite's own work.
_INSERT_EVENT = insert(events).returning(events.c.id)
_DISPATCHING = (
    select(events.c.id)
    .where(events.c.invoice_id == bindparam("b_invoice_id"),
           events.c.verdict == EventVerdict.DISPATCHING.value,
           events.c.id != bindparam("b_but"))
    .order_by(events.c.id)
)
_END_CLAIM = (
    update(events)
    .where(events.c.id == bindparam("b_id"), events.c.claim == bindparam("b_claim"),
           events.c.verdict == EventVerdict.DISPATCHING.value)
    .values(lease_until=None)  # verdict, processed_at (and reason) come with the parameters
)


def insert_event(
    conn: Connection,
    now: datetime,
    *,
    kind: str,
    body: bytes,
    headers: Sequence[tuple[str, str]] = (),
    remote_addr: str | None = None,
    verdict: EventVerdict = EventVerdict.RECEIVED,
    reason: str | None = None,
    outcome: Change | None = None,
    invoice_id: str | None = None,
    transaction_id: str | None = None,
    claim: str | None = None,
    lease_until: datetime | None = None,
) -> int:
    """Insert a raw event inside the caller's transaction, with its verdict when it is known
    already (what it changed, what it is about: only a valid invoice id is kept, and the
    claim on its receivers when it is ``dispatching``); returns its id."""
    result = conn.execute(_INSERT_EVENT, {
        "received_at": now,
        "kind": clean(kind, 24),
        "remote_addr": clean(remote_addr, 64),
        # ASCII JSON: whatever the headers hold, the text column can store it.
        "headers": json.dumps([[str(k), str(v)] for k, v in headers]),
        "body": bytes(body),
        "verdict": verdict.value,
        "reason": clean(reason, 2000),
        "processed_at": None if verdict is EventVerdict.RECEIVED else now,
        "outcome": outcome.value if outcome is not None else None,
        "invoice_id": invoice_id if invoice_id is not None and is_invoice_id(invoice_id)
        else None,
        "transaction_id": clean(transaction_id, 64),
        "claim": claim,
        "lease_until": lease_until,
    })
    return int(result.scalar_one())


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
    claim: str | None = None,
    lease_until: datetime | None = None,
) -> None:
    """Write the verdict on an event inside the caller's transaction, with what it changed and
    what it turned out to be about (only a valid invoice id is kept), and the claim on its
    receivers when it is ``dispatching``."""
    values: dict[str, Any] = {"verdict": verdict.value, "processed_at": clock()}
    if claim is not None:
        values.update(claim=claim, lease_until=lease_until)
    if reason is not None:
        values["reason"] = clean(reason, 2000)
    if outcome is not None:
        values["outcome"] = outcome.value
    if invoice_id is not None and is_invoice_id(invoice_id):
        values["invoice_id"] = invoice_id
    if transaction_id is not None:
        values["transaction_id"] = clean(transaction_id, 64)
    conn.execute(update(events).where(events.c.id == event_id).values(**values))
