"""The dashboard's pages: payments (filters, keyset pages, CSV), a payment (timeline, card,
operations each behind a confirmation page), the events that need a look (reprocess), and
"reconcile now"."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.wrappers import Response

from ..errors import (
    ApiError,
    HalykError,
    InvalidArgument,
    PaymentNotFound,
    PaymentStateError,
    TransportError,
)
from ..i18n import gettext as _
from ..ledger import EventVerdict, PaymentFilter, PaymentStatus
from ..ledger.listing import FilterError
from ..ledger.states import Refusal
from ..links import create_payment_link
from ..money import parse_amount
from ..operations import cancel, charge, refund
from ..qr import create_qr_payment, qr_status
from ..recovery import reconcile, reconcile_payment, reprocess
from ..state import get_state
from . import subscriptions as subs
from . import words
from .access import add_csp, check_csrf, csrf_token, require_act, require_view, rules

__all__ = ["ACTIONS", "FILTER_FIELDS", "create_blueprint"]

log = logging.getLogger("flask_halyk.dashboard")

#: The operations a payment's page offers, each behind a confirmation page.
ACTIONS = ("refund", "charge", "cancel")

#: The listing's filters, as query parameters.
FILTER_FIELDS = ("status", "created_from", "created_to", "amount_min", "amount_max", "invoice",
                 "account_id", "card")

PAGE_SIZE = 50


def create_blueprint() -> Blueprint:
    """A fresh blueprint (``halyk_dashboard``) of the dashboard's pages."""
    bp = Blueprint("halyk_dashboard", __name__, static_folder="static",
                   static_url_path="/static")
    bp.before_request(_guard)
    bp.after_request(add_csp)
    bp.context_processor(_helpers)
    bp.add_url_rule("/", "payments", payments)
    bp.add_url_rule("/export.csv", "export", export)
    bp.add_url_rule("/payments/<invoice_id>", "payment", payment)
    bp.add_url_rule("/payments/<invoice_id>/<action>", "operate", operate,
                    methods=["GET", "POST"])
    bp.add_url_rule("/payments/<invoice_id>/reconcile", "reconcile_one", reconcile_one,
                    methods=["POST"])
    bp.add_url_rule("/reconcile", "reconcile_all", reconcile_all, methods=["POST"])
    bp.add_url_rule("/bill", "bill", bill, methods=["GET", "POST"])
    bp.add_url_rule("/qr", "qr", qr_payment, methods=["GET", "POST"])
    bp.add_url_rule("/qr/<invoice_id>", "qr_check", qr_check)
    bp.add_url_rule("/events", "events", events)
    bp.add_url_rule("/subscriptions", "subscriptions", subs.subscriptions)
    bp.add_url_rule("/subscriptions/<sub_id>", "subscription", subs.subscription)
    bp.add_url_rule("/subscriptions/<sub_id>/<action>", "subscription_action",
                    subs.subscription_action, methods=["GET", "POST"])
    bp.add_url_rule("/events/<int:event_id>/reprocess", "reprocess_event", reprocess_event,
                    methods=["POST"])
    return bp


def _guard() -> None:
    # Every page, its stylesheet included, is the shop's to open: nothing is public.
    require_view()
    if request.method == "POST":
        require_act()
        check_csrf()


def _helpers() -> dict[str, Any]:
    zone = rules().zone
    return {"_": _, "money": words.money, "when": lambda moment: words.when(moment, zone),
            "zone": getattr(zone, "key", None) or str(zone), "status_word": _status_word,
            "verdict_word": _verdict_word, "kind_word": words.kind_word,
            "result_word": words.result_word,
            "dashboard_csrf_token": csrf_token, "may_act": rules().may_act(),
            "language": words.language(), "merchant_name": merchant_name,
            "several_merchants": len(get_state().config.merchants) > 1}


def merchant_name(terminal: str | None) -> str:
    """The name of the merchant whose terminal a payment was made on (``HALYK_MERCHANTS``;
    ``default`` for the settings' own); the terminal itself when no configured merchant has
    it any more, empty when the payment names none."""
    found = get_state().config.merchant_of_terminal(terminal)
    return found.name if found is not None else (terminal or "")


def _status_word(status: PaymentStatus | str) -> str:
    return str(words.STATUS_WORDS.get(PaymentStatus(status), status))


def _verdict_word(verdict: EventVerdict | str) -> str:
    return str(words.VERDICT_WORDS.get(EventVerdict(verdict), verdict))


def _filter_args() -> dict[str, Any]:
    """The filters of this request's query, as typed (blank ones left out)."""
    found: dict[str, Any] = {}
    for name in FILTER_FIELDS:
        if name == "status":
            values = [v for v in request.args.getlist("status") if v]
            if values:
                found[name] = values
        elif request.args.get(name, "").strip():
            found[name] = request.args[name].strip()
    return found


def _filter(typed: dict[str, Any]) -> PaymentFilter:
    return PaymentFilter.parse(
        status=typed.get("status", ()), created_from=typed.get("created_from"),
        created_to=typed.get("created_to"), amount_min=typed.get("amount_min"),
        amount_max=typed.get("amount_max"), invoice=typed.get("invoice"),
        account_id=typed.get("account_id"), card=typed.get("card"), zone=rules().zone)


_FIELD_NAMES = {"status": "Status", "created_from": "Created from", "created_to": "Created to",
                "amount_min": "Amount from", "amount_max": "Amount to", "invoice": "Invoice"}


def payments() -> tuple[str, int] | str:
    """The payments, newest first, filtered, a page at a time (keyset)."""
    typed = _filter_args()
    problem = None
    page = None
    try:
        page = get_state().ledger.list_payments(_filter(typed), after=request.args.get("after"),
                                                limit=PAGE_SIZE)
    except FilterError as exc:
        problem = _("%(field)s: this cannot be read.", field=_(_FIELD_NAMES.get(exc.field,
                                                                                exc.field)))
    except ValueError:
        problem = _("This page link is not valid any more: start from the first page.")
    query = urlencode(typed, doseq=True)
    next_url = None
    if page is not None and page.next_cursor:
        next_url = url_for(".payments") + "?" + urlencode({**typed, "after": page.next_cursor},
                                                          doseq=True)
    html = render_template(
        "halyk/dashboard/payments.html", page=page, typed=typed, problem=problem,
        statuses=list(PaymentStatus), next_url=next_url,
        first_url=url_for(".payments") + ("?" + query if query else ""),
        csv_url=url_for(".export") + ("?" + query if query else ""),
        paged="after" in request.args)
    return (html, 400) if problem else html


def export() -> Response:
    """The filtered payments as CSV, streamed (no limit, nothing held in memory)."""
    try:
        wanted = _filter(_filter_args())
    except FilterError:
        abort(400)
    ledger = get_state().ledger

    def rows() -> Iterator[str]:
        yield from ledger.export_csv(wanted)

    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="payments.csv"'})


def payment(invoice_id: str) -> str:
    """A payment: its state, card, what it offers, and its whole timeline."""
    try:
        timeline = get_state().ledger.timeline(invoice_id)
    except PaymentNotFound:
        abort(404)
    return render_template("halyk/dashboard/payment.html", p=timeline.payment,
                           entries=timeline.entries)


def refusal_text(exc: HalykError) -> str:
    """Why an operation was refused, exactly, in the reader's language where the ledger said
    it in parts (what is left, the state), else in the bank's or the ledger's own words."""
    if isinstance(exc, PaymentStateError) and isinstance(exc.refusal, Refusal):
        r = exc.refusal
        left = words.money(r.left) if r.left is not None else ""
        asked = words.money(r.amount) if r.amount is not None else ""
        busy = words.money(r.in_flight) if r.in_flight else ""
        texts = {
            "state": _("The payment is %(status)s: this operation is not possible now.",
                       status=_status_word(r.status).lower()),
            "no_transaction": _("ePay has not reported a transaction for this payment yet."),
            "nothing_left": _("Nothing is left to refund."),
            "over_left": _("Cannot refund %(asked)s: only %(left)s is left.", asked=asked,
                           left=left),
            "over_authorised": _("Cannot charge %(asked)s: only %(left)s was authorised.",
                                 asked=asked, left=left),
        }
        text = texts[r.code]
        if busy:
            text += " " + _("%(amount)s more is being refunded right now.", amount=busy)
        return text
    if isinstance(exc, ApiError):
        said = exc.bank_message or str(exc)
        return _("ePay refused it: %(said)s", said=said)
    if isinstance(exc, TransportError):
        return _("ePay did not answer (%(error)s). Nothing was recorded: check the payment's "
                 "status with ePay before trying again.", error=str(exc))
    return str(exc)


def _read_amount(text: str) -> Decimal | None:
    text = text.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    return parse_amount(text) if text else None


def operate(invoice_id: str, action: str) -> Any:
    """GET: the confirmation page of an operation. POST (the confirmation): do it; a refusal
    shows the page again with the exact reason."""
    if action not in ACTIONS:
        abort(404)
    ledger = get_state().ledger
    record = ledger.get(invoice_id)
    if record is None:
        abort(404)
    if request.method == "GET":
        require_act()
        return render_template("halyk/dashboard/confirm.html", p=record, action=action,
                               problem=None, amount=request.args.get("amount", ""))
    typed = request.form.get("amount", "")
    try:
        amount = _read_amount(typed) if action != "cancel" else None
        if action == "refund":
            refund(get_state(), invoice_id, amount)
        elif action == "charge":
            charge(get_state(), invoice_id, amount)
        else:
            cancel(get_state(), invoice_id)
    except InvalidArgument as exc:
        problem = _("The amount cannot be read: %(error)s", error=str(exc))
    except HalykError as exc:
        log.warning("flask-halyk dashboard: %s of %s refused: %s", action, invoice_id, exc)
        problem = refusal_text(exc)
    else:
        flash(_done_text(action), "halyk-dashboard")
        return redirect(url_for(".payment", invoice_id=invoice_id))
    record = ledger.get(invoice_id) or record
    return render_template("halyk/dashboard/confirm.html", p=record, action=action,
                           problem=problem, amount=typed), 409


#: The link lifetimes the "bill a customer" form offers.
BILL_PERIODS = ("1d", "3d", "7d")


def bill() -> Any:
    """GET: the "bill a customer" form. POST: record a payment and have ePay send its link to
    the customer; its page once sent, the form again with the reason when refused."""
    form = {k: request.form.get(k, "").strip() for k in
            ("amount", "description", "email", "phone", "expire")}
    if request.method == "GET":
        require_act()
        form["expire"] = BILL_PERIODS[0]
        return render_template("halyk/dashboard/bill.html", form=form, problems=[],
                               periods=_periods())
    problems: list[str] = []
    if not form["email"] and not form["phone"]:
        problems.append(_("Give the customer's e-mail or phone (or both)."))
    if form["expire"] not in BILL_PERIODS:
        problems.append(_("Choose how long the link may be paid for."))
    amount = _billed(form, problems)
    if amount is not None:
        try:
            link = create_payment_link(
                get_state(), amount, description=form["description"],
                recipient_email=form["email"] or None, recipient_phone=form["phone"] or None,
                expire_period=form["expire"])
        except InvalidArgument as exc:
            problems.append(_("ePay would refuse it: %(error)s", error=str(exc)))
        except HalykError as exc:
            log.warning("flask-halyk dashboard: a payment link refused: %s", exc)
            problems.append(refusal_text(exc))
        else:
            flash(_("The payment link was sent: %(url)s", url=link.invoice_url),
                  "halyk-dashboard")
            return redirect(url_for(".payment", invoice_id=link.invoice_id))
    return render_template("halyk/dashboard/bill.html", form=form, problems=problems,
                           periods=_periods()), 409


def _billed(form: dict[str, str], problems: list[str]) -> Decimal | None:
    """The amount a billing form (a link, a QR) asks for, once the form has no problem left;
    else None, with what is wrong added to ``problems``."""
    amount: Decimal | None = None
    try:
        amount = _read_amount(form["amount"])
    except InvalidArgument as exc:
        problems.append(_("The amount cannot be read: %(error)s", error=str(exc)))
    if amount is None and not problems:
        problems.append(_("Give the amount to bill."))
    if not form["description"]:
        problems.append(_("Say what the customer pays for."))
    return None if problems else amount


def qr_payment() -> Any:
    """GET: the "QR payment" form. POST: record a payment and show its QR for the customer's
    phone, with a link that asks ePay how it stands."""
    form = {k: request.form.get(k, "").strip() for k in ("amount", "description")}
    if request.method == "GET":
        require_act()
        return render_template("halyk/dashboard/qr.html", form=form, problems=[], qr=None)
    problems: list[str] = []
    amount = _billed(form, problems)
    if amount is not None:
        try:
            made = create_qr_payment(get_state(), amount, description=form["description"])
        except InvalidArgument as exc:
            problems.append(_("ePay would refuse it: %(error)s", error=str(exc)))
        except HalykError as exc:
            log.warning("flask-halyk dashboard: a QR payment refused: %s", exc)
            problems.append(refusal_text(exc))
        else:
            return render_template("halyk/dashboard/qr.html", form=form, problems=[],
                                   qr=made)
    return render_template("halyk/dashboard/qr.html", form=form, problems=problems,
                           qr=None), 409


def qr_check(invoice_id: str) -> Any:
    """Ask ePay how the payment's QR stands; a paid or rejected one settles the ledger (the
    payment's page then shows it), else back to the payment's page with the QR's status.
    Only for those who may act: like "ask ePay now", it may settle the payment (to what the
    bank says; a GET, since the QR macro's link is one)."""
    require_act()
    try:
        found = qr_status(get_state(), invoice_id)
    except PaymentNotFound:
        abort(404)
    except HalykError as exc:
        flash(refusal_text(exc), "halyk-dashboard")
        return redirect(url_for(".payment", invoice_id=invoice_id))
    flash(_("The QR code is %(status)s at ePay.", status=found.qr_status), "halyk-dashboard")
    return redirect(url_for(".payment", invoice_id=invoice_id))


def _periods() -> list[tuple[str, str]]:
    """The link lifetimes offered, as (``expire_period``, words)."""
    return list(zip(BILL_PERIODS, (_("1 day"), _("3 days"), _("7 days")), strict=True))


def _done_text(action: str) -> str:
    return {"refund": _("Refunded: ePay accepted it."),
            "charge": _("Charged: ePay accepted it."),
            "cancel": _("Cancelled: ePay accepted it.")}[action]


def reconcile_one(invoice_id: str) -> str:
    """Ask ePay about this payment now, and show what came of it."""
    try:
        report, outcome = reconcile_payment(get_state(), invoice_id)
    except PaymentNotFound:
        abort(404)
    return render_template("halyk/dashboard/reconcile.html", report=report,
                           lines=[(invoice_id, outcome)], invoice_id=invoice_id)


#: "Reconcile now" for all: payments still new created at least this long ago, at most
#: this many of them per click (a request must end).
RECONCILE_OLDER_THAN = timedelta(minutes=1)
RECONCILE_LIMIT = 200


def reconcile_all() -> str:
    """Ask ePay about every pending payment (a minute old or more), and show the report."""
    lines: list[tuple[str, str]] = []
    report = reconcile(get_state(), older_than=RECONCILE_OLDER_THAN, limit=RECONCILE_LIMIT,
                       progress=lambda p, outcome: lines.append((p.invoice_id, outcome)))
    return render_template("halyk/dashboard/reconcile.html", report=report, lines=lines,
                           invoice_id=None)


def events() -> str:
    """The postLinks that were refused, deferred or malformed, and receivers that raised."""
    before = request.args.get("before", type=int)
    page = get_state().ledger.attention_events(before=before, limit=PAGE_SIZE)
    return render_template("halyk/dashboard/events.html", page=page,
                           next_url=url_for(".events", before=page.next_before)
                           if page.next_before else None)


def reprocess_event(event_id: int) -> Any:
    """Reprocess an event: a receiver that raised runs again; a refused or deferred postLink
    of a known payment is settled by asking ePay its status (the bank's answer, not the
    refused body, decides)."""
    event = get_state().ledger.get_event(event_id)
    if event is None:
        abort(404)
    if event.verdict is EventVerdict.FAILED:
        done = reprocess(get_state())
        flash(_("Receivers run again: %(applied)s succeeded, %(failed)s failed again.",
                applied=done.applied, failed=done.failed), "halyk-dashboard")
        return redirect(url_for(".events"))
    if event.invoice_id is None or get_state().ledger.get(event.invoice_id) is None:
        abort(409, "this event names no payment of the ledger: nothing to reprocess")
    return reconcile_one(event.invoice_id)


def operation_url(invoice_id: str, action: str) -> str:
    """The confirmation page of ``action`` on the payment."""
    return url_for("halyk_dashboard.operate", invoice_id=invoice_id, action=action)
