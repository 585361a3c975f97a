"""The commands a shop runs by hand or from cron: config, status, capacity, init-db,
reprocess, reconcile, charge-due, copy-ledger."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from ..errors import HalykError
from ..ledger import Ledger, PaymentRecord
from ..ledger.transfer import copy_ledger
from ..recovery import reconcile, reprocess
from ..redaction import safe_url
from ..state import SANDBOX_ELSEWHERE, get_state, sandbox_is_elsewhere
from ..subscriptions import Subscription, charge_due
from .group import Duration, OptionalDuration, halyk_cli, typed_errors


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
    # Asked with the client of the payment's merchant when the ledger knows the invoice (each
    # merchant's service token sees its own terminal's orders only).
    payment = state.ledger.get(invoice_id)
    client = state.client if payment is None else state.client_for(payment.terminal)
    result = client.status(invoice_id)
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
