"""The application factory: ``flask --app examples.shop run``."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import csp, i18n
from . import fulfilment as _fulfilment  # noqa: F401  (connects the on_success receiver)
from .catalogs import compile_catalogs
from .extensions import babel, csrf, halyk
from .store import OrderStore
from .views import ask_staff_to_log_in, is_staff, is_viewer, shop

log = logging.getLogger("examples.shop")

#: Environment variables read for real use, besides every ``HALYK_*`` one.
_ENV_KEYS = ("SECRET_KEY", "SHOP_DATABASE", "SHOP_DEMO_HOSTILE_PRODUCT", "SHOP_ADMIN_PASSWORD",
             "SHOP_VIEWER_PASSWORD")


def _from_environment() -> dict[str, Any]:
    """``HALYK_*``, ``SECRET_KEY`` and ``SHOP_*`` settings from the environment, JSON-decoded
    when they parse as JSON (``HALYK_TIMEOUT='[5, 30]'``), else as strings."""
    found: dict[str, Any] = {}
    for key, raw in os.environ.items():
        if key.startswith("HALYK_") or key in _ENV_KEYS:
            try:
                found[key] = json.loads(raw)
            except ValueError:
                found[key] = raw
    return found


def _development_key(folder: str) -> str:
    """A random key kept in the instance folder, so a restart of the demo neither logs people
    out nor makes the bank's postLinks for earlier payments fail their secret_hash check (it is
    derived from SECRET_KEY). Real deployments set SECRET_KEY."""
    path = os.path.join(folder, "dev-secret-key")
    try:
        with open(path, encoding="ascii") as file:
            return file.read().strip()
    except FileNotFoundError:
        log.warning("SECRET_KEY is not set: using a random one kept in %s", path)
        key = secrets.token_hex(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(key)
        return key


#: The demo's second merchant, on the offline sandbox: a USD terminal beside the vendor's test
#: merchant (tenge). The embedded sandbox serves every merchant the shop names, so these
#: sandbox-only credentials pay offline; a live shop sets its own ``HALYK_MERCHANTS``.
SANDBOX_MERCHANTS: dict[str, dict[str, Any]] = {
    "usd": {
        "CLIENT_ID": "sandbox-usd",
        "CLIENT_SECRET": "sandbox-usd-secret-not-a-real-one",
        "TERMINAL_ID": "3f9c2b7e-5d1a-4e6b-8c2f-9a0b1c2d3e4f",
        "CURRENCY": "USD",
    },
}


def _sandbox_merchants(config: dict[str, Any]) -> None:
    """The demo on the embedded sandbox (no credentials, no ``HALYK_ENV`` or ``"sandbox"``,
    no ``HALYK_SANDBOX_URL``, no ``HALYK_MERCHANTS``) sells in dollars too, on
    :data:`SANDBOX_MERCHANTS`."""
    credentials = ("HALYK_CLIENT_ID", "HALYK_CLIENT_SECRET", "HALYK_TERMINAL_ID",
                   "HALYK_SANDBOX_URL")
    if config.get("HALYK_ENV") not in (None, "sandbox") or "HALYK_MERCHANTS" in config or \
            any(config.get(key) for key in credentials):
        return
    config["HALYK_ENV"] = "sandbox"
    config["HALYK_MERCHANTS"] = SANDBOX_MERCHANTS


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The shop. With no configuration at all it runs on flask-halyk's embedded ePay sandbox
    with a throw-away secret key; ``config`` (tests) wins over the environment."""
    app = Flask(__name__.rpartition(".")[0] or __name__)
    # FLASK_* variables, as Flask's own docs suggest (FLASK_SECRET_KEY...).
    app.config.from_prefixed_env()
    app.config.update(_from_environment())
    app.config.update(config or {})
    _sandbox_merchants(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _development_key(app.instance_path)
    app.config.setdefault("SHOP_DEMO_HOSTILE_PRODUCT", False)
    store_path = app.config.get("SHOP_DATABASE") or os.path.join(app.instance_path, "shop.sqlite3")
    app.extensions["shop_store"] = OrderStore(store_path)

    # The gettext catalogs, compiled from translations/*.po into the instance folder.
    app.config.setdefault("BABEL_DEFAULT_LOCALE", i18n.LOCALES[i18n.DEFAULT])
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(
        compile_catalogs(os.path.join(app.instance_path, "translations")))
    babel.init_app(app, locale_selector=lambda: i18n.LOCALES[i18n.language()])
    halyk.init_app(app)
    # After halyk (csp_sources() reads its settings), before CSRFProtect (every page, one
    # refused for its CSRF token too, gets a nonce).
    csp.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(shop)
    # The back office: flask-halyk's dashboard, behind the shop's own staff rule.
    halyk.init_dashboard(app, url_prefix="/admin", can_view=is_viewer, can_act=is_staff,
                         timezone=app.config.get("SHOP_TIMEZONE", i18n.TIMEZONE))
    app.register_error_handler(403, ask_staff_to_log_in)
    return app
