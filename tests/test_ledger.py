"""The ledger on its own: invoice ids, the state machine, refunds, queries, the schema."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import BACKENDS, database_url
from sqlalchemy import select, update

from flask_halyk.errors import (
    InvoiceIdError,
    InvoiceIdExhausted,
    InvoiceIdInUse,
    PaymentNotFound,
)
from flask_halyk.invoices import SUFFIX_SPACE, invoice_for
from flask_halyk.ledger import BankReport, Change, EventVerdict, Ledger, PaymentStatus
from flask_halyk.ledger.tables import SCHEMA_VERSION, invoice_counter, schema_version

S = PaymentStatus


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    with database_url(request.param, tmp_path) as url:
        ledger = Ledger(url)
        yield ledger
        ledger.dispose()


def new(ledger: Ledger, amount: str = "100", invoice_id: str | None = None):
    return ledger.create_payment(invoice_id=invoice_id, amount=Decimal(amount), currency="KZT",
                                 terminal="term-1", description="order")


def test_create_payment_allocates_an_id_and_records_it(ledger: Ledger) -> None:
    payment = new(ledger, "12.22")
    assert payment.invoice_id.isdigit() and 6 <= len(payment.invoice_id) <= 15
    assert payment.status is S.NEW
    assert payment.amount == Decimal("12.22")
    assert payment.refunded_amount == 0
    assert payment.created_at.tzinfo is not None
    assert ledger.get(payment.invoice_id) == payment
    assert ledger.get("999999999") is None
    assert ledger.get("not-an-id\x00") is None


def test_allocated_ids_never_repeat_a_suffix(ledger: Ledger) -> None:
    ids = [new(ledger).invoice_id for _ in range(60)]
    assert len({i[-6:] for i in ids}) == 60
    assert all(i.startswith("100") and len(i) == 9 for i in ids)


def test_a_given_id_is_used_once_and_its_suffix_too(ledger: Ledger) -> None:
    new(ledger, invoice_id="500123456")
    with pytest.raises(InvoiceIdInUse):
        new(ledger, invoice_id="500123456")
    with pytest.raises(InvoiceIdInUse):
        new(ledger, invoice_id="777123456")  # same last six digits
    for bad in ("12345", "1234567890123456", "12a456", " 123456", ""):
        with pytest.raises(InvoiceIdError):
            new(ledger, invoice_id=bad)
    assert ledger.count() == 1


def test_allocation_skips_a_suffix_a_shop_took(ledger: Ledger) -> None:
    ledger.init_db()
    with ledger.engine.connect() as conn:
        row = conn.execute(select(invoice_counter)).one()
    taken = invoice_for(0, row.multiplier, row.offset, "999")  # what the allocator gives next
    new(ledger, invoice_id=taken)
    allocated = new(ledger).invoice_id
    assert allocated[-6:] != taken[-6:]


def test_allocation_is_unique_under_concurrency(ledger: Ledger) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        try:
            for _ in range(15):
                invoice = new(ledger).invoice_id
                with lock:
                    ids.append(invoice)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(ids) == 120
    assert len(set(ids)) == 120 and len({i[-6:] for i in ids}) == 120
    assert ledger.count() == 120


def test_exhaustion_is_a_clear_error(ledger: Ledger) -> None:
    new(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(update(invoice_counter).values(next_value=SUFFIX_SPACE - 2))
    new(ledger)
    new(ledger)
    with pytest.raises(InvoiceIdExhausted, match="six digits"):
        new(ledger)


def test_schema_is_versioned_and_init_is_idempotent(ledger: Ledger) -> None:
    assert ledger.init_db() == SCHEMA_VERSION
    assert ledger.init_db() == SCHEMA_VERSION
    other = Ledger(ledger.url)
    try:
        assert other.init_db() == SCHEMA_VERSION
        with other.engine.connect() as conn:
            versions = conn.execute(select(schema_version.c.version)).scalars().all()
        assert versions == [SCHEMA_VERSION]
    finally:
        other.dispose()


def test_schema_created_concurrently_by_several_ledgers(ledger: Ledger) -> None:
    # The fixture's ledger has not touched the database yet: four fresh ones race to create it.
    ledgers = [Ledger(ledger.url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def go(one: Ledger) -> None:
        barrier.wait()
        try:
            new(one)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(one,)) for one in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert ledger.count() == 4
    for one in ledgers:
        one.dispose()


def test_success_then_duplicate_then_late_failure(ledger: Ledger) -> None:
    invoice = new(ledger).invoice_id
    paid = ledger.apply(invoice, BankReport(S.PAID, transaction_id="t1", card_mask="4405...5096"))
    assert paid.change is Change.SUCCEEDED and paid.payment.status is S.PAID
    assert paid.payment.paid_at is not None and paid.payment.card_mask == "4405...5096"
    again = ledger.apply(invoice, BankReport(S.PAID, transaction_id="t1"))
    assert again.change is None and again.verdict is EventVerdict.DUPLICATE
    late = ledger.apply(invoice, BankReport(S.FAILED, transaction_id="t1", reason="timeout"))
    assert late.change is None and late.verdict is EventVerdict.STALE
    assert ledger.get(invoice).status is S.PAID  # type: ignore[union-attr]
    assert ledger.get(invoice).reason is None  # type: ignore[union-attr]


def test_failure_then_success_on_the_same_invoice(ledger: Ledger) -> None:
    invoice = new(ledger).invoice_id
    failed = ledger.apply(invoice, BankReport(S.FAILED, transaction_id="t1", reason_code=484))
    assert failed.change is Change.FAILED
    assert ledger.apply(invoice, BankReport(S.FAILED, transaction_id="t1")).verdict is \
        EventVerdict.DUPLICATE
    paid = ledger.apply(invoice, BankReport(S.PAID, transaction_id="t2"))
    assert paid.change is Change.SUCCEEDED
    assert paid.payment.transaction_id == "t2"


def test_authorized_then_charged_then_cancel_is_refused_by_news(ledger: Ledger) -> None:
    invoice = new(ledger).invoice_id
    assert ledger.apply(invoice, BankReport(S.AUTHORIZED)).change is Change.SUCCEEDED
    assert ledger.apply(invoice, BankReport(S.AUTHORIZED)).verdict is EventVerdict.DUPLICATE
    assert ledger.apply(invoice, BankReport(S.PAID, bank_status="CHARGE")).change is Change.CHARGED
    assert ledger.apply(invoice, BankReport(S.AUTHORIZED)).change is None


def test_refunds_add_up_and_never_exceed_the_amount(ledger: Ledger) -> None:
    invoice = new(ledger, "100").invoice_id
    ledger.apply(invoice, BankReport(S.PAID, transaction_id="t1"))
    first = ledger.record_refund(invoice, Decimal("30"))
    assert first.change is Change.REFUNDED
    assert first.payment.status is S.PARTIALLY_REFUNDED
    assert first.payment.refunded_amount == Decimal("30.00")
    assert first.payment.refundable_amount == Decimal("70.00")
    second = ledger.record_refund(invoice, Decimal("70"))
    assert second.payment.status is S.REFUNDED and second.payment.refunded_amount == 100
    third = ledger.record_refund(invoice, Decimal("5"))
    assert third.payment.refunded_amount == Decimal("100.00")
    # BankReport moves it forward only: a late success does not revive a refunded payment.
    assert ledger.apply(invoice, BankReport(S.PAID)).change is None
    assert ledger.get(invoice).status is S.REFUNDED  # type: ignore[union-attr]


def test_charge_and_cancel_record_once(ledger: Ledger) -> None:
    invoice = new(ledger).invoice_id
    ledger.apply(invoice, BankReport(S.AUTHORIZED, transaction_id="t1"))
    charged = ledger.record_charge(invoice, Decimal("60"))
    assert charged.change is Change.CHARGED and charged.payment.charged_amount == Decimal("60")
    assert ledger.record_charge(invoice, Decimal("60")).change is None
    other = new(ledger).invoice_id
    ledger.apply(other, BankReport(S.AUTHORIZED, transaction_id="t2"))
    assert ledger.record_cancel(other).change is Change.CANCELLED
    assert ledger.record_cancel(other).change is None
    assert ledger.apply(other, BankReport(S.PAID)).change is None


def test_expired_comes_from_new_only_and_takes_only_a_late_success(ledger: Ledger) -> None:
    paid = new(ledger).invoice_id
    ledger.apply(paid, BankReport(S.PAID, transaction_id="t0"))
    assert ledger.apply(paid, BankReport(S.EXPIRED)).verdict is EventVerdict.STALE
    failed = new(ledger).invoice_id
    ledger.apply(failed, BankReport(S.FAILED))
    assert ledger.apply(failed, BankReport(S.EXPIRED)).verdict is EventVerdict.STALE

    invoice = new(ledger).invoice_id
    expired = ledger.apply(invoice, BankReport(S.EXPIRED))
    assert (expired.change, expired.payment.status) == (Change.EXPIRED, S.EXPIRED)
    assert not (expired.payment.status.is_success or expired.payment.status.is_pending)
    assert ledger.apply(invoice, BankReport(S.EXPIRED)).verdict is EventVerdict.DUPLICATE
    # The bank's late non-successes change nothing: the shop already heard "not coming".
    for late in (S.FAILED, S.CANCELLED, S.REFUNDED):
        result = ledger.apply(invoice, BankReport(late, transaction_id="t1", reason="late"))
        assert (result.change, result.verdict) == (None, EventVerdict.STALE)
    assert ledger.require(invoice).status is S.EXPIRED
    assert ledger.require(invoice).reason is None
    # A success is the bank's fact: it wins, once, and the payment is operable as any other.
    held = ledger.apply(invoice, BankReport(S.AUTHORIZED, transaction_id="t1"))
    assert (held.change, held.payment.status) == (Change.SUCCEEDED, S.AUTHORIZED)
    assert held.payment.paid_at is not None and held.payment.can_charge
    assert ledger.apply(invoice, BankReport(S.PAID)).change is Change.CHARGED
    other = new(ledger).invoice_id
    ledger.apply(other, BankReport(S.EXPIRED))
    assert ledger.apply(other, BankReport(S.PAID, transaction_id="t2")).change is Change.SUCCEEDED
    assert ledger.apply(other, BankReport(S.PAID)).verdict is EventVerdict.DUPLICATE


def test_pending_leaves_expired_payments_out_unless_asked(ledger: Ledger) -> None:
    kept, gone = new(ledger).invoice_id, new(ledger).invoice_id
    ledger.apply(gone, BankReport(S.EXPIRED))
    assert [p.invoice_id for p in ledger.pending(timedelta(0))] == [kept]
    assert {p.invoice_id for p in ledger.pending(timedelta(0), include_expired=True)} == {
        kept, gone}
    assert ledger.count(S.EXPIRED) == 1 and ledger.query(status="expired")[0].invoice_id == gone


def test_unknown_invoice(ledger: Ledger) -> None:
    with pytest.raises(PaymentNotFound):
        ledger.apply("123456789", BankReport(S.PAID))
    with pytest.raises(PaymentNotFound):
        ledger.require("123456789")


def test_query_filters_and_pages(ledger: Ledger) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    made = [new(ledger).invoice_id for _ in range(5)]
    ledger.apply(made[0], BankReport(S.PAID))
    ledger.apply(made[1], BankReport(S.FAILED))
    assert {p.invoice_id for p in ledger.query(status="paid")} == {made[0]}
    assert {p.invoice_id for p in ledger.query(status=[S.PAID, S.FAILED])} == set(made[:2])
    assert len(ledger.query(since=before)) == 5
    assert ledger.query(until=before) == []
    page1 = ledger.query(limit=2)
    page2 = ledger.query(limit=2, offset=2)
    assert len(page1) == 2 and len(page2) == 2
    assert not {p.invoice_id for p in page1} & {p.invoice_id for p in page2}
    assert ledger.count(S.NEW) == 3
    assert {p.invoice_id for p in ledger.pending(timedelta(0))} == set(made[2:])
    assert ledger.pending(timedelta(hours=1)) == []


def test_events_are_stored_raw_and_judged(ledger: Ledger) -> None:
    invoice = new(ledger).invoice_id
    raw = b'{"weird": "\\u0000"}\x00\xff'
    event_id = ledger.record_event(kind="postlink", body=raw,
                                   headers=[("X-Odd", "a\x00b"), ("Content-Type", "text/plain")],
                                   remote_addr="127.0.0.1")
    event = ledger.get_event(event_id)
    assert event is not None and event.body == raw and event.verdict is EventVerdict.RECEIVED
    assert ("X-Odd", "a\x00b") in event.headers
    ledger.judge_event(event_id, EventVerdict.MALFORMED, reason="bad\x00", invoice_id=invoice)
    assert ledger.events(verdict="malformed")[0].reason == "bad"
    assert [e.id for e in ledger.events(invoice_id=invoice)] == [event_id]
    result = ledger.apply(invoice, BankReport(S.PAID), event_id=event_id)
    assert ledger.get_event(event_id).verdict is EventVerdict.DISPATCHING  # type: ignore[union-attr]
    assert ledger.get_event(event_id).outcome is result.change  # type: ignore[union-attr]
    assert ledger.claim_event(event_id, [EventVerdict.DISPATCHING], EventVerdict.APPLIED)
    assert not ledger.claim_event(event_id, [EventVerdict.DISPATCHING], EventVerdict.APPLIED)


NEWS = st.sampled_from([S.AUTHORIZED, S.PAID, S.FAILED, S.CANCELLED, S.REFUNDED, S.EXPIRED])
STEPS = st.lists(st.one_of(NEWS, st.integers(min_value=1, max_value=60)), max_size=8)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_news_only_moves_forward(tmp_path_factory: pytest.TempPathFactory, steps: list) -> None:
    ledger = _shared_ledger(tmp_path_factory)
    invoice = new(ledger, "100").invoice_id
    seen_success = False
    previous = S.NEW
    for step in steps:
        if isinstance(step, int):
            current = ledger.get(invoice)
            assert current is not None
            if current.status in (S.PAID, S.PARTIALLY_REFUNDED):
                ledger.record_refund(invoice, Decimal(step))
        else:
            ledger.apply(invoice, BankReport(step))
        now = ledger.get(invoice)
        assert now is not None
        assert 0 <= now.refunded_amount <= now.amount
        if seen_success:
            assert now.status.is_success or now.status is S.CANCELLED
        if previous in (S.REFUNDED, S.CANCELLED):
            assert now.status is previous
        seen_success = seen_success or now.status.is_success
        previous = now.status


_LEDGERS: dict[str, Ledger] = {}


def _shared_ledger(factory: pytest.TempPathFactory) -> Ledger:
    if "l" not in _LEDGERS:
        _LEDGERS["l"] = Ledger(f"sqlite:///{factory.mktemp('prop')}/h.sqlite3")
    return _LEDGERS["l"]


@pytest.mark.parametrize("amount", ["1.234", "-1", "abc", "NaN"])
def test_bad_amounts_are_typed_errors(ledger: Ledger, amount: str) -> None:
    from flask_halyk.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        ledger.create_payment(invoice_id=None, amount=amount, currency="KZT", terminal="t")


def offered(payment) -> set[str]:
    """The operations a record offers (what the admin page shows)."""
    return {op for op in ("refund", "charge", "cancel") if getattr(payment, f"can_{op}")}


def test_operations_offered_follow_the_state_machine(ledger: Ledger) -> None:
    from flask_halyk.ledger.reports import report_from_postlink

    success = {"code": "ok", "reasonCode": 0, "id": "t-1"}
    # HALYK_TWO_STAGE off: a success postLink records the money as taken: refund only.
    one_stage = new(ledger, "100").invoice_id
    assert offered(ledger.require(one_stage)) == set()  # new: nothing to operate on yet
    paid = ledger.apply(one_stage, report_from_postlink(success, two_stage=False)).payment
    assert paid.status is S.PAID and paid.charged_amount is None and paid.bank_status is None
    assert offered(paid) == {"refund"}
    partly = ledger.record_refund(one_stage, Decimal("40")).payment
    assert partly.status is S.PARTIALLY_REFUNDED and offered(partly) == {"refund"}
    assert offered(ledger.record_refund(one_stage, Decimal("60")).payment) == set()

    # HALYK_TWO_STAGE on: the money is held: charge or cancel, no refund until charged.
    held = new(ledger, "100").invoice_id
    authorized = ledger.apply(held, report_from_postlink(success, two_stage=True)).payment
    assert authorized.status is S.AUTHORIZED and offered(authorized) == {"charge", "cancel"}
    charged = ledger.record_charge(held, Decimal("70")).payment
    assert charged.status is S.PAID and offered(charged) == {"refund"}

    voided = new(ledger).invoice_id
    ledger.apply(voided, BankReport(S.AUTHORIZED, transaction_id="t-2"))
    assert offered(ledger.record_cancel(voided).payment) == set()


def test_bank_statuses_offer_what_epay_accepts_from_them(ledger: Ledger) -> None:
    # ePay charges and cancels only from AUTH and refunds only from CHARGE.
    expected = {"AUTH": {"charge", "cancel"}, "CHARGE": {"refund"}, "CANCEL": set(),
                "CANCEL_OLD": set(), "REFUND": set(), "FAILED": set(), "REJECT": set()}
    from flask_halyk.ledger.states import target_for_bank_status

    for bank_status, operations in expected.items():
        invoice = new(ledger).invoice_id
        target = target_for_bank_status(bank_status)
        assert target is not None
        if target is S.REFUNDED:  # the bank refunds only what it charged
            ledger.apply(invoice, BankReport(S.PAID, transaction_id="t", bank_status="CHARGE"))
        result = ledger.apply(invoice, BankReport(target, transaction_id="t",
                                                  bank_status=bank_status))
        assert result.payment.bank_status == bank_status
        assert offered(result.payment) == operations, bank_status


def test_nothing_is_offered_without_the_banks_transaction_id(ledger: Ledger) -> None:
    held = new(ledger).invoice_id
    assert offered(ledger.apply(held, BankReport(S.AUTHORIZED)).payment) == set()
    taken = new(ledger).invoice_id
    assert offered(ledger.apply(taken, BankReport(S.PAID)).payment) == set()
    failed = new(ledger).invoice_id
    assert offered(ledger.apply(failed, BankReport(S.FAILED, transaction_id="t")).payment) == set()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.one_of(NEWS, st.sampled_from(["refund", "charge", "cancel"]),
                                st.integers(min_value=1, max_value=60)), max_size=8))
def test_what_is_offered_the_ledger_accepts(tmp_path_factory: pytest.TempPathFactory,
                                            steps: list) -> None:
    # Whatever the history, an operation offered is one the ledger records, and what is offered
    # matches the statuses ePay operates from.
    ledger = _shared_ledger(tmp_path_factory)
    invoice = new(ledger, "100").invoice_id
    for step in steps:
        now = ledger.require(invoice)
        can = offered(now)
        assert can <= {"refund"} or can == {"charge", "cancel"}
        assert ("refund" in can) == (now.status in (S.PAID, S.PARTIALLY_REFUNDED)
                                     and now.refunded_amount < now.amount)
        assert ("charge" in can) == (now.status is S.AUTHORIZED)
        if isinstance(step, S):
            ledger.apply(invoice, BankReport(step, transaction_id="t"))
        elif isinstance(step, int):
            if "refund" in can:
                change = ledger.record_refund(invoice, Decimal(step)).change
                assert change is Change.REFUNDED
        elif step == "refund" and "refund" in can:
            ledger.record_refund(invoice, now.amount - now.refunded_amount)
            assert ledger.require(invoice).status is S.REFUNDED
        elif step == "charge" and "charge" in can:
            assert ledger.record_charge(invoice, None).change is Change.CHARGED
            assert ledger.require(invoice).status is S.PAID
        elif step == "cancel" and "cancel" in can:
            assert ledger.record_cancel(invoice).change is Change.CANCELLED
