"""What a shop's Content-Security-Policy must allow for ePay's script and payment page.

``HalykEpay.csp_sources()`` is the public entry point; this module works from a resolved
:class:`~flask_halyk.config.HalykConfig`, so it needs no app.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .config import HalykConfig

SELF = "'self'"
UNSAFE_INLINE = "'unsafe-inline'"

#: The bank's two test hosts of the payment page. The bank's script decides which one its
#: widget frames (its own ``halyk.Config()``), whatever ``HALYK_PAYFORM_URL`` says: the script on
#: test-epay.epayment.kz has been seen framing test-epay.homebank.kz (EPAY-REFERENCE.md 0.1).
TEST_PAYFORM_ORIGINS = ("https://test-epay.homebank.kz", "https://test-epay.epayment.kz")


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
    """The sources each CSP directive needs for ePay: ``script-src`` (payment-api.js),
    ``frame-src`` (the payment page in the widget's iframe) and ``style-src``.

    ``style-src`` is ``'unsafe-inline'``: the bank's script styles its overlay with a
    ``<style>`` element it creates itself, with no nonce, from text it may change at any time
    (two versions are in circulation), so neither a nonce nor a hash can allow it for good. It
    only works if the shop's ``style-src`` holds no nonce or hash (a browser then ignores
    ``'unsafe-inline'``). docs/configuration.md says why in full.

    With ``HALYK_ENV="test"`` ``frame-src`` names both test hosts of the payment page
    (:data:`TEST_PAYFORM_ORIGINS`), since the bank's script, not the configuration, picks the
    one it frames.

    No ``connect-src``: the protocol knows of no request the script makes from the shop's page
    (``halyk.pay`` navigates, the widget frames). Fresh lists on every call: extend them freely.
    """
    frames = [_source(config.payform_url, config)]
    if config.env == "test":
        frames += [origin for origin in TEST_PAYFORM_ORIGINS if origin not in frames]
    return {
        "script-src": [_source(config.script_url, config)],
        "frame-src": frames,
        "style-src": [UNSAFE_INLINE],
    }


__all__ = ["TEST_PAYFORM_ORIGINS", "UNSAFE_INLINE", "csp_sources", "origin_of"]
