"""The extension object a shop creates: ``HalykEpay(app)`` or ``HalykEpay()`` + ``init_app``.

Nothing app-specific is stored on the extension itself: each app's settings, client, ledger and
sandbox live in ``app.extensions["halyk"]`` (a :class:`HalykState`), found through ``current_app``.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask
from sqlalchemy.exc import ArgumentError
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from . import cards as saved_cards
from . import checkout, links, operations, qr, signals
from . import subscriptions as subs
from .checkout import Payment
from .cli import halyk_cli
from .config import (
    SANDBOX_INTERNAL_ORIGIN,
    SHOP_INTERNAL_ORIGIN,
    HalykConfig,
    resolve,
    sandbox_admin_key,
)
from .csp import csp_sources
from .dashboard import Dashboard, Rule
from .epay import EpayClient, OperationResult, WSGIAdapter
from .errors import ConfigurationError, ExtensionSetupError
from .ledger import InvoiceCapacity, Ledger, PaymentRecord, Plan, SavedCard, Subscription
from .postlink import create_blueprint
from .state import HalykState, get_state

#: The offline ePay, imported by name only when an app embeds it (``HALYK_ENV="sandbox"``
#: without ``HALYK_SANDBOX_URL``): a shop on ePay's hosts never loads its modules.
SANDBOX_MODULE = "flask_halyk.sandbox"

log = logging.getLogger("flask_halyk")

#: A receiver given to :meth:`HalykEpay.on_success` / :meth:`HalykEpay.on_failure`.
Receiver = Callable[[PaymentRecord, "dict[str, Any] | None"], Any]


class HalykEpay:
    """Halyk ePay for a Flask app. See docs/usage.md."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Resolve the ``HALYK_*`` config, build the client, ledger and (maybe) the sandbox, and
        register the postLink blueprint. Misconfiguration raises :class:`ConfigurationError`."""
        if "halyk" in app.extensions:
            raise ExtensionSetupError(
                "HalykEpay.init_app() was already called on this app; call it once per app."
            )
        config = resolve(app.config)
        # The ledger first: a bad database URL must fail before the app's WSGI stack changes.
        ledger = _open_ledger(config.database_url or _default_database_url(app),
                              timedelta(seconds=config.dispatch_lease),
                              config.invoice_suffix_scope)
        ledger.on_capacity = functools.partial(_running_low, app)
        client = EpayClient.from_config(config)
        clients = {m.name: EpayClient.from_config(config, merchant=m)
                   for m in config.merchants[1:]}
        sandbox = None
        if config.embedded_sandbox:
            sandbox = _embed_sandbox(app, config, [client, *clients.values()])
        elif config.env == "sandbox":
            log.warning("flask-halyk: using the external ePay SANDBOX at %s", config.api_url)
        state = HalykState(
            config=config,
            client=client,
            ledger=ledger,
            sandbox=sandbox,
            extension=self,
            clients=clients,
        )
        app.extensions["halyk"] = state

        blueprint = create_blueprint()
        app.register_blueprint(blueprint, url_prefix=config.url_prefix)
        _exempt_from_csrf(app, blueprint)
        app.jinja_env.globals["halyk"] = self
        if "halyk" not in app.cli.commands:
            app.cli.add_command(halyk_cli)

    def init_dashboard(self, app: Flask, *, can_view: Rule | None = None,
                       can_act: Rule | None = None, url_prefix: str = "/halyk-admin",
                       timezone: str | tzinfo = "UTC") -> Dashboard:
        """Mount the payments dashboard on ``app`` (after :meth:`init_app`): see
        :class:`flask_halyk.dashboard.Dashboard` and docs/dashboard.md. ``can_view`` and
        ``can_act`` are the shop's rules (no argument, true to allow); without ``can_view`` it
        is open on the sandbox only, without ``can_act`` it is read-only. ``timezone``: where
        its times are shown (UTC by default)."""
        return Dashboard(app, can_view=can_view, can_act=can_act, url_prefix=url_prefix,
                         timezone=timezone)

    # Facade: each call acts on the current app's state.

    @property
    def client(self) -> EpayClient:
        """The current app's :class:`EpayClient`."""
        return get_state().client

    @property
    def ledger(self) -> Ledger:
        """The current app's ledger: ``halyk.ledger.get(invoice_id)``, ``.query(...)``."""
        return get_state().ledger

    @property
    def config(self) -> HalykConfig:
        """The current app's resolved settings."""
        return get_state().config

    def csp_sources(self) -> dict[str, list[str]]:
        """What the current app's Content-Security-Policy must allow for ePay, by directive:
        ``{"script-src": [origin of payment-api.js], "frame-src": [origin of the payment
        page, both test hosts with HALYK_ENV="test"], "style-src": ["'unsafe-inline'"]}``
        (the bank's script injects a ``<style>``); ``'self'`` for the embedded sandbox's
        script and page, which are paths in the shop. Add them to your own policy, next to
        your nonce (docs/usage.md)."""
        return csp_sources(get_state().config)

    def create_payment(
        self, amount: Decimal | int | str, invoice_id: str | None = None, **kwargs: Any
    ) -> Payment:
        """Record a payment, get its own token and build the widget's payment object.

        Keyword arguments: see :func:`flask_halyk.checkout.create_payment`.
        """
        return checkout.create_payment(get_state(), amount, invoice_id=invoice_id, **kwargs)

    def create_payment_link(
        self, amount: Decimal | int | str, **kwargs: Any
    ) -> links.PaymentLinkResult:
        """Record a payment and have ePay send the customer its link by e-mail and/or SMS.

        Keyword arguments: see :func:`flask_halyk.links.create_payment_link`.
        """
        return links.create_payment_link(get_state(), amount, **kwargs)

    def create_qr_payment(self, amount: Decimal | int | str, **kwargs: Any) -> qr.QrPayment:
        """Record a payment and have ePay make its QR, for ``halyk_qr`` on the shop's page.

        Keyword arguments: see :func:`flask_halyk.qr.create_qr_payment`.
        """
        return qr.create_qr_payment(get_state(), amount, **kwargs)

    def qr_status(self, invoice_id: str) -> qr.QrPaymentStatus:
        """How the payment's QR stands; a PAID or REJECTED one settles the ledger now."""
        return qr.qr_status(get_state(), invoice_id)

    def refund(
        self, invoice_id: str, amount: Decimal | int | str | None = None
    ) -> OperationResult:
        """Refund a paid payment in full, or ``amount`` of it (at least 10 tenge)."""
        return operations.refund(get_state(), invoice_id, amount)

    def cancel(self, invoice_id: str) -> OperationResult:
        """Cancel (void) an authorised, not yet charged payment."""
        return operations.cancel(get_state(), invoice_id)

    def charge(
        self, invoice_id: str, amount: Decimal | int | str | None = None
    ) -> OperationResult:
        """Charge (capture) an authorised payment on a two-stage terminal."""
        return operations.charge(get_state(), invoice_id, amount)

    def verify_card(self, *, account_id: str, description: str, **kwargs: Any) -> Payment:
        """A card verification (amount 0) that saves the customer's card for ``account_id``:
        a payment page like any other; its success is ``verified`` (not ``paid``) and fires
        ``card_saved``. Keywords as for :meth:`create_payment`."""
        return saved_cards.verify_card(get_state(), account_id=account_id,
                                       description=description, **kwargs)

    def cards(self, account_id: str) -> list[SavedCard]:
        """The active saved cards of ``account_id``, from the ledger."""
        return saved_cards.cards(get_state(), account_id)

    def sync_cards(self, account_id: str) -> list[SavedCard]:
        """Refresh the cards of ``account_id`` from the bank's list; the active ones."""
        return saved_cards.sync_cards(get_state(), account_id)

    def remove_card(self, card: SavedCard | str, *,
                    account_id: str | None = None) -> SavedCard:
        """Deactivate a saved card at the bank and in the ledger."""
        return saved_cards.remove_card(get_state(), card, account_id=account_id)

    def charge_card(self, card: SavedCard | str, amount: Decimal | int | str, *,
                    description: str, account_id: str | None = None,
                    recurrent: bool | None = None, language: str | None = None,
                    back_link: str | None = None) -> PaymentRecord:
        """Pay ``amount`` with a saved card, server to server (docs/cards.md)."""
        return saved_cards.charge_card(get_state(), card, amount, description=description,
                                       account_id=account_id, recurrent=recurrent,
                                       language=language, back_link=back_link)

    def subscribe(self, account_id: str, card: SavedCard | str, plan: Plan, *,
                  start_at: datetime | None = None, trial_days: int = 0) -> Subscription:
        """Subscribe ``account_id`` to ``plan`` paid with its saved ``card``; renewed by
        ``flask halyk charge-due`` (docs/subscriptions.md)."""
        return subs.subscribe(get_state(), account_id, card, plan, start_at=start_at,
                              trial_days=trial_days)

    def subscriptions(self, account_id: str) -> list[Subscription]:
        """The subscriptions of ``account_id``, oldest first."""
        return subs.subscriptions(get_state(), account_id)

    def pause(self, subscription: Subscription | str, *,
              account_id: str | None = None) -> Subscription:
        """Stop charging a subscription until :meth:`resume`."""
        return subs.pause(get_state(), subscription, account_id=account_id)

    def resume(self, subscription: Subscription | str, *,
               account_id: str | None = None) -> Subscription:
        """Charge a paused subscription again, from its next period boundary."""
        return subs.resume(get_state(), subscription, account_id=account_id)

    def cancel_subscription(self, subscription: Subscription | str, *,
                            at_period_end: bool = True,
                            account_id: str | None = None) -> Subscription:
        """End a subscription at its period's end, or now (``at_period_end=False``)."""
        return subs.cancel(get_state(), subscription, at_period_end=at_period_end,
                           account_id=account_id)

    def change_card(self, subscription: Subscription | str, card: SavedCard | str, *,
                    account_id: str | None = None) -> Subscription:
        """Pay a subscription with another saved card of its account."""
        return subs.change_card(get_state(), subscription, card, account_id=account_id)

    def charge_due(self, **kwargs: Any) -> subs.ChargeDueReport:
        """Charge the due subscriptions once each (what ``flask halyk charge-due`` runs)."""
        return subs.charge_due(get_state(), **kwargs)

    def on_success(self, receiver: Receiver) -> Receiver:
        """Decorator: call ``receiver(payment, postlink)`` once when a payment is paid."""
        return self._connect(signals.payment_succeeded, receiver)

    def on_failure(self, receiver: Receiver) -> Receiver:
        """Decorator: call ``receiver(payment, postlink)`` once when a payment fails."""
        return self._connect(signals.payment_failed, receiver)

    def _connect(self, signal: Any, receiver: Receiver) -> Receiver:
        def relay(sender: Any, **kwargs: Any) -> None:
            # The signals are global: other code (a shop's tests, the pytest plugin) may send
            # them with any sender, and one extension object may serve some apps and not others.
            extensions = getattr(sender, "extensions", None)
            state = extensions.get("halyk") if isinstance(extensions, dict) else None
            if isinstance(state, HalykState) and state.extension is self:
                receiver(kwargs["payment"], kwargs.get("postlink"))

        relay.__name__ = getattr(receiver, "__name__", "relay")
        relay.__qualname__ = getattr(receiver, "__qualname__", "relay")
        # The relay holds the only reference to the receiver: a weak one would vanish at once.
        signal.connect(relay, weak=False)
        return receiver


def _running_low(app: Flask, capacity: InvoiceCapacity) -> None:
    """The ledger's capacity warning as the shop's signal."""
    signals.invoice_ids_running_low.send(app, capacity=capacity)


def _open_ledger(url: str, dispatch_lease: timedelta, suffix_scope: str) -> Ledger:
    """The ledger at ``url``; an unusable URL is a :class:`ConfigurationError`."""
    try:
        return Ledger(url, dispatch_lease=dispatch_lease, suffix_scope=suffix_scope)
    except ArgumentError as exc:
        # SQLAlchemy's text may quote the URL, password included: only its kind is shown.
        problem = f"SQLAlchemy cannot use it ({type(exc).__name__})"
    except ImportError as exc:
        problem = f"its database driver is not installed ({exc.name or exc})"
    raise ConfigurationError(
        "HALYK_DATABASE_URL",
        f"{problem}: give a SQLAlchemy URL such as sqlite:///halyk.sqlite3 or "
        "postgresql+psycopg://user@host/db (pip install 'flask-halyk[postgres]'), or leave it "
        "unset for SQLite in the instance folder.",
    )


def _default_database_url(app: Flask) -> str:
    os.makedirs(app.instance_path, exist_ok=True)
    return "sqlite:///" + os.path.join(app.instance_path, "halyk.sqlite3")


def _embed_sandbox(app: Flask, config: HalykConfig, clients: list[EpayClient]) -> Flask:
    """Mount the offline ePay inside ``app``: the browser reaches it under the sandbox prefix,
    the client in-process through the internal origin."""
    # importlib rather than an import statement: see SANDBOX_MODULE (tests/test_layout.py
    # forbids an import statement inside a function).
    module: Any = importlib.import_module(SANDBOX_MODULE)
    # Every merchant of the shop, so that they pay side by side offline; the cabinet login
    # (payment links) is the app's, the same for each.
    merchants = [module.Merchant(
        m.client_id, m.client_secret, m.terminal_id,
        name="Sandbox shop" if m is config.merchants[0] else f"Sandbox shop ({m.name})",
        cabinet_username=config.cabinet_username, cabinet_password=config.cabinet_password,
        shop_id=config.shop_id, two_stage=None if m is config.merchants[0] else m.two_stage)
        for m in config.merchants]
    sandbox: Flask = module.create_sandbox_app(
        merchants=merchants, two_stage=config.two_stage, local_app=app, admin_routes=False,
        # POST /_sandbox/pay alone, for `flask halyk send-postlink` (which knows the key).
        admin_key=sandbox_admin_key(config),
        # The shop's postLinks name these (never a request's Host): delivered in-process.
        local_origins=lambda: checkout.own_origins(config, app.config),
    )
    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, {config.sandbox_prefix: sandbox}
    )
    for client in clients:
        client.session.mount(SANDBOX_INTERNAL_ORIGIN, WSGIAdapter(sandbox))
    log.warning(
        "flask-halyk: ePay SANDBOX embedded at %s: no real payments are taken. "
        "Set HALYK_ENV='prod' with your credentials for real ones.",
        config.sandbox_prefix,
    )
    trusted = app.config.get("TRUSTED_HOSTS")
    internal = urlsplit(SHOP_INTERNAL_ORIGIN).hostname
    if trusted and internal not in trusted and \
            checkout.configured_origin(config, app.config) is None:
        # Its in-process postLinks carry that Host, which Flask would answer with 400.
        log.warning(
            "flask-halyk: TRUSTED_HOSTS does not name %s, where the embedded sandbox posts "
            "the shop's postLinks when HALYK_EXTERNAL_URL and SERVER_NAME are unset: set "
            "HALYK_EXTERNAL_URL (or add %s to TRUSTED_HOSTS).", internal, internal,
        )
    return sandbox


def _exempt_from_csrf(app: Flask, blueprint: Blueprint) -> None:
    """The bank cannot send a CSRF token: exempt the postLink blueprint from Flask-WTF's
    CSRFProtect, whether it was initialised before or after this extension."""
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(blueprint)
        return

    # CSRFProtect may come later; its before_request hook then runs after this one.
    @app.before_request
    def _halyk_csrf_exempt() -> None:
        late = app.extensions.get("csrf")
        if late is not None:
            late.exempt(blueprint)
