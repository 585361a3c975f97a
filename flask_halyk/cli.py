"""``flask halyk ...``: the commands a shop runs by hand or from cron."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.engine import make_url

from .ledger.cli import (
    copy_ledger_command,
    init_db_command,
    reconcile_command,
    reprocess_command,
)
from .redaction import safe_url
from .sandbox.cli import sandbox_command

halyk_cli = AppGroup("halyk", help="Halyk ePay: ledger, reconciliation, sandbox.")
halyk_cli.add_command(init_db_command)
halyk_cli.add_command(reprocess_command)
halyk_cli.add_command(reconcile_command)
halyk_cli.add_command(copy_ledger_command)
halyk_cli.add_command(sandbox_command)


@halyk_cli.command("config")
@with_appcontext
def config_command() -> None:
    """Show the resolved settings (the client secret masked)."""
    from .extension import get_state

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
        "postlink_secret": "***",
        "url_prefix": cfg.url_prefix,
        "external_url": _shown_url(cfg.external_url) if cfg.external_url else None,
        "postlink_allowed_ips": list(cfg.postlink_allowed_ips or []) or None,
        "max_postlink_bytes": cfg.max_postlink_bytes,
        "database_url": _shown_database(cfg.database_url),
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
def status_command(invoice_id: str) -> None:
    """Ask ePay for the status of INVOICE_ID (what the bank says, not the ledger)."""
    from .extension import SANDBOX_ELSEWHERE, get_state, sandbox_is_elsewhere

    state = get_state()
    if sandbox_is_elsewhere(state):
        click.echo(f"warning: {SANDBOX_ELSEWHERE}", err=True)
    result = state.client.status(invoice_id)
    click.echo(json.dumps(result.raw, indent=2, ensure_ascii=False, default=str))
