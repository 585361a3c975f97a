"""Reading a postLink off the wire: the body within its size limit, the headers an event keeps,
the body parsed (JSON whatever the Content-Type said, else a form) and validated.

Nothing here decides whether a postLink is genuine (:mod:`.verification`) or what it changes.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from flask import request
from marshmallow import ValidationError

from ..schemas import PostLinkSchema

__all__ = ["loggable", "parse_body", "read_bounded", "stored_headers", "validate"]

log = logging.getLogger("flask_halyk.postlink")

_CHUNK = 16 * 1024
# Request headers that carry someone's credentials (a proxy's, a browser's): an event keeps
# that they came, never their value.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key",
                             "x-auth-token", "x-csrf-token", "x-csrftoken"})
# What an event keeps of the headers: plenty for an investigation, bounded for the database.
_HEADERS_KEPT = 32
_HEADER_NAME_MAX = 100
_HEADER_VALUE_MAX = 1000


def read_bounded(limit: int) -> bytes | None:
    """The request body, or None if it is longer than ``limit`` bytes. Never reads more than
    ``limit + 1`` bytes, whatever Content-Length says (or does not say)."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    # The app's MAX_CONTENT_LENGTH is for its own forms. Left in force here, a smaller one
    # would refuse a postLink with Flask's HTML 413 before it is recorded; the bank's body is
    # judged by HALYK_MAX_POSTLINK_BYTES alone (one byte more, to see it was exceeded).
    request.max_content_length = limit + 1
    stream = request.stream
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        return None
    return b"".join(parts)


def stored_headers(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The request headers as an event stores them: credentials replaced by ``[redacted]``,
    at most :data:`_HEADERS_KEPT` of them, each cut to a bounded length."""
    kept = []
    for name, value in itertools.islice(items, _HEADERS_KEPT):
        if name.strip().lower() in _SECRET_HEADERS:
            value = "[redacted]"
        kept.append((name[:_HEADER_NAME_MAX], value[:_HEADER_VALUE_MAX]))
    return kept


def loggable(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\x1b``, ``\\n``, ``\\x85``...):
    what a sender wrote must not start a new log line or drive the terminal reading it."""
    return "".join(
        c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) <= 0xFF else f"\\u{ord(c):04x}")
        for c in text
    )


def parse_body(body: bytes) -> dict[str, Any] | None:
    """A JSON object, whatever the Content-Type said; else a urlencoded form; else None."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    else:
        return data if isinstance(data, dict) else None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    if not pairs:
        return None
    form: dict[str, Any] = {}
    for key, value in pairs:
        form.setdefault(key, value)  # a repeated key keeps its first value
    return form


def validate(data: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """``(postlink, None)`` if ``data`` is a valid postLink, else ``(None, reason)``."""
    try:
        loaded = _POSTLINK_SCHEMA.load(data)
    except ValidationError as exc:
        messages: Any = exc.messages
        return None, "invalid postLink: " + json.dumps(messages, default=str)[:500]
    except Exception as exc:  # a schema must never turn a bad body into a 500
        log.exception("flask-halyk: PostLinkSchema raised on a body")
        return None, f"invalid postLink: {type(exc).__name__}"
    assert isinstance(loaded, dict)
    return loaded, None


# Built once: constructing a marshmallow schema costs more than loading a body with it, and
# load() keeps no state on the instance, so threads may share it.
_POSTLINK_SCHEMA = PostLinkSchema()
