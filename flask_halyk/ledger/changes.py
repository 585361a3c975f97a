"""Moving a payment: news from the bank (postLinks, status answers) through the state machine,
and the shop's own operations ePay accepted (charge, cancel, refund).

Each function runs inside one transaction the :class:`Ledger` opened, with the payment's row
locked (:func:`~.payments.lock_payment`) and the move a conditional update, so that of any
number of concurrent copies of the same news one changes the payment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection, select, update

from .events import judge_event
from .models import ApplyResult, Change, EventVerdict, News, PaymentRecord, PaymentStatus
from .payments import lock_payment
from .rows import clean, payment_record, to_minor
from .states import ALLOWED_FROM, change_for
from .tables import payments

S = PaymentStatus
_INT32 = 2**31 - 1

#: The shop's operations :func:`record_operation` records.
Operation = Literal["charge", "cancel", "refund"]


def _int32(value: int | None) -> int | None:
    return value if value is not None and -_INT32 <= value <= _INT32 else None


def news_values(news: News) -> dict[str, Any]:
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


def _reread(conn: Connection, invoice_id: str) -> PaymentRecord:
    return payment_record(
        conn.execute(select(payments).where(payments.c.invoice_id == invoice_id)).one()
    )


def apply_news(
    conn: Connection,
    clock: Callable[[], datetime],
    invoice_id: str,
    news: News,
    event_id: int | None,
) -> ApplyResult:
    """Apply news to a payment (see :meth:`Ledger.apply`); the event's verdict is written in
    the same transaction."""
    target = news.status
    current = lock_payment(conn, invoice_id)
    allowed = ALLOWED_FROM[target]
    if current.status in allowed:
        now = clock()
        values = news_values(news)
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
        # Belt and braces: the row lock makes this a row; the WHERE would make a lost race
        # None even without it.
        if updated is not None:
            change = change_for(current.status, target)
            if event_id is not None:
                judge_event(conn, clock, event_id, EventVerdict.DISPATCHING, outcome=change,
                            invoice_id=invoice_id, transaction_id=news.transaction_id)
            return ApplyResult(payment_record(updated), change, EventVerdict.DISPATCHING)
    if current.status is target or (target.is_success and current.status.is_success
                                    and current.status is not S.AUTHORIZED):
        verdict, reason = EventVerdict.DUPLICATE, f"payment already {current.status}"
    else:
        verdict = EventVerdict.STALE
        reason = f"payment is {current.status}; {target} news ignored"
    if event_id is not None:
        judge_event(conn, clock, event_id, verdict, reason=reason, invoice_id=invoice_id,
                    transaction_id=news.transaction_id)
    return ApplyResult(current, None, verdict, reason)


def record_operation(
    conn: Connection,
    clock: Callable[[], datetime],
    invoice_id: str,
    kind: Operation,
    amount: Decimal | None,
) -> ApplyResult:
    """Record a charge, cancel or refund ePay accepted (see :meth:`Ledger.record_charge`,
    :meth:`~Ledger.record_cancel`, :meth:`~Ledger.record_refund`); ``duplicate`` if it was
    already recorded."""
    current = lock_payment(conn, invoice_id)
    values: dict[str, Any] = {"updated_at": clock()}
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
    conn.execute(update(payments).where(payments.c.invoice_id == invoice_id).values(**values))
    return ApplyResult(_reread(conn, invoice_id), change, EventVerdict.APPLIED)


__all__ = ["Operation", "apply_news", "news_values", "record_operation"]
