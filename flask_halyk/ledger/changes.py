"""Moving a payment: what the bank reports (postLinks, status answers) through the state machine,
and the shop's own operations ePay accepted (charge, cancel, refund).

Each move runs in one transaction with the payment's row locked and the update conditional, so
that of any number of concurrent copies of the same report one changes the payment.

A refund is decided before it is sent: :meth:`ChangeStore.reserve_refund` fixes its amount
under the row lock and reserves it (``refund_pending_minor``) until the bank answered, then
:meth:`~ChangeStore.record_refund` turns the reservation into a refund or
:meth:`~ChangeStore.release_refund` gives it back. Concurrent refunds thus never promise the
same money twice, and each records (and reports) the amount it sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from ..errors import LedgerUnavailable, PaymentStateError
from ..money import from_minor, to_minor
from .cards import note_card
from .core import LedgerCore
from .events import dispatching_events, insert_event, new_claim, write_verdict
from .journal import journal_operation
from .models import ApplyResult, BankReport, PaymentRecord
from .payments import lock_payment
from .rows import card_last4, clean, payment_record
from .states import (
    ALLOWED_FROM,
    Change,
    EventVerdict,
    Operation,
    PaymentStatus,
    change_for,
    refusal_of,
    verification_target,
)
from .tables import events, payments

__all__ = ["ChangeStore"]

S = PaymentStatus
_INT32 = 2**31 - 1


def _always(_change: Change) -> bool:
    return True


class ChangeStore(LedgerCore):
    """The ledger's moves: :meth:`apply` for the bank's reports, ``record_*`` for operations."""

    def apply(self, invoice_id: str, report: BankReport, *,
              event_id: int | None = None, note_unfinished: bool = False) -> ApplyResult:
        """Apply what the bank reported to a payment, atomically, in the state machine's terms.

        Exactly one of any number of concurrent copies of the same report changes the payment
        (``change`` set, event ``dispatching`` under ``claim``, leased for
        :attr:`dispatch_lease`); the others get ``duplicate`` (the payment is
        already there) or ``stale`` (it has moved past: a late failure after a success). The
        event's verdict, invoice and transaction are written in the same transaction.
        :class:`PaymentNotFound` if the invoice is unknown.

        ``note_unfinished``: also read, in the same transaction, the payment's other events whose
        receivers are ``dispatching`` (:attr:`ApplyResult.unfinished`), so that the postLink
        path asks :func:`~flask_halyk.recovery.finish_interrupted` only when there are some.
        """
        with self._write() as conn:
            result = self._apply(conn, invoice_id, report, event_id)
            if note_unfinished:
                result = replace(result, unfinished=dispatching_events(conn, invoice_id,
                                                                       but=event_id))
        return result

    def receive(
        self,
        *,
        kind: str,
        body: bytes,
        headers: Sequence[tuple[str, str]],
        remote_addr: str | None,
        invoice_id: str,
        report: BankReport,
        check: Callable[[PaymentRecord | None], str | None],
        transaction_id: str | None = None,
        claim: Callable[[Change], bool] = _always,
    ) -> tuple[int, ApplyResult | str]:
        """Store a raw event and apply it in ONE transaction (one commit): the payment locked,
        ``check(payment)`` (None when the invoice is unknown; a refusal is stored as the
        event's ``rejected`` verdict and returned), the report applied as :meth:`apply` does
        (``note_unfinished``: the first of the payment's events still dispatching, read with
        the lock), and the event inserted with its verdict. Returns the event's id
        and the result (or the refusal).

        ``claim(change)``: whether the change's receivers are to run under a claim (the event
        ``dispatching``, leased); when False (no receiver is connected to its signal) the event
        is written ``applied`` at once, and nothing is left to end.

        Nothing is lost when the transaction fails: it is rolled back, the raw event is stored
        in a transaction of its own (``received``, the error as its reason), and the error is
        raised (the bank, answered 500, delivers the postLink again). A database that cannot be
        used raises :class:`LedgerUnavailable` (nothing stored: the caller answers 503).
        """
        try:
            with self._write() as conn:
                # The lock's read also names the first of the payment's events still
                # dispatching (the new event is not there yet): no statement of its own.
                row = conn.execute(_LOCK_NOTING, {"b_invoice_id": invoice_id}).first()
                current = payment_record(row) if row is not None else None
                refusal = check(current)
                if refusal is not None or current is None:
                    reason = refusal or "unknown invoice"
                    event_id = insert_event(
                        conn, self.now(), kind=kind, body=body, headers=headers,
                        remote_addr=remote_addr, verdict=EventVerdict.REJECTED, reason=reason,
                        invoice_id=invoice_id, transaction_id=transaction_id)
                    return event_id, reason
                result, verdict = self._move(conn, invoice_id, report, current, claim=claim)
                event_id = insert_event(conn, self.now(), kind=kind, body=body,
                                        headers=headers, remote_addr=remote_addr, **verdict)
                assert row is not None
                first = row._mapping[_UNFINISHED]
                return event_id, replace(result, unfinished=() if first is None else (first,))
        except LedgerUnavailable:
            raise
        except Exception as exc:
            with self._write() as conn:
                insert_event(conn, self.now(), kind=kind, body=body, headers=headers,
                             remote_addr=remote_addr,
                             reason=f"not applied: {type(exc).__name__}",
                             invoice_id=invoice_id, transaction_id=transaction_id)
            raise

    def _apply(self, conn: Connection, invoice_id: str, report: BankReport,
               event_id: int | None, *, current: PaymentRecord | None = None) -> ApplyResult:
        if current is None:
            current = lock_payment(conn, invoice_id)
        result, verdict = self._move(conn, invoice_id, report, current,
                                     claim=None if event_id is None else _always)
        if event_id is not None:
            write_verdict(conn, self.clock, event_id, **verdict)
        return result

    def _move(self, conn: Connection, invoice_id: str, report: BankReport,
              current: PaymentRecord, *, claim: Callable[[Change], bool] | None
              ) -> tuple[ApplyResult, dict[str, Any]]:
        """Move the locked payment as ``report`` says, if the state machine allows it: the
        result, and the verdict of the event that reported it (columns of
        :func:`~.events.write_verdict` / :func:`~.events.insert_event`). ``claim``: whether
        the change's receivers run under a claim (None: there is no event to claim)."""
        target = verification_target(current, report.status)
        allowed = ALLOWED_FROM[target]
        if current.status in allowed:
            now = self.now()
            # One prebuilt statement for every report: what a report does not say is bound as
            # NULL and kept (COALESCE). RETURNING: the updated row comes with the update.
            values: dict[str, Any] = {f"b_{name}": None for name in _REPORT_COLUMNS}
            values.update({f"b_{k}": v for k, v in _report_values(report).items()})
            values.update(
                b_invoice_id=invoice_id, b_allowed=[s.value for s in allowed],
                b_status=target.value, b_updated_at=now,
                b_paid_at=now if target.is_success and current.paid_at is None else None,
                b_refunded_minor=(to_minor(current.taken_amount) if target is S.REFUNDED
                                  else None),
            )
            updated = conn.execute(_MOVE, values).first()
            # Belt and braces: the row lock makes this a row; the WHERE would make a lost
            # race None even without it.
            if updated is not None:
                change = change_for(current.status, target)
                note_card(conn, now, current, replace(report, status=target))
                verdict: dict[str, Any] = {
                    "verdict": EventVerdict.DISPATCHING, "outcome": change,
                    "invoice_id": invoice_id, "transaction_id": report.transaction_id}
                token = None
                if claim is not None and claim(change):
                    # The event's receivers are claimed in the same transaction: a process
                    # that dies before they end leaves a lease that lapses.
                    token = new_claim()
                    verdict.update(claim=token, lease_until=now + self.dispatch_lease)
                elif claim is not None:
                    # No receiver to run: the event is done with this transaction.
                    verdict["verdict"] = EventVerdict.APPLIED
                return (ApplyResult(payment_record(updated), change, verdict["verdict"],
                                    claim=token), verdict)
        if current.status is target or (target.is_success and current.status.is_success
                                        and current.status is not S.AUTHORIZED):
            verdict_of, reason = EventVerdict.DUPLICATE, f"payment already {current.status}"
        else:
            verdict_of = EventVerdict.STALE
            reason = f"payment is {current.status}; {target} report ignored"
        return (ApplyResult(current, None, verdict_of, reason),
                {"verdict": verdict_of, "reason": reason, "invoice_id": invoice_id,
                 "transaction_id": report.transaction_id})

    def record_charge(self, invoice_id: str, amount: Decimal | None) -> ApplyResult:
        """Record a charge ePay accepted: ``authorized`` becomes ``paid`` with the charged
        amount (all of it when ``amount`` is None). Once only."""
        return self._record(invoice_id, "charge", amount)

    def record_cancel(self, invoice_id: str) -> ApplyResult:
        """Record a cancel ePay accepted: the payment becomes ``cancelled``. Once only."""
        return self._record(invoice_id, "cancel", None)

    def reserve_refund(self, invoice_id: str, amount: Decimal | None, *,
                       lease: timedelta) -> tuple[PaymentRecord, Decimal]:
        """Decide a refund under the payment's row lock, before it is sent: ``amount``, or
        (``None``) all that is left once the refunds already on their way are counted; and
        reserve it for ``lease`` (longer than the bank call can take), so that a concurrent
        refund sees it. Returns the payment and the amount to send.

        :class:`PaymentStateError` (:func:`~.states.operation_refusal`, refunds in flight
        counted) when ePay would refuse it, or when nothing is left; :class:`PaymentNotFound`.
        After the bank's answer, :meth:`record_refund` (``reserved=True``) or
        :meth:`release_refund`.
        """
        with self._write() as conn:
            current = lock_payment(conn, invoice_id)
            now = self.now()
            in_flight, until = _in_flight(conn, invoice_id, now)
            refusal = refusal_of(current, "refund", amount, in_flight=in_flight)
            if refusal is not None:
                raise PaymentStateError(refusal.text, refusal)
            value = current.refundable_amount - in_flight if amount is None else amount
            lapses = now + lease
            conn.execute(
                update(payments).where(payments.c.invoice_id == invoice_id).values(
                    refund_pending_minor=to_minor(in_flight + value),
                    refund_pending_until=lapses if until is None else max(until, lapses),
                )
            )
            return current, value

    def release_refund(self, invoice_id: str, amount: Decimal) -> None:
        """Give back a reservation of :meth:`reserve_refund` that ePay did not turn into a
        refund (it refused, or its answer never came: the call is never repeated, and the bank
        refuses a later refund of money it already returned)."""
        with self._write() as conn:
            lock_payment(conn, invoice_id)
            conn.execute(update(payments).where(payments.c.invoice_id == invoice_id)
                         .values(**_taken_off(conn, invoice_id, amount)))

    def record_refund(self, invoice_id: str, amount: Decimal, *,
                      reserved: bool = False) -> ApplyResult:
        """Record a refund ePay accepted: amounts add up, never beyond what was taken (the
        charged amount of a partly charged payment, else the payment's amount);
        ``partially_refunded`` until it is all refunded, then ``refunded``. ``reserved``: the
        amount was reserved by :meth:`reserve_refund`, and the reservation becomes this
        refund."""
        return self._record(invoice_id, "refund", amount, reserved=reserved)

    def _record(self, invoice_id: str, kind: Operation, amount: Decimal | None, *,
                reserved: bool = False) -> ApplyResult:
        with self._write() as conn:
            current = lock_payment(conn, invoice_id)
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
            # ePay accepted the call, whatever it changes here: the journal says so.
            journal_operation(conn, values["updated_at"], invoice_id, kind, amount, "accepted")
            if change is None:
                return ApplyResult(current, None, EventVerdict.DUPLICATE,
                                   f"payment already {current.status}")
            if reserved and amount is not None:
                values.update(_taken_off(conn, invoice_id, amount))
            updated = conn.execute(
                update(payments).where(payments.c.invoice_id == invoice_id).values(**values)
                .returning(*payments.c)
            ).one()
            return ApplyResult(payment_record(updated), change, EventVerdict.APPLIED)


# The postLink's first statement: the payment locked, and with it the first of its events
# whose receivers are dispatching. Built once (parameters bound at execution).
_UNFINISHED = "halyk_unfinished"
_LOCK_NOTING = (
    select(payments, select(func.min(events.c.id))
           .where(events.c.invoice_id == payments.c.invoice_id,
                  events.c.verdict == EventVerdict.DISPATCHING.value)
           .scalar_subquery().label(_UNFINISHED))
    .where(payments.c.invoice_id == bindparam("b_invoice_id"))
    .with_for_update(of=payments)
)


_REPORT_COLUMNS = ("transaction_id", "bank_status", "card_mask", "card_last4", "card_type",
                   "card_id", "issuer", "reference", "approval_code", "reason", "reason_code")


def _kept_unless_said(name: str) -> Any:
    """The column set to the bound value, or kept when it is bound as NULL."""
    column = payments.c[name]
    return func.coalesce(bindparam(f"b_{name}", type_=column.type), column)


# A report's move, built once: building the UPDATE per call cost three times its execution.
_MOVE = (
    update(payments)
    .where(payments.c.invoice_id == bindparam("b_invoice_id"),
           payments.c.status.in_(bindparam("b_allowed", expanding=True)))
    .values(
        status=bindparam("b_status"), updated_at=bindparam("b_updated_at"),
        paid_at=_kept_unless_said("paid_at"), refunded_minor=_kept_unless_said("refunded_minor"),
        **{name: _kept_unless_said(name) for name in _REPORT_COLUMNS},
    )
    .returning(*payments.c)
)


def _in_flight(conn: Connection, invoice_id: str, now: datetime
               ) -> tuple[Decimal, datetime | None]:
    """The refunds reserved on a locked payment and not answered yet, and until when the
    newest reservation holds; a lapsed one (its process died mid-call) counts as none."""
    row = conn.execute(
        select(payments.c.refund_pending_minor, payments.c.refund_pending_until)
        .where(payments.c.invoice_id == invoice_id)
    ).one()
    pending, until = row
    if not pending or until is None or until <= now:
        return Decimal(0), None
    return from_minor(pending), until


def _taken_off(conn: Connection, invoice_id: str, amount: Decimal) -> dict[str, Any]:
    """The column values of a locked payment's reservations once ``amount`` is taken off
    them (never below none: a lapsed reservation may have been cleared meanwhile)."""
    pending = conn.execute(
        select(payments.c.refund_pending_minor).where(payments.c.invoice_id == invoice_id)
    ).scalar_one()
    left = max(0, (pending or 0) - to_minor(amount))
    if not left:
        return {"refund_pending_minor": None, "refund_pending_until": None}
    return {"refund_pending_minor": left}


def _report_values(report: BankReport) -> dict[str, Any]:
    """The columns a report fills; what it does not say is left as it was."""
    values: dict[str, Any] = {
        "transaction_id": clean(report.transaction_id, 64),
        "bank_status": clean(report.bank_status, 24),
        "card_mask": clean(report.card_mask, 32),
        "card_type": clean(report.card_type, 32),
        "card_id": clean(report.card_id, 64),
        "issuer": clean(report.issuer, 500),
        "reference": clean(report.reference, 64),
        "approval_code": clean(report.approval_code, 32),
        "reason": clean(report.reason, 2000),
        "reason_code": _int32(report.reason_code),
    }
    if values["card_mask"]:
        values["card_last4"] = card_last4(values["card_mask"])
    return {k: v for k, v in values.items() if v not in (None, "")}


def _int32(value: int | None) -> int | None:
    return value if value is not None and -_INT32 <= value <= _INT32 else None
