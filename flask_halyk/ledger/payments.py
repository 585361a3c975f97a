"""The payments (``halyk_payments``): a new payment and its invoice id, its token's expiry, and
reading payments back."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    RootTransaction,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from .. import invoices
from ..errors import InvoiceIdExhausted, InvoiceIdInUse, PaymentNotFound
from ..money import to_minor
from ..schemas import ACCOUNT_ID_MAX, DESCRIPTION_MAX_BYTES, EMAIL_MAX, NAME_MAX, PHONE_MAX
from .core import LedgerCore, in_background
from .models import InvoiceCapacity, PaymentRecord
from .rows import clean, payment_record
from .states import PaymentStatus
from .tables import invoice_counter, payments

__all__ = ["WARN_AT", "PaymentStore", "PendingPayment", "lock_payment", "not_found"]

log = logging.getLogger("flask_halyk.ledger")


def _insert_new(conn: Connection, invoice_id: str,
                row: Mapping[str, Any]) -> PaymentRecord | None:
    """Insert the payment and return it as stored, or None (nothing inserted, the transaction
    still usable) when its invoice id or suffix is in the ledger already."""
    values = dict(row, invoice_id=invoice_id, invoice_suffix=invoices.suffix_of(invoice_id))
    stmt = _insert_new_statement(conn.dialect.name)
    if stmt is not None:
        created = conn.execute(stmt, values).first()
    else:
        try:
            with conn.begin_nested():
                created = conn.execute(_INSERT, values).first()
        except IntegrityError:
            return None
    return payment_record(created) if created is not None else None


# The statements of create_payment and record_token, built once (parameters bound at execution):
# building a statement per call costs more than the database's own work on SQLite.
_INSERT = insert(payments).returning(*payments.c)
# ON CONFLICT DO NOTHING: a taken id or suffix inserts no row, returns none, and leaves the
# transaction (the counter's bump in it) intact. Other databases take a savepoint.
_INSERT_NEW: dict[str, Any] = {}
_ON_CONFLICT_DIALECTS = ("sqlite", "postgresql")


def _insert_new_statement(dialect: str) -> Any:
    """The INSERT ... ON CONFLICT DO NOTHING RETURNING of ``dialect``, or None."""
    stmt = _INSERT_NEW.get(dialect)
    if stmt is None and dialect in _ON_CONFLICT_DIALECTS:
        # importlib rather than an import statement: the dialect's module is already loaded by
        # the engine that uses it, where importing both at the top would load PostgreSQL's
        # (about 23 ms) into every SQLite shop, and SQLite's into every PostgreSQL one.
        module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
        stmt = module.insert(payments).on_conflict_do_nothing().returning(*payments.c)
        _INSERT_NEW[dialect] = stmt
    return stmt

def _next_value(counter: Any) -> Any:
    # One UPDATE ... RETURNING per id: the counter's row stays locked until the transaction
    # ends, so no other process hands out the same value.
    return (
        update(invoice_counter)
        .where(counter)
        .where(invoice_counter.c.next_value < invoices.SUFFIX_SPACE)
        .values(next_value=invoice_counter.c.next_value + 1)
        .returning(invoice_counter.c.next_value, invoice_counter.c.multiplier,
                   invoice_counter.c.offset, invoice_counter.c.ordinal,
                   invoice_counter.c.warned, invoice_counter.c.name,
                   invoice_counter.c.terminal)
    )


# Per terminal (the terminal's own counter), or the whole ledger's (row ``invoice``).
_NEXT_FOR_TERMINAL = _next_value(invoice_counter.c.terminal == bindparam("b_terminal"))
_NEXT_FOR_LEDGER = _next_value(invoice_counter.c.name == "invoice")
#: The shares of a counter's suffixes at which the ledger warns (once each).
WARN_AT = (80, 95)
_NOTE_TOKEN = (
    update(payments)
    .where(payments.c.invoice_id == bindparam("b_invoice_id"))
    .where(payments.c.token_expires_at.is_(None))
    .values(token_expires_at=bindparam("b_expires_at"))
    .returning(*payments.c)
)
# The expiry noted before the token request (the usual lifetime) replaced by what the bank said,
# or by NULL when the request failed (no token known).
_REPLACE_TOKEN = (
    update(payments)
    .where(payments.c.invoice_id == bindparam("b_invoice_id"))
    .where(payments.c.token_expires_at == bindparam("b_assumed"))
    .values(token_expires_at=bindparam("b_expires_at"))
    .returning(*payments.c)
)
_BY_INVOICE_ID = select(payments).where(payments.c.invoice_id == bindparam("b_invoice_id"))


_CLAIM_ATTEMPTS = 5


def _suffix_taken(conn: Connection, invoice_id: str) -> bool:
    """Whether any payment, of any scope, ends in ``invoice_id``'s six digits (the unique
    index leads with the suffix, so this is one index probe)."""
    return conn.execute(select(payments.c.invoice_id).where(
        payments.c.invoice_suffix == invoices.suffix_of(invoice_id)).limit(1)).first() is not None


def _claim_counter(conn: Connection, terminal: str) -> bool:
    """Give ``terminal`` a counter of its own: the ledger's first one if no terminal has it
    yet, else a new one numbered after the others, with its own random key. False when the
    terminal's counter has handed out all its values. Another process claiming at the same
    time makes the INSERT fail (the name or the terminal is taken), or committed the
    terminal's counter since the caller looked: the caller tries again, and finds the
    terminal's counter or numbers a new one after it."""
    used = conn.execute(select(invoice_counter.c.next_value)
                        .where(invoice_counter.c.terminal == terminal)).scalar()
    if used is not None:
        return bool(used < invoices.SUFFIX_SPACE)
    claimed = conn.execute(update(invoice_counter)
                           .where(invoice_counter.c.name == "invoice",
                                  invoice_counter.c.terminal.is_(None))
                           .values(terminal=terminal))
    if claimed.rowcount:
        return True
    ordinal = int(conn.execute(select(func.max(invoice_counter.c.ordinal))).scalar() or 0) + 1
    multiplier, offset = invoices.new_key()
    try:
        with conn.begin_nested():
            conn.execute(insert(invoice_counter).values(
                name=f"invoice:{ordinal}", terminal=terminal, ordinal=ordinal, next_value=0,
                multiplier=multiplier, offset=offset))
    except IntegrityError:
        pass
    return True


class PaymentStore(LedgerCore):
    """The ledger's payments: creating them (allocating invoice ids) and reading them."""

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
        card_save: bool = False,
        token_expires_at: datetime | None = None,
    ) -> PaymentRecord:
        """Record a new payment (status ``new``) and return it. ``invoice_id=None`` allocates
        one. A given id must be valid (:class:`InvoiceIdError`) and neither it nor its last six
        digits may be in the ledger already (:class:`InvoiceIdInUse`). ``card_save``: the shop
        asked the bank to keep the card (its success's cardId is then kept, :mod:`.cards`).
        ``token_expires_at``: when its token is expected to expire, if known already (see
        :meth:`record_token`).

        The last six digits are unique per terminal, or across the ledger with
        ``suffix_scope="ledger"``; :class:`InvoiceIdExhausted` when the terminal's (the
        ledger's) 10**6 suffixes are all used (docs/ledger.md, "Invoice ids")."""
        row = self._new_row(amount, currency, terminal, description, account_id, language,
                            name, email, phone, card_save, token_expires_at)
        if invoice_id is not None:
            invoice_id = invoices.check_invoice_id(invoice_id)
        crossed: list[InvoiceCapacity] = []
        with self._write() as conn:
            created = self._insert_payment(conn, invoice_id, row, crossed)
        self._report_capacity(crossed)
        return created

    def start_payment(
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
        card_save: bool = False,
        token_expires_at: datetime | None = None,
    ) -> PendingPayment:
        """:meth:`create_payment`, but the commit may still be on its way when this returns:
        the invoice id is allocated and the row inserted (errors of the id raised here), and
        :meth:`PendingPayment.durable` waits for the commit. The caller may meanwhile do what
        does not need the row committed (create_payment asks ePay for the token), so that a
        commit waiting for the disk (PostgreSQL: a WAL flush) costs no time of its own.

        On SQLite (in WAL mode a commit does not wait for the disk) the commit is made here."""
        row = self._new_row(amount, currency, terminal, description, account_id, language,
                            name, email, phone, card_save, token_expires_at)
        if invoice_id is not None:
            invoice_id = invoices.check_invoice_id(invoice_id)
        crossed: list[InvoiceCapacity] = []
        if self.engine.dialect.name == "sqlite":
            with self._write() as conn:
                created = self._insert_payment(conn, invoice_id, row, crossed)
            self._report_capacity(crossed)
            return PendingPayment(created, None)
        with self._guard():
            self._ensure()
            conn = self.engine.connect()
            try:
                transaction = conn.begin()
                created = self._insert_payment(conn, invoice_id, row, crossed)
            except BaseException:
                conn.close()  # rolled back
                raise
        try:
            commit: Future[None] | None = in_background(self._commit_and_close, conn,
                                                        transaction)
        except RuntimeError:  # no new thread (the interpreter is shutting down): commit here
            self._commit_and_close(conn, transaction)
            commit = None
        # Told while the commit may still be on its way: a warning the commit then loses is
        # told again by the next payment (the counter's mark went with it).
        self._report_capacity(crossed)
        return PendingPayment(created, commit)

    def _commit_and_close(self, conn: Connection, transaction: RootTransaction) -> None:
        try:
            with self._guard():
                transaction.commit()
        finally:
            conn.close()

    def _new_row(self, amount: Decimal | int | str, currency: str, terminal: str,
                 description: str, account_id: str | None, language: str | None,
                 name: str | None, email: str | None, phone: str | None, card_save: bool,
                 token_expires_at: datetime | None) -> dict[str, Any]:
        self._ensure()
        now = self.now()
        terminal = clean(terminal, 64) or ""
        return {
            "amount_minor": to_minor(amount),
            "currency": clean(currency, 3) or "",
            "terminal": terminal,
            "suffix_scope": terminal if self.suffix_scope == "terminal" else "",
            # The payment object's limits (checked, with a refusal, by create_payment); a
            # caller of the ledger itself gets its text cut to them.
            "description": clean(description, DESCRIPTION_MAX_BYTES) or "",
            "account_id": clean(account_id, ACCOUNT_ID_MAX),
            "language": clean(language, 3),
            "name": clean(name, NAME_MAX),
            "email": clean(email, EMAIL_MAX),
            "phone": clean(phone, PHONE_MAX),
            "status": PaymentStatus.NEW.value,
            "card_save": True if card_save else None,
            "refunded_minor": 0,
            "created_at": now,
            "updated_at": now,
            "token_expires_at": token_expires_at,
        }

    def _insert_payment(self, conn: Connection, invoice_id: str | None,
                        row: Mapping[str, Any], crossed: list[InvoiceCapacity]
                        ) -> PaymentRecord:
        # One transaction: the id allocated (or the shop's checked), the row inserted and read
        # back by RETURNING, one commit. The counter's row stays locked until then, so no other
        # process allocates the same value; a suffix already taken (a shop-chosen id may hold
        # one) inserts nothing, and the next value is tried in the same transaction. A counter
        # that crossed a capacity threshold is added to ``crossed``, to be told once committed.
        terminal = row["terminal"]
        if invoice_id is not None:
            created = None
            # The strict reading also refuses a suffix of another scope (a payment written
            # per terminal before the switch): one more probe, on this path only.
            if self.suffix_scope != "ledger" or not _suffix_taken(conn, invoice_id):
                created = _insert_new(conn, invoice_id, row)
            if created is None:
                where = "in the ledger" if self.suffix_scope == "ledger" else (
                    f"in the ledger for terminal {terminal!r}")
                raise InvoiceIdInUse(
                    f"invoice id {invoice_id} (or another ending in "
                    f"{invoices.suffix_of(invoice_id)}) is already {where}; "
                    "an invoice id is never reused."
                )
            return created
        found: PaymentRecord | None = None
        while found is None:
            found = _insert_new(conn, self._next_invoice_id(conn, terminal, crossed), row)
        return found

    def _next_invoice_id(self, conn: Connection, terminal: str,
                         crossed: list[InvoiceCapacity]) -> str:
        # The counter's row is locked by this UPDATE until the caller's transaction ends: a
        # value is never handed out twice, across threads and processes alike; the unique
        # index on (suffix, scope) is the final guard (a shop-chosen id may hold a suffix).
        per_terminal = self.suffix_scope == "terminal"
        for _ in range(_CLAIM_ATTEMPTS):
            if per_terminal:
                row = conn.execute(_NEXT_FOR_TERMINAL, {"b_terminal": terminal}).first()
            else:
                row = conn.execute(_NEXT_FOR_LEDGER).first()
            if row is not None:
                break
            if not per_terminal or not _claim_counter(conn, terminal):
                raise self._exhausted(terminal if per_terminal else None)
        else:  # pragma: no cover - another process claimed at each attempt
            raise InvoiceIdExhausted(f"no invoice counter could be claimed for {terminal!r}")
        used, multiplier, offset, ordinal, warned, name, owner = row
        if used * 100 >= WARN_AT[0] * invoices.SUFFIX_SPACE:
            level = max(t for t in WARN_AT if used * 100 >= t * invoices.SUFFIX_SPACE)
            if (warned or 0) < level:  # read under the row's lock: once per crossing
                conn.execute(update(invoice_counter).where(invoice_counter.c.name == name)
                             .values(warned=level))
                crossed.append(InvoiceCapacity(owner, ordinal or 0, used,
                                               invoices.SUFFIX_SPACE))
        prefix = self.invoice_prefix + (str(ordinal) if ordinal else "")
        if len(prefix) + invoices.SUFFIX_DIGITS > invoices.MAX_LENGTH:
            raise InvoiceIdExhausted(
                f"terminal {terminal!r} is the ledger's counter number {ordinal}: with the "
                f"invoice prefix {self.invoice_prefix!r} its ids would be longer than "
                f"{invoices.MAX_LENGTH} digits; use a shorter prefix.")
        return invoices.invoice_for(used - 1, multiplier, offset, prefix)

    def _exhausted(self, terminal: str | None) -> InvoiceIdExhausted:
        space = invoices.SUFFIX_SPACE
        if terminal is None:
            return InvoiceIdExhausted(
                f"all {space:,} invoice suffixes of this ledger are used "
                "(HALYK_INVOICE_SUFFIX_SCOPE = 'ledger'): ePay wants the last six digits of an "
                "invoice id unique, so no new id can be allocated. Set "
                "HALYK_INVOICE_SUFFIX_SCOPE = 'terminal' to give each terminal its own "
                "suffixes, and take payments on a further terminal (docs/ledger.md).")
        return InvoiceIdExhausted(
            f"all {space:,} invoice suffixes of terminal {terminal!r} are used: ePay wants "
            "the last six digits of an invoice id unique among the terminal's orders, so no "
            "new id can be allocated for it. Ask the bank for a further terminal and take "
            "new payments on it (docs/ledger.md, \"Invoice ids\").")

    def _report_capacity(self, crossed: list[InvoiceCapacity]) -> None:
        for capacity in crossed:
            self._tell_capacity(capacity)

    def _tell_capacity(self, capacity: InvoiceCapacity) -> None:
        log.warning(
            "flask-halyk: %.0f %% of the invoice suffixes of %s are used (%d left): ask the "
            "bank for a further terminal before they run out (docs/ledger.md).",
            capacity.percent_used,
            f"terminal {capacity.terminal!r}" if capacity.terminal else "the ledger",
            capacity.left)
        listener = self.on_capacity
        if listener is not None:
            try:
                listener(capacity)
            except Exception:  # the payment is recorded: a listener cannot undo it
                log.exception("flask-halyk: the invoice capacity listener raised")

    def invoice_capacity(self) -> list[InvoiceCapacity]:
        """Every invoice counter (one per terminal, or the ledger's), in counter order: how
        many suffixes each has handed out and has left."""
        stmt = select(invoice_counter.c.terminal, invoice_counter.c.ordinal,
                      invoice_counter.c.next_value).order_by(invoice_counter.c.ordinal,
                                                             invoice_counter.c.name)
        with self._read() as conn:
            return [InvoiceCapacity(t, o or 0, int(n), invoices.SUFFIX_SPACE)
                    for t, o, n in conn.execute(stmt)]

    def record_token(self, invoice_id: str, expires_at: datetime) -> PaymentRecord:
        """Note when the payment's token expires (the bank's ``expires_in`` after it was issued):
        from then on, plus a grace period, reconcile may declare the payment ``expired``. Only
        the first token counts (flask-halyk asks for one per invoice); the status is untouched.
        :class:`PaymentNotFound` if the invoice is unknown."""
        with self._write() as conn:
            row = conn.execute(
                _NOTE_TOKEN, {"b_invoice_id": invoice_id, "b_expires_at": expires_at}).first()
            if row is None:  # already noted, or no such payment
                row = conn.execute(_BY_INVOICE_ID, {"b_invoice_id": invoice_id}).first()
        if row is None:
            raise not_found(invoice_id)
        return payment_record(row)

    def replace_token(self, invoice_id: str, assumed: datetime,
                      expires_at: datetime | None) -> PaymentRecord:
        """Replace the token expiry noted before the token request (``assumed``, given to
        :meth:`create_payment`) by the bank's (``expires_at``), or by ``None`` when the request
        failed: no token is known, and reconcile reckons from the payment's creation
        (:mod:`.expiry`). A payment whose expiry is no longer ``assumed`` is left as it is.
        :class:`PaymentNotFound` if the invoice is unknown."""
        with self._write() as conn:
            row = conn.execute(_REPLACE_TOKEN, {"b_invoice_id": invoice_id, "b_assumed": assumed,
                                                "b_expires_at": expires_at}).first()
            if row is None:
                row = conn.execute(_BY_INVOICE_ID, {"b_invoice_id": invoice_id}).first()
        if row is None:
            raise not_found(invoice_id)
        return payment_record(row)

    def get(self, invoice_id: str) -> PaymentRecord | None:
        """The payment with this invoice id, or None."""
        if not invoices.is_invoice_id(invoice_id):
            return None
        with self._read() as conn:
            row = conn.execute(_BY_INVOICE_ID, {"b_invoice_id": invoice_id}).first()
        return payment_record(row) if row is not None else None

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
            return [payment_record(r) for r in conn.execute(stmt)]

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
        wanted = [PaymentStatus.NEW.value]
        if include_expired:
            wanted.append(PaymentStatus.EXPIRED.value)
        stmt = select(payments).where(
            payments.c.status.in_(wanted), payments.c.created_at <= self.now() - older_than
        )
        if after is not None:
            stmt = stmt.where(or_(
                payments.c.created_at > after.created_at,
                and_(payments.c.created_at == after.created_at,
                     payments.c.invoice_id > after.invoice_id),
            ))
        stmt = stmt.order_by(payments.c.created_at, payments.c.invoice_id).limit(max(0, limit))
        with self._read() as conn:
            return [payment_record(r) for r in conn.execute(stmt)]


class PendingPayment:
    """A payment inserted by :meth:`PaymentStore.start_payment` whose commit may be on its way.

    ``record`` is the row as inserted (its invoice id is the payment's); :meth:`durable`
    returns it once committed, or raises what the commit raised (:class:`LedgerUnavailable`:
    then nothing was recorded, and the invoice id may be allocated again)."""

    def __init__(self, record: PaymentRecord, commit: Future[None] | None) -> None:
        self.record = record
        self._commit = commit

    def durable(self) -> PaymentRecord:
        """The record, once its transaction is committed."""
        if self._commit is not None:
            self._commit.result()
        return self.record


def not_found(invoice_id: str) -> PaymentNotFound:
    """The error for an invoice the ledger does not hold."""
    return PaymentNotFound(f"no payment with invoice id {invoice_id!r} in the ledger")


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
