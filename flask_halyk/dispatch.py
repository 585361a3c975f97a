"""Telling the shop: the signal of a ledger change, fired once, and whether its receivers coped.

The change is committed before anything here runs; the event's verdict records how the
receivers did, so that ``flask halyk reprocess`` can run the ones that raised again. While they
run, the event's claim is renewed from a background thread: a process that dies mid-receiver
stops renewing it, and once its lease lapses another process finishes them
(:func:`flask_halyk.recovery.finish_interrupted`).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from decimal import Decimal
from types import TracebackType
from typing import Any

from flask import Flask

from . import signals
from .ledger import Change, EventVerdict, Ledger, PaymentRecord
from .ledger.rows import clean

__all__ = ["dispatch_event", "fire", "has_receivers", "saved_a_card"]

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
        if saved_a_card(payment):
            signals.card_saved.send(app, payment=payment)
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
    elif change is Change.VERIFIED:
        signals.card_saved.send(app, payment=payment)


def saved_a_card(payment: PaymentRecord) -> bool:
    """Whether a paid payment kept its card (``save_card=True``, the bank's cardId, an
    account): :data:`~flask_halyk.signals.card_saved` follows its ``payment_succeeded``."""
    return bool(payment.card_save and payment.card_id and payment.account_id)


def _signal_of(change: Change) -> Any:
    return {
        Change.SUCCEEDED: signals.payment_succeeded,
        Change.FAILED: signals.payment_failed,
        Change.CHARGED: signals.payment_charged,
        Change.CANCELLED: signals.payment_cancelled,
        Change.REFUNDED: signals.payment_refunded,
        Change.EXPIRED: signals.payment_expired,
    }.get(change)


def has_receivers(app: Flask, change: Change) -> bool:
    """Whether a receiver is connected to the signal of ``change`` (for ``app`` or any
    sender): when none is, the event that made the change is ``applied`` in the transaction
    that applied it, with no claim to renew or end (one commit fewer)."""
    signal = _signal_of(change)
    if change is Change.SUCCEEDED and signals.card_saved.has_receivers_for(app):
        return True
    return signal is None or bool(signal.has_receivers_for(app))


def dispatch_event(
    app: Flask,
    ledger: Ledger,
    event_id: int,
    change: Change,
    payment: PaymentRecord,
    postlink: dict[str, Any] | None = None,
    amount: Decimal | None = None,
    *,
    claim: str | None = None,
    applied: bool = False,
) -> EventVerdict:
    """Fire the signal of an event that changed a payment, then mark the event ``applied``, or
    ``failed`` with the error if a receiver raised (``flask halyk reprocess`` retries it).

    ``claim``: the claim on the event's receivers (:attr:`ApplyResult.claim`, or
    :meth:`Ledger.claim_dispatch`'s), renewed while they run and ended with the verdict. Without
    one the verdict is written as is.

    ``applied``: the event was written ``applied`` already, in the transaction that made the
    change, because no receiver was connected (:func:`has_receivers`). The signal is sent all
    the same (a receiver connected since then runs), and a verdict is written only if one
    raised (``failed``: ``flask halyk reprocess`` runs it again).

    The change is already committed: a receiver's failure never undoes it, and never reaches
    the bank (the postLink is still acknowledged).
    """
    with _Renewal(ledger, event_id, claim):
        try:
            fire(app, change, payment, postlink, amount)
        except Exception as exc:  # the shop's receiver: anything may come out of it
            log.exception(
                "flask-halyk: a %s receiver raised for invoice %s (event %s); the payment is "
                "recorded, run `flask halyk reprocess` once it is fixed",
                change, payment.invoice_id, event_id,
            )
            reason = clean(f"receiver raised {type(exc).__name__}: {exc}", 2000)
            verdict, why = EventVerdict.FAILED, reason
        else:
            verdict, why = EventVerdict.APPLIED, None
    if applied:
        if verdict is not EventVerdict.APPLIED:
            ledger.judge_event(event_id, verdict, reason=why)
    elif claim is None:
        ledger.judge_event(event_id, verdict, reason=why)
    elif not ledger.end_claim(event_id, claim, verdict, reason=why):
        log.warning(
            "flask-halyk: the claim on the %s receivers of event %s (invoice %s) lapsed while "
            "they ran, and another process took them over: they may have run twice; raise "
            "HALYK_DISPATCH_LEASE if this worker is often stalled this long",
            change, event_id, payment.invoice_id,
        )
    return verdict


class _Renewal:
    """Renews a claim's lease every third of it while the ``with`` block runs (the receivers
    may block the calling thread): the claim is handed to the process's one renewal thread."""

    def __init__(self, ledger: Ledger, event_id: int, claim: str | None) -> None:
        self._ledger = ledger
        self._event_id = event_id
        self._claim = claim
        self._key: int | None = None

    def __enter__(self) -> None:
        if self._claim is not None:
            self._key = _RENEWER.add(self._ledger, self._event_id, self._claim)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # A renewal still under way matches nothing once the claim has ended.
        if self._key is not None:
            _RENEWER.remove(self._key)


class _Renewer:
    """One daemon thread per process renews the claims of every dispatch under way, each every
    third of its lease: starting a thread per postLink cost more than the rest of its work
    (the caller waits for the new thread to run). A process that dies stops renewing, so its
    leases lapse as before; a forked child starts its own thread when it first needs one."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        # key -> [when due (monotonic), ledger, event id, claim]
        self._claims: dict[int, list[Any]] = {}
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, ledger: Ledger, event_id: int, claim: str) -> int:
        with self._cond:
            key = next(self._keys)
            self._claims[key] = [time.monotonic() + _interval(ledger), ledger, event_id, claim]
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="halyk-lease-renewal")
                self._thread.start()
            self._cond.notify()
        return key

    def remove(self, key: int) -> None:
        with self._cond:
            self._claims.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [(key, entry) for key, entry in self._claims.items() if entry[0] <= now]
                if not due:
                    soonest = min((entry[0] for entry in self._claims.values()), default=None)
                    self._cond.wait(None if soonest is None else soonest - now)
                    continue
                for _key, entry in due:
                    entry[0] = now + _interval(entry[1])
            for key, (_due, ledger, event_id, claim) in due:
                try:
                    if not ledger.renew_claim(event_id, claim):
                        self.remove(key)  # taken over, or ended: nothing left to renew
                except Exception:  # the database may be away a moment: try again next time
                    log.exception("flask-halyk: could not renew the claim on event %s",
                                  event_id)


def _interval(ledger: Ledger) -> float:
    return float(ledger.dispatch_lease.total_seconds()) / 3


_RENEWER = _Renewer()
