"""Subscriptions: a plan (amount, currency, period) charged to one saved card of one account on
a schedule the ledger keeps (``halyk_subscriptions``), and each attempt to charge a period
(``halyk_subscription_charges``).

Exactly once, however many ``charge-due`` run at once: a due subscription is claimed in one
transaction (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the write
transaction is exclusive and the claim is a compare-and-set on ``pending_charge``), and the
claim writes the period's charge under a unique key (subscription, period, attempt) before the
bank is called. A subscription with a charge in flight is never claimed again until that
charge is settled (:meth:`SubscriptionStore.settle_charge`), which is itself a compare-and-set:
one caller settles it, the others see it settled.

Storage only: the bank calls and the signals are :mod:`flask_halyk.subscriptions`'.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import InvalidArgument, SubscriptionNotFound
from ..money import from_minor, to_minor
from .core import LedgerCore
from .rows import clean
from .tables import subscription_charges, subscriptions

__all__ = [
    "ACTIVE",
    "CANCELLED",
    "CHARGEABLE",
    "PAST_DUE",
    "PAUSED",
    "PERIOD_UNITS",
    "ChargeClaim",
    "Plan",
    "Subscription",
    "SubscriptionStore",
    "add_months",
    "period_start",
]

ACTIVE = "active"
PAST_DUE = "past_due"
PAUSED = "paused"
CANCELLED = "cancelled"
#: The states ``charge-due`` charges.
CHARGEABLE = (ACTIVE, PAST_DUE)

PERIOD_UNITS = ("month", "week", "day")

# A charge's states.
CLAIMED = "claimed"
SENT = "sent"
PAID = "paid"
FAILED = "failed"


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus ``months`` calendar months, its day clamped to the target month's last
    day: Jan 31 + 1 month is Feb 28 (29 in a leap year)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Plan:
    """What a subscription charges: ``amount`` in ``currency`` every ``count`` ``unit``
    (``"month"``, ``"week"``, ``"day"``). Use :meth:`monthly`, :meth:`weekly`,
    :meth:`daily` or :meth:`every_days`."""

    amount: Decimal
    unit: str = "month"
    count: int = 1
    currency: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.unit not in PERIOD_UNITS:
            raise InvalidArgument(f"a plan's period unit is one of {', '.join(PERIOD_UNITS)}")
        if not isinstance(self.count, int) or isinstance(self.count, bool) \
                or not 1 <= self.count <= 3660:
            raise InvalidArgument("a plan's period count is a whole number from 1 to 3660")
        if to_minor(self.amount) <= 0:
            raise InvalidArgument("a plan's amount must be more than 0")

    @classmethod
    def monthly(cls, amount: Decimal | int | str, **kwargs: Any) -> Plan:
        """Every calendar month, on the anchor's day (clamped in short months)."""
        return cls(Decimal(str(amount)), "month", 1, **kwargs)

    @classmethod
    def weekly(cls, amount: Decimal | int | str, **kwargs: Any) -> Plan:
        """Every seven days."""
        return cls(Decimal(str(amount)), "week", 1, **kwargs)

    @classmethod
    def daily(cls, amount: Decimal | int | str, **kwargs: Any) -> Plan:
        """Every day."""
        return cls(Decimal(str(amount)), "day", 1, **kwargs)

    @classmethod
    def every_days(cls, days: int, amount: Decimal | int | str, **kwargs: Any) -> Plan:
        """Every ``days`` days."""
        return cls(Decimal(str(amount)), "day", days, **kwargs)


def period_start(anchor: datetime, unit: str, count: int, index: int) -> datetime:
    """The start of period ``index`` (0 is the first) of a plan anchored at ``anchor``: always
    reckoned from the anchor, so a monthly plan anchored on the 31st is charged on Jan 31,
    Feb 28, Mar 31, never drifting to the 28th."""
    if unit == "month":
        return add_months(anchor, count * index)
    days = count * index * (7 if unit == "week" else 1)
    return anchor + timedelta(days=days)


@dataclass(frozen=True)
class Subscription:
    """A subscription as the ledger holds it."""

    id: str
    account_id: str
    card_id: str
    amount: Decimal
    currency: str
    description: str
    period_unit: str
    period_count: int
    #: ``active``, ``past_due`` (a renewal failed; retried on the dunning schedule),
    #: ``paused`` (not charged) or ``cancelled``.
    status: str
    anchor_at: datetime
    #: The period the next charge pays for (0: the first).
    period_index: int
    #: When ``charge-due`` charges it next (None once cancelled).
    next_charge_at: datetime | None
    cancel_at_period_end: bool
    #: Failed attempts at the period being charged.
    attempts: int
    #: Why the last attempt failed (the bank's message, ``three_d_secure_required``...).
    reason: str | None
    pending_charge: int | None
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None

    def period_start(self, index: int) -> datetime:
        """When period ``index`` starts."""
        return period_start(self.anchor_at, self.period_unit, self.period_count, index)

    @property
    def current_period_end(self) -> datetime:
        """The end of the period paid last (the start of the one the next charge pays for)."""
        return self.period_start(self.period_index)


@dataclass(frozen=True)
class ChargeClaim:
    """A period's charge claimed by one ``charge-due``: only its holder calls the bank."""

    id: int
    subscription: Subscription
    period_index: int
    attempt: int


def subscription_record(row: Row[Any]) -> Subscription:
    m = row._mapping
    values = {name: m[name] for name in Subscription.__dataclass_fields__ if name != "amount"}
    return Subscription(amount=from_minor(m["amount_minor"]), **values)


class SubscriptionStore(LedgerCore):
    """The ledger's subscriptions and their charges."""

    def create_subscription(self, *, account_id: str, card_id: str, plan: Plan,
                            currency: str, anchor_at: datetime) -> Subscription:
        """Record an ``active`` subscription whose first period starts (and is due) at
        ``anchor_at``."""
        self._ensure()
        now = self.now()
        sub_id = uuid.uuid4().hex
        with self._write() as conn:
            conn.execute(insert(subscriptions).values(
                id=sub_id, account_id=account_id, card_id=card_id,
                amount_minor=to_minor(plan.amount), currency=clean(currency, 3) or "",
                description=clean(plan.description, 1000) or "", period_unit=plan.unit,
                period_count=plan.count, status=ACTIVE, anchor_at=anchor_at, period_index=0,
                next_charge_at=anchor_at, cancel_at_period_end=False, attempts=0,
                created_at=now, updated_at=now))
        return self.require_subscription(sub_id)

    def subscription(self, sub_id: str) -> Subscription | None:
        """The subscription ``sub_id``, or None."""
        self._ensure()
        with self._read() as conn:
            row = conn.execute(select(subscriptions)
                               .where(subscriptions.c.id == sub_id)).first()
        return None if row is None else subscription_record(row)

    def require_subscription(self, sub_id: str) -> Subscription:
        """The subscription ``sub_id``, or :class:`SubscriptionNotFound`."""
        found = self.subscription(sub_id)
        if found is None:
            raise SubscriptionNotFound(f"no subscription {sub_id} in the ledger")
        return found

    def subscriptions(self, account_id: str | None = None, *,
                      status: Sequence[str] = ()) -> list[Subscription]:
        """The subscriptions (of ``account_id``; in one of ``status`` when given), oldest
        first, cancelled ones included."""
        self._ensure()
        query = select(subscriptions)
        if account_id is not None:
            query = query.where(subscriptions.c.account_id == account_id)
        if status:
            query = query.where(subscriptions.c.status.in_(tuple(status)))
        with self._read() as conn:
            rows = conn.execute(query.order_by(subscriptions.c.created_at,
                                               subscriptions.c.id)).all()
        return [subscription_record(row) for row in rows]

    def update_subscription(self, sub_id: str, *, expect: tuple[str, ...],
                            **values: Any) -> Subscription | None:
        """Set ``values`` on the subscription if its status is one of ``expect`` (a
        compare-and-set); the subscription as it is afterwards, or None when its status was
        another (nothing changed)."""
        self._ensure()
        with self._write() as conn:
            done = conn.execute(update(subscriptions)
                                .where(subscriptions.c.id == sub_id,
                                       subscriptions.c.status.in_(expect))
                                .values(updated_at=self.now(), **values))
            if not done.rowcount:
                return None
            row = conn.execute(select(subscriptions)
                               .where(subscriptions.c.id == sub_id)).first()
        assert row is not None
        return subscription_record(row)

    def claim_due(self, now: datetime) -> ChargeClaim | None:
        """Claim one due subscription (``active`` or ``past_due``, ``next_charge_at`` reached,
        no charge in flight) and write its period's charge; None when nothing is due for this
        caller. Concurrent callers claim different subscriptions, each at most once a period
        and attempt."""
        self._ensure()
        due = select(subscriptions).where(
            subscriptions.c.status.in_(CHARGEABLE),
            subscriptions.c.next_charge_at <= now,
            subscriptions.c.pending_charge.is_(None),
            subscriptions.c.cancel_at_period_end.is_(False),
        ).order_by(subscriptions.c.next_charge_at, subscriptions.c.id).limit(1)
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                due_query = due.with_for_update(skip_locked=True)
            else:  # SQLite: this write transaction is the only one
                due_query = due
            row = conn.execute(due_query).first()
            if row is None:
                return None
            # None when the period's attempt is recorded already (it never should be while
            # nothing is in flight): this run stops rather than charge it again.
            return self._claim(conn, subscription_record(row), now)

    def end_at_period_end(self, now: datetime) -> list[Subscription]:
        """Cancel, once each, the subscriptions set to end at their period's end whose period
        ended (nothing in flight); the ones this caller cancelled."""
        self._ensure()
        ended = []
        with self._write() as conn:
            rows = conn.execute(update(subscriptions).where(
                subscriptions.c.status.in_((*CHARGEABLE, PAUSED)),
                subscriptions.c.cancel_at_period_end.is_(True),
                subscriptions.c.next_charge_at <= now,
                subscriptions.c.pending_charge.is_(None),
            ).values(status=CANCELLED, next_charge_at=None, cancelled_at=now, updated_at=now,
                     reason="cancel_at_period_end").returning(*subscriptions.c)).all()
            ended = [subscription_record(row) for row in rows]
        return ended

    def _claim(self, conn: Connection, sub: Subscription, now: datetime) -> ChargeClaim | None:
        attempt = sub.attempts + 1
        try:
            with conn.begin_nested():
                charge_id = conn.execute(insert(subscription_charges).values(
                    subscription_id=sub.id, period_index=sub.period_index, attempt=attempt,
                    status=CLAIMED, claimed_at=now,
                ).returning(subscription_charges.c.id)).scalar_one()
        except IntegrityError:
            return None  # this period's attempt is someone else's: never charged twice
        taken = conn.execute(update(subscriptions).where(
            subscriptions.c.id == sub.id, subscriptions.c.pending_charge.is_(None),
            subscriptions.c.status.in_(CHARGEABLE),
        ).values(pending_charge=charge_id, updated_at=now))
        if not taken.rowcount:
            raise AssertionError("a locked, due subscription was taken by another caller")
        return ChargeClaim(id=int(charge_id), subscription=sub,
                           period_index=sub.period_index, attempt=attempt)

    def mark_sent(self, charge_id: int, invoice_id: str) -> bool:
        """Note the payment of a claimed charge, before it goes to the bank; False when the
        charge is no longer ``claimed`` (then do not call the bank)."""
        with self._write() as conn:
            done = conn.execute(update(subscription_charges).where(
                subscription_charges.c.id == charge_id,
                subscription_charges.c.status == CLAIMED,
            ).values(status=SENT, invoice_id=invoice_id))
        return bool(done.rowcount)

    def charges_in_flight(self) -> list[tuple[int, str, str | None, str, datetime]]:
        """The charges not settled: (id, subscription id, invoice id, status, claimed at)."""
        self._ensure()
        with self._read() as conn:
            rows = conn.execute(select(
                subscription_charges.c.id, subscription_charges.c.subscription_id,
                subscription_charges.c.invoice_id,
                subscription_charges.c.status, subscription_charges.c.claimed_at,
            ).where(subscription_charges.c.status.in_((CLAIMED, SENT)))
             .order_by(subscription_charges.c.id)).all()
        return [(int(r.id), r.subscription_id, r.invoice_id, r.status, r.claimed_at)
                for r in rows]

    def charges(self, sub_id: str) -> list[dict[str, Any]]:
        """The charges of a subscription, oldest first, as dicts (``period_index``,
        ``attempt``, ``invoice_id``, ``status``, ``reason``, ``claimed_at``...)."""
        self._ensure()
        with self._read() as conn:
            rows = conn.execute(select(subscription_charges)
                                .where(subscription_charges.c.subscription_id == sub_id)
                                .order_by(subscription_charges.c.id)).all()
        return [dict(r._mapping) for r in rows]

    def settle_charge(self, charge_id: int, *, paid: bool, reason: str | None,
                      retry_after: tuple[timedelta, ...]) -> tuple[Subscription, str] | None:
        """Settle the charge in flight, once: paid, the subscription moves to its next period
        (``active``); failed, it is ``past_due`` and retried after the next delay of
        ``retry_after`` (the dunning schedule), or ``cancelled`` after the last. Returns the
        subscription and what happened (``"renewed"``, ``"past_due"``, ``"cancelled"``), or
        None when another caller settled it already. A charge abandoned before its payment
        went out (``paid=False, reason=None`` on a ``claimed`` charge) is dropped: the period
        is due again, no attempt counted."""
        now = self.now()
        with self._write() as conn:
            row = conn.execute(select(subscription_charges).where(
                subscription_charges.c.id == charge_id,
                subscription_charges.c.status.in_((CLAIMED, SENT))).with_for_update()).first()
            if row is None:
                return None
            sub_row = conn.execute(select(subscriptions).where(
                subscriptions.c.id == row.subscription_id).with_for_update()).first()
            assert sub_row is not None
            sub = subscription_record(sub_row)
            if row.status == CLAIMED and reason is None and not paid:
                conn.execute(subscription_charges.delete()
                             .where(subscription_charges.c.id == charge_id))
                conn.execute(update(subscriptions).where(subscriptions.c.id == sub.id)
                             .values(pending_charge=None, updated_at=now))
                return sub, "released"
            conn.execute(update(subscription_charges)
                         .where(subscription_charges.c.id == charge_id)
                         .values(status=PAID if paid else FAILED, reason=clean(reason, 1000),
                                 settled_at=now))
            values: dict[str, Any] = {"pending_charge": None, "updated_at": now}
            if paid:
                index = row.period_index + 1
                values.update(period_index=index, attempts=0, reason=None,
                              next_charge_at=sub.period_start(index))
                if sub.status != CANCELLED:
                    values["status"] = ACTIVE if sub.status == PAST_DUE else sub.status
                outcome = "renewed"
            else:
                attempts = row.attempt
                values.update(attempts=attempts, reason=clean(reason, 1000))
                if sub.status == CANCELLED:
                    outcome = CANCELLED
                elif attempts <= len(retry_after):
                    # Paused meanwhile: stays paused (resume tries it again at once).
                    values.update(status=PAUSED if sub.status == PAUSED else PAST_DUE,
                                  next_charge_at=now + retry_after[attempts - 1])
                    outcome = PAST_DUE
                else:
                    values.update(status=CANCELLED, next_charge_at=None, cancelled_at=now)
                    outcome = CANCELLED
            conn.execute(update(subscriptions).where(subscriptions.c.id == sub.id)
                         .values(**values))
            after = conn.execute(select(subscriptions)
                                 .where(subscriptions.c.id == sub.id)).first()
        assert after is not None
        return subscription_record(after), outcome
