"""The :class:`Ledger`: payments, raw postLink events and invoice ids, in the shop's database.

Every guarantee is the database's: unique constraints, conditional updates and row locks, never
a lock held in one process. The same code runs on SQLite (one machine, threads and worker
processes) and PostgreSQL (any number of app instances).

This module is the facade: it owns the engine, the schema's readiness, the clock and the
transactions; the SQL lives by concern in ``payments.py`` (new payments, invoice ids, reading
payments), ``changes.py`` (news and operations moving a payment), ``events.py`` (raw events and
their verdicts), and row conversions in ``rows.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from . import invoices
from .changes import apply_news, record_operation
from .engine import READ_ONLY, make_engine
from .events import claim_event, find_events, get_event, judge_event, record_event
from .models import ApplyResult, EventRecord, EventVerdict, News, PaymentRecord, PaymentStatus
from .payments import (
    count_payments,
    get_payment,
    insert_payment,
    new_payment_row,
    not_found,
    pending_payments,
    query_payments,
    set_token_expiry,
)
from .rows import clean, from_minor, to_minor
from .schema import migrate


def _now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """The payment ledger. ``url``: an SQLAlchemy URL, a SQLite file or PostgreSQL
    (``postgresql+psycopg://...``). The schema is created (or migrated) on first use, or by
    :meth:`init_db` (``flask halyk init-db``).

    ``invoice_prefix``: the digits put before the six allocated ones (default ``"100"``, so ids
    look like ``100483920``).

    ``clock``: what the ledger believes the time is (an aware UTC datetime); every time it
    writes, and every "older than" it reads, comes from it. The system clock by default; tests
    and tools may set ``ledger.clock`` to move time.
    """

    def __init__(self, url: str, *, invoice_prefix: str = "100",
                 clock: Callable[[], datetime] | None = None, **engine_options: Any) -> None:
        self.url = url
        self.invoice_prefix = invoices.check_prefix(invoice_prefix)
        self.clock: Callable[[], datetime] = clock or _now
        self.engine = make_engine(url, **engine_options)
        self._ready = False
        self._ready_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Ledger({self.engine.url.render_as_string(hide_password=True)!r})"

    def now(self) -> datetime:
        """The ledger's time (:attr:`clock`)."""
        return self.clock()

    # -- schema ------------------------------------------------------------------------------

    def init_db(self) -> int:
        """Create or migrate the tables; idempotent and safe to run concurrently. Returns the
        schema version."""
        with self.engine.begin() as conn:
            version = migrate(conn)
        self._ready = True
        return version

    def _ensure(self) -> None:
        if self._ready:
            return
        # The lock only spares this process repeated DDL; migrate() is safe across processes.
        with self._ready_lock:
            if not self._ready:
                self.init_db()

    def _read(self) -> Connection:
        self._ensure()
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    # -- payments ----------------------------------------------------------------------------

    def create_payment(
        self,
        *,
        invoice_id: str | None,
        amount: Decimal | int | str,
        currency: str,
        terminal: str,
        description: str = "",
        account_id: str | None = None,
        language: str | None = None,
        name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
    ) -> PaymentRecord:
        """Record a new payment (status ``new``) and return it. ``invoice_id=None`` allocates
        one. A given id must be valid (:class:`InvoiceIdError`) and neither it nor its last six
        digits may be in the ledger already (:class:`InvoiceIdInUse`)."""
        self._ensure()
        row = new_payment_row(
            self.now(), amount=amount, currency=currency, terminal=terminal,
            description=description, account_id=account_id, language=language, name=name,
            email=email, phone=phone,
        )
        invoice_id = insert_payment(self.engine, row, invoice_id, self.invoice_prefix)
        found = self.get(invoice_id)
        assert found is not None
        return found

    def record_token(self, invoice_id: str, expires_at: datetime) -> PaymentRecord:
        """Note when the payment's token expires (the bank's ``expires_in`` after it was issued):
        from then on, plus a grace period, reconcile may declare the payment ``expired``. Only
        the first token counts (flask-halyk asks for one per invoice); the status is untouched.
        :class:`PaymentNotFound` if the invoice is unknown."""
        self._ensure()
        with self.engine.begin() as conn:
            set_token_expiry(conn, invoice_id, expires_at)
        return self.require(invoice_id)

    def get(self, invoice_id: str) -> PaymentRecord | None:
        """The payment with this invoice id, or None."""
        if not invoices.is_invoice_id(invoice_id):
            return None
        with self._read() as conn:
            return get_payment(conn, invoice_id)

    def require(self, invoice_id: str) -> PaymentRecord:
        """The payment with this invoice id, or :class:`PaymentNotFound`."""
        found = self.get(invoice_id)
        if found is None:
            raise not_found(invoice_id)
        return found

    def query(
        self,
        status: PaymentStatus | str | Iterable[PaymentStatus | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[PaymentRecord]:
        """Payments, newest first; ``status`` one or several, ``since``/``until`` bound
        ``created_at`` (aware datetimes; ``until`` excluded)."""
        with self._read() as conn:
            return query_payments(conn, status, since, until, limit, offset)

    def count(self, status: PaymentStatus | str | None = None) -> int:
        """How many payments (with this status)."""
        with self._read() as conn:
            return count_payments(conn, status)

    def pending(
        self,
        older_than: timedelta,
        limit: int = 1000,
        after: PaymentRecord | None = None,
        *,
        include_expired: bool = False,
    ) -> list[PaymentRecord]:
        """Payments still ``new`` (and ``expired`` ones too with ``include_expired``) that were
        created more than ``older_than`` ago, oldest first (by creation time, then invoice id).
        ``after``: the last payment of the previous page; pages keyed so, not by offset, stay
        whole while payments leave ``new`` between them."""
        cutoff = self.now() - older_than
        with self._read() as conn:
            return pending_payments(conn, cutoff, limit, after, include_expired)

    # -- news: postLinks and status answers --------------------------------------------------

    def apply(self, invoice_id: str, news: News, *, event_id: int | None = None) -> ApplyResult:
        """Apply news to a payment, atomically, in the state machine's terms.

        Exactly one of any number of concurrent copies of the same news changes the payment
        (``change`` set, event ``dispatching``); the others get ``duplicate`` (the payment is
        already there) or ``stale`` (it has moved past: a late failure after a success). The
        event's verdict is written in the same transaction. :class:`PaymentNotFound` if the
        invoice is unknown. The event learns its invoice and transaction in the same transaction.
        """
        self._ensure()
        with self.engine.begin() as conn:
            return apply_news(conn, self.now, invoice_id, news, event_id)

    # -- the shop's operations, once ePay accepted them --------------------------------------

    def record_charge(self, invoice_id: str, amount: Decimal | None) -> ApplyResult:
        """Record a charge ePay accepted: ``authorized`` (or ``paid``, when a postLink said so
        before the charge) becomes ``paid`` with the charged amount. Once only."""
        self._ensure()
        with self.engine.begin() as conn:
            return record_operation(conn, self.now, invoice_id, "charge", amount)

    def record_cancel(self, invoice_id: str) -> ApplyResult:
        """Record a cancel ePay accepted: the payment becomes ``cancelled``. Once only."""
        self._ensure()
        with self.engine.begin() as conn:
            return record_operation(conn, self.now, invoice_id, "cancel", None)

    def record_refund(self, invoice_id: str, amount: Decimal) -> ApplyResult:
        """Record a refund ePay accepted: amounts add up, never beyond what was taken (the
        charged amount of a partly charged payment, else the payment's amount);
        ``partially_refunded`` until it is all refunded, then ``refunded``."""
        self._ensure()
        with self.engine.begin() as conn:
            return record_operation(conn, self.now, invoice_id, "refund", amount)

    # -- events ------------------------------------------------------------------------------

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
        self._ensure()
        with self.engine.begin() as conn:
            return record_event(conn, self.now, kind=kind, body=body, headers=headers,
                                remote_addr=remote_addr, verdict=verdict, reason=reason)

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
        with self.engine.begin() as conn:
            judge_event(conn, self.now, event_id, verdict, reason=reason,
                        invoice_id=invoice_id, transaction_id=transaction_id)

    def claim_event(
        self, event_id: int, from_verdicts: Iterable[EventVerdict], to: EventVerdict,
        *, older_than: datetime | None = None,
    ) -> bool:
        """Move an event from one of ``from_verdicts`` to ``to``, if no one else did first
        (and, with ``older_than``, only if its verdict was written before then)."""
        self._ensure()
        with self.engine.begin() as conn:
            return claim_event(conn, self.now, event_id, from_verdicts, to,
                               older_than=older_than)

    def get_event(self, event_id: int) -> EventRecord | None:
        """One event by id."""
        with self._read() as conn:
            return get_event(conn, event_id)

    def events(
        self,
        invoice_id: str | None = None,
        verdict: EventVerdict | str | Iterable[EventVerdict | str] | None = None,
        limit: int = 1000,
        after_id: int | None = None,
    ) -> list[EventRecord]:
        """Stored events, oldest first, for inspection; ``after_id`` pages on from the last id
        of the previous page."""
        with self._read() as conn:
            return find_events(conn, invoice_id, verdict, limit, after_id)

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


# clean, to_minor and from_minor live in rows.py; importers of this module keep working.
__all__ = ["Ledger", "clean", "from_minor", "to_minor"]
