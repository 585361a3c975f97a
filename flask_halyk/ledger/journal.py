"""The operations journal (``halyk_operations``): every charge, cancel and refund sent to ePay
and what became of it, for a payment's timeline. The payment's own columns say where it stands;
the journal says how it got there, one line per call. Three more kinds of line share it: a
status check (``check``, by reconcile or a back office's "ask ePay now") whose answer changed
nothing and left no event, a payment link sent to a customer (``link``, its URL), and a QR the
bank made (``qr``, its bill number).

An accepted operation is written by :mod:`.changes` in the transaction that records it on the
payment (:func:`journal_operation`); a refusal or a call that got no answer changes nothing on
the payment and is noted on its own (:meth:`JournalStore.note_operation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import Connection, insert, select, update

from ..money import from_minor, to_minor
from .core import LedgerCore
from .rows import clean
from .states import Operation
from .tables import operations

__all__ = ["CheckResult", "JournalKind", "JournalStore", "OperationEntry", "Outcome",
           "journal_operation", "read_journal"]

#: What became of a call to ePay.
Outcome = Literal["accepted", "refused", "unanswered"]
#: A status check that changed nothing: no answer, still in progress, or unknown to ePay.
CheckResult = Literal["unanswered", "pending", "not_found"]
#: What became of a line that is not a call's answer: a link sent, a QR made.
Noted = Literal["sent", "made"]
#: The kinds of journal line (the ``operation`` column, 8 characters at most).
JournalKind = Operation | Literal["check", "link", "qr"]


@dataclass(frozen=True)
class OperationEntry:
    """One charge, cancel or refund sent to ePay (``amount`` None: the whole of it)."""

    id: int
    invoice_id: str
    at: datetime
    operation: str
    amount: Decimal | None
    outcome: str
    reason: str | None


def journal_operation(conn: Connection, now: datetime, invoice_id: str, operation: JournalKind,
                      amount: Decimal | None, outcome: Outcome | CheckResult | Noted,
                      reason: str | None = None) -> None:
    """Write one line of the journal inside the caller's transaction."""
    conn.execute(insert(operations).values(
        invoice_id=invoice_id, at=now, operation=operation,
        amount_minor=None if amount is None else to_minor(amount), outcome=outcome,
        reason=clean(reason, 2000)))


def read_journal(conn: Connection, invoice_id: str) -> list[OperationEntry]:
    """The payment's journal, oldest first."""
    rows = conn.execute(select(operations).where(operations.c.invoice_id == invoice_id)
                        .order_by(operations.c.id))
    return [OperationEntry(
        id=int(r.id), invoice_id=r.invoice_id, at=r.at, operation=r.operation,
        amount=None if r.amount_minor is None else from_minor(r.amount_minor),
        outcome=r.outcome, reason=r.reason) for r in rows]


class JournalStore(LedgerCore):
    """Noting the calls that changed nothing on the payment (:meth:`note_operation`) and reading
    a payment's journal (:meth:`journal`)."""

    def note_operation(self, invoice_id: str, operation: Operation, amount: Decimal | None,
                       outcome: Outcome, reason: str | None = None) -> None:
        """Note a call ePay refused (``refused``, its words in ``reason``) or did not answer
        (``unanswered``)."""
        with self._write() as conn:
            journal_operation(conn, self.now(), invoice_id, operation, amount, outcome, reason)

    def note_check(self, invoice_id: str, result: CheckResult, reason: str) -> None:
        """Note a status check whose answer changed nothing and was stored as no event (the
        answers that change or confirm something are events of kind ``status``): so that the
        timeline shows the payment was asked about. The same answer as the payment's last line
        moves that line's time instead of adding one. Never called on the postLink path."""
        with self._write() as conn:
            now = self.now()
            last = conn.execute(select(operations).where(operations.c.invoice_id == invoice_id)
                                .order_by(operations.c.id.desc()).limit(1)).first()
            # The same answer again (reconcile from cron asks every few minutes): the line's
            # time moves on, so the journal grows by what changed, not by each run.
            if last is not None and last.operation == "check" and last.outcome == result \
                    and last.reason == clean(reason, 2000):
                conn.execute(update(operations).where(operations.c.id == last.id)
                             .values(at=now))
                return
            journal_operation(conn, now, invoice_id, "check", None, result, reason)

    def note_link(self, invoice_id: str, invoice_url: str) -> None:
        """Note the payment link the bank made for the payment (its ``invoice_url``)."""
        with self._write() as conn:
            journal_operation(conn, self.now(), invoice_id, "link", None, "sent", invoice_url)

    def note_qr(self, invoice_id: str, bill_number: str) -> None:
        """Note the QR the bank made for the payment (its ``billNumber``, the key its status
        is asked by)."""
        with self._write() as conn:
            journal_operation(conn, self.now(), invoice_id, "qr", None, "made", bill_number)

    def journal(self, invoice_id: str) -> list[OperationEntry]:
        """The payment's operations, oldest first."""
        with self._read() as conn:
            return read_journal(conn, invoice_id)
