"""``flask halyk init-db | reprocess | reconcile | copy-ledger``: the ledger's commands (the
``halyk`` group is :mod:`flask_halyk.cli`)."""

from __future__ import annotations

import re
from datetime import timedelta

import click
from flask.cli import with_appcontext

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


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create (or migrate) the ledger's tables."""
    from ..extension import get_state

    ledger = get_state().ledger
    version = ledger.init_db()
    click.echo(f"ledger ready at {ledger.engine.url.render_as_string(hide_password=True)} "
               f"(schema version {version})")


@click.command("reprocess")
@click.option("--stale-after", type=Duration(), default="10m", show_default=True,
              help="Also retry events whose receivers started this long ago and never ended.")
@with_appcontext
def reprocess_command(stale_after: timedelta) -> None:
    """Run the signal receivers again for postLinks whose receivers raised."""
    from ..extension import get_state
    from ..recovery import reprocess

    report = reprocess(get_state(), stale_after=stale_after)
    click.echo(f"reprocessed {report.attempted} event(s): {report.applied} applied, "
               f"{report.failed} failed again")
    if report.failed:
        raise SystemExit(1)


@click.command("reconcile")
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
def reconcile_command(older_than: timedelta, expire_after: timedelta | None,
                      include_expired: bool, limit: int | None) -> None:
    """Ask ePay about pending payments and record what it says (recovers lost postLinks, ends
    abandoned checkouts)."""
    from ..extension import SANDBOX_ELSEWHERE, get_state, sandbox_is_elsewhere
    from ..recovery import reconcile
    from .models import PaymentRecord

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


@click.command("copy-ledger")
@click.argument("source_url")
@with_appcontext
def copy_ledger_command(source_url: str) -> None:
    """Copy the ledger at SOURCE_URL (e.g. the old sqlite:///.../halyk.sqlite3) into this
    app's ledger (HALYK_DATABASE_URL), which must be empty: the move to PostgreSQL."""
    from ..errors import HalykError
    from ..extension import get_state
    from .store import Ledger
    from .transfer import copy_ledger

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
