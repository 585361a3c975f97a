"""What an error message or log line may say: URLs without credentials or query, text without
secrets, and validation failures without the values that failed.

Every message the client builds goes through these, because ePay's answers (and the error pages
of proxies and gateways on the way) and requests' own exception texts can echo what was sent:
the client secret, a URL's ``user:password@``, the ``Authorization`` header (Basic credentials,
the Bearer service token), the token URL's query, the ``secret_hash`` of a payment.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit, urlunsplit

from marshmallow import ValidationError

__all__ = ["SECRET_FIELDS", "request_secrets", "safe_url", "scrub", "validation_problem"]

#: Fields whose values are credentials wherever they are quoted (a form, JSON, a query).
SECRET_FIELDS = ("client_secret", "secret_hash", "secretHash", "access_token", "refresh_token",
                 "password", "authorization")

# A URL's user:password@ (or user@), whatever the URL.
_USERINFO = re.compile(r"(?<=://)[^\s/@?#\"'<>]+@")
# The credential of an Authorization header value, wherever it is quoted.
_AUTH_SCHEME = re.compile(r"\b(Basic|Bearer|Digest|Negotiate|Token)(\s+)[A-Za-z0-9._~+/=-]{4,}",
                          re.IGNORECASE)
# field=value, "field": "value", 'field': 'value' (also HTML-escaped quotes): the value.
_QUOTE = r"(?:[\"']|&quot;|&#34;|&#39;)?"
_FIELD_VALUE = re.compile(
    r"(\b(?:" + "|".join(SECRET_FIELDS) + r")\b" + _QUOTE + r"\s*[:=]\s*" + _QUOTE + r")"
    r"([^\"'&\s,;<>}]+)",
    re.IGNORECASE,
)
# Shorter values of a URL's query are not worth hiding (and would hide common words).
_MIN_QUERY_VALUE = 4


def safe_url(url: str | None) -> str:
    """The URL without credentials, query or fragment, for messages and logs."""
    if not url:
        return "?"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def scrub(text: str, *secrets: str) -> str:
    """``text`` with every credential it quotes replaced by ``***``, since a server's error page
    may quote the request it refused:

    - each of ``secrets`` as written, and as a form body or URL spells it (percent-encoded,
      ``+`` for spaces, hex digits in either case);
    - any URL's ``user:password@``;
    - the credential after ``Basic``, ``Bearer`` (and ``Digest``, ``Negotiate``, ``Token``);
    - the value of every :data:`SECRET_FIELDS` field, as a form, a query, JSON or a repr spell it.
    """
    spellings: set[str] = set()
    for secret in secrets:
        if secret:
            spellings |= {secret, quote_plus(secret), quote(secret, safe=""), quote(secret)}
    if spellings:
        # Longest first, so that a spelling containing another is replaced whole.
        pattern = "|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True))
        text = re.sub(pattern, "***", text, flags=re.IGNORECASE)
    text = _USERINFO.sub("***@", text)
    text = _AUTH_SCHEME.sub(r"\1\2***", text)
    return _FIELD_VALUE.sub(r"\1***", text)


def request_secrets(url: str, data: Mapping[str, str] | None = None,
                    headers: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The values of one request that an echo of it must not show: the URL's credentials (as
    written and as the Basic header requests makes of them), its query and the query's values,
    the :data:`SECRET_FIELDS` of the form, the ``Authorization`` header's value."""
    found: list[str] = []
    parts = urlsplit(url)
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        pair = f"{user}:{password}"
        found += [userinfo, unquote(userinfo), pair, password,
                  base64.b64encode(pair.encode()).decode("ascii")]
    if parts.query:
        found.append(parts.query)
        found += [value for _key, value in parse_qsl(parts.query, keep_blank_values=True)
                  if len(value) >= _MIN_QUERY_VALUE]
    secret_fields = {name.lower() for name in SECRET_FIELDS}
    for name, value in (data or {}).items():
        if name.lower() in secret_fields:
            found.append(str(value))
    for name, value in (headers or {}).items():
        if name.lower() in ("authorization", "proxy-authorization"):
            found += [value, value.partition(" ")[2].strip()]
    return tuple(dict.fromkeys(value for value in found if value))



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
