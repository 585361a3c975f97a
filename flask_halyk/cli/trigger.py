"""``flask halyk send-postlink``: the running app's sandbox pays an invoice with a test card
and delivers the real, signed postLink, like the Stripe CLI's ``trigger``."""

from __future__ import annotations

import click
import requests
from flask import current_app
from flask.cli import with_appcontext

from ..config import sandbox_admin_key
from ..redaction import safe_url
from ..state import get_state
from .back_office import EXIT_USAGE, Refused, Unreachable
from .group import halyk_cli

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
