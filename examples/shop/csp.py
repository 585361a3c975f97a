"""A strict Content-Security-Policy with a fresh nonce per request, sent by Flask-Talisman.

Only scripts carrying the nonce run (the shop's own file, ePay's payment-api.js and the widget's
inline script): an injected ``<script>`` has no nonce and is blocked even if escaping failed.
The sources ePay needs come from ``halyk.csp_sources()``; Talisman adds the nonce to
``script-src`` and offers ``csp_nonce()`` to templates.
"""

from __future__ import annotations

from flask import Flask
from flask_talisman import DENY, Talisman

from .extensions import halyk


def policy() -> dict[str, list[str]]:
    """The policy of the current app's pages, without the nonce (Talisman adds it to
    ``script-src`` per request)."""
    directives: dict[str, list[str]] = {
        "default-src": ["'self'"],
        "script-src": [],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-src": [],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    # ePay's script and payment page ('self' for the embedded sandbox).
    sources = halyk.csp_sources()
    for directive, allowed in sources.items():
        directives.setdefault(directive, []).extend(allowed)
    # halyk.pay() takes the whole page to the payment page, which may post back to us.
    directives["form-action"].extend(sources["frame-src"])
    return {name: list(dict.fromkeys(values)) for name, values in directives.items()}


def init_app(app: Flask) -> Talisman:
    """Send the policy (and Talisman's other headers) with every response of ``app``. Call it
    after ``halyk.init_app(app)`` (the sources depend on its settings) and before
    ``csrf.init_app(app)`` (so that a page refused for its CSRF token has a nonce too)."""
    with app.app_context():
        content_security_policy = policy()
    https = str(app.config.get("HALYK_EXTERNAL_URL") or "").startswith("https://")
    talisman = Talisman(
        app,
        content_security_policy=content_security_policy,
        content_security_policy_nonce_in=["script-src"],
        # TLS ends at the proxy in front of the shop, which also redirects http to https;
        # the demo runs on plain http. The session cookie is Secure once the shop is public.
        force_https=False,
        session_cookie_secure=https,
        frame_options=DENY,
        referrer_policy="same-origin",
    )
    app.extensions["talisman"] = talisman
    return talisman
