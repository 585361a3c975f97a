"""``flask halyk sandbox``: a standalone sandbox on a port."""

from __future__ import annotations

import ipaddress

import click
import werkzeug.serving
from flask import Flask
from flask.cli import NoAppException, ScriptInfo

from .app import create_sandbox_app
from .merchants import TEST_MERCHANT, Merchant


def _shop_merchants(app: Flask | None) -> tuple[list[Merchant], bool]:
    """The merchants to serve and whether the shop's terminal is two-stage: the vendor's test
    merchant, plus the shop's own credentials when it is configured for a sandbox (so that a
    shop with ``HALYK_ENV="sandbox"`` and its own ``HALYK_CLIENT_*`` gets tokens, not 401)."""
    state = app.extensions.get("halyk") if app is not None else None
    config = getattr(state, "config", None)
    if config is None or config.env != "sandbox":
        # Never copy production or test-host credentials into a sandbox.
        return [TEST_MERCHANT], False
    merchants = [TEST_MERCHANT]
    for index, shop in enumerate(config.merchants):
        # The default merchant follows the sandbox's mode, the named ones keep their own.
        own = Merchant(shop.client_id, shop.client_secret, shop.terminal_id,
                       "Shop" if index == 0 else f"Shop ({shop.name})",
                       two_stage=None if index == 0 else shop.two_stage)
        if (own.client_id, own.terminal_id) != (TEST_MERCHANT.client_id,
                                                TEST_MERCHANT.terminal_id):
            merchants.append(own)
    return merchants, bool(config.two_stage)


#: Printed when the sandbox is told to listen beyond loopback.
EXPOSED_WARNING = (
    "warning: the sandbox on {host} can be reached from other machines. Its /_sandbox/ pages "
    "(faults, transactions, postlinks) have no password, and /_sandbox/postlinks shows the "
    "secret_hash of every payment it reported: anyone who loads it can forge postLinks to the "
    "shops that trust this sandbox. Use it on a network you control, for tests only."
)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses of the loopback networks (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _loaded_app() -> Flask | None:
    info = click.get_current_context().find_object(ScriptInfo)
    if info is None:
        return None
    try:
        return info.load_app()
    except NoAppException:  # no app found: a bare sandbox is still useful
        return None


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Anything but loopback exposes /_sandbox/postlinks "
                   "(every secret_hash) to whoever can reach it.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option("--two-stage", is_flag=True,
              help="Stop payments at AUTH until charged (default: the app's HALYK_TWO_STAGE).")
def sandbox_command(host: str, port: int, two_stage: bool) -> None:
    """Run the offline ePay sandbox (set HALYK_SANDBOX_URL to its URL in the shop).

    It knows the vendor's test merchant and, when the app is configured with
    ``HALYK_ENV="sandbox"``, the app's own client id, secret and terminal. It listens on
    127.0.0.1 unless ``--host`` says otherwise, with a warning: its ``/_sandbox/postlinks``
    page shows every ``secret_hash`` to whoever can load it.
    """
    if not is_loopback(host):
        click.echo(EXPOSED_WARNING.format(host=host), err=True)
    merchants, shop_two_stage = _shop_merchants(_loaded_app())
    app = create_sandbox_app(merchants=merchants, two_stage=two_stage or shop_two_stage)
    ids = ", ".join(repr(m.client_id) for m in merchants)
    click.echo(f"ePay SANDBOX on http://{host}:{port} (merchants: {ids}; "
               f"{'two' if two_stage or shop_two_stage else 'one'}-stage): no real payments")
    werkzeug.serving.run_simple(host, port, app, threaded=True, use_reloader=False)
