"""The hand-over of the payment object from the shop's page to ``/payform/``, exactly as the
bank's payment-api.js does it (PROTOCOL.md, "How the bank's script hands the object to the
payment page"):

``encode(v)`` is ``""`` for null/undefined, ``"" + v`` for anything that is not an object
(``true`` -> ``"true"``, ``1500`` -> ``"1500"``), and for an object the pairs
``name + "=" + encodeURIComponent(encode(value))`` joined with ``&``, in the object's key
order (names are not encoded; an empty name is skipped). A nested object is therefore ONE
value, its own ``k=v&...`` text URI-encoded once more::

    {invoiceId: "000001", auth: {access_token: "AB_C", expires_in: 7200}}
    -> invoiceId=000001&auth=access_token%3DAB_C%26expires_in%3D7200

That text is compressed with LZString ``compressToEncodedURIComponent`` (the sandbox's own
:mod:`flask_halyk.sandbox.lzstring`) and sent as ``?params=``.

Reading it back (:func:`decode_params`) splits on ``&`` and the first ``=`` of each pair and
URI-decodes each value; ``auth`` is read a second time the same way, as the bank's page does:
that is the token object. Which other values were objects the text cannot say (``{d: "a=b"}``
and ``{d: {a: "b"}}`` encode alike), so they stay the text the page received; :func:`read_pairs`
reads one level of such a value, at any depth. No other spelling of a nested key
(``auth[access_token]``, ``auth.access_token``, a top-level ``access_token``, ``auth`` as JSON)
is read: the bank's script never writes one, so a page that accepted them would let a shop pass
here and fail live.

The sandbox's script once handed the object over as ``?object=`` (base64url JSON). It is read
only when the sandbox's ``options.legacy_object_handover`` switch is on (docs/sandbox.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from ..money import js_amount
from .lzstring import compress_to_encoded_uri_component, decompress_from_encoded_uri_component

#: What ``encodeURIComponent`` leaves alone besides letters and digits.
_URI_COMPONENT_SAFE = "-_.!~*'()"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A canonical JavaScript array index ("0", "17", never "01"): such keys come first in a
# for...in loop, in ascending order, whatever order they were added in.
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


class HandoverError(ValueError):
    """The hand-over parameter cannot be decoded."""


# --- encoding: what the bank's script does in the browser ----------------------------------


def js_number_text(value: float | int) -> str:
    """``"" + value`` for a JavaScript number: ``1500``, ``12.5``, ``1e+21``, ``1.5e-7``."""
    if isinstance(value, int):
        if abs(value) < 10**21:
            return str(value)
        value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that read back as the same double, as JavaScript does.
    digits, exponent = _shortest(abs(value))
    point = exponent + len(digits)  # the decimal point sits after this many digits
    if len(digits) <= point <= 21:
        return sign + digits + "0" * (point - len(digits))
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    shown = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'+' if shown > 0 else '-'}{abs(shown)}"


def _shortest(value: float) -> tuple[str, int]:
    sign_digits_exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(str(d) for d in sign_digits_exponent.digits).rstrip("0") or "0"
    stripped = len("".join(str(d) for d in sign_digits_exponent.digits)) - len(digits)
    exponent = sign_digits_exponent.exponent
    assert isinstance(exponent, int)
    return digits, exponent + stripped


def _js_keys(value: Mapping[Any, Any]) -> list[Any]:
    """The keys in a JavaScript ``for...in`` order: array indices ascending, then the rest as
    inserted."""
    keys = list(value)
    indices = sorted((k for k in keys if isinstance(k, str) and _ARRAY_INDEX.fullmatch(k)
                      and int(k) < 2**32 - 1), key=int)
    return indices + [k for k in keys if k not in indices]


def encode_value(value: Any) -> str:
    """The bank script's ``encodeParams`` of one value (see the module's docstring).

    Python values stand for what the JavaScript object would hold: ``None`` is null, a bool
    ``true``/``false``, an int or float a number, a :class:`~decimal.Decimal` the number the
    page would get (:func:`flask_halyk.money.js_amount`), a mapping an object, a list or tuple
    an array (indices as names). Raises :class:`ValueError` for text ``encodeURIComponent``
    refuses (a lone surrogate: the JavaScript call throws)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return js_number_text(js_amount(value))
    if isinstance(value, int | float):
        return js_number_text(value)
    if isinstance(value, Mapping):
        items = [(str(key), value[key]) for key in _js_keys(value)]
    elif isinstance(value, list | tuple):
        items = [(str(index), item) for index, item in enumerate(value)]
    else:
        return str(value)
    return "&".join(name + "=" + encode_uri_component(encode_value(item))
                    for name, item in items if name)


def encode_uri_component(text: str) -> str:
    """JavaScript's ``encodeURIComponent``; ``ValueError`` for a lone surrogate."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("encodeURIComponent refuses a lone surrogate (URIError)") from exc
    return quote(raw, safe=_URI_COMPONENT_SAFE)


def encode_params(payment_object: Mapping[str, Any]) -> str:
    """The ``params`` value the bank's script puts in the page's URL for ``payment_object``."""
    return compress_to_encoded_uri_component(encode_value(payment_object))


# --- decoding: what the bank's page does -----------------------------------------------------


def decode_uri_component(text: str) -> str:
    """JavaScript's ``decodeURIComponent``: ``+`` stays ``+``; a malformed escape or bytes that
    are not UTF-8 raise :class:`HandoverError` (the JavaScript call throws)."""
    if "%" not in text:
        return text
    if _BAD_ESCAPE.search(text):
        raise HandoverError("params holds a malformed %-escape")
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HandoverError("params holds %-escapes that are not UTF-8") from exc


def read_pairs(text: str) -> dict[str, str]:
    """One level of the bank's encoding: ``k=v&k2=v2`` as ``{k: v, k2: v2}``, each value
    URI-decoded once. A value that was an object is that object's own text: read it with this
    function again."""
    result: dict[str, str] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if name:
            result[name] = decode_uri_component(value)
    return result


def decode_params(value: str) -> dict[str, Any]:
    """Decode the bank script's ``params`` value into the payment object, ``auth`` (the token
    object) read as the object it was; every other value as the text the page received."""
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
    result: dict[str, Any] = read_pairs(flat)
    if "auth" in result:
        result["auth"] = read_pairs(result["auth"])
    return result


def decode_object(value: str) -> dict[str, Any]:
    """Decode the sandbox script's old ``object`` value (base64url JSON); read only behind the
    ``legacy_object_handover`` switch."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as exc:
        raise HandoverError("object is not base64url JSON") from exc
    if not isinstance(data, dict):
        raise HandoverError("object is not a JSON object")
    return data


__all__ = [
    "HandoverError",
    "decode_object",
    "decode_params",
    "decode_uri_component",
    "encode_params",
    "encode_uri_component",
    "encode_value",
    "js_number_text",
    "read_pairs",
]
