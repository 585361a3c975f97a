"""The repairs: reconcile (ask ePay about payments still pending, recovering postLinks the
bank never delivered, and end abandoned checkouts), reprocess (run the receivers of events
whose receivers raised, or whose worker died, again) and finish_interrupted (finish the
receivers a dead process left running: after every postLink that changed nothing, and in
reconcile).

All go through the same state machine and the same exactly-once dispatch as postLinks, so a
postLink arriving meanwhile, or a second run at the same time, changes nothing twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from .dispatch import dispatch_event
from .epay import ResultCode, StatusResult
from .errors import HalykError, LedgerUnavailable
from .ledger import BankReport, Change, EventRecord, EventVerdict, PaymentRecord, PaymentStatus
from .ledger.expiry import DEFAULT_EXPIRE_AFTER, check_expire_after, may_expire, token_expiry
from .ledger.journal import CheckResult
from .ledger.reports import report_from_transaction
from .postlink.intake import parse_body, validate
from .state import HalykState

S = PaymentStatus
log = logging.getLogger("flask_halyk.recovery")

#: ``progress(payment, outcome)``: called by :func:`reconcile` after each payment it asked about.
Progress = Callable[[PaymentRecord, str], None]


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


@dataclass
class ReconcileReport:
    """What :func:`reconcile` found, payment by payment counted: each payment checked is
    counted once, in ``changed`` (the bank's report moved it), ``expired``, ``unchanged``,
    ``pending`` (not final yet), ``not_found`` (unknown to ePay, not expired) or ``errors``.
    ``changes``: invoice id -> what changed, expiries included."""

    checked: int = 0
    changed: int = 0
    unchanged: int = 0
    pending: int = 0
    not_found: int = 0
    errors: int = 0
    expired: int = 0
    changes: dict[str, Change] = field(default_factory=dict)
    #: Events whose receivers a dead process left unfinished, finished by this run (they are
    #: not payments checked, and not counted in ``checked``).
    finished: int = 0


#: How many pending payments :func:`reconcile` reads from the ledger at a time.
RECONCILE_BATCH = 500


def reconcile(
    state: HalykState,
    older_than: timedelta = timedelta(minutes=10),
    progress: Progress | None = None,
    limit: int | None = None,
    batch_size: int = RECONCILE_BATCH,
    *,
    expire_after: timedelta | None = DEFAULT_EXPIRE_AFTER,
    include_expired: bool = False,
) -> ReconcileReport:
    """Ask ePay about every payment still ``new`` created more than ``older_than`` ago (oldest
    first; at most ``limit`` of them if given), and apply what the bank says through the same
    state machine as postLinks (a postLink the bank dropped is recovered; one that arrives at
    the same time is applied once, not twice).

    Each answer that is final is stored as an event of kind ``status``; the signals fire once,
    with ``postlink=None``. A bank that cannot be reached is counted in ``errors`` and the
    payment is asked about again next time.

    First, it finishes the receivers a dead process left running (:func:`finish_interrupted`:
    ``finished``).

    Abandoned checkouts end: a ``new`` payment whose token expired more than ``expire_after``
    ago (default 24 hours; ``None`` never expires anything), and of which ePay says "not found"
    (resultCode 102, nothing else), becomes ``expired`` (``payment_expired`` fires once) and is
    not asked about again. ``include_expired=True`` asks about the expired ones once more: a
    success the bank reports still moves them to ``paid`` / ``authorized``.
    """
    app = _app()
    expire_after = check_expire_after(expire_after)
    report = ReconcileReport()
    report.finished = finish_interrupted(state).finished
    last: PaymentRecord | None = None
    # Page by page: a single capped read would be filled by the oldest payments run after run
    # (those not expired yet, or all of them with include_expired), never reaching the newer.
    while limit is None or report.checked < limit:
        size = batch_size if limit is None else min(batch_size, limit - report.checked)
        page = state.ledger.pending(older_than, limit=max(1, size), after=last,
                                    include_expired=include_expired)
        if not page:
            break
        for payment in page:
            report.checked += 1
            outcome = _reconcile_one(app, state, payment, report, expire_after)
            if progress is not None:
                progress(payment, outcome)
        last = page[-1]
    return report


def reconcile_payment(state: HalykState, invoice_id: str, *,
                      expire_after: timedelta | None = DEFAULT_EXPIRE_AFTER
                      ) -> tuple[ReconcileReport, str]:
    """Ask ePay about one payment, whatever its status (a back office's "reconcile now"), and
    apply what it says as :func:`reconcile` does: the report and a line saying what happened.
    :class:`~flask_halyk.errors.PaymentNotFound` if the ledger does not hold the invoice."""
    app = _app()
    expire_after = check_expire_after(expire_after)
    payment = state.ledger.require(invoice_id)
    report = ReconcileReport(checked=1)
    outcome = _reconcile_one(app, state, payment, report, expire_after)
    return report, outcome


def _says_not_found(status: StatusResult) -> bool:
    """ePay clearly does not know the invoice: resultCode 102 and no transaction."""
    return status.result_code == ResultCode.NOT_FOUND and status.transaction is None


def _reconcile_one(
    app: Flask, state: HalykState, payment: PaymentRecord, report: ReconcileReport,
    expire_after: timedelta | None,
) -> str:
    try:
        status = state.client_for(payment.terminal).status(payment.invoice_id)
    except (HalykError, ValueError) as exc:
        report.errors += 1
        return _noted(state, payment, "unanswered", f"error: {type(exc).__name__}: {exc}")
    if not status.found or status.transaction is None:
        # The deadline is judged after the answer: a slow call must not count in its favour.
        if _says_not_found(status) and may_expire(payment, state.ledger.now(), expire_after):
            return _expire(app, state, payment, report, status)
        if status.result_code == ResultCode.IN_PROGRESS:
            report.pending += 1
            return _noted(state, payment, "pending", "pending (in progress at ePay)")
        report.not_found += 1
        if status.result_code == ResultCode.NOT_FOUND:
            return _noted(state, payment, "not_found", "not found at ePay")
        return _noted(state, payment, "not_found",
                      f"no transaction at ePay (resultCode {int(status.result_code)})")
    news = report_from_transaction(str(status.status_name), status.transaction)
    if news is None:
        report.pending += 1
        return _noted(state, payment, "pending", f"pending ({status.status_name})")
    event_id = state.ledger.record_event(kind="status", body=_status_body(status))
    result = state.ledger.apply(payment.invoice_id, news, event_id=event_id)
    if result.change is None:
        report.unchanged += 1
        return f"unchanged ({result.verdict}: {result.reason})"
    report.changed += 1
    report.changes[payment.invoice_id] = result.change
    dispatch_event(app, state.ledger, event_id, result.change, result.payment, None,
                   claim=result.claim)
    return f"{result.change} ({status.status_name})"


def _noted(state: HalykState, payment: PaymentRecord, result: CheckResult, line: str) -> str:
    """``line``, once the check that changed nothing (and stored no event) is in the payment's
    journal, for its timeline. A ledger that cannot note it costs the trace, not the run (the
    next payment may still be checked)."""
    try:
        state.ledger.note_check(payment.invoice_id, result, line)
    except (LedgerUnavailable, SQLAlchemyError):
        log.warning("flask-halyk: could not note the status check of invoice %s",
                    payment.invoice_id, exc_info=True)
    return line


def _expire(
    app: Flask, state: HalykState, payment: PaymentRecord, report: ReconcileReport,
    status: StatusResult,
) -> str:
    # The 102 answer is kept as the event that expired the payment: the evidence, and what
    # `flask halyk reprocess` fires payment_expired again from if a receiver raised.
    event_id = state.ledger.record_event(kind="status", body=_status_body(status))
    result = state.ledger.apply(payment.invoice_id, BankReport(S.EXPIRED), event_id=event_id)
    if result.change is None:  # a postLink (or another reconcile) got there first
        report.unchanged += 1
        return f"unchanged ({result.verdict}: {result.reason})"
    report.expired += 1
    report.changes[payment.invoice_id] = result.change
    dispatch_event(app, state.ledger, event_id, result.change, result.payment, None,
                   claim=result.claim)
    deadline = token_expiry(payment).isoformat(timespec="seconds")
    return f"expired (token expired {deadline}; not found at ePay)"


def _status_body(status: StatusResult) -> bytes:
    return json.dumps(status.raw, default=str, ensure_ascii=False).encode()


#: How many events :func:`reprocess` reads from the ledger at a time.
REPROCESS_BATCH = 500


def _events_in(state: HalykState, verdicts: list[EventVerdict],
               invoice_id: str | None = None) -> Iterator[EventRecord]:
    # Page by id: events whose receivers keep failing stay failed, and one capped read would
    # be filled by them run after run, never reaching the newer ones.
    batch_size = REPROCESS_BATCH
    last_id: int | None = None
    while True:
        page = state.ledger.events(invoice_id=invoice_id, verdict=verdicts, limit=batch_size,
                                   after_id=last_id)
        yield from page
        if len(page) < batch_size:
            return
        last_id = page[-1].id


def _redispatch(app: Flask, state: HalykState, event: EventRecord, claim: str
                ) -> EventVerdict | None:
    """Run the receivers of ``event`` (claimed: ``claim``) again, as the live path ran them."""
    assert event.outcome is not None and event.invoice_id is not None
    payment = state.ledger.get(event.invoice_id)
    if payment is None:
        return None
    postlink: dict[str, Any] | None = None
    if event.kind != "status":
        data = parse_body(event.body)
        postlink = validate(data)[0] if data is not None else None
    return dispatch_event(app, state.ledger, event.id, event.outcome, payment, postlink,
                          claim=claim)


@dataclass
class ReprocessReport:
    """What :func:`reprocess` did."""

    attempted: int = 0
    applied: int = 0
    failed: int = 0


def reprocess(
    state: HalykState, stale_after: timedelta = timedelta(minutes=10)
) -> ReprocessReport:
    """Run the receivers again for every event marked ``failed`` (a receiver raised), and for
    events left ``dispatching`` by a process that died while its receivers ran: their claim's
    lease lapsed (a claim without a lease, written before schema 3: it is that old), and they
    started more than ``stale_after`` ago. Each event is claimed with a conditional update
    first, so two concurrent runs never fire one event twice."""
    app = _app()
    report = ReprocessReport()
    cutoff = state.ledger.now() - stale_after
    for event in _events_in(state, [EventVerdict.FAILED, EventVerdict.DISPATCHING]):
        if event.outcome is None or event.invoice_id is None:
            continue
        if event.verdict is EventVerdict.FAILED:
            claim = state.ledger.claim_dispatch(event.id, failed=True)
        else:
            claim = state.ledger.claim_dispatch(event.id, started_before=cutoff,
                                                unleased_before=cutoff)
        if claim is None:
            continue
        verdict = _redispatch(app, state, event, claim)
        if verdict is None:
            continue
        report.attempted += 1
        if verdict is EventVerdict.APPLIED:
            report.applied += 1
        else:
            report.failed += 1
    return report


#: A claim without a lease (written before schema 3) counts as lapsed after this long, as the
#: fixed wait before leases did.
UNLEASED_STALE_AFTER = timedelta(minutes=10)

#: How often :func:`finish_interrupted` looks again while it waits for a claim to lapse.
FINISH_POLL = 0.1


@dataclass
class FinishReport:
    """What :func:`finish_interrupted` did: ``finished`` events whose receivers it ran to the
    end (``failed``: of those, the ones where a receiver raised), ``running``: events whose
    receivers are still running in a live process (their claim is renewed) when it returned."""

    finished: int = 0
    failed: int = 0
    running: list[int] = field(default_factory=list)


def finish_interrupted(state: HalykState, invoice_id: str | None = None, *,
                       wait: float = 0.0) -> FinishReport:
    """Finish the receivers a dead process left unfinished: events ``dispatching`` whose
    claim's lease lapsed (of one payment, or of all), claimed with a conditional update (of
    two callers at once, one runs them) and dispatched as the live path would have.

    ``wait``: seconds to wait for claims still held, in case their holder died and their lease
    has yet to lapse (at most :attr:`Ledger.dispatch_lease` after it died); a holder that is
    alive renews its claim and is left to finish, and its event is listed in ``running``.
    Events ``failed`` (a receiver raised) are left to :func:`reprocess`.
    """
    app = _app()
    report = FinishReport()
    give_up = time.monotonic() + max(0.0, wait)
    while True:
        running: list[int] = []
        now = state.ledger.now()
        for event in _events_in(state, [EventVerdict.DISPATCHING], invoice_id):
            if event.outcome is None or event.invoice_id is None:
                continue
            if event.lease_until is not None and event.lease_until >= now:
                running.append(event.id)  # held: alive, or not lapsed yet
                continue
            claim = state.ledger.claim_dispatch(
                event.id, unleased_before=now - UNLEASED_STALE_AFTER)
            if claim is None:
                # Someone else claimed it first: they run it (wait for them, as for any live
                # claim). An old claim without a lease that is not that old yet is left to
                # reprocess --stale-after.
                if event.lease_until is not None:
                    running.append(event.id)
                continue
            verdict = _redispatch(app, state, event, claim)
            if verdict is not None:
                report.finished += 1
                report.failed += verdict is EventVerdict.FAILED
        left = give_up - time.monotonic()
        if not running or left <= 0:
            report.running = running
            return report
        time.sleep(min(FINISH_POLL, left))


__all__ = [
    "FINISH_POLL",
    "RECONCILE_BATCH",
    "REPROCESS_BATCH",
    "UNLEASED_STALE_AFTER",
    "FinishReport",
    "Progress",
    "ReconcileReport",
    "ReprocessReport",
    "finish_interrupted",
    "reconcile",
    "reconcile_payment",
    "reprocess",
]
