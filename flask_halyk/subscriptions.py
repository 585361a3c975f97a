"""Subscriptions, for a shop: a plan charged to a customer's saved card on a schedule the ledger
keeps, renewed by ``flask halyk charge-due`` (docs/subscriptions.md).

Each renewal is a saved-card payment (:mod:`.cards`, ``recurrent=True``) recorded in the ledger
like any other. :func:`charge_due` charges every due subscription exactly once however many
copies run at once: the ledger claims each due subscription and writes the period's charge
before the bank is called (:mod:`.ledger.subscriptions`); a charge whose answer never came
stays in flight until the bank's word on its payment (``reconcile``, or the next
``charge-due``, which asks the bank about charges in flight for longer than ``stale_after``)
settles it: never a second charge of the same period.

A declined renewal makes the subscription ``past_due``, retried after each delay of
``HALYK_DUNNING_SCHEDULE``; after the last it is ``cancelled``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app

from .cards import card_merchant, record_card_payment, send_card_payment, usable_card
from .errors import (
    CardError,
    CardUnavailable,
    HalykError,
    InvalidArgument,
    RecurringNotAllowed,
    SubscriptionNotFound,
    ThreeDSecureRequired,
)
from .ledger import PaymentRecord, PaymentStatus, SavedCard
from .ledger.subscriptions import (
    ACTIVE,
    CANCELLED,
    CHARGEABLE,
    PAST_DUE,
    PAUSED,
    ChargeClaim,
    Plan,
    Subscription,
)
from .recovery import reconcile_payment
from .signals import subscription_cancelled, subscription_payment_failed, subscription_renewed
from .state import HalykState

__all__ = [
    "ChargeDueReport",
    "Plan",
    "Subscription",
    "cancel",
    "change_card",
    "charge_due",
    "pause",
    "resume",
    "subscribe",
    "subscriptions",
]

log = logging.getLogger("flask_halyk")

#: A charge in flight longer than this is taken for one whose ``charge-due`` died mid-call:
#: the next ``charge-due`` asks the bank what became of its payment.
STALE_AFTER = timedelta(minutes=15)

# A renewal the bank took (refunded since, by the shop, still renewed the period).
_PAID = frozenset({PaymentStatus.PAID, PaymentStatus.AUTHORIZED,
                   PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED})
_FAILED = frozenset({PaymentStatus.FAILED, PaymentStatus.EXPIRED, PaymentStatus.CANCELLED})


@dataclass
class ChargeDueReport:
    """What one :func:`charge_due` did: subscriptions ``renewed``, ``failed`` (now past due),
    ``cancelled`` (after the last retry, or at their period's end), charges ``settled`` that
    an earlier run left in flight, and ``in_flight`` (unanswered: settled later)."""

    renewed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)


def subscribe(state: HalykState, account_id: str, card: SavedCard | str, plan: Plan, *,
              start_at: datetime | None = None, trial_days: int = 0) -> Subscription:
    """Subscribe ``account_id`` to ``plan``, paid with its saved ``card`` (a card of another
    account, or one that cannot pay, is refused: :class:`CardError`). The first period starts
    at ``start_at`` (now by default) plus ``trial_days``, and is charged then by ``flask halyk
    charge-due``; each later one on the period's boundary, reckoned from that first start."""
    if not account_id:
        raise InvalidArgument("a subscription needs the customer's account_id")
    if isinstance(trial_days, bool) or not isinstance(trial_days, int) or trial_days < 0:
        raise InvalidArgument("trial_days is a whole number of days, 0 or more")
    saved = usable_card(state, card, account_id)
    now = state.ledger.now()
    start = start_at if start_at is not None else now
    if start.tzinfo is None:
        raise InvalidArgument("start_at must be an aware datetime (UTC)")
    # The card's merchant charges it: in that merchant's currency.
    takes = card_merchant(state, saved).currency
    currency = plan.currency or takes
    if currency != takes:
        raise InvalidArgument(f"the terminal charges in {takes}, not {currency}")
    return state.ledger.create_subscription(
        account_id=account_id, card_id=saved.card_id, plan=plan, currency=currency,
        anchor_at=start + timedelta(days=trial_days))


def subscriptions(state: HalykState, account_id: str) -> list[Subscription]:
    """The subscriptions of ``account_id``, oldest first (cancelled ones too)."""
    return state.ledger.subscriptions(account_id)


def _own(state: HalykState, subscription: Subscription | str,
         account_id: str | None) -> Subscription:
    sub_id = subscription.id if isinstance(subscription, Subscription) else subscription
    sub = state.ledger.require_subscription(sub_id)
    if account_id is not None and sub.account_id != account_id:
        raise SubscriptionNotFound(f"no subscription {sub_id} for this account")
    return sub


def pause(state: HalykState, subscription: Subscription | str, *,
          account_id: str | None = None) -> Subscription:
    """Stop charging it (``paused``) until :func:`resume`. Paused time is not charged."""
    sub = _own(state, subscription, account_id)
    done = state.ledger.update_subscription(sub.id, expect=CHARGEABLE, status=PAUSED)
    if done is None:
        raise InvalidArgument(f"subscription {sub.id} is {sub.status}: only an active or "
                              "past-due subscription can be paused")
    return done


def resume(state: HalykState, subscription: Subscription | str, *,
           account_id: str | None = None) -> Subscription:
    """Charge it again (``active``): its next charge is the first period boundary from now on
    (a period missed while paused is not charged), or at once when it was past due."""
    sub = _own(state, subscription, account_id)
    if sub.status != PAUSED:
        raise InvalidArgument(f"subscription {sub.id} is {sub.status}, not paused")
    now = state.ledger.now()
    index = sub.period_index
    values: dict[str, Any] = {"status": ACTIVE}
    if sub.attempts:  # it was past due: try at once
        values.update(status=PAST_DUE, next_charge_at=now)
    else:
        while sub.period_start(index) < now:
            index += 1
        values.update(period_index=index, next_charge_at=sub.period_start(index))
    done = state.ledger.update_subscription(sub.id, expect=(PAUSED,), **values)
    if done is None:
        raise InvalidArgument(f"subscription {sub.id} is no longer paused")
    return done


def cancel(state: HalykState, subscription: Subscription | str, *, at_period_end: bool = True,
           account_id: str | None = None) -> Subscription:
    """End it: at the end of the period paid (``cancel_at_period_end``: still ``active``
    until then, never charged again), or now (``cancelled``, ``subscription_cancelled``
    fires). A renewal already in flight is not recalled: if the bank pays it, the shop sees
    ``subscription_renewed`` for a cancelled subscription and may refund."""
    sub = _own(state, subscription, account_id)
    if sub.status == CANCELLED:
        return sub
    if at_period_end:
        done = state.ledger.update_subscription(sub.id, expect=(*CHARGEABLE, PAUSED),
                                                cancel_at_period_end=True)
    else:
        now = state.ledger.now()
        done = state.ledger.update_subscription(
            sub.id, expect=(*CHARGEABLE, PAUSED), status=CANCELLED, next_charge_at=None,
            cancelled_at=now, reason="cancelled")
        if done is not None:
            _send(subscription_cancelled, subscription=done)
    return done if done is not None else state.ledger.require_subscription(sub.id)


def change_card(state: HalykState, subscription: Subscription | str, card: SavedCard | str, *,
                account_id: str | None = None) -> Subscription:
    """Pay it with another saved card of the same account (:class:`CardAccountMismatch`
    otherwise). A past-due subscription is tried again with it at the next ``charge-due``."""
    sub = _own(state, subscription, account_id)
    saved = usable_card(state, card, sub.account_id)
    values: dict[str, Any] = {"card_id": saved.card_id}
    if sub.status == PAST_DUE:
        values["next_charge_at"] = state.ledger.now()
    done = state.ledger.update_subscription(sub.id, expect=(*CHARGEABLE, PAUSED), **values)
    if done is None:
        raise InvalidArgument(f"subscription {sub.id} is cancelled")
    return done


def charge_due(state: HalykState, *, stale_after: timedelta = STALE_AFTER,
               limit: int | None = None,
               progress: Callable[[Subscription, str], None] | None = None) -> ChargeDueReport:
    """Charge every subscription that is due, once (``flask halyk charge-due``); settle the
    charges earlier runs left in flight (asking the bank about those older than
    ``stale_after``); cancel those set to end at their period's end. ``limit``: at most this
    many charges. Safe to run in any number of copies at once."""
    report = ChargeDueReport()
    ledger = state.ledger

    def tell(sub: Subscription, outcome: str) -> None:
        if progress is not None:
            progress(sub, outcome)

    _settle_in_flight(state, stale_after, report, tell)
    now = ledger.now()
    for ended in ledger.end_at_period_end(now):
        report.cancelled.append(ended.id)
        _send(subscription_cancelled, subscription=ended)
        tell(ended, "cancelled at period end")
    count = 0
    while limit is None or count < limit:
        claim = ledger.claim_due(now)
        if claim is None:
            break
        count += 1
        _charge(state, claim, report, tell)
    return report


def _charge(state: HalykState, claim: ChargeClaim, report: ChargeDueReport,
            tell: Callable[[Subscription, str], None]) -> None:
    sub = claim.subscription
    description = sub.description or "Subscription"
    try:
        saved = usable_card(state, sub.card_id, sub.account_id)
    except CardError as refused:
        reason = "card_unavailable" if isinstance(refused, CardUnavailable) else "card_refused"
        _settle(state, claim.id, None, paid=False, reason=reason, report=report, tell=tell)
        return
    record = record_card_payment(state, saved, sub.amount, description=description)
    if not state.ledger.mark_sent(claim.id, record.invoice_id):
        return  # settled as abandoned by another run meanwhile: its payment is never sent
    try:
        paid = send_card_payment(state, saved, record, recurrent=True)
    except ThreeDSecureRequired:
        _settle(state, claim.id, record, paid=False, reason="three_d_secure_required",
                report=report, tell=tell)
        return
    except RecurringNotAllowed:
        _settle(state, claim.id, record, paid=False, reason="recurring_not_allowed",
                report=report, tell=tell)
        return
    except HalykError as exc:
        # No answer (or one we could not read): the bank may have charged. The charge stays
        # in flight; reconcile or a later charge-due settles it by the bank's word.
        log.warning("flask-halyk: subscription %s: the renewal's payment %s is unanswered "
                    "(%s); settled by reconcile", sub.id, record.invoice_id, type(exc).__name__)
        report.in_flight.append(sub.id)
        tell(sub, f"in flight ({record.invoice_id})")
        return
    _settle_payment(state, claim.id, paid, report, tell)


def _settle_payment(state: HalykState, charge_id: int, payment: PaymentRecord,
                    report: ChargeDueReport, tell: Callable[[Subscription, str], None],
                    *, settled: bool = False) -> bool:
    """Settle a sent charge by its payment's status; False while it is not final."""
    if payment.status in _PAID:
        _settle(state, charge_id, payment, paid=True, reason=None, report=report, tell=tell,
                settled=settled)
        return True
    if payment.status in _FAILED:
        reason = payment.reason or payment.status.value
        _settle(state, charge_id, payment, paid=False, reason=reason, report=report,
                tell=tell, settled=settled)
        return True
    return False


def _settle(state: HalykState, charge_id: int, payment: PaymentRecord | None, *, paid: bool,
            reason: str | None, report: ChargeDueReport,
            tell: Callable[[Subscription, str], None], settled: bool = False) -> None:
    done = state.ledger.settle_charge(charge_id, paid=paid, reason=reason,
                                      retry_after=state.config.dunning_schedule)
    if done is None:
        return  # another run settled it, and told the shop
    sub, outcome = done
    if settled:
        report.settled.append(sub.id)
    if outcome == "released":
        return
    if outcome == "renewed":
        report.renewed.append(sub.id)
        _send(subscription_renewed, subscription=sub, payment=payment)
        tell(sub, f"renewed ({payment.invoice_id if payment else ''})")
        return
    report.failed.append(sub.id)
    retry_at = sub.next_charge_at if outcome == PAST_DUE else None
    _send(subscription_payment_failed, subscription=sub, payment=payment, reason=reason,
          retry_at=retry_at)
    if outcome == CANCELLED:
        report.cancelled.append(sub.id)
        _send(subscription_cancelled, subscription=sub)
        tell(sub, f"cancelled after the last retry ({reason})")
    else:
        tell(sub, f"past due ({reason}), retried at {retry_at:%Y-%m-%d %H:%M} UTC"
             if retry_at else f"past due ({reason})")


def _settle_in_flight(state: HalykState, stale_after: timedelta, report: ChargeDueReport,
                      tell: Callable[[Subscription, str], None]) -> None:
    ledger = state.ledger
    now = ledger.now()
    for charge_id, sub_id, invoice_id, _status, claimed_at in ledger.charges_in_flight():
        stale = claimed_at <= now - stale_after
        if invoice_id is None:
            if stale:  # claimed, and its run died before any payment went out
                _settle(state, charge_id, None, paid=False, reason=None, report=report,
                        tell=tell, settled=True)
            continue
        payment = ledger.require(invoice_id)
        if _settle_payment(state, charge_id, payment, report, tell, settled=True) or not stale:
            continue
        try:
            reconcile_payment(state, invoice_id)
        except HalykError as exc:
            log.warning("flask-halyk: could not ask ePay about renewal %s: %s", invoice_id,
                        type(exc).__name__)
            continue
        if not _settle_payment(state, charge_id, ledger.require(invoice_id), report, tell,
                               settled=True):
            report.in_flight.append(sub_id)


def _send(signal: Any, **kwargs: Any) -> None:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    signal.send(app, **kwargs)
