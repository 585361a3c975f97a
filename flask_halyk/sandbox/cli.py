"""``flask halyk sandbox``: a standalone sandbox on a port."""

from __future__ import annotations

import click

from .app import create_sandbox_app


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option("--two-stage", is_flag=True, help="Stop payments at AUTH until charged.")
def sandbox_command(host: str, port: int, two_stage: bool) -> None:
    """Run the offline ePay sandbox (set HALYK_SANDBOX_URL to its URL in the shop)."""
    from werkzeug.serving import run_simple

    app = create_sandbox_app(two_stage=two_stage)
    click.echo(f"ePay sandbox on http://{host}:{port} (test merchant: client_id 'test')")
    run_simple(host, port, app, threaded=True, use_reloader=False)
