"""The payments (``halyk_payments``): a new payment and its invoice id, its token's expiry, and
reading payments back. Functions of the engine (creating a payment takes several transactions)
or of a connection the :class:`Ledger` opened."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import InvoiceIdExhausted, InvoiceIdInUse, PaymentNotFound
from . import invoices
from .models import PaymentRecord, PaymentStatus
from .rows import clean, payment_record, to_minor
from .tables import invoice_counter, payments


def not_found(invoice_id: str) -> PaymentNotFound:
    """The error for an invoice the ledger does not hold."""
    return PaymentNotFound(f"no payment with invoice id {invoice_id!r} in the ledger")


# -- a new payment -------------------------------------------------------------------------

def new_payment_row(
    now: datetime,
    *,
    amount: Decimal | int | str,
    currency: str,
    terminal: str,
    description: str,
    account_id: str | None,
    language: str | None,
    name: str | None,
    email: str | None,
    phone: str | None,
) -> dict[str, Any]:
    """The columns of a new payment (status ``new``), all but its invoice id."""
    return {
        "amount_minor": to_minor(amount),
        "currency": clean(currency, 3) or "",
        "terminal": clean(terminal, 64) or "",
        "description": clean(description) or "",
        "account_id": clean(account_id),
        "language": clean(language, 3),
        "name": clean(name),
        "email": clean(email),
        "phone": clean(phone),
        "status": PaymentStatus.NEW.value,
        "refunded_minor": 0,
        "created_at": now,
        "updated_at": now,
    }


def insert_payment(
    engine: Engine, row: Mapping[str, Any], invoice_id: str | None, prefix: str
) -> str:
    """Insert a new payment under ``invoice_id``, or under the next free allocated id (``prefix``
    + six digits) when it is None; returns the id. A given id must be valid
    (:class:`InvoiceIdError`) and neither it nor its last six digits may be taken
    (:class:`InvoiceIdInUse`)."""
    if invoice_id is not None:
        invoice_id = invoices.check_invoice_id(invoice_id)
        if not _insert(engine, invoice_id, row):
            raise InvoiceIdInUse(
                f"invoice id {invoice_id} (or another ending in "
                f"{invoices.suffix_of(invoice_id)}) is already in the ledger; "
                "an invoice id is never reused."
            )
        return invoice_id
    while True:
        invoice_id = _next_invoice_id(engine, prefix)
        if _insert(engine, invoice_id, row):
            return invoice_id


def _insert(engine: Engine, invoice_id: str, row: Mapping[str, Any]) -> bool:
    values = dict(row, invoice_id=invoice_id, invoice_suffix=invoices.suffix_of(invoice_id))
    try:
        with engine.begin() as conn:
            conn.execute(insert(payments).values(**values))
    except IntegrityError:
        return False
    return True


def _next_invoice_id(engine: Engine, prefix: str) -> str:
    # Its own committed transaction: a value is consumed even if its id turns out taken.
    with engine.begin() as conn:
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
    return invoices.invoice_for(row[0] - 1, row[1], row[2], prefix)


def set_token_expiry(conn: Connection, invoice_id: str, expires_at: datetime) -> None:
    """Note when the payment's first token expires; a later token changes nothing."""
    conn.execute(
        update(payments)
        .where(payments.c.invoice_id == invoice_id)
        .where(payments.c.token_expires_at.is_(None))
        .values(token_expires_at=expires_at)
    )


# -- reading payments ----------------------------------------------------------------------

def get_payment(conn: Connection, invoice_id: str) -> PaymentRecord | None:
    """The payment with this invoice id, or None."""
    row = conn.execute(select(payments).where(payments.c.invoice_id == invoice_id)).first()
    return payment_record(row) if row is not None else None


def lock_payment(conn: Connection, invoice_id: str) -> PaymentRecord:
    """The payment, its row locked until the transaction ends; :class:`PaymentNotFound`."""
    # FOR UPDATE: concurrent writers queue here on PostgreSQL; SQLite's BEGIN IMMEDIATE
    # already made this transaction the only writer.
    row = conn.execute(
        select(payments).where(payments.c.invoice_id == invoice_id).with_for_update()
    ).first()
    if row is None:
        raise not_found(invoice_id)
    return payment_record(row)


def query_payments(
    conn: Connection,
    status: PaymentStatus | str | Iterable[PaymentStatus | str] | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> list[PaymentRecord]:
    """Payments newest first (see :meth:`Ledger.query`)."""
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
    return [payment_record(r) for r in conn.execute(stmt)]


def count_payments(conn: Connection, status: PaymentStatus | str | None) -> int:
    """How many payments (with this status)."""
    stmt = select(func.count()).select_from(payments)
    if status is not None:
        stmt = stmt.where(payments.c.status == PaymentStatus(status).value)
    return int(conn.execute(stmt).scalar_one())


def pending_payments(
    conn: Connection,
    cutoff: datetime,
    limit: int,
    after: PaymentRecord | None,
    include_expired: bool,
) -> list[PaymentRecord]:
    """Payments ``new`` (and ``expired`` with ``include_expired``) created by ``cutoff``, oldest
    first, one page after ``after`` (see :meth:`Ledger.pending`)."""
    wanted = [PaymentStatus.NEW.value]
    if include_expired:
        wanted.append(PaymentStatus.EXPIRED.value)
    stmt = select(payments).where(
        payments.c.status.in_(wanted), payments.c.created_at <= cutoff
    )
    if after is not None:
        # Keyed on (created_at, invoice_id), not an offset: a page stays whole while payments
        # leave ``new`` between two reads.
        stmt = stmt.where(or_(
            payments.c.created_at > after.created_at,
            and_(payments.c.created_at == after.created_at,
                 payments.c.invoice_id > after.invoice_id),
        ))
    stmt = stmt.order_by(payments.c.created_at, payments.c.invoice_id).limit(max(0, limit))
    return [payment_record(r) for r in conn.execute(stmt)]


__all__ = [
    "count_payments",
    "get_payment",
    "insert_payment",
    "lock_payment",
    "new_payment_row",
    "not_found",
    "pending_payments",
    "query_payments",
    "set_token_expiry",
]
