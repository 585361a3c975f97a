"""The :class:`Ledger`: payments, raw postLink events and invoice ids, in the shop's database.

Every guarantee is the database's: unique constraints, conditional updates and row locks, never
a lock held in one process. The same code runs on SQLite (one machine, threads and worker
processes) and PostgreSQL (any number of app instances).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import InvalidArgument, InvoiceIdExhausted, InvoiceIdInUse, PaymentNotFound
from . import invoices
from .engine import READ_ONLY, make_engine
from .models import (
    ApplyResult,
    Change,
    EventRecord,
    EventVerdict,
    News,
    PaymentRecord,
    PaymentStatus,
)
from .schema import migrate
from .states import ALLOWED_FROM, change_for
from .tables import events, invoice_counter, payments

S = PaymentStatus
_INT32 = 2**31 - 1


def _now() -> datetime:
    return datetime.now(UTC)


def to_minor(amount: Decimal | int | str) -> int:
    """Tenge to tiyn; more than two decimals, negative or non-finite amounts are refused."""
    try:
        value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    except InvalidOperation:
        raise InvalidArgument(f"{amount!r} is not an amount") from None
    if not value.is_finite() or value < 0:
        raise InvalidArgument(f"{amount!r} is not an amount")
    minor = value * 100
    if minor != minor.to_integral_value():
        raise InvalidArgument(f"{amount!r} has more than two decimals")
    return int(minor)


def from_minor(minor: int) -> Decimal:
    """Tiyn to tenge, with two decimals."""
    return (Decimal(minor) / 100).quantize(Decimal("0.01"))


def clean(value: object, length: int | None = None) -> str | None:
    """Text fit for any backend's column: NULs dropped (PostgreSQL refuses them), cut to size."""
    if value is None:
        return None
    text_value = str(value).replace("\x00", "")
    if length is not None:
        text_value = text_value[:length]
    return text_value


def _int32(value: int | None) -> int | None:
    return value if value is not None and -_INT32 <= value <= _INT32 else None


def _payment(row: Row[Any]) -> PaymentRecord:
    m = row._mapping
    return PaymentRecord(
        invoice_id=m["invoice_id"],
        amount=from_minor(m["amount_minor"]),
        currency=m["currency"],
        terminal=m["terminal"],
        description=m["description"] or "",
        account_id=m["account_id"],
        language=m["language"],
        name=m["name"],
        email=m["email"],
        phone=m["phone"],
        status=PaymentStatus(m["status"]),
        bank_status=m["bank_status"],
        transaction_id=m["transaction_id"],
        card_mask=m["card_mask"],
        card_type=m["card_type"],
        card_id=m["card_id"],
        issuer=m["issuer"],
        reference=m["reference"],
        approval_code=m["approval_code"],
        reason=m["reason"],
        reason_code=m["reason_code"],
        charged_amount=None if m["charged_minor"] is None else from_minor(m["charged_minor"]),
        refunded_amount=from_minor(m["refunded_minor"] or 0),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        paid_at=m["paid_at"],
        token_expires_at=m["token_expires_at"],
    )


def _event(row: Row[Any]) -> EventRecord:
    m = row._mapping
    try:
        headers = [(str(k), str(v)) for k, v in json.loads(m["headers"] or "[]")]
    except (ValueError, TypeError):
        headers = []
    return EventRecord(
        id=int(m["id"]),
        received_at=m["received_at"],
        kind=m["kind"],
        remote_addr=m["remote_addr"],
        headers=headers,
        body=bytes(m["body"]),
        invoice_id=m["invoice_id"],
        transaction_id=m["transaction_id"],
        verdict=EventVerdict(m["verdict"]),
        outcome=Change(m["outcome"]) if m["outcome"] else None,
        reason=m["reason"],
        processed_at=m["processed_at"],
    )


def _news_values(news: News) -> dict[str, Any]:
    """The columns a piece of news fills; what it does not say is left as it was."""
    values: dict[str, Any] = {
        "transaction_id": clean(news.transaction_id, 64),
        "bank_status": clean(news.bank_status, 24),
        "card_mask": clean(news.card_mask, 32),
        "card_type": clean(news.card_type, 32),
        "card_id": clean(news.card_id, 64),
        "issuer": clean(news.issuer, 500),
        "reference": clean(news.reference, 64),
        "approval_code": clean(news.approval_code, 32),
        "reason": clean(news.reason, 2000),
        "reason_code": _int32(news.reason_code),
    }
    return {k: v for k, v in values.items() if v not in (None, "")}


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
        now = self.now()
        row = {
            "amount_minor": to_minor(amount),
            "currency": clean(currency, 3) or "",
            "terminal": clean(terminal, 64) or "",
            "description": clean(description) or "",
            "account_id": clean(account_id),
            "language": clean(language, 3),
            "name": clean(name),
            "email": clean(email),
            "phone": clean(phone),
            "status": S.NEW.value,
            "refunded_minor": 0,
            "created_at": now,
            "updated_at": now,
        }
        if invoice_id is not None:
            invoice_id = invoices.check_invoice_id(invoice_id)
            if not self._insert_payment(invoice_id, row):
                raise InvoiceIdInUse(
                    f"invoice id {invoice_id} (or another ending in "
                    f"{invoices.suffix_of(invoice_id)}) is already in the ledger; "
                    "an invoice id is never reused."
                )
        else:
            while True:
                invoice_id = self._next_invoice_id()
                if self._insert_payment(invoice_id, row):
                    break
        found = self.get(invoice_id)
        assert found is not None
        return found

    def _insert_payment(self, invoice_id: str, row: Mapping[str, Any]) -> bool:
        values = dict(row, invoice_id=invoice_id, invoice_suffix=invoices.suffix_of(invoice_id))
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(payments).values(**values))
        except IntegrityError:
            return False
        return True

    def _next_invoice_id(self) -> str:
        # Its own committed transaction: a value is consumed even if its id turns out taken.
        with self.engine.begin() as conn:
            row = conn.execute(
                update(invoice_counter)
                .where(invoice_counter.c.name == "invoice")
                .where(invoice_counter.c.next_value < invoices.SUFFIX_SPACE)
                .values(next_value=invoice_counter.c.next_value + 1)
                .returning(
                    invoice_counter.c.next_value,
                    invoice_counter.c.multiplier,
                    invoice_counter.c.offset,
                )
            ).first()
        if row is None:
            raise InvoiceIdExhausted(
                f"all {invoices.SUFFIX_SPACE} invoice suffixes of this ledger are used: ePay "
                "wants the last six digits unique, so no new invoice id can be allocated."
            )
        return invoices.invoice_for(row[0] - 1, row[1], row[2], self.invoice_prefix)

    def record_token(self, invoice_id: str, expires_at: datetime) -> PaymentRecord:
        """Note when the payment's token expires (the bank's ``expires_in`` after it was issued):
        from then on, plus a grace period, reconcile may declare the payment ``expired``. Only
        the first token counts (flask-halyk asks for one per invoice); the status is untouched.
        :class:`PaymentNotFound` if the invoice is unknown."""
        self._ensure()
        with self.engine.begin() as conn:
            conn.execute(
                update(payments)
                .where(payments.c.invoice_id == invoice_id)
                .where(payments.c.token_expires_at.is_(None))
                .values(token_expires_at=expires_at)
            )
        return self.require(invoice_id)

    def get(self, invoice_id: str) -> PaymentRecord | None:
        """The payment with this invoice id, or None."""
        if not invoices.is_invoice_id(invoice_id):
            return None
        with self._read() as conn:
            row = conn.execute(
                select(payments).where(payments.c.invoice_id == invoice_id)
            ).first()
        return _payment(row) if row is not None else None

    def require(self, invoice_id: str) -> PaymentRecord:
        """The payment with this invoice id, or :class:`PaymentNotFound`."""
        found = self.get(invoice_id)
        if found is None:
            raise PaymentNotFound(f"no payment with invoice id {invoice_id!r} in the ledger")
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
        stmt = select(payments)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            stmt = stmt.where(payments.c.status.in_([PaymentStatus(s).value for s in wanted]))
        if since is not None:
            stmt = stmt.where(payments.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(payments.c.created_at < until)
        stmt = stmt.order_by(payments.c.created_at.desc(), payments.c.invoice_id.desc())
        stmt = stmt.limit(max(0, limit)).offset(max(0, offset))
        with self._read() as conn:
            return [_payment(r) for r in conn.execute(stmt)]

    def count(self, status: PaymentStatus | str | None = None) -> int:
        """How many payments (with this status)."""
        stmt = select(func.count()).select_from(payments)
        if status is not None:
            stmt = stmt.where(payments.c.status == PaymentStatus(status).value)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

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
        wanted = [S.NEW.value, S.EXPIRED.value] if include_expired else [S.NEW.value]
        stmt = select(payments).where(
            payments.c.status.in_(wanted), payments.c.created_at <= cutoff
        )
        if after is not None:
            stmt = stmt.where(or_(
                payments.c.created_at > after.created_at,
                and_(payments.c.created_at == after.created_at,
                     payments.c.invoice_id > after.invoice_id),
            ))
        stmt = stmt.order_by(payments.c.created_at, payments.c.invoice_id).limit(max(0, limit))
        with self._read() as conn:
            return [_payment(r) for r in conn.execute(stmt)]

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
        target = news.status
        with self.engine.begin() as conn:
            # FOR UPDATE: concurrent appliers queue here on PostgreSQL; SQLite's BEGIN IMMEDIATE
            # already made this transaction the only writer.
            row = conn.execute(
                select(payments).where(payments.c.invoice_id == invoice_id).with_for_update()
            ).first()
            if row is None:
                raise PaymentNotFound(f"no payment with invoice id {invoice_id!r} in the ledger")
            current = _payment(row)
            allowed = ALLOWED_FROM[target]
            if current.status in allowed:
                now = self.now()
                values = _news_values(news)
                values.update(status=target.value, updated_at=now)
                if target.is_success and current.paid_at is None:
                    values["paid_at"] = now
                if target is S.REFUNDED:
                    values["refunded_minor"] = to_minor(current.taken_amount)
                result = conn.execute(
                    update(payments)
                    .where(payments.c.invoice_id == invoice_id)
                    .where(payments.c.status.in_([s.value for s in allowed]))
                    .values(**values)
                )
                # Belt and braces: the row lock makes this 1; the WHERE would make a lost
                # race 0 even without it.
                if result.rowcount == 1:
                    change = change_for(current.status, target)
                    if event_id is not None:
                        self._judge(conn, event_id, EventVerdict.DISPATCHING, outcome=change,
                                    invoice_id=invoice_id, transaction_id=news.transaction_id)
                    updated = conn.execute(
                        select(payments).where(payments.c.invoice_id == invoice_id)
                    ).one()
                    return ApplyResult(_payment(updated), change, EventVerdict.DISPATCHING)
            if current.status is target or (target.is_success and current.status.is_success
                                            and current.status is not S.AUTHORIZED):
                verdict, reason = EventVerdict.DUPLICATE, f"payment already {current.status}"
            else:
                verdict = EventVerdict.STALE
                reason = f"payment is {current.status}; {target} news ignored"
            if event_id is not None:
                self._judge(conn, event_id, verdict, reason=reason, invoice_id=invoice_id,
                            transaction_id=news.transaction_id)
            return ApplyResult(current, None, verdict, reason)

    def record_charge(self, invoice_id: str, amount: Decimal | None) -> ApplyResult:
        """Record a charge ePay accepted: ``authorized`` (or ``paid``, when a postLink said so
        before the charge) becomes ``paid`` with the charged amount. Once only."""
        return self._operation(invoice_id, "charge", amount)

    def record_cancel(self, invoice_id: str) -> ApplyResult:
        """Record a cancel ePay accepted: the payment becomes ``cancelled``. Once only."""
        return self._operation(invoice_id, "cancel", None)

    def record_refund(self, invoice_id: str, amount: Decimal) -> ApplyResult:
        """Record a refund ePay accepted: amounts add up, never beyond what was taken (the
        charged amount of a partly charged payment, else the payment's amount);
        ``partially_refunded`` until it is all refunded, then ``refunded``."""
        return self._operation(invoice_id, "refund", amount)

    def _operation(self, invoice_id: str, kind: str, amount: Decimal | None) -> ApplyResult:
        self._ensure()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(payments).where(payments.c.invoice_id == invoice_id).with_for_update()
            ).first()
            if row is None:
                raise PaymentNotFound(f"no payment with invoice id {invoice_id!r} in the ledger")
            current = _payment(row)
            values: dict[str, Any] = {"updated_at": self.now()}
            change: Change | None = None
            if kind == "charge" and current.status in (S.AUTHORIZED, S.PAID) \
                    and current.charged_amount is None:
                values.update(status=S.PAID.value, bank_status="CHARGE",
                              charged_minor=to_minor(amount if amount is not None
                                                     else current.amount))
                change = Change.CHARGED
            elif kind == "cancel" and current.status is not S.CANCELLED:
                values.update(status=S.CANCELLED.value, bank_status="CANCEL")
                change = Change.CANCELLED
            elif kind == "refund" and amount is not None:
                # Of a partly charged payment, only the charged part was taken and can return.
                total = to_minor(current.taken_amount)
                refunded = min(total, to_minor(current.refunded_amount) + to_minor(amount))
                values.update(
                    refunded_minor=refunded,
                    status=(S.REFUNDED if refunded >= total else S.PARTIALLY_REFUNDED).value,
                    bank_status="REFUND",
                )
                change = Change.REFUNDED
            if change is None:
                return ApplyResult(current, None, EventVerdict.DUPLICATE,
                                   f"payment already {current.status}")
            conn.execute(
                update(payments).where(payments.c.invoice_id == invoice_id).values(**values)
            )
            updated = conn.execute(
                select(payments).where(payments.c.invoice_id == invoice_id)
            ).one()
            return ApplyResult(_payment(updated), change, EventVerdict.APPLIED)

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
            result = conn.execute(
                insert(events)
                .values(
                    received_at=self.now(),
                    kind=clean(kind, 24),
                    remote_addr=clean(remote_addr, 64),
                    # ASCII JSON: whatever the headers hold, the text column can store it.
                    headers=json.dumps([[str(k), str(v)] for k, v in headers]),
                    body=bytes(body),
                    verdict=verdict.value,
                    reason=clean(reason, 2000),
                    processed_at=None if verdict is EventVerdict.RECEIVED else self.now(),
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
        with self.engine.begin() as conn:
            self._judge(conn, event_id, verdict, reason=reason, invoice_id=invoice_id,
                        transaction_id=transaction_id)

    def _judge(
        self,
        conn: Connection,
        event_id: int,
        verdict: EventVerdict,
        *,
        reason: str | None = None,
        outcome: Change | None = None,
        invoice_id: str | None = None,
        transaction_id: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"verdict": verdict.value, "processed_at": self.now()}
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
        self, event_id: int, from_verdicts: Iterable[EventVerdict], to: EventVerdict,
        *, older_than: datetime | None = None,
    ) -> bool:
        """Move an event from one of ``from_verdicts`` to ``to``, if no one else did first
        (and, with ``older_than``, only if its verdict was written before then)."""
        self._ensure()
        conditions = [events.c.id == event_id,
                      events.c.verdict.in_([v.value for v in from_verdicts])]
        if older_than is not None:
            conditions.append(events.c.processed_at < older_than)
        with self.engine.begin() as conn:
            result = conn.execute(
                update(events).where(and_(*conditions))
                .values(verdict=to.value, processed_at=self.now())
            )
            return result.rowcount == 1

    def get_event(self, event_id: int) -> EventRecord | None:
        """One event by id."""
        with self._read() as conn:
            row = conn.execute(select(events).where(events.c.id == event_id)).first()
        return _event(row) if row is not None else None

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
            return [_event(r) for r in conn.execute(stmt)]

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


__all__ = ["Ledger", "clean", "from_minor", "to_minor"]
