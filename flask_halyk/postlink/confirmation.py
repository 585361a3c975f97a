"""The status re-check (``HALYK_VERIFY_WITH_STATUS``): a success postLink is believed only once
ePay's status API says the invoice is paid, for this order's amount and currency.

A success postLink alone is not enough: its ``secret_hash`` also arrives in the invoice's failure
postLink, which the customer can have delivered to themselves. The bank's own answer also names
the transaction that refunds and charges must go to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from ..epay import StatusResult, Transaction
from ..errors import HalykError
from ..ledger import BankReport, PaymentRecord, PaymentStatus
from ..state import HalykState

__all__ = ["Unconfirmed", "confirm_unhashed", "confirm_with_status"]

log = logging.getLogger("flask_halyk.postlink")


@dataclass(frozen=True)
class Unconfirmed:
    """Why the bank did not confirm a success, and what to answer the sender: 403 (the bank
    says otherwise: the event is stored ``rejected``) or 503 (ask again later: the event is
    stored ``deferred``). Nothing here writes to the ledger: the caller stores the event."""

    reason: str
    http_status: int


def confirm_with_status(
    state: HalykState, payment: PaymentRecord, news: BankReport
) -> BankReport | Unconfirmed:
    """The news, its status decided by the bank's statusName whatever ``HALYK_TWO_STAGE`` says
    (AUTH: ``authorized``, CHARGE: ``paid``), or why it is not confirmed."""
    status = _ask_status(state, payment)
    if isinstance(status, Unconfirmed):
        return status
    if status.paid or _verified(status, payment):
        mismatch = _differs_from_order(status.transaction, payment)
        if mismatch:
            return Unconfirmed(f"ePay's status does not match the order: {mismatch}", 403)
        target = PaymentStatus.AUTHORIZED if status.authorized else PaymentStatus.PAID
        bank = str(status.status_name) if status.status_name is not None else None
        confirmed = replace(news, status=target, bank_status=bank)
        transaction = status.transaction
        if transaction is not None:
            # The sender chose the postLink's fields; the bank's own answer names the
            # transaction that refunds and charges must go to, and the card it was paid with.
            confirmed = replace(
                confirmed, transaction_id=transaction.id,
                card_mask=transaction.card_mask or confirmed.card_mask,
                reference=transaction.reference or confirmed.reference,
                approval_code=transaction.approval_code or confirmed.approval_code,
            )
        return confirmed
    if status.pending:
        return Unconfirmed("ePay's status is not final yet", 503)
    return Unconfirmed(f"ePay's status does not confirm the payment ({status.status_name})", 403)


def _verified(status: StatusResult, payment: PaymentRecord) -> bool:
    """A card verification (amount 0) the bank approved: ``VERIFIED`` (the ledger records it
    ``verified``, see :func:`~flask_halyk.ledger.states.verification_target`)."""
    return payment.amount == 0 and status.transaction is not None \
        and str(status.status_name or "").upper() == "VERIFIED"


def _ask_status(state: HalykState, payment: PaymentRecord) -> StatusResult | Unconfirmed:
    """ePay's status of the payment, or the deferral when ePay cannot say it in time."""
    try:
        # Its own, tighter deadline: the bank waits for the answer, and a worker killed for
        # its timeout would leave the bank answered nothing.
        return state.client_for(payment.terminal).status(payment.invoice_id,
                                   deadline=state.config.postlink_status_deadline)
    except HalykError as exc:
        reason = f"status re-check failed: {type(exc).__name__}"
        log.warning("flask-halyk: postLink for %s deferred: %s", payment.invoice_id, reason)
        return Unconfirmed(reason, 503)


def _differs_from_order(transaction: Transaction | None, payment: PaymentRecord) -> str | None:
    # The token binds the amount, but the status answer is the last word: a paid transaction
    # for another sum or currency is not this order's payment.
    if transaction is None:
        return None
    if transaction.amount is not None and transaction.amount != payment.amount:
        return f"amount {transaction.amount} instead of {payment.amount}"
    currency = (transaction.currency or "").strip().upper()
    if currency and currency != payment.currency.upper():
        return f"currency {transaction.currency} instead of {payment.currency}"
    return None


# --- postLinks without secret_hash ------------------------------------------------------------


def confirm_unhashed(
    state: HalykState, payment: PaymentRecord, news: BankReport
) -> BankReport | Unconfirmed:
    """A postLink that carries no ``secret_hash`` (the vendor's own examples carry none) is
    believed only as far as the bank's status answer confirms it, whatever
    ``HALYK_VERIFY_WITH_STATUS`` says: that answer is the stronger proof, and without it the
    body proves nothing. A success goes through :func:`confirm_with_status`; a failure must be
    one the bank reports failed (REJECT, FAILED, resultCode 101). Not final yet, or ePay out of
    reach: 503 (deferred); anything else: 403."""
    if news.status.is_success:
        return confirm_with_status(state, payment, news)
    status = _ask_status(state, payment)
    if isinstance(status, Unconfirmed):
        return status
    if status.failed:
        return news
    if status.pending:
        return Unconfirmed("ePay's status is not final yet", 503)
    return Unconfirmed("a failure without secret_hash that ePay's status does not confirm "
                       f"({status.status_name})", 403)
