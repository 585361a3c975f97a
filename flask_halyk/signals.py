"""Blinker signals a shop connects to. Sender: the Flask app; keyword arguments as documented.

They fire after the ledger has recorded the change, once per payment and outcome, however many
copies of a postLink arrive.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A payment was paid (postLink success, or a status re-check found it paid).
#: kwargs: ``payment`` (the ledger's Payment), ``postlink`` (the validated body dict, or None when
#: the news came from the status API).
payment_succeeded = _signals.signal("payment-succeeded")

#: A payment failed. kwargs as for :data:`payment_succeeded`.
payment_failed = _signals.signal("payment-failed")

#: A postLink was refused (malformed, forged, foreign). kwargs: ``reason`` (str), ``status``
#: (the HTTP status answered), ``body`` (the raw bytes), ``event_id`` (ledger event id),
#: ``postlink`` (the validated body when it was well-formed but not believed, else None).
postlink_rejected = _signals.signal("postlink-rejected")

#: A refund was recorded. kwargs: ``payment``, ``amount`` (Decimal).
payment_refunded = _signals.signal("payment-refunded")

#: A two-stage payment was charged (captured). kwargs: ``payment``, ``amount``.
payment_charged = _signals.signal("payment-charged")

#: An authorised payment was cancelled (voided). kwargs: ``payment``.
payment_cancelled = _signals.signal("payment-cancelled")

#: A payment that was never paid can no longer be paid: its token expired, the grace period
#: of ``reconcile`` passed and ePay does not know the invoice. Release what the order held
#: (stock, a reservation). kwargs: ``payment``. Fired once, by ``flask halyk reconcile``; should
#: the bank later report the payment paid after all, :data:`payment_succeeded` follows.
payment_expired = _signals.signal("payment-expired")

#: A card was saved for the payment's account: a card verification (a payment of amount 0,
#: ``verify_card``) was approved (no money moved, and :data:`payment_succeeded` does not fire
#: for it), or a payment made with ``save_card=True`` was paid and the bank gave its cardId
#: (fired right after that payment's :data:`payment_succeeded`). kwargs: ``payment`` (its
#: ``card_id`` names the card; ``halyk.cards(payment.account_id)`` lists it).
card_saved = _signals.signal("card-saved")

#: A subscription's period was paid (``flask halyk charge-due``): deliver the next period.
#: kwargs: ``subscription`` (the ledger's Subscription, moved to its next period),
#: ``payment`` (the renewal's PaymentRecord, ``paid``).
subscription_renewed = _signals.signal("subscription-renewed")

#: A subscription's renewal failed: the subscription is ``past_due`` (retried on the dunning
#: schedule, ``HALYK_DUNNING_SCHEDULE``) or, after the last retry, ``cancelled``. Bring the
#: customer back (another card, or a payment with them there). kwargs: ``subscription``,
#: ``payment`` (the failed PaymentRecord, or None when nothing was sent: the card removed, a
#: terminal that wants 3-D Secure or has no recurring rights), ``reason`` (the bank's message,
#: or ``card_unavailable``, ``three_d_secure_required``, ``recurring_not_allowed``),
#: ``retry_at`` (when it is tried again, or None).
subscription_payment_failed = _signals.signal("subscription-payment-failed")

#: A subscription ended: cancelled now, at its period's end, or after the last failed retry.
#: kwargs: ``subscription`` (its ``reason`` says why).
subscription_cancelled = _signals.signal("subscription-cancelled")

#: An invoice counter crossed 80 % or 95 % of its 10**6 suffixes (once per threshold): the
#: terminal (or, with HALYK_INVOICE_SUFFIX_SCOPE = "ledger", the ledger) will run out of
#: invoice ids; ask the bank for a further terminal (docs/ledger.md, "Invoice ids"). kwargs:
#: ``capacity`` (an ``InvoiceCapacity``: ``terminal``, ``used``, ``left``, ``percent_used``).
#: Fired after the payment that crossed it is recorded, in the process that recorded it.
invoice_ids_running_low = _signals.signal("invoice-ids-running-low")

__all__ = [
    "card_saved",
    "invoice_ids_running_low",
    "payment_cancelled",
    "payment_charged",
    "payment_expired",
    "payment_failed",
    "payment_refunded",
    "payment_succeeded",
    "postlink_rejected",
    "subscription_cancelled",
    "subscription_payment_failed",
    "subscription_renewed",
]
