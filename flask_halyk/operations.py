"""What a shop does to a payment after the fact: refund, cancel, charge.

Each operation goes to ePay first and is recorded in the ledger only once the bank accepted it;
the ledger then fires the matching signal once, however many processes race.

The two repairs, reconcile and reprocess, live in :mod:`flask_halyk.recovery`; they are
re-exported here, so ``flask_halyk.operations.reconcile`` / ``.reprocess`` keep working.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from flask import Flask, current_app

from .errors import InvalidArgument, PaymentStateError
from .ledger import PaymentRecord, PaymentStatus
from .ledger.dispatch import fire
from .recovery import Progress, ReconcileReport, ReprocessReport, reconcile, reprocess

if TYPE_CHECKING:
    from .extension import HalykState
    from .results import OperationResult

log = logging.getLogger("flask_halyk.operations")

S = PaymentStatus


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _amount(value: Decimal | int | str) -> Decimal:
    if isinstance(value, bool):
        raise InvalidArgument("an amount is a number, not a boolean")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidArgument(f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidArgument(f"{value!r} is not a positive amount")
    return amount


def _transaction_id(payment: PaymentRecord) -> str:
    if not payment.transaction_id:
        raise PaymentStateError(
            f"payment {payment.invoice_id} has no ePay transaction id yet ({payment.status})"
        )
    return payment.transaction_id


def refund(
    state: HalykState, invoice_id: str, amount: Decimal | int | str | None = None
) -> OperationResult:
    """Refund a paid payment: in full (what is left of it), or ``amount`` of it. Partial
    refunds add up and never exceed what was taken (the charged amount, after a partial
    charge). Fires ``payment_refunded``."""
    payment = state.ledger.require(invoice_id)
    if payment.status not in (S.PAID, S.PARTIALLY_REFUNDED):
        raise PaymentStateError(
            f"payment {invoice_id} is {payment.status}: only a paid payment can be refunded"
        )
    remaining = payment.refundable_amount
    if remaining <= 0:
        raise PaymentStateError(f"payment {invoice_id}: nothing is left to refund")
    value = remaining if amount is None else _amount(amount)
    if value > remaining:
        raise PaymentStateError(
            f"cannot refund {value} of payment {invoice_id}: only {remaining} is left"
        )
    # The full amount goes without an explicit amount, as the bank's own examples do.
    sent = None if amount is None and payment.refunded_amount == 0 else value
    result = state.client.refund(_transaction_id(payment), sent)
    recorded = state.ledger.record_refund(invoice_id, value)
    if recorded.change is not None:
        fire(_app(), recorded.change, recorded.payment, amount=value)
    return result


def cancel(state: HalykState, invoice_id: str) -> OperationResult:
    """Cancel (void) an authorised payment that is not charged yet. Fires
    ``payment_cancelled``."""
    payment = state.ledger.require(invoice_id)
    if payment.status not in (S.AUTHORIZED, S.PAID) or payment.charged_amount is not None:
        raise PaymentStateError(
            f"payment {invoice_id} is {payment.status}: only an authorised, uncharged payment "
            "can be cancelled"
        )
    result = state.client.cancel(_transaction_id(payment))
    recorded = state.ledger.record_cancel(invoice_id)
    if recorded.change is not None:
        fire(_app(), recorded.change, recorded.payment)
    return result


def charge(
    state: HalykState, invoice_id: str, amount: Decimal | int | str | None = None
) -> OperationResult:
    """Charge (capture) an authorised payment of a two-stage terminal, in full or ``amount``
    of it. Fires ``payment_charged``."""
    payment = state.ledger.require(invoice_id)
    if payment.status not in (S.AUTHORIZED, S.PAID) or payment.charged_amount is not None:
        raise PaymentStateError(
            f"payment {invoice_id} is {payment.status}: only an authorised, uncharged payment "
            "can be charged"
        )
    value = None if amount is None else _amount(amount)
    if value is not None and value > payment.amount:
        raise PaymentStateError(
            f"cannot charge {value}: payment {invoice_id} authorised {payment.amount}"
        )
    result = state.client.charge(_transaction_id(payment), value)
    recorded = state.ledger.record_charge(invoice_id, value)
    if recorded.change is not None:
        fire(_app(), recorded.change, recorded.payment, amount=value or payment.amount)
    return result


__all__ = [
    "Progress",
    "ReconcileReport",
    "ReprocessReport",
    "cancel",
    "charge",
    "reconcile",
    "refund",
    "reprocess",
]
