"""``create_sandbox_app``: the offline ePay as a Flask app."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from . import admin, api, invoices, oauth, payform, qr, saved
from .instance import Sandbox
from .merchants import Merchant
from .options import Options


def create_sandbox_app(*, merchants: Iterable[Merchant] | None = None, two_stage: bool = False,
                       local_app: Flask | None = None,
                       local_origins: Callable[[], Iterable[str]] | None = None,
                       postlink_timeout: float = 10, admin_routes: bool = True,
                       options: Options | None = None, admin_key: str | None = None) -> Flask:
    """Build a sandbox speaking ePay's protocol on one origin (token, REST API, payment page).

    ``merchants`` default to the vendor's published test merchant; ``two_stage`` makes payments
    stop at AUTH until charged; ``local_app`` (embedded mode) receives postLinks in-process when
    their origin is one of ``local_origins()`` (default: the fixed
    :data:`~flask_halyk.config.SHOP_INTERNAL_ORIGIN`), never because of what a request said;
    ``postlink_timeout`` bounds each HTTP delivery.
    ``options`` are the behaviour switches where the bank's material is silent (a fresh
    :class:`Options` by default; ``two_stage=True`` sets its ``two_stage``).
    ``admin_routes`` serves ``/_sandbox/*`` (fault switches, deliveries with their secret_hash):
    the embedded sandbox leaves them out, since it is served by the shop to anyone who reaches it;
    its faults are switched through the :class:`Sandbox` object instead.
    ``admin_key``: serve ``POST /_sandbox/pay`` (``flask halyk send-postlink``) even without
    ``admin_routes``, to requests carrying this key in ``X-Halyk-Sandbox-Key``; with
    ``admin_routes`` and no key it is served to anyone, as the other admin routes.
    The :class:`Sandbox` is at ``app.extensions["halyk_sandbox"]``.
    """
    app = Flask(__name__, static_folder=None)
    sandbox = Sandbox(merchants, two_stage=two_stage, local_app=local_app,
                      local_origins=local_origins, postlink_timeout=postlink_timeout,
                      options=options, admin_key=admin_key)
    sandbox.app = app
    app.extensions["halyk_sandbox"] = sandbox
    for blueprint in (oauth.bp, api.bp, payform.bp, saved.bp, invoices.bp, qr.bp):
        app.register_blueprint(blueprint)
    # Vendor pages give the REST API with and without /api (testepay.homebank.kz/api,
    # epay-api.homebank.kz): both are served (EPAY-REFERENCE.md 0.1).
    app.register_blueprint(api.bp, url_prefix="/api", name="halyk_sandbox_api_prefixed")
    app.register_blueprint(saved.bp, url_prefix="/api", name="halyk_sandbox_saved_prefixed")
    app.register_blueprint(invoices.bp, url_prefix="/api",
                           name="halyk_sandbox_invoices_prefixed")
    app.register_blueprint(qr.bp, url_prefix="/api", name="halyk_sandbox_qr_prefixed")
    if admin_routes:
        app.register_blueprint(admin.bp)
    if admin_routes or admin_key is not None:
        app.register_blueprint(admin.pay_bp)
    app.register_error_handler(HTTPException, _json_error)
    return app


def _json_error(error: HTTPException) -> tuple[Response, int]:
    """An unknown path or method answers the bank's error shape, ``{"code", "message"}``, not
    an HTML page: clients decode it as they decode the operations' refusals."""
    status = error.code or 500
    message = f"{request.method} {request.path}: {error.name.lower()}"
    return jsonify({"code": 100, "message": message}), status
