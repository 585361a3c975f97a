"""Decoding the payment object a page hands to ``/payform/``.

Two forms are accepted:

* ``params``: what the bank's own payment-api.js sends. The object is flattened into
  ``k=v&k2=v2`` (each value ``encodeURIComponent``-ed), then LZString
  ``compressToEncodedURIComponent``-ed. Nested objects (``auth``, or a ``data`` given as an
  object) are flattened the same way, at any depth; the bank does not publish how nested keys
  are spelled, so all common spellings are read: ``auth[access_token]`` and ``a[b][c]`` (the
  usual recursive serializer, our primary assumption, keys possibly percent-encoded),
  ``auth.access_token``, plain ``access_token`` at the top level, and ``auth`` holding the token
  object as a JSON string.
* ``object``: what the sandbox's own payment-api.js sends: base64url of the UTF-8 JSON object.

LZString is decoded by the sandbox's own :mod:`flask_halyk.sandbox.lzstring` (JavaScript's UTF-16
code units, so any text round-trips as the bank's script writes it), with the decompressed text
capped: the value comes from the browser.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import unquote

from .lzstring import decompress_from_encoded_uri_component

TOKEN_KEYS = ("access_token", "expires_in", "refresh_token", "scope", "token_type")
_HEAD = re.compile(r"[^\[\].]+")
_SEGMENT = re.compile(r"\[([^\]]*)\]|\.([^\[\].]+)")


class HandoverError(ValueError):
    """The hand-over parameter cannot be decoded."""


def decode_params(value: str) -> dict[str, Any]:
    """Decode the bank script's ``params`` value into the payment object (``auth`` a dict)."""
    try:
        flat = decompress_from_encoded_uri_component(value)
    except ValueError as exc:  # malformed, or more than the cap
        raise HandoverError("params is not LZString data") from exc
    if not flat or "=" not in flat:
        raise HandoverError("params is not LZString data")
    if not flat.isascii():
        try:  # a JavaScript string may hold a lone surrogate: no page could show it (UTF-8)
            flat.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise HandoverError("params is not text (a lone surrogate)") from exc
    return unflatten(flat)


def key_path(key: str) -> list[str] | None:
    """``a[b][c]`` or ``a.b.c`` (mixed too) as ``["a", "b", "c"]``; None for a plain key."""
    head = _HEAD.match(key)
    if head is None or head.end() == len(key):
        return None
    path, position = [head.group(0)], head.end()
    while position < len(key):
        segment = _SEGMENT.match(key, position)
        if segment is None:
            return None
        path.append(segment.group(1) if segment.group(1) is not None else segment.group(2))
        position = segment.end()
    return path


def _assign(root: dict[str, Any], path: list[str], value: str) -> bool:
    """Set ``value`` at ``path`` under ``root``, creating dicts; False if a text value is in the
    way (the caller then keeps the flat key, so nothing is lost)."""
    target = root
    for part in path[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            return False
    if isinstance(target.get(path[-1]), dict):
        return False
    target[path[-1]] = value
    return True


def unflatten(flat: str) -> dict[str, Any]:
    """Rebuild the object from ``k=v&...``, nested objects at any depth in any of the nested-key
    spellings; the token fields always end up in ``auth``."""
    result: dict[str, Any] = {}
    auth: dict[str, Any] = {}
    for pair in flat.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key, value = unquote(raw_key), unquote(raw_value)
        path = key_path(key)
        if path is not None:
            root, inner = (auth, path[1:]) if path[0] == "auth" else (result, path)
            if not _assign(root, inner, value):
                result[key] = value
        elif key in TOKEN_KEYS:
            auth.setdefault(key, value)
        elif key == "auth":
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = {"access_token": value}
            if isinstance(parsed, dict):
                auth.update(parsed)
        else:
            result[key] = value
    if auth:
        result["auth"] = auth
    return result


def decode_object(value: str) -> dict[str, Any]:
    """Decode the sandbox script's ``object`` value (base64url JSON)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as exc:
        raise HandoverError("object is not base64url JSON") from exc
    if not isinstance(data, dict):
        raise HandoverError("object is not a JSON object")
    if isinstance(data.get("auth"), str):
        data["auth"] = {"access_token": data["auth"]}
    return data
