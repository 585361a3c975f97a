"""``flask halyk ...``: the commands a shop runs by hand or from cron (config, status,
capacity, init-db, reconcile, reprocess, charge-due, copy-ledger; ``sandbox`` comes from
:mod:`flask_halyk.sandbox`), and an operator's (show, payments, refund, charge, cancel, link,
send-postlink)."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import click
import requests
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.engine import make_url

from .config import sandbox_admin_key
from .epay import OperationResult
from .errors import (
    ApiError,
    HalykError,
    InvalidArgument,
    PaymentNotFound,
    PaymentStateError,
    TransportError,
)
from .ledger import Ledger, PaymentFilter, PaymentRecord, PaymentStatus, TimelineEntry
from .ledger.listing import MAX_PAGE, FilterError
from .ledger.transfer import copy_ledger
from .links import create_payment_link
from .money import parse_amount
from .operations import cancel, charge, refund
from .recovery import reconcile, reprocess
from .redaction import safe_url
from .state import SANDBOX_ELSEWHERE, get_state, sandbox_is_elsewhere
from .subscriptions import Subscription, charge_due

__all__ = ["halyk_cli"]

#: Where ``flask halyk sandbox`` lives. Imported by name when the command is asked for (or
#: listed), not at import: a shop in production never loads the sandbox (about 20 modules).
SANDBOX_COMMAND_MODULE = "flask_halyk.sandbox.cli"


class HalykGroup(AppGroup):
    """``flask halyk``: its own commands, plus ``sandbox`` loaded only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "sandbox"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "sandbox" and cmd_name not in self.commands:
            # importlib rather than an import statement: the sandbox's twenty modules load
            # only for the one command that needs them (tests/test_layout.py forbids an
            # import statement inside a function; this is the deferral it allows).
            module = importlib.import_module(SANDBOX_COMMAND_MODULE)
            self.add_command(module.sandbox_command)
        return super().get_command(ctx, cmd_name)


halyk_cli = HalykGroup("halyk", help="Halyk ePay: ledger, reconciliation, sandbox.")

Command = TypeVar("Command", bound=Callable[..., Any])


def typed_errors(command: Command) -> Command:
    """Print a :class:`HalykError` as click's one-line error (exit status 1): its message says
    what to fix (wrong credentials, a bank out of reach, the ledger's database down), and a
    traceback would only bury it."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except HalykError as exc:
            raise click.ClickException(str(exc)) from None

    return run  # type: ignore[return-value]


@halyk_cli.command("config")
@with_appcontext
def config_command() -> None:
    """Show the resolved settings and every merchant (secrets masked)."""
    cfg = get_state().config
    shown = {
        "env": cfg.env,
        "client_id": cfg.client_id,
        "client_secret": "***",
        "terminal_id": cfg.terminal_id,
        "token_url": _shown_url(cfg.token_url),
        "api_url": _shown_url(cfg.api_url),
        "script_url": _shown_url(cfg.script_url),
        "payform_url": _shown_url(cfg.payform_url),
        "embedded_sandbox": cfg.embedded_sandbox,
        "sandbox_prefix": cfg.sandbox_prefix if cfg.embedded_sandbox else None,
        "two_stage": cfg.two_stage,
        "verify_with_status": cfg.verify_with_status,
        "scope": cfg.scope,
        "currency": cfg.currency,
        "language": cfg.language,
        "timeout": list(cfg.timeout),
        "retries": cfg.retries,
        "deadline": cfg.deadline,
        "postlink_status_deadline": cfg.postlink_status_deadline,
        "dispatch_lease": cfg.dispatch_lease,
        "postlink_secret": "***",
        "url_prefix": cfg.url_prefix,
        "external_url": _shown_url(cfg.external_url) if cfg.external_url else None,
        "postlink_allowed_ips": [str(n) for n in cfg.postlink_allowed_ips or ()] or None,
        "max_postlink_bytes": cfg.max_postlink_bytes,
        "database_url": _shown_database(cfg.database_url),
        "cabinet_username": cfg.cabinet_username,
        "cabinet_password": "***" if cfg.cabinet_password else None,
        "shop_id": cfg.shop_id,
        # Every merchant, the default one (the settings above) first; secrets masked.
        "merchants": [{"name": m.name, "client_id": m.client_id, "client_secret": "***",
                       "terminal_id": m.terminal_id, "currency": m.currency,
                       "two_stage": m.two_stage} for m in cfg.merchants],
    }
    click.echo(json.dumps(shown, indent=2))


def _shown_url(url: str) -> str:
    """A host setting without credentials or query (a proxy's ``user:password@`` is possible);
    the embedded sandbox's paths as they are."""
    return url if url.startswith("/") else safe_url(url)


def _shown_database(url: str | None) -> str:
    """The ledger's URL with its password masked (output is pasted into tickets and chats)."""
    if not url:
        return "(SQLite in the instance folder)"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: show only its scheme
        return url.partition(":")[0] + ":(unreadable URL, not shown)"


@halyk_cli.command("status")
@click.argument("invoice_id")
@with_appcontext
@typed_errors
def status_command(invoice_id: str) -> None:
    """Ask ePay for the status of INVOICE_ID (what the bank says, not the ledger)."""
    state = get_state()
    if sandbox_is_elsewhere(state):
        click.echo(f"warning: {SANDBOX_ELSEWHERE}", err=True)
    result = state.client.status(invoice_id)
    click.echo(json.dumps(result.raw, indent=2, ensure_ascii=False, default=str))


@halyk_cli.command("capacity")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per counter.")
@with_appcontext
@typed_errors
def capacity_command(as_json: bool) -> None:
    """Invoice ids used and left, per terminal (or for the whole ledger with
    HALYK_INVOICE_SUFFIX_SCOPE = "ledger"): ePay wants the last six digits unique, so each
    has 1,000,000."""
    state = get_state()
    scope = state.ledger.suffix_scope
    counters = state.ledger.invoice_capacity()
    if scope == "ledger":  # one counter serves every terminal
        counters = [c for c in counters if c.ordinal == 0]
    rows: list[dict[str, Any]] = [{"terminal": ("(every terminal)" if scope == "ledger"
                          else c.terminal or "(not claimed yet)"),
                                   "used": c.used, "left": c.left,
                                   "percent_used": round(c.percent_used, 2)}
                                  for c in counters]
    if as_json:
        click.echo(json.dumps({"scope": scope, "counters": rows}, indent=2))
        return
    click.echo(f"invoice suffixes unique per {scope} (HALYK_INVOICE_SUFFIX_SCOPE)")
    for row in rows:
        warn = "  LOW: ask the bank for a further terminal" if row["percent_used"] >= 80 else ""
        click.echo(f"{row['terminal']}: {row['used']:,} used, {row['left']:,} left "
                   f"({row['percent_used']:.1f} %){warn}")


_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``"10m"``, ``"90s"``, ``"2h"``, ``"1d"`` or plain seconds (``"0"``)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 90s, 10m, 2h or 1d")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return timedelta(**{_UNITS[unit]: number})


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A click parameter for :func:`parse_duration`."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class OptionalDuration(Duration):
    """A :class:`Duration`, or ``never`` (``off``, ``none``) for None."""

    name = "duration|never"

    def convert(  # type: ignore[override]
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta | None:
        if value is None or str(value).strip().lower() in ("never", "off", "none"):
            return None
        return super().convert(value, param, ctx)


@halyk_cli.command("init-db")
@with_appcontext
@typed_errors
def init_db_command() -> None:
    """Create (or migrate) the ledger's tables."""
    ledger = get_state().ledger
    version = ledger.init_db()
    click.echo(f"ledger ready at {ledger.engine.url.render_as_string(hide_password=True)} "
               f"(schema version {version})")


@halyk_cli.command("reprocess")
@click.option("--stale-after", type=Duration(), default="10m", show_default=True,
              help="Also retry events whose receivers started this long ago and never ended.")
@with_appcontext
@typed_errors
def reprocess_command(stale_after: timedelta) -> None:
    """Run the signal receivers again for postLinks whose receivers raised."""
    report = reprocess(get_state(), stale_after=stale_after)
    click.echo(f"reprocessed {report.attempted} event(s): {report.applied} applied, "
               f"{report.failed} failed again")
    if report.failed:
        raise SystemExit(1)


@halyk_cli.command("reconcile")
@click.option("--older-than", type=Duration(), default="10m", show_default=True,
              help="Ask about payments still new that were created at least this long ago.")
@click.option("--expire-after", type=OptionalDuration(), default="24h", show_default=True,
              help="Mark a payment expired when its token expired this long ago and ePay does "
                   "not know the invoice (102); 'never' turns expiry off.")
@click.option("--include-expired", is_flag=True,
              help="Ask about expired payments once more too (a late success still counts).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Ask about at most this many payments in this run.")
@with_appcontext
@typed_errors
def reconcile_command(older_than: timedelta, expire_after: timedelta | None,
                      include_expired: bool, limit: int | None) -> None:
    """Ask ePay about pending payments and record what it says (recovers lost postLinks, ends
    abandoned checkouts)."""
    state = get_state()
    if sandbox_is_elsewhere(state):
        # Its "not found" answers would mark payments paid in the web process as expired.
        raise click.ClickException(f"not reconciling: {SANDBOX_ELSEWHERE}")

    def progress(payment: PaymentRecord, outcome: str) -> None:
        click.echo(f"{payment.invoice_id}  {payment.amount} {payment.currency}  {outcome}")

    report = reconcile(state, older_than=older_than, progress=progress, limit=limit,
                       expire_after=expire_after, include_expired=include_expired)
    click.echo(
        f"checked {report.checked}: {report.changed} changed, {report.expired} expired, "
        f"{report.unchanged} unchanged, {report.pending} pending, "
        f"{report.not_found} unknown to ePay, {report.errors} errors"
    )
    if report.errors:
        raise SystemExit(1)


@halyk_cli.command("charge-due")
@click.option("--stale-after", type=Duration(), default="15m", show_default=True,
              help="Ask ePay about a renewal still unanswered this long after it was sent (a "
                   "run that died mid-call).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Charge at most this many subscriptions in this run.")
@with_appcontext
@typed_errors
def charge_due_command(stale_after: timedelta, limit: int | None) -> None:
    """Charge every subscription that is due, once each, however many copies run at once
    (run it from cron, a systemd timer, Celery beat or a Kubernetes CronJob)."""
    state = get_state()
    if sandbox_is_elsewhere(state):
        raise click.ClickException(f"not charging: {SANDBOX_ELSEWHERE}")

    def progress(subscription: Subscription, outcome: str) -> None:
        click.echo(f"{subscription.id}  {subscription.account_id}  {outcome}")

    report = charge_due(state, stale_after=stale_after, limit=limit, progress=progress)
    click.echo(f"renewed {len(report.renewed)}, failed {len(report.failed)}, cancelled "
               f"{len(report.cancelled)}, settled from earlier runs {len(report.settled)}, "
               f"unanswered {len(report.in_flight)}")
    if report.in_flight:
        raise SystemExit(1)


@halyk_cli.command("copy-ledger")
@click.argument("source_url")
@with_appcontext
def copy_ledger_command(source_url: str) -> None:
    """Copy the ledger at SOURCE_URL (e.g. the old sqlite:///.../halyk.sqlite3) into this
    app's ledger (HALYK_DATABASE_URL), which must be empty: the move to PostgreSQL."""
    target = get_state().ledger
    try:
        source = Ledger(source_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="SOURCE_URL") from None
    try:
        copied = copy_ledger(source, target)
    except HalykError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        source.dispose()
    rows = ", ".join(f"{count} {name}" for name, count in copied.items())
    click.echo(f"copied into {target.engine.url.render_as_string(hide_password=True)}: {rows}")


# Exit statuses of the operator commands (show, refund, charge, cancel, payments), for scripts.
#: Done.
EXIT_DONE = 0
#: Aborted at the confirmation prompt, or another error (the ledger's database down...).
EXIT_ERROR = 1
#: A usage error (click's own): an unknown option, an amount or date that cannot be read.
EXIT_USAGE = 2
#: The ledger refused: no such payment, or its state does not allow it (the reason printed).
EXIT_REFUSED = 3
#: ePay refused (its code and message printed): nothing was recorded.
EXIT_BANK_REFUSED = 4
#: ePay could not be reached or did not answer: nothing was recorded, but a refund may have
#: happened at the bank; ask ``flask halyk status INVOICE`` before repeating one.
EXIT_UNREACHABLE = 5


class Refused(click.ClickException):
    """The ledger refused the operation (:data:`EXIT_REFUSED`)."""

    exit_code = EXIT_REFUSED


class BankRefused(click.ClickException):
    """ePay refused the operation (:data:`EXIT_BANK_REFUSED`)."""

    exit_code = EXIT_BANK_REFUSED


class Unreachable(click.ClickException):
    """ePay did not answer (:data:`EXIT_UNREACHABLE`)."""

    exit_code = EXIT_UNREACHABLE


def operator_errors(command: Command) -> Command:
    """Turn the errors of an operation into a line a person reads and an exit status a script
    relies on (:data:`EXIT_REFUSED`, :data:`EXIT_BANK_REFUSED`, :data:`EXIT_UNREACHABLE`,
    :data:`EXIT_ERROR`)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (PaymentNotFound, PaymentStateError) as exc:
            raise Refused(f"refused: {exc}") from None
        except InvalidArgument as exc:
            raise click.UsageError(str(exc)) from None
        except ApiError as exc:
            said = exc.bank_message or str(exc)
            code = f" (code {exc.code})" if exc.code is not None else ""
            raise BankRefused(f"refused by ePay{code}: {said}") from None
        except TransportError as exc:
            raise Unreachable(
                f"ePay did not answer: {exc}. Nothing was recorded; ask `flask halyk status` "
                "before repeating it.") from None
        except HalykError as exc:
            raise click.ClickException(str(exc)) from None

    return run  # type: ignore[return-value]


def _money(value: Decimal | None, currency: str) -> str:
    return "-" if value is None else f"{value:.2f} {currency}"


def _offers(payment: PaymentRecord) -> str:
    offered = []
    if payment.can_refund:
        offered.append(f"refund (up to {_money(payment.refundable_amount, payment.currency)})")
    if payment.can_charge:
        offered.append(f"charge (up to {_money(payment.amount, payment.currency)})")
    if payment.can_cancel:
        offered.append("cancel")
    return ", ".join(offered) or "nothing"


def _summary(payment: PaymentRecord) -> list[str]:
    p = payment
    lines = [
        f"payment {p.invoice_id}: {p.status}"
        + (f" (ePay: {p.bank_status})" if p.bank_status else ""),
        f"  amount      {_money(p.amount, p.currency)}",
    ]
    if p.charged_amount is not None:
        lines.append(f"  charged     {_money(p.charged_amount, p.currency)}")
    if p.refunded_amount:
        lines.append(f"  refunded    {_money(p.refunded_amount, p.currency)}")
    for label, value in (("created", p.created_at.isoformat(timespec="seconds")),
                         ("paid", p.paid_at.isoformat(timespec="seconds") if p.paid_at else None),
                         ("description", p.description or None), ("account", p.account_id),
                         ("card", " ".join(x for x in (p.card_mask, p.card_type, p.issuer) if x)
                          or None),
                         ("transaction", p.transaction_id), ("reference", p.reference),
                         ("reason", f"{p.reason} ({p.reason_code})" if p.reason else None)):
        if value:
            lines.append(f"  {label:<11} {value}")
    lines.append(f"  offers      {_offers(p)}")
    return lines


def _entry_line(entry: TimelineEntry) -> str:
    parts = [entry.at.isoformat(timespec="seconds"), entry.kind]
    if entry.event_id is not None:
        parts.append(f"#{entry.event_id}")
    if entry.verdict is not None:
        parts.append(str(entry.verdict))
    if entry.outcome is not None:
        parts.append(f"-> {entry.outcome}")
    if entry.result is not None and entry.kind in ("refund", "charge", "cancel"):
        parts.append(("all" if entry.amount is None else f"{entry.amount:.2f}") + "  "
                     + entry.result)
    elif entry.result is not None:
        parts.append(entry.result)
    if entry.reason:
        parts.append(f"({entry.reason})")
    return "  ".join(parts)


def _entry_json(entry: TimelineEntry) -> dict[str, Any]:
    return {"at": entry.at.isoformat(), "kind": entry.kind, "event_id": entry.event_id,
            "verdict": entry.verdict, "outcome": entry.outcome, "reason": entry.reason,
            "remote_addr": entry.remote_addr, "headers": entry.headers, "body": entry.body,
            "amount": entry.amount, "result": entry.result}


def _payment_json(payment: PaymentRecord) -> dict[str, Any]:
    found = dataclasses.asdict(payment)
    found.update(can_refund=payment.can_refund, can_charge=payment.can_charge,
                 can_cancel=payment.can_cancel, refundable_amount=payment.refundable_amount)
    return found


@halyk_cli.command("show")
@click.argument("invoice_id")
@click.option("--bodies", is_flag=True, help="Also print each event's stored body (secrets "
                                             "redacted).")
@click.option("--json", "as_json", is_flag=True, help="Print the payment and its timeline as "
                                                      "JSON.")
@with_appcontext
@operator_errors
def show_command(invoice_id: str, bodies: bool, as_json: bool) -> None:
    """Show a payment as the ledger knows it, and its timeline: every postLink with its
    verdict, every status answer that changed it (secrets redacted)."""
    timeline = get_state().ledger.timeline(invoice_id)
    if as_json:
        click.echo(json.dumps({"payment": _payment_json(timeline.payment),
                               "timeline": [_entry_json(e) for e in timeline.entries]},
                              indent=2, ensure_ascii=False, default=str))
        return
    for line in _summary(timeline.payment):
        click.echo(line)
    click.echo("timeline:")
    for entry in timeline.entries:
        click.echo("  " + _entry_line(entry))
        if bodies and entry.body:
            for line in entry.body.splitlines():
                click.echo("      " + line)


def _amount_option(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_amount(value)
    except InvalidArgument as exc:
        raise click.BadParameter(str(exc), param_hint="--amount") from None


def _confirm(yes: bool, question: str) -> None:
    if not yes:
        click.confirm(question, abort=True)


def _done(operation: str, result: OperationResult, payment: PaymentRecord) -> None:
    amount = f" {_money(result.amount, payment.currency)} of" if result.amount else ""
    click.echo(f"{operation}{amount} payment {payment.invoice_id}: ePay accepted it; the "
               f"payment is {payment.status} now.")
    for line in _summary(payment)[1:]:
        click.echo(line)


def _warn_if_elsewhere() -> None:
    if sandbox_is_elsewhere(get_state()):
        click.echo(f"warning: {SANDBOX_ELSEWHERE}", err=True)


@halyk_cli.command("refund")
@click.argument("invoice_id")
@click.option("--amount", help="Refund this much of it (default: all that is left).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@operator_errors
def refund_command(invoice_id: str, amount: str | None, yes: bool) -> None:
    """Refund a paid payment, in full (what is left of it) or --amount of it."""
    value = _amount_option(amount)
    ledger = get_state().ledger
    payment = ledger.require(invoice_id)
    _warn_if_elsewhere()
    left = _money(payment.refundable_amount, payment.currency)
    what = _money(value, payment.currency) if value is not None else f"all that is left ({left})"
    _confirm(yes, f"Refund {what} of payment {invoice_id} ({payment.status}, {left} left)?")
    result = refund(get_state(), invoice_id, value)
    _done("refunded", result, ledger.require(invoice_id))


@halyk_cli.command("charge")
@click.argument("invoice_id")
@click.option("--amount", help="Charge this much of it (default: all that was authorised).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@operator_errors
def charge_command(invoice_id: str, amount: str | None, yes: bool) -> None:
    """Charge (capture) an authorised payment, in full or --amount of it."""
    value = _amount_option(amount)
    ledger = get_state().ledger
    payment = ledger.require(invoice_id)
    _warn_if_elsewhere()
    what = _money(value if value is not None else payment.amount, payment.currency)
    _confirm(yes, f"Charge {what} of payment {invoice_id} ({payment.status}, "
                  f"{_money(payment.amount, payment.currency)} authorised)?")
    result = charge(get_state(), invoice_id, value)
    _done("charged", result, ledger.require(invoice_id))


@halyk_cli.command("cancel")
@click.argument("invoice_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@operator_errors
def cancel_command(invoice_id: str, yes: bool) -> None:
    """Cancel (void) an authorised payment that is not charged yet."""
    ledger = get_state().ledger
    payment = ledger.require(invoice_id)
    _warn_if_elsewhere()
    _confirm(yes, f"Cancel payment {invoice_id} ({payment.status}, "
                  f"{_money(payment.amount, payment.currency)} held)?")
    result = cancel(get_state(), invoice_id)
    _done("cancelled", result, ledger.require(invoice_id))


@halyk_cli.command("link")
@click.argument("amount")
@click.option("--email", help="The customer's e-mail: ePay sends the link there.")
@click.option("--phone", help="The customer's phone (+77011234567): ePay sends the link by SMS.")
@click.option("--expire", "expire_period", default="1d", show_default=True,
              help="How long the link may be paid: days, such as 1d or 3d.")
@click.option("--description", default=None, help="What the customer pays for (default: "
                                                   "'Payment by link').")
@click.option("--json", "as_json", is_flag=True, help="Print the link as JSON.")
@with_appcontext
@operator_errors
def link_command(amount: str, email: str | None, phone: str | None, expire_period: str,
                 description: str | None, as_json: bool) -> None:
    """Bill a customer: record a payment of AMOUNT and have ePay send them its payment link by
    e-mail (--email) and/or SMS (--phone). The payment reaches the ledger when they pay."""
    if not email and not phone:
        raise click.UsageError("give the customer's --email or --phone (or both)")
    _warn_if_elsewhere()
    link = create_payment_link(
        get_state(), amount, recipient_email=email,
        recipient_phone=phone, expire_period=expire_period,
        description=description or "Payment by link")
    expires = link.expires_at.isoformat(timespec="seconds") if link.expires_at else None
    if as_json:
        click.echo(json.dumps({"invoice_id": link.invoice_id, "id": link.id,
                               "invoice_url": link.invoice_url, "expires_at": expires,
                               "amount": str(link.amount), "currency": link.currency},
                              indent=2))
        return
    to = " and ".join(x for x in (email, phone) if x)
    click.echo(f"payment link for invoice {link.invoice_id} "
               f"({_money(link.amount, link.currency)}) sent to {to}: {link.invoice_url}")
    click.echo(f"expires: {expires or 'not said by ePay'}")


@halyk_cli.command("payments")
@click.option("--status", multiple=True, type=click.Choice([s.value for s in PaymentStatus]),
              help="Only payments in this status (repeat for several).")
@click.option("--from", "created_from", help="Created on or after this day (YYYY-MM-DD, UTC).")
@click.option("--to", "created_to", help="Created on or before this day (YYYY-MM-DD, UTC).")
@click.option("--min-amount", help="Amount at least this.")
@click.option("--max-amount", help="Amount at most this.")
@click.option("--invoice", help="Invoice id, or its first digits.")
@click.option("--account", help="The shop's account id (accountId) of the payer.")
@click.option("--card", help="The card's mask, or its last four digits.")
@click.option("--limit", type=click.IntRange(1, MAX_PAGE), default=50, show_default=True,
              help="Payments per page.")
@click.option("--after", help="The cursor printed at the end of the previous page.")
@click.option("--csv", "as_csv", is_flag=True, help="Every matching payment as CSV (no "
                                                    "paging; streamed).")
@with_appcontext
@operator_errors
def payments_command(status: tuple[str, ...], created_from: str | None, created_to: str | None,
                     min_amount: str | None, max_amount: str | None, invoice: str | None,
                     account: str | None, card: str | None, limit: int, after: str | None,
                     as_csv: bool) -> None:
    """List payments, newest first, with the dashboard's filters; --csv for all of them."""
    try:
        wanted = PaymentFilter.parse(status=status, created_from=created_from,
                                     created_to=created_to, amount_min=min_amount,
                                     amount_max=max_amount, invoice=invoice,
                                     account_id=account, card=card)
    except FilterError as exc:
        raise click.BadParameter(exc.problem, param_hint=f"--{_OPTION[exc.field]}") from None
    ledger = get_state().ledger
    if as_csv:
        for chunk in ledger.export_csv(wanted):
            click.echo(chunk, nl=False)
        return
    try:
        page = ledger.list_payments(wanted, after=after, limit=limit)
    except ValueError:
        raise click.BadParameter("not a cursor this command printed", param_hint="--after"
                                 ) from None
    for p in page.payments:
        click.echo(f"{p.invoice_id}  {p.created_at.isoformat(timespec='seconds')}  "
                   f"{_money(p.amount, p.currency):>16}  {p.status:<18}  {p.card_mask or '-'}")
    if not page.payments:
        click.echo("no payments")
    if page.next_cursor:
        click.echo(f"more: --after {page.next_cursor}")


_OPTION = {"created_from": "from", "created_to": "to", "amount_min": "min-amount",
           "amount_max": "max-amount", "invoice": "invoice", "status": "status"}


#: The header and path of the sandbox's ``POST /_sandbox/pay`` (flask_halyk/sandbox/admin.py).
SANDBOX_KEY_HEADER = "X-Halyk-Sandbox-Key"
SANDBOX_PAY_PATH = "/_sandbox/pay"


class NotSandbox(click.ClickException):
    """``send-postlink`` outside the sandbox (:data:`EXIT_USAGE`)."""

    exit_code = EXIT_USAGE


def sandbox_pay_url(app_url: str | None) -> str:
    """Where ``send-postlink`` reaches the running app's sandbox: ``HALYK_SANDBOX_URL`` when
    the sandbox is external, else the shop's origin (``app_url``, else ``HALYK_EXTERNAL_URL``,
    ``SERVER_NAME``, ``http://127.0.0.1:5000``) under the embedded sandbox's prefix."""
    config = get_state().config
    external = current_app.config.get("HALYK_SANDBOX_URL")
    if external:
        return str(external).rstrip("/") + SANDBOX_PAY_PATH
    if app_url is None:
        server = current_app.config.get("SERVER_NAME")
        scheme = current_app.config.get("PREFERRED_URL_SCHEME") or "http"
        app_url = config.external_url or (f"{scheme}://{server}" if server else
                                          "http://127.0.0.1:5000")
    return app_url.rstrip("/") + config.sandbox_prefix + SANDBOX_PAY_PATH


@halyk_cli.command("send-postlink")
@click.argument("invoice_id")
@click.option("--approved/--declined", default=None,
              help="Pay with the approved test card (postLink) or a declined one "
                   "(failurePostLink).")
@click.option("--app-url", help="The running shop's origin, where its embedded sandbox is "
                                "(default: HALYK_EXTERNAL_URL, SERVER_NAME, "
                                "http://127.0.0.1:5000).")
@with_appcontext
def send_postlink_command(invoice_id: str, approved: bool | None, app_url: str | None) -> None:
    """Sandbox only: have the running app's sandbox pay INVOICE_ID's latest payment token with
    a test card, so that it delivers the real, signed postLink (or failurePostLink) to the
    shop, as after a payment on its page."""
    if approved is None:
        raise click.UsageError("say --approved or --declined")
    config = get_state().config
    if config.env != "sandbox":
        raise NotSandbox(f"send-postlink works only with HALYK_ENV='sandbox', not "
                         f"{config.env!r}: the bank sends real postLinks after real payments.")
    url = sandbox_pay_url(app_url)
    try:
        answer = requests.post(url, json={"invoice_id": invoice_id, "approved": approved},
                               headers={SANDBOX_KEY_HEADER: sandbox_admin_key(config)},
                               timeout=60, allow_redirects=False)
    except requests.RequestException as exc:
        raise Unreachable(f"the sandbox at {safe_url(url)} did not answer: {exc}. Is the app "
                          "running (flask run)? Name it with --app-url.") from None
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise click.ClickException(f"{safe_url(url)} answered HTTP {answer.status_code}, not "
                                   "the sandbox's JSON: is --app-url the shop's origin?")
    if answer.status_code in (404, 409, 422):
        raise Refused(f"refused: {body.get('error')}")
    if answer.status_code != 200:
        raise click.ClickException(f"the sandbox answered HTTP {answer.status_code}: "
                                   f"{body.get('error')}")
    verdict = "approved" if body.get("approved") else f"declined ({body.get('reason')})"
    click.echo(f"invoice {invoice_id}: paid in the sandbox, {verdict}, transaction "
               f"{body.get('transaction_id')} ({body.get('status')}).")
    deliveries = body.get("deliveries") or []
    for delivery in deliveries:
        outcome = delivery.get("error") or f"HTTP {delivery.get('status')}"
        click.echo(f"postLink to {delivery.get('url')}: {outcome}")
    if not any(isinstance(d.get("status"), int) and 200 <= d["status"] < 300
               for d in deliveries):
        raise click.ClickException("the shop did not acknowledge the postLink (see above); "
                                   "`flask halyk show` tells what the ledger kept.")
