"""A strict Content-Security-Policy with a fresh nonce per request.

Only scripts carrying the nonce run (the shop's own file, ePay's payment-api.js and the widget's
inline script): an injected ``<script>`` has no nonce and is blocked even if escaping failed.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g

from .extensions import halyk


def csp_nonce() -> str:
    """This request's nonce (made on first use)."""
    nonce: str | None = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def policy(nonce: str) -> str:
    """The policy for a page whose scripts carry ``nonce``."""
    directives: dict[str, list[str]] = {
        "default-src": ["'self'"],
        "script-src": [f"'nonce-{nonce}'"],
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
    return "; ".join(
        f"{name} {' '.join(dict.fromkeys(values))}" for name, values in directives.items()
    )


def init_app(app: Flask) -> None:
    """Send the policy with every response of ``app`` and offer ``csp_nonce()`` to templates."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _set_csp(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy(csp_nonce())
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response
