"""Telling the shop: the signal of a ledger change, fired once, and whether its receivers coped.

The change is committed before anything here runs; the event's verdict records how the
receivers did, so that ``flask halyk reprocess`` can run the ones that raised again.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from flask import Flask

from . import signals
from .ledger import Change, EventVerdict, Ledger, PaymentRecord
from .ledger.rows import clean

__all__ = ["dispatch_event", "fire"]

log = logging.getLogger("flask_halyk.ledger")


def fire(
    app: Flask,
    change: Change,
    payment: PaymentRecord,
    postlink: dict[str, Any] | None = None,
    amount: Decimal | None = None,
) -> None:
    """Send the signal of ``change``. Receivers' exceptions propagate."""
    if change is Change.SUCCEEDED:
        signals.payment_succeeded.send(app, payment=payment, postlink=postlink)
    elif change is Change.FAILED:
        signals.payment_failed.send(app, payment=payment, postlink=postlink)
    elif change is Change.CHARGED:
        charged = payment.charged_amount if payment.charged_amount is not None else amount
        signals.payment_charged.send(app, payment=payment, amount=charged or payment.amount)
    elif change is Change.CANCELLED:
        signals.payment_cancelled.send(app, payment=payment)
    elif change is Change.REFUNDED:
        refunded = amount if amount is not None else payment.refunded_amount
        signals.payment_refunded.send(app, payment=payment, amount=refunded)
    elif change is Change.EXPIRED:
        signals.payment_expired.send(app, payment=payment)


def dispatch_event(
    app: Flask,
    ledger: Ledger,
    event_id: int,
    change: Change,
    payment: PaymentRecord,
    postlink: dict[str, Any] | None = None,
    amount: Decimal | None = None,
) -> EventVerdict:
    """Fire the signal of an event that changed a payment, then mark the event ``applied``, or
    ``failed`` with the error if a receiver raised (``flask halyk reprocess`` retries it).

    The change is already committed: a receiver's failure never undoes it, and never reaches
    the bank (the postLink is still acknowledged).
    """
    try:
        fire(app, change, payment, postlink, amount)
    except Exception as exc:  # the shop's receiver: anything may come out of it
        log.exception(
            "flask-halyk: a %s receiver raised for invoice %s (event %s); the payment is "
            "recorded, run `flask halyk reprocess` once it is fixed",
            change, payment.invoice_id, event_id,
        )
        reason = clean(f"receiver raised {type(exc).__name__}: {exc}", 2000)
        ledger.judge_event(event_id, EventVerdict.FAILED, reason=reason)
        return EventVerdict.FAILED
    ledger.judge_event(event_id, EventVerdict.APPLIED)
    return EventVerdict.APPLIED
