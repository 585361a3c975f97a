"""What a shop's Content-Security-Policy must allow for ePay's script and payment page.

``HalykEpay.csp_sources()`` is the public entry point; this module works from a resolved
:class:`~flask_halyk.config.HalykConfig`, so it needs no app.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .config import HalykConfig

SELF = "'self'"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, as a CSP source (no path, no user info)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme.lower()}://{host}{port}"


def _source(url: str, config: HalykConfig) -> str:
    """The CSP source of a browser-facing ePay URL. The embedded sandbox's URLs are paths in
    the shop itself: ``'self'``, unless ``HALYK_EXTERNAL_URL`` makes the pages load them from
    that origin (as the macros do)."""
    if url.startswith("/"):
        return origin_of(config.external_url) if config.external_url else SELF
    return origin_of(url)


def csp_sources(config: HalykConfig) -> dict[str, list[str]]:
    """The sources each CSP directive needs for ePay: ``script-src`` (payment-api.js) and
    ``frame-src`` (the payment page in the widget's iframe).

    No ``connect-src``: the protocol knows of no request the script makes from the shop's page
    (``halyk.pay`` navigates, the widget frames). Fresh lists on every call: extend them freely.
    """
    return {
        "script-src": [_source(config.script_url, config)],
        "frame-src": [_source(config.payform_url, config)],
    }


__all__ = ["csp_sources", "origin_of"]
