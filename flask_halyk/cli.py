"""``flask halyk ...``: the commands a shop runs by hand or from cron."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup, with_appcontext

from .ledger.cli import (
    copy_ledger_command,
    init_db_command,
    reconcile_command,
    reprocess_command,
)
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
        "token_url": cfg.token_url,
        "api_url": cfg.api_url,
        "script_url": cfg.script_url,
        "payform_url": cfg.payform_url,
        "embedded_sandbox": cfg.embedded_sandbox,
        "url_prefix": cfg.url_prefix,
        "database_url": cfg.database_url or "(SQLite in the instance folder)",
    }
    click.echo(json.dumps(shown, indent=2))


@halyk_cli.command("status")
@click.argument("invoice_id")
@with_appcontext
def status_command(invoice_id: str) -> None:
    """Ask ePay for the status of INVOICE_ID (what the bank says, not the ledger)."""
    from .extension import get_state

    result = get_state().client.status(invoice_id)
    click.echo(json.dumps(result.raw, indent=2, ensure_ascii=False, default=str))
