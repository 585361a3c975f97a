"""What a shop does to a payment after the fact: refund, cancel, charge.

Each operation is checked against the ledger first (:func:`~flask_halyk.ledger.states.
refusal_of`, the same rule that ``PaymentRecord.can_refund`` and the others follow), goes
to ePay, and is recorded in the ledger only once the bank accepted it; the matching signal then
fires once, however many processes race.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from flask import current_app

from .dispatch import fire
from .epay import OperationResult
from .errors import (
    ApiError,
    HalykError,
    LedgerUnavailable,
    OperationNotRecorded,
    PaymentStateError,
    TransportError,
)
from .ledger import ApplyResult, PaymentRecord
from .ledger.states import Operation, refusal_of
from .money import parse_amount
from .state import HalykState

__all__ = ["RESERVATION_MARGIN", "cancel", "charge", "refund"]

log = logging.getLogger("flask_halyk")

#: Seconds a refund's reservation outlives the deadline of its bank call.
RESERVATION_MARGIN = 60.0


def refund(
    state: HalykState, invoice_id: str, amount: Decimal | int | str | None = None
) -> OperationResult:
    """Refund a paid payment: in full (what is left of it), or ``amount`` of it. Partial
    refunds add up and never exceed what was taken (the charged amount, after a partial
    charge). Fires ``payment_refunded`` with the amount the bank refunded.

    The amount is decided under the payment's row lock and reserved in the ledger before the
    call (refunds already on their way count as refunded), then sent as is, never as "no
    amount" (which the bank reads as whatever is left when it gets there): two refunds at once
    send, record and report the money each of them meant, or the second is refused with
    :class:`PaymentStateError` without asking ePay. The reservation becomes the refund once ePay
    accepted it, and is released if it refused or did not answer (nothing is recorded then: ask
    ``status()`` before repeating a refund whose answer never came).
    """
    value = None if amount is None else parse_amount(amount)
    # Longer than the call can take (its deadline), so that only a process that died mid-call
    # leaves its reservation behind, until then.
    lease = timedelta(seconds=state.client.deadline + RESERVATION_MARGIN)
    payment, value = state.ledger.reserve_refund(invoice_id, value, lease=lease)
    try:
        result = state.client_for(payment.terminal).refund(_transaction_id(payment), value)
    except BaseException as exc:
        _release(state, invoice_id, value)
        _note(state, invoice_id, "refund", value, exc)
        raise
    recorded = _record(state, "refund", invoice_id, value, result,
                       lambda: state.ledger.record_refund(invoice_id, value, reserved=True))
    if recorded.change is not None:
        fire(current_app._get_current_object(),  # type: ignore[attr-defined]
             recorded.change, recorded.payment, amount=value)
    return result


def _note(state: HalykState, invoice_id: str, operation: Operation, amount: Decimal | None,
          exc: BaseException) -> None:
    """Note in the ledger's journal a call ePay refused or did not answer (a payment's timeline
    shows it); an error raised before anything was sent is not a call."""
    if isinstance(exc, ApiError):
        outcome: Literal["refused", "unanswered"] = "refused"
        reason = exc.bank_message or str(exc)
    elif isinstance(exc, TransportError):
        outcome, reason = "unanswered", str(exc)
    else:
        return
    try:
        state.ledger.note_operation(invoice_id, operation, amount, outcome, reason)
    except Exception:  # the bank's answer is the one to report
        log.exception("flask-halyk: could not note the %s of %s ePay %s in the journal",
                      operation, invoice_id, outcome)


def _release(state: HalykState, invoice_id: str, value: Decimal) -> None:
    try:
        state.ledger.release_refund(invoice_id, value)
    except Exception:  # the bank's failure is the one to report; the reservation lapses
        log.exception("flask-halyk: could not release the refund reservation of %s (it "
                      "lapses by itself)", invoice_id)


def cancel(state: HalykState, invoice_id: str) -> OperationResult:
    """Cancel (void) an authorised payment that is not charged yet. Fires
    ``payment_cancelled``."""
    payment = _operable(state, invoice_id, "cancel", None)
    try:
        result = state.client_for(payment.terminal).cancel(_transaction_id(payment))
    except HalykError as exc:
        _note(state, invoice_id, "cancel", None, exc)
        raise
    recorded = _record(state, "cancel", invoice_id, None, result,
                       lambda: state.ledger.record_cancel(invoice_id))
    if recorded.change is not None:
        fire(current_app._get_current_object(),  # type: ignore[attr-defined]
             recorded.change, recorded.payment)
    return result


def charge(
    state: HalykState, invoice_id: str, amount: Decimal | int | str | None = None
) -> OperationResult:
    """Charge (capture) an authorised payment of a two-stage terminal, in full or ``amount``
    of it. Fires ``payment_charged``."""
    value = None if amount is None else parse_amount(amount)
    payment = _operable(state, invoice_id, "charge", value)
    try:
        result = state.client_for(payment.terminal).charge(_transaction_id(payment), value)
    except HalykError as exc:
        _note(state, invoice_id, "charge", value, exc)
        raise
    recorded = _record(state, "charge", invoice_id, value, result,
                       lambda: state.ledger.record_charge(invoice_id, value))
    if recorded.change is not None:
        fire(current_app._get_current_object(),  # type: ignore[attr-defined]
             recorded.change, recorded.payment, amount=value or payment.amount)
    return result


def _record(state: HalykState, operation: Operation, invoice_id: str, amount: Decimal | None,
            result: OperationResult, record: Callable[[], ApplyResult]) -> ApplyResult:
    """Record what ePay did. Past this point the money has moved: a ledger that fails now must
    not read as a failed operation, or the shop would repeat it."""
    try:
        return record()
    except LedgerUnavailable as exc:
        log.error("flask-halyk: ePay performed the %s of invoice %s (amount %s) but the ledger "
                  "could not record it: %s", operation, invoice_id, amount, exc)
        raise OperationNotRecorded(
            f"ePay performed the {operation} of invoice {invoice_id}"
            f"{'' if amount is None else f' ({amount})'}, but the ledger could not record it "
            f"({exc}). Do not repeat it: record it once the database is back "
            f"(halyk.ledger.record_{operation}).",
            operation=operation, invoice_id=invoice_id, amount=amount, result=result,
        ) from exc


def _operable(state: HalykState, invoice_id: str, operation: Operation,
              amount: Decimal | None) -> PaymentRecord:
    """The payment, if the ledger sees nothing that would make ePay refuse ``operation``."""
    payment = state.ledger.require(invoice_id)
    refusal = refusal_of(payment, operation, amount)
    if refusal is not None:
        raise PaymentStateError(refusal.text, refusal)
    return payment


def _transaction_id(payment: PaymentRecord) -> str:
    assert payment.transaction_id  # operation_refusal refused a payment without one
    return payment.transaction_id
