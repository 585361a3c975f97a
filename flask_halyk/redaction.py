"""What an error message or log line may say: URLs without credentials or query, text without the
client secret, and validation failures without the values that failed.

Every message the client builds goes through these, because ePay's answers and requests' own
exception texts can echo what was sent, client secret included.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

from marshmallow import ValidationError

__all__ = ["safe_url", "scrub", "validation_problem"]


def safe_url(url: str | None) -> str:
    """The URL without credentials, query or fragment, for messages and logs."""
    if not url:
        return "?"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def scrub(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``: as written, and as a
    form body or URL spells it (percent-encoded, ``+`` for spaces, hex digits in either case),
    since a server's error page may quote the request it refused."""
    if not secret:
        return text
    spellings = {secret, quote_plus(secret), quote(secret, safe=""), quote(secret)}
    # Longest first, so that a spelling containing another is replaced whole.
    pattern = "|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True))
    return re.sub(pattern, "***", text, flags=re.IGNORECASE)


def validation_problem(exc: ValidationError) -> str:
    """Which fields failed and why, without their values."""
    messages = exc.messages
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in messages.items())
    return _flatten(messages)


def _flatten(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return str(value)
