"""Moving a payment: what the bank reports (postLinks, status answers) through the state machine,
and the shop's own operations ePay accepted (charge, cancel, refund).

Each move runs in one transaction with the payment's row locked and the update conditional, so
that of any number of concurrent copies of the same report one changes the payment.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import update

from ..money import to_minor
from .core import LedgerCore
from .events import write_verdict
from .models import ApplyResult, BankReport
from .payments import lock_payment
from .rows import clean, payment_record
from .states import ALLOWED_FROM, Change, EventVerdict, Operation, PaymentStatus, change_for
from .tables import payments

__all__ = ["ChangeStore"]

S = PaymentStatus
_INT32 = 2**31 - 1


class ChangeStore(LedgerCore):
    """The ledger's moves: :meth:`apply` for the bank's reports, ``record_*`` for operations."""

    def apply(self, invoice_id: str, report: BankReport, *,
              event_id: int | None = None) -> ApplyResult:
        """Apply what the bank reported to a payment, atomically, in the state machine's terms.

        Exactly one of any number of concurrent copies of the same report changes the payment
        (``change`` set, event ``dispatching``); the others get ``duplicate`` (the payment is
        already there) or ``stale`` (it has moved past: a late failure after a success). The
        event's verdict, invoice and transaction are written in the same transaction.
        :class:`PaymentNotFound` if the invoice is unknown.
        """
        target = report.status
        with self._write() as conn:
            current = lock_payment(conn, invoice_id)
            allowed = ALLOWED_FROM[target]
            if current.status in allowed:
                now = self.now()
                values = _report_values(report)
                values.update(status=target.value, updated_at=now)
                if target.is_success and current.paid_at is None:
                    values["paid_at"] = now
                if target is S.REFUNDED:
                    values["refunded_minor"] = to_minor(current.taken_amount)
                # RETURNING: the updated row comes back with the update, one round trip fewer.
                updated = conn.execute(
                    update(payments)
                    .where(payments.c.invoice_id == invoice_id)
                    .where(payments.c.status.in_([s.value for s in allowed]))
                    .values(**values)
                    .returning(*payments.c)
                ).first()
                # Belt and braces: the row lock makes this a row; the WHERE would make a lost
                # race None even without it.
                if updated is not None:
                    change = change_for(current.status, target)
                    if event_id is not None:
                        write_verdict(conn, self.clock, event_id, EventVerdict.DISPATCHING,
                                      outcome=change, invoice_id=invoice_id,
                                      transaction_id=report.transaction_id)
                    return ApplyResult(payment_record(updated), change, EventVerdict.DISPATCHING)
            if current.status is target or (target.is_success and current.status.is_success
                                            and current.status is not S.AUTHORIZED):
                verdict, reason = EventVerdict.DUPLICATE, f"payment already {current.status}"
            else:
                verdict = EventVerdict.STALE
                reason = f"payment is {current.status}; {target} report ignored"
            if event_id is not None:
                write_verdict(conn, self.clock, event_id, verdict, reason=reason,
                              invoice_id=invoice_id, transaction_id=report.transaction_id)
            return ApplyResult(current, None, verdict, reason)

    def record_charge(self, invoice_id: str, amount: Decimal | None) -> ApplyResult:
        """Record a charge ePay accepted: ``authorized`` becomes ``paid`` with the charged
        amount (all of it when ``amount`` is None). Once only."""
        return self._record(invoice_id, "charge", amount)

    def record_cancel(self, invoice_id: str) -> ApplyResult:
        """Record a cancel ePay accepted: the payment becomes ``cancelled``. Once only."""
        return self._record(invoice_id, "cancel", None)

    def record_refund(self, invoice_id: str, amount: Decimal) -> ApplyResult:
        """Record a refund ePay accepted: amounts add up, never beyond what was taken (the
        charged amount of a partly charged payment, else the payment's amount);
        ``partially_refunded`` until it is all refunded, then ``refunded``."""
        return self._record(invoice_id, "refund", amount)

    def _record(self, invoice_id: str, kind: Operation, amount: Decimal | None) -> ApplyResult:
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
            if change is None:
                return ApplyResult(current, None, EventVerdict.DUPLICATE,
                                   f"payment already {current.status}")
            updated = conn.execute(
                update(payments).where(payments.c.invoice_id == invoice_id).values(**values)
                .returning(*payments.c)
            ).one()
            return ApplyResult(payment_record(updated), change, EventVerdict.APPLIED)


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
    return {k: v for k, v in values.items() if v not in (None, "")}


def _int32(value: int | None) -> int | None:
    return value if value is not None and -_INT32 <= value <= _INT32 else None
