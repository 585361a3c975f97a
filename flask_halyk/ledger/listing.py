"""The back office's reads: payments filtered and keyset-paged, a payment's timeline (its
events with their verdicts and bodies, secrets redacted), the events that need a look, and a
streamed CSV export.

Pages are keyed by the last row of the previous page (``created_at``, ``invoice_id``), never by
an offset: page 1,000 costs what page 1 costs (an index range scan from the key, see
``benchmarks/dashboard_list.py``), and a page stays whole while payments arrive meanwhile.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, literal, select, tuple_

from .. import invoices
from ..errors import InvalidArgument
from ..money import parse_amount, to_minor
from ..redaction import SECRET_FIELDS, scrub
from .core import LedgerCore
from .journal import read_journal
from .models import EventRecord, PaymentRecord
from .payments import not_found
from .rows import card_last4, event_record, payment_record
from .states import Change, EventVerdict, PaymentStatus
from .tables import events, payments

__all__ = [
    "CSV_COLUMNS",
    "EventPage",
    "FilterError",
    "ListingStore",
    "PaymentFilter",
    "PaymentPage",
    "Timeline",
    "TimelineEntry",
    "decode_cursor",
    "encode_cursor",
    "redacted_body",
]

#: The most rows one page may hold.
MAX_PAGE = 500

#: The verdicts of the events a person should look at: refused and postponed postLinks
#: (those that fired ``postlink_rejected``), and receivers that raised.
ATTENTION = (EventVerdict.REJECTED, EventVerdict.DEFERRED, EventVerdict.MALFORMED,
             EventVerdict.FAILED)


@dataclass(frozen=True)
class PaymentFilter:
    """Which payments a listing shows; every field left None (or empty) does not filter.

    ``created_from`` is included, ``created_until`` excluded (aware datetimes). Amounts bound
    the payment's amount, both included. ``invoice_id``: that invoice exactly;
    ``invoice_prefix``: ids starting with these digits. ``card_mask``: the card's mask as
    stored (``440043...3232``), or its last four digits alone (``3232``).
    """

    status: tuple[PaymentStatus, ...] = ()
    created_from: datetime | None = None
    created_until: datetime | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    invoice_id: str | None = None
    invoice_prefix: str | None = None
    account_id: str | None = None
    card_mask: str | None = None

    def __post_init__(self) -> None:
        for name in ("created_from", "created_until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be an aware datetime")
        if self.invoice_prefix is not None and not self.invoice_prefix.isdigit():
            raise ValueError("invoice_prefix: digits only")
        object.__setattr__(self, "status", tuple(PaymentStatus(s) for s in self.status))

    @classmethod
    def parse(cls, *, status: Iterable[str] = (), created_from: str | None = None,
              created_to: str | None = None, amount_min: str | None = None,
              amount_max: str | None = None, invoice: str | None = None,
              account_id: str | None = None, card: str | None = None,
              zone: tzinfo = UTC) -> PaymentFilter:
        """A filter from what a person typed (a form's fields, a command's options); blank
        values do not filter. Dates are ``YYYY-MM-DD`` (days in ``zone``, UTC by default;
        ``created_to``'s day included) or ISO datetimes (with an offset, or in ``zone``);
        ``invoice``: the id or its first digits.
        :class:`FilterError` (a ``ValueError``, naming the field) for what cannot be read."""

        def blank(value: str | None) -> str | None:
            return value.strip() or None if value is not None else None

        try:
            statuses = tuple(PaymentStatus(s) for s in status if s)
        except ValueError:
            raise FilterError("status", "not a payment status") from None
        invoice = blank(invoice)
        if invoice is not None and not invoice.isdigit():
            raise FilterError("invoice", "an invoice id has digits only")
        return cls(
            status=statuses,
            created_from=_when("created_from", blank(created_from), zone, end=False),
            created_until=_when("created_to", blank(created_to), zone, end=True),
            amount_min=_amount("amount_min", blank(amount_min)),
            amount_max=_amount("amount_max", blank(amount_max)),
            invoice_prefix=invoice,
            account_id=blank(account_id),
            card_mask=blank(card),
        )

    def where(self) -> list[Any]:
        """The SQL conditions of this filter."""
        c = payments.c
        found: list[Any] = []
        if self.status:
            found.append(c.status.in_([s.value for s in self.status]))
        if self.created_from is not None:
            found.append(c.created_at >= self.created_from)
        if self.created_until is not None:
            found.append(c.created_at < self.created_until)
        if self.amount_min is not None:
            found.append(c.amount_minor >= to_minor(max(self.amount_min, Decimal(0))))
        if self.amount_max is not None:
            found.append(c.amount_minor <= to_minor(max(self.amount_max, Decimal(0))))
        if self.invoice_id is not None:
            found.append(c.invoice_id == self.invoice_id)
        if self.invoice_prefix:
            # A range, not LIKE: the primary key's index serves it whatever the collation.
            found.append(c.invoice_id >= self.invoice_prefix)
            upper = _after_prefix(self.invoice_prefix)
            if upper is not None:
                found.append(c.invoice_id < upper)
        if self.account_id is not None:
            found.append(c.account_id == self.account_id)
        if self.card_mask:
            mask = self.card_mask.strip()
            # Both by the last four digits' index; a whole mask must match too.
            found.append(c.card_last4 == (mask if len(mask) == 4 else card_last4(mask)))
            if len(mask) != 4:
                found.append(c.card_mask == mask)
        return found


class FilterError(ValueError):
    """A filter's field that cannot be read; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def _when(name: str, value: str | None, zone: tzinfo, *, end: bool) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(),
                                    tzinfo=zone)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(name, "not a date (YYYY-MM-DD)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _amount(name: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_amount(value.replace(" ", "").replace(",", "."), name, allow_zero=True)
    except InvalidArgument:
        raise FilterError(name, "not an amount") from None


def _after_prefix(prefix: str) -> str | None:
    """The least digit string above every string starting with ``prefix`` (None: none is)."""
    digits = prefix.rstrip("9")
    if not digits:
        return None
    return digits[:-1] + str(int(digits[-1]) + 1)


def encode_cursor(record: PaymentRecord) -> str:
    """The key of the page after ``record`` (the last row of a page), fit for a URL."""
    stamp = record.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f")
    return f"{stamp}_{record.invoice_id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(created_at, invoice_id) of :func:`encode_cursor`; ValueError for anything else."""
    stamp, _, invoice_id = cursor.partition("_")
    if not invoices.is_invoice_id(invoice_id):
        raise ValueError("not a page cursor")
    when = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
    return when, invoice_id


@dataclass(frozen=True)
class PaymentPage:
    """One page of a listing, newest first; ``next_cursor``: the key of the next page (None
    on the last one)."""

    payments: list[PaymentRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first; ``next_before``: the id to page on from."""

    events: list[EventRecord]
    next_before: int | None


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a payment. ``kind``: ``created``, ``succeeded``
    (``paid_at``), an event's kind (``postlink``, ``failure_postlink``, ``status``: with its
    verdict, what it changed, the reason, and the stored body and headers with secrets
    redacted), an operation sent to ePay (``refund``, ``charge``, ``cancel``: its amount and
    result), or ``updated`` (a later change with neither: one recorded before the journal
    existed, schema 4)."""

    at: datetime
    kind: str
    event_id: int | None = None
    verdict: EventVerdict | None = None
    outcome: Change | None = None
    reason: str | None = None
    body: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    remote_addr: str | None = None
    #: An operation's (kind ``refund``, ``charge``, ``cancel``): its amount (None: the whole)
    #: and what became of it: ``accepted``, ``refused`` (``reason``: the bank's words) or
    #: ``unanswered``.
    amount: Decimal | None = None
    result: str | None = None


@dataclass(frozen=True)
class Timeline:
    """A payment and everything the ledger knows happened to it, oldest first."""

    payment: PaymentRecord
    entries: list[TimelineEntry]


#: The columns of :meth:`ListingStore.export_csv`, in order.
CSV_COLUMNS = (
    "invoice_id", "created_at", "status", "amount", "currency", "charged_amount",
    "refunded_amount", "bank_status", "transaction_id", "reference", "approval_code",
    "card_mask", "card_type", "account_id", "name", "email", "phone", "description",
    "paid_at", "reason_code", "reason",
)

_HIDDEN_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def redacted_body(body: bytes) -> str:
    """A stored body as text with its credentials hidden: every :data:`SECRET_FIELDS` value
    of a JSON body (at any depth), and whatever :func:`~flask_halyk.redaction.scrub` finds in
    any other (a form's ``secret_hash=...``)."""
    text = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return scrub(text)
    if not isinstance(parsed, dict | list):
        return scrub(text)
    return json.dumps(_hide(parsed), ensure_ascii=False, indent=2)


_SECRET_NAMES = frozenset(name.lower() for name in SECRET_FIELDS)


def _hide(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if str(k).lower() in _SECRET_NAMES else _hide(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_hide(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def _headers(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, "***" if k.lower() in _HIDDEN_HEADERS else scrub(v)) for k, v in pairs]


def _csv_text(value: object) -> str:
    """A cell a spreadsheet shows as text: a customer's ``=HYPERLINK(...)`` is not a formula."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv_row(p: PaymentRecord) -> list[str]:
    amounts = {"amount": p.amount, "charged_amount": p.charged_amount,
               "refunded_amount": p.refunded_amount}
    row: list[str] = []
    for column in CSV_COLUMNS:
        if column in amounts:
            value = amounts[column]
            # The bank's spelling: a dot and two decimals, no grouping ("45000.00").
            row.append("" if value is None else f"{value:.2f}")
        else:
            row.append(_csv_text(getattr(p, column)))
    return row


def _ordered(stmt: Select[Any]) -> Select[Any]:
    return stmt.order_by(payments.c.created_at.desc(), payments.c.invoice_id.desc())


class ListingStore(LedgerCore):
    """Reads for a back office: :meth:`list_payments`, :meth:`timeline`,
    :meth:`attention_events`, :meth:`export_csv`."""

    def list_payments(self, filter: PaymentFilter | None = None, *, after: str | None = None,
                      limit: int = 50) -> PaymentPage:
        """Payments matching ``filter``, newest first (by creation time, then invoice id),
        ``limit`` of them (at most :data:`MAX_PAGE`) after the cursor ``after`` (a page's
        ``next_cursor``; ValueError for one that is not)."""
        limit = max(1, min(limit, MAX_PAGE))
        with self._read() as conn:
            rows = [payment_record(r) for r in conn.execute(
                self._listing(filter, after).limit(limit + 1))]
        more = len(rows) > limit
        rows = rows[:limit]
        return PaymentPage(rows, encode_cursor(rows[-1]) if more and rows else None)

    def _listing(self, filter: PaymentFilter | None, after: str | None) -> Select[Any]:
        stmt = select(payments)
        conditions = filter.where() if filter is not None else []
        if after is not None:
            created, invoice_id = decode_cursor(after)
            # A row value, so that PostgreSQL walks the (created_at, invoice_id) index from
            # the key; SQLite reads row values since 3.15.
            # Bound with the columns' own types: a bare aware datetime would be a
            # TIMESTAMP WITH TIME ZONE, which PostgreSQL compares after converting every row's
            # created_at (no index, and the session's time zone deciding).
            conditions.append(tuple_(payments.c.created_at, payments.c.invoice_id) < tuple_(
                literal(created, payments.c.created_at.type),
                literal(invoice_id, payments.c.invoice_id.type)))
        if conditions:
            stmt = stmt.where(and_(*conditions))
        return _ordered(stmt)

    def export_csv(self, filter: PaymentFilter | None = None, *,
                   batch: int = MAX_PAGE) -> Iterator[str]:
        """The payments of ``filter`` as CSV text (a header line, then one line per payment,
        newest first), yielded a batch of lines at a time: read by keyset pages, one short
        read each, so neither the result nor a transaction is held however many rows there
        are (a download may take minutes). Amounts as the bank writes them (``45000.00``);
        text a spreadsheet would run as a formula is prefixed with ``'``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        yield buffer.getvalue()
        after: str | None = None
        while True:
            page = self.list_payments(filter, after=after, limit=batch)
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(_csv_row(p) for p in page.payments)
            if page.payments:
                yield buffer.getvalue()
            if page.next_cursor is None:
                return
            after = page.next_cursor

    def timeline(self, invoice_id: str) -> Timeline:
        """The payment and, oldest first, its creation, every event stored about it (each
        postLink with its verdict, and every status answer that changed it, bodies and headers
        with secrets redacted), its success, every charge, cancel and refund sent to ePay
        (the journal), and its last change when none of these explains it.
        :class:`PaymentNotFound` if the invoice is unknown."""
        if not invoices.is_invoice_id(invoice_id):
            raise not_found(invoice_id)
        with self._read() as conn:
            row = conn.execute(select(payments).where(payments.c.invoice_id == invoice_id)
                               ).first()
            if row is None:
                raise not_found(invoice_id)
            stored = [event_record(r) for r in conn.execute(
                select(events).where(events.c.invoice_id == invoice_id).order_by(events.c.id))]
            journal = read_journal(conn, invoice_id)
        payment = payment_record(row)
        entries = [TimelineEntry(at=payment.created_at, kind="created")]
        entries += [TimelineEntry(at=j.at, kind=j.operation, amount=j.amount, result=j.outcome,
                                  reason=j.reason) for j in journal]
        entries += [TimelineEntry(
            at=e.received_at, kind=e.kind, event_id=e.id, verdict=e.verdict, outcome=e.outcome,
            reason=e.reason, body=redacted_body(e.body), headers=_headers(e.headers),
            remote_addr=e.remote_addr) for e in stored]
        if payment.paid_at is not None:
            entries.append(TimelineEntry(at=payment.paid_at, kind="succeeded"))
        latest = max(e.at for e in entries)
        if payment.updated_at > latest:
            entries.append(TimelineEntry(at=payment.updated_at, kind="updated",
                                         reason=str(payment.status)))
        entries.sort(key=lambda e: e.at)
        return Timeline(payment, entries)

    def attention_events(self, *, verdicts: Iterable[EventVerdict | str] = ATTENTION,
                         before: int | None = None, limit: int = 50) -> EventPage:
        """Events with one of ``verdicts`` (by default the refused, postponed, malformed
        postLinks and the receivers that raised), newest first, ``limit`` of them with ids
        below ``before`` (a page's ``next_before``)."""
        limit = max(1, min(limit, MAX_PAGE))
        stmt = select(events).where(
            events.c.verdict.in_([EventVerdict(v).value for v in verdicts]))
        if before is not None:
            stmt = stmt.where(events.c.id < before)
        stmt = stmt.order_by(events.c.id.desc()).limit(limit + 1)
        with self._read() as conn:
            found = [event_record(r) for r in conn.execute(stmt)]
        more = len(found) > limit
        found = found[:limit]
        return EventPage(found, found[-1].id if more and found else None)

