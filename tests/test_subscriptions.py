"""Subscriptions end to end through the embedded sandbox, on SQLite and PostgreSQL: renewing
once, concurrent ``charge-due`` runs, a run that died mid-call settled without a second
charge, dunning, pause/resume/cancel, changing the card; and the calendar arithmetic."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from ledger_support import (
    BACKENDS,
    SignalLog,
    close_shop,
    database_url,
    make_shop,
    sandbox_of,
)
from sqlalchemy import inspect

from flask_halyk import (
    CardAccountMismatch,
    ConfigurationError,
    EpayTimeout,
    EpayUnavailable,
    InvalidArgument,
    Plan,
    Subscription,
)
from flask_halyk.config import resolve
from flask_halyk.ledger import Ledger, PaymentStatus
from flask_halyk.ledger.schema import MIGRATIONS
from flask_halyk.ledger.subscriptions import add_months, period_start
from flask_halyk.ledger.tables import subscription_charges, subscriptions
from flask_halyk.sandbox import SandboxServer
from flask_halyk.sandbox.cards import APPROVED_CARD
from flask_halyk.subscriptions import STALE_AFTER

S = PaymentStatus
ACCOUNT = "shopper-1"
START = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)


class Clock:
    """The ledger's clock, moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def shop(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[Flask]:
    app = make_shop(db_url, tmp_path)
    app.extensions["halyk"].ledger.clock = clock
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


def halyk(app: Flask) -> Any:
    return app.extensions["halyk"].extension


def saved_card(app: Flask, *, account_id: str = ACCOUNT, pan: str = APPROVED_CARD) -> str:
    """A card saved for ``account_id`` by a payment on the sandbox's page; its cardId."""
    with app.app_context():
        before = {card.card_id for card in halyk(app).cards(account_id)}
    with app.test_request_context("/"):
        payment = halyk(app).create_payment(100, description="order", account_id=account_id,
                                            save_card=True)
    sandbox_of(app).pay(payment.to_js(), pan, save_card=True)
    sandbox_of(app).wait_for_postlinks(10)
    with app.app_context():
        [new] = [c.card_id for c in halyk(app).cards(account_id) if c.card_id not in before]
    return str(new)


def renewals(app: Flask) -> list[Any]:
    """The sandbox's recurrent payments by cardId, oldest first."""
    return [t for t in sandbox_of(app).transactions if t.payment.get("recurrent")]


def subscribe(app: Flask, card: str, plan: Plan | None = None, **kwargs: Any) -> Subscription:
    with app.app_context():
        return halyk(app).subscribe(ACCOUNT, card, plan or Plan.monthly(4900,
                                                                        description="Tea club"),
                                    **kwargs)


def charge_due(app: Flask, **kwargs: Any) -> Any:
    with app.app_context():
        report = halyk(app).charge_due(**kwargs)
    sandbox_of(app).wait_for_postlinks(10)
    return report


def sub_of(app: Flask, sub: Subscription) -> Subscription:
    found = app.extensions["halyk"].ledger.subscription(sub.id)
    assert found is not None
    return found


def test_a_due_subscription_is_renewed_once_per_period(
        shop: Flask, clock: Clock, signal_log: SignalLog) -> None:
    card = saved_card(shop)
    sub = subscribe(shop, card)
    assert (sub.status, sub.next_charge_at, sub.period_index) == ("active", START, 0)
    report = charge_due(shop)
    assert report.renewed == [sub.id] and not report.failed
    [sent] = renewals(shop)
    assert (sent.amount, sent.card_id, sent.status) == (Decimal(4900), card, "CHARGE")
    assert sent.payment["paymentType"] == "cardId"
    ledger = shop.extensions["halyk"].ledger
    payment = ledger.get(sent.invoice_id)
    assert payment.status is S.PAID and payment.account_id == ACCOUNT
    assert payment.description == "Tea club"
    renewed = sub_of(shop, sub)
    # Jan 31 + 1 month: Feb 28 (2027 is not a leap year), then back to the 31st.
    assert renewed.next_charge_at == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
    assert renewed.period_index == 1 and renewed.status == "active"
    [fired] = signal_log.named("subscription_renewed")
    assert fired["subscription"].id == sub.id and fired["payment"].invoice_id == payment.invoice_id

    assert charge_due(shop).renewed == []  # nothing due until Feb 28
    clock.now = datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
    assert charge_due(shop).renewed == [sub.id]
    assert sub_of(shop, sub).next_charge_at == datetime(2027, 3, 31, 9, 0, tzinfo=UTC)
    assert len(renewals(shop)) == 2
    assert len(signal_log.named("subscription_renewed")) == 2
    charges = ledger.charges(sub.id)
    assert [(c["period_index"], c["attempt"], c["status"]) for c in charges] == [
        (0, 1, "paid"), (1, 1, "paid")]


def test_two_concurrent_runs_charge_each_due_subscription_once(
        shop: Flask, signal_log: SignalLog) -> None:
    card = saved_card(shop)
    subs = [subscribe(shop, card, Plan.weekly(100 + n)) for n in range(6)]
    start = threading.Barrier(3)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with shop.app_context():
                start.wait(10)
                reports.append(halyk(shop).charge_due())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    sandbox_of(shop).wait_for_postlinks(10)
    assert errors == []
    renewed = sorted(s for report in reports for s in report.renewed)
    assert renewed == sorted(s.id for s in subs)
    assert sorted(t.amount for t in renewals(shop)) == [Decimal(100 + n) for n in range(6)]
    assert len(signal_log.named("subscription_renewed")) == 6
    ledger = shop.extensions["halyk"].ledger
    for sub in subs:
        assert [c["status"] for c in ledger.charges(sub.id)] == ["paid"]


def test_a_run_that_died_mid_call_is_settled_by_the_bank_word_never_charged_twice(
        shop: Flask, clock: Clock, signal_log: SignalLog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    card = saved_card(shop)
    sub = subscribe(shop, card)
    state = shop.extensions["halyk"]
    real = state.client.card_payment

    def lost(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)  # the bank charged...
        raise EpayTimeout("ePay did not answer", deadline=1)  # ...and its answer was lost

    monkeypatch.setattr(state.client, "card_payment", lost)
    sandbox_of(shop).faults.drop_postlink = True
    report = charge_due(shop)
    assert report.in_flight == [sub.id] and report.renewed == []
    assert sub_of(shop, sub).pending_charge is not None
    monkeypatch.undo()
    sandbox_of(shop).faults.drop_postlink = False
    # Another run soon after: the charge is in flight, the subscription not due again.
    assert charge_due(shop).renewed == [] and len(renewals(shop)) == 1
    clock.advance(seconds=STALE_AFTER.total_seconds())
    settled = charge_due(shop)
    assert settled.renewed == [sub.id] and settled.settled == [sub.id]
    assert len(renewals(shop)) == 1  # the bank's word, no second charge
    after = sub_of(shop, sub)
    assert after.pending_charge is None and after.period_index == 1
    assert len(signal_log.named("subscription_renewed")) == 1


def test_a_claim_whose_run_died_before_the_bank_is_released(
        shop: Flask, clock: Clock) -> None:
    card = saved_card(shop)
    sub = subscribe(shop, card)
    ledger = shop.extensions["halyk"].ledger
    claim = ledger.claim_due(clock.now)  # ...and the run died here: nothing sent
    assert claim is not None and claim.subscription.id == sub.id
    assert ledger.claim_due(clock.now) is None
    assert charge_due(shop).renewed == []  # not stale yet: maybe still running
    clock.advance(seconds=STALE_AFTER.total_seconds())
    assert charge_due(shop).renewed == [sub.id]
    assert len(renewals(shop)) == 1
    assert [c["attempt"] for c in ledger.charges(sub.id)] == [1]


def test_a_declined_renewal_is_retried_on_the_schedule_then_cancelled(
        shop: Flask, clock: Clock, signal_log: SignalLog) -> None:
    card = saved_card(shop)
    sub = subscribe(shop, card)
    sandbox_of(shop).store.saved_cards[card].payment_available = False  # declines: 485
    report = charge_due(shop)
    assert report.failed == [sub.id]
    past = sub_of(shop, sub)
    assert (past.status, past.attempts, past.reason) == ("past_due", 1, "card expired")
    assert past.next_charge_at == START + timedelta(days=1)
    [failed] = signal_log.named("subscription_payment_failed")
    assert failed["retry_at"] == START + timedelta(days=1)
    assert failed["payment"].status is S.FAILED and failed["reason"] == "card expired"
    for days, attempts in ((1, 2), (3, 3)):
        clock.advance(days=days)
        assert charge_due(shop).failed == [sub.id]
        assert sub_of(shop, sub).attempts == attempts
    clock.advance(days=4)
    assert charge_due(shop).failed == []  # the third retry is 5 days after the third failure
    clock.advance(days=1)
    last = charge_due(shop)
    assert last.cancelled == [sub.id]
    ended = sub_of(shop, sub)
    assert (ended.status, ended.next_charge_at) == ("cancelled", None)
    assert len(renewals(shop)) == 4
    assert len(signal_log.named("subscription_payment_failed")) == 4
    assert [kw["subscription"].id for kw in signal_log.named("subscription_cancelled")] == [
        sub.id]
    clock.advance(days=60)
    assert charge_due(shop).renewed == [] and len(renewals(shop)) == 4


def test_a_past_due_subscription_recovers_with_another_card(
        shop: Flask, clock: Clock, signal_log: SignalLog) -> None:
    card = saved_card(shop)
    other = saved_card(shop, pan="5522042705066736")
    intruder = saved_card(shop, account_id="shopper-2")
    sub = subscribe(shop, card)
    sandbox_of(shop).store.saved_cards[card].payment_available = False
    charge_due(shop)
    with shop.app_context():
        with pytest.raises(CardAccountMismatch):
            halyk(shop).change_card(sub, intruder)
        with pytest.raises(CardAccountMismatch):
            halyk(shop).subscribe(ACCOUNT, intruder, Plan.monthly(10))
        changed = halyk(shop).change_card(sub, other, account_id=ACCOUNT)
    assert changed.card_id == other and changed.next_charge_at == clock.now
    clock.advance(minutes=1)
    assert charge_due(shop).renewed == [sub.id]
    back = sub_of(shop, sub)
    assert (back.status, back.attempts, back.reason, back.period_index) == (
        "active", 0, None, 1)
    # The period keeps its anchor: paid late, still due on Feb 28.
    assert back.next_charge_at == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
    assert renewals(shop)[-1].card_id == other


def test_pause_resume_and_cancel_at_period_end(
        shop: Flask, clock: Clock, signal_log: SignalLog) -> None:
    card = saved_card(shop)
    sub = subscribe(shop, card, Plan.every_days(10, 500), trial_days=3)
    assert sub.next_charge_at == START + timedelta(days=3)
    with shop.app_context():
        paused = halyk(shop).pause(sub)
        assert paused.status == "paused"
        with pytest.raises(InvalidArgument):
            halyk(shop).pause(sub)
    clock.advance(days=25)  # periods start on days 3, 13, 23, 33: two missed while paused
    assert charge_due(shop).renewed == []
    with shop.app_context():
        resumed = halyk(shop).resume(sub)
    assert resumed.status == "active" and resumed.next_charge_at == START + timedelta(days=33)
    clock.advance(days=8)
    assert charge_due(shop).renewed == [sub.id]
    with shop.app_context():
        ending = halyk(shop).cancel_subscription(sub)
    assert ending.cancel_at_period_end and ending.status == "active"
    clock.advance(days=10)
    report = charge_due(shop)
    assert report.renewed == [] and report.cancelled == [sub.id]
    assert sub_of(shop, sub).status == "cancelled"
    assert len(renewals(shop)) == 1
    assert len(signal_log.named("subscription_cancelled")) == 1
    # Cancelled now: the signal at once.
    now_sub = subscribe(shop, card)
    with shop.app_context():
        gone = halyk(shop).cancel_subscription(now_sub, at_period_end=False)
        assert gone.status == "cancelled"
        assert [s.id for s in halyk(shop).subscriptions(ACCOUNT)] == [sub.id, now_sub.id]
    assert len(signal_log.named("subscription_cancelled")) == 2
    assert charge_due(shop).renewed == []


def test_three_d_secure_or_no_recurring_rights_is_past_due_with_the_reason(
        shop: Flask, signal_log: SignalLog) -> None:
    card = saved_card(shop)
    sub = subscribe(shop, card)
    options = sandbox_of(shop).options
    options.card_payment_three_ds = True
    assert charge_due(shop).failed == [sub.id]
    assert sub_of(shop, sub).reason == "three_d_secure_required"
    options.card_payment_three_ds = False
    options.card_payments_allowed = False
    with shop.app_context():
        halyk(shop).change_card(sub, card)  # due again now
    assert charge_due(shop).failed == [sub.id]
    assert sub_of(shop, sub).reason == "recurring_not_allowed"
    reasons = [kw["reason"] for kw in signal_log.named("subscription_payment_failed")]
    assert reasons == ["three_d_secure_required", "recurring_not_allowed"]


def test_charge_due_command(shop: Flask) -> None:
    card = saved_card(shop)
    sub = subscribe(shop, card)
    result = shop.test_cli_runner().invoke(args=["halyk", "charge-due"])
    sandbox_of(shop).wait_for_postlinks(10)
    assert result.exit_code == 0, result.output
    assert f"{sub.id}  {ACCOUNT}  renewed" in result.output
    assert "renewed 1, failed 0" in result.output


def test_charge_due_refuses_a_sandbox_that_never_saw_the_cards(db_url: str,
                                                               tmp_path: Path) -> None:
    app = make_shop(db_url, tmp_path)  # a CLI process: its embedded sandbox is empty
    try:
        result = app.test_cli_runner().invoke(args=["halyk", "charge-due"])
        assert result.exit_code != 0 and "HALYK_SANDBOX_URL" in result.output
    finally:
        close_shop(app)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
       st.integers(min_value=0, max_value=240))
def test_monthly_periods_keep_the_anchor_day(anchor: datetime, months: int) -> None:
    moment = anchor.replace(tzinfo=UTC)
    start = period_start(moment, "month", 1, months)
    index = moment.month - 1 + months
    assert (start.year, start.month) == (moment.year + index // 12, index % 12 + 1)
    last = (add_months(start.replace(day=1), 1) - timedelta(days=1)).day
    assert start.day == min(moment.day, last)
    assert start.time() == moment.time()


def test_month_end_and_leap_years() -> None:
    jan31 = datetime(2028, 1, 31, tzinfo=UTC)
    assert [period_start(jan31, "month", 1, k).date().isoformat() for k in range(4)] == [
        "2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30"]
    assert add_months(datetime(2027, 1, 31, tzinfo=UTC), 1).day == 28
    assert period_start(jan31, "month", 3, 1).date().isoformat() == "2028-04-30"
    assert period_start(jan31, "week", 2, 1) == jan31 + timedelta(days=14)
    with pytest.raises(InvalidArgument):
        Plan(Decimal(1), "year")
    with pytest.raises(InvalidArgument):
        Plan.monthly(0)


def test_the_dunning_schedule_setting() -> None:
    base = {"HALYK_ENV": "sandbox", "SECRET_KEY": "k" * 32}
    assert resolve(base).dunning_schedule == tuple(timedelta(days=d) for d in (1, 3, 5))
    assert resolve({**base, "HALYK_DUNNING_SCHEDULE": "2, 0.5"}).dunning_schedule == (
        timedelta(days=2), timedelta(hours=12))
    assert resolve({**base, "HALYK_DUNNING_SCHEDULE": []}).dunning_schedule == ()
    for wrong in ("1,x", [0], [True], 3):
        with pytest.raises(ConfigurationError):
            resolve({**base, "HALYK_DUNNING_SCHEDULE": wrong})


def test_version_6_adds_the_subscription_tables(db_url: str) -> None:
    """Version 6's step makes the subscription tables on a ledger without them (the whole chain
    from version 1 is tested in test_ledger_migration.py)."""
    if db_url.startswith("sqlite:///"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(db_url)
    try:
        ledger.init_db()
        with ledger.engine.begin() as conn:
            subscription_charges.drop(conn)
            subscriptions.drop(conn)
        with ledger.engine.begin() as conn:
            MIGRATIONS[6](conn)
        with ledger.engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
        assert {"halyk_subscriptions", "halyk_subscription_charges"} <= names
        assert ledger.subscriptions() == []
    finally:
        ledger.dispose()


def test_fault_switches_decline_renewals_and_take_the_card_service_down(
        shop: Flask, clock: Clock) -> None:
    """``faults.card_decline`` declines a card that would pay; ``faults.cards_error`` is the
    bank's card service down: a renewal unanswered stays in flight (it may have charged), the
    list cannot be read; once it is back, the bank's word settles the renewal."""
    card = saved_card(shop)
    sub = subscribe(shop, card)
    faults = sandbox_of(shop).faults
    with pytest.raises(ValueError, match="reason code"):
        faults.update({"card_decline": True})
    faults.update({"card_decline": 484})
    assert charge_due(shop).failed == [sub.id]
    past = sub_of(shop, sub)
    assert (past.status, past.reason) == ("past_due", "insufficient funds")
    [declined] = renewals(shop)
    assert (declined.status, declined.reason_code, declined.card_id) == ("REJECT", 484, "")
    faults.update({"card_decline": None, "cards_error": 503})
    clock.advance(days=1)
    assert charge_due(shop).in_flight == [sub.id]
    assert len(renewals(shop)) == 1  # the bank never saw it
    with shop.app_context(), pytest.raises(EpayUnavailable):
        halyk(shop).sync_cards(ACCOUNT)
    faults.reset()
    clock.advance(seconds=STALE_AFTER.total_seconds() + 60)
    # The bank has no such payment: the unanswered renewal is settled as not paid.
    assert charge_due(shop).failed == [sub.id]
    assert (sub_of(shop, sub).status, sub_of(shop, sub).attempts) == ("past_due", 2)
    clock.advance(days=3)
    assert charge_due(shop).renewed == [sub.id]
    assert sub_of(shop, sub).status == "active"
    assert [t.status for t in renewals(shop)] == ["REJECT", "CHARGE"]


SHOP_MODULE = '''
import os

from flask import Flask

from flask_halyk import HalykEpay

app = Flask("shop", instance_path=os.environ["SHOP_INSTANCE"])
app.config.update(SECRET_KEY="k", HALYK_DATABASE_URL=os.environ["SHOP_DB"],
                  HALYK_SANDBOX_URL=os.environ["SHOP_SANDBOX"],
                  HALYK_EXTERNAL_URL="http://127.0.0.1:9")
HalykEpay(app)
'''


def test_two_charge_due_processes_at_once_charge_each_subscription_once(
        db_url: str, tmp_path: Path) -> None:
    # Two `flask halyk charge-due` processes, as two cron hosts would start them, against one
    # ledger and one sandbox served over HTTP (so that both processes' bank calls reach the
    # same bank).
    with SandboxServer() as server:
        # No shop listens at its postLink origin: the runs record the bank's answers.
        app = make_shop(db_url, tmp_path, HALYK_SANDBOX_URL=server.url,
                        HALYK_EXTERNAL_URL="http://127.0.0.1:9")
        try:
            with app.test_request_context("/"):
                payment = halyk(app).create_payment(100, description="order",
                                                    account_id=ACCOUNT, save_card=True)
            server.sandbox.pay(payment.to_js(), APPROVED_CARD, save_card=True, wait=0)
            with app.app_context():
                # Its postLink went nowhere (no shop listens): the bank's list brings the card.
                [card] = halyk(app).sync_cards(ACCOUNT)
            subs = [subscribe(app, card.card_id, Plan.weekly(200 + n),
                              start_at=datetime.now(UTC) - timedelta(minutes=1))
                    for n in range(6)]
        finally:
            close_shop(app)
        (tmp_path / "cronshop.py").write_text(SHOP_MODULE)
        env = {**os.environ, "SHOP_INSTANCE": str(tmp_path / "instance"), "SHOP_DB": db_url,
               "SHOP_SANDBOX": server.url, "PYTHONPATH": str(tmp_path)}
        runs = [subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "cronshop", "halyk", "charge-due"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        charged = [t for t in server.sandbox.transactions if t.payment.get("recurrent")]
    assert sorted(t.amount for t in charged) == [Decimal(200 + n) for n in range(6)]
    renewed = sum(int(re.search(r"renewed (\d+),", out).group(1))  # type: ignore[union-attr]
                  for out in outputs)
    assert renewed == 6, outputs
    ledger = Ledger(db_url)
    try:
        for sub in subs:
            assert [c["status"] for c in ledger.charges(sub.id)] == ["paid"]
    finally:
        ledger.dispose()
