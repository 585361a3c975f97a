"""The reusable marshmallow fields of ePay's wire: text, numbers, amounts, invoice ids,
languages, URLs, descriptions, JSON text, booleans and currencies.

Each raises :class:`marshmallow.ValidationError` on bad input and nothing else. Fields for what
the bank sends tolerate its loose typing (numbers as strings, ``""`` for "none"); fields for what
we send are strict.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from marshmallow import ValidationError, fields

from ..invoices import is_invoice_id
from ..money import format_amount, has_whole_tiyn, js_amount
from .numbers import INT_MAX, to_decimal, to_int

#: The cap on ``description`` in UTF-8 bytes. *Unsure*: integrations cap it at 125 bytes, the
#: vendor pages say nothing. Cyrillic letters take two bytes each, so ~62 Russian letters.
DESCRIPTION_MAX_BYTES = 125

# The bank publishes no limit for the payment object's free fields. These are ours: far above
# any real name, e-mail address or customer id, far below what would make a payment object
# (which travels in the payment page's URL) or a ledger row a burden.
#: ``name`` (the customer's): at most this many characters.
NAME_MAX = 255
#: ``email``: at most this many characters (the longest address SMTP can carry, RFC 5321).
EMAIL_MAX = 254
#: ``accountId`` (the shop's customer id): at most this many characters.
ACCOUNT_ID_MAX = 255
#: ``phone``: ``+`` and at most 15 digits (E.164).
PHONE_MAX = 16
#: ``data`` (JSON text): at most this many bytes in UTF-8.
DATA_MAX_BYTES = 4096

#: Every spelling of a language seen on the wire, mapped to the one we send.
LANGUAGE_ALIASES: dict[str, str] = {
    "rus": "rus", "ru": "rus",
    "kaz": "kaz", "kz": "kaz", "kk": "kaz",
    "eng": "eng", "en": "eng",
}

_CURRENCY = re.compile(r"[A-Z]{3}")


def _utf8_length(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # A lone surrogate (possible from json.loads) is not text the bank can take.
        raise ValidationError("Not valid Unicode text.") from None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored or sent as it is, or None: a NUL (PostgreSQL refuses it in
    text; no bank field holds one) or a lone surrogate (``json.loads`` makes one of
    ``"\\ud800"``; it has no UTF-8 form, so no database driver or HTTP body can carry it)."""
    if "\x00" in text:
        return "Must not contain NUL characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Not valid Unicode text (a lone surrogate)."
    return None


def unstorable_text(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Problems of the texts anywhere in ``data`` (keys and values, at any depth), by top-level
    key (``_schema`` for a key that is itself bad text)."""
    problems: dict[str, list[str]] = {}
    for key, value in data.items():
        key_problem = text_problem(key) if isinstance(key, str) else None
        if key_problem is not None:
            problems.setdefault("_schema", []).append(f"A key: {key_problem}")
            continue
        problem = _first_problem(value, depth=0)
        if problem is not None:
            problems[str(key)] = [problem]
    return problems


def _first_problem(value: Any, depth: int) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if depth > 32:  # deeper than any body the bank sends: not worth walking
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            problem = (text_problem(key) if isinstance(key, str) else None) or \
                _first_problem(item, depth + 1)
            if problem is not None:
                return problem
    elif isinstance(value, list | tuple):
        for item in value:
            problem = _first_problem(item, depth + 1)
            if problem is not None:
                return problem
    return None


class BoundedText(fields.String):
    """A string of at most ``max_length`` characters, checked before any other validator (a
    megabyte of text is refused at once, not run through a regular expression)."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self.max_length:
            raise ValidationError(f"At most {self.max_length} characters.")
        return text


class BoundedEmail(fields.Email):
    """An e-mail address of at most :data:`EMAIL_MAX` characters (checked before the address's
    form)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > EMAIL_MAX:
            raise ValidationError(f"At most {EMAIL_MAX} characters.")
        return text


class WireText(fields.String):
    """A string; incoming bodies sometimes carry codes and references as JSON numbers, so ints and
    finite floats are accepted and turned into their text (``157911`` -> ``"157911"``)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= INT_MAX:
            return str(value)
        if isinstance(value, float) and math.isfinite(value):
            return repr(value)
        return super()._deserialize(value, attr, data, **kwargs)


class NonEmptyText(fields.String):
    """A string with something in it besides whitespace."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise ValidationError("Must not be empty.")
        return text


class FlexibleInt(fields.Field[int]):
    """An int sent as a JSON number or a numeric string (``7200`` or ``"7200"``)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        return to_int(value)


class FlexibleDecimal(fields.Field[Decimal]):
    """An amount from the bank: a JSON number or numeric string, to :class:`Decimal`. Dumps as a
    plain numeric string so that nothing is lost to floats and a reload gives the same value."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        return to_decimal(value)

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else f"{value:f}"


class OptionalDecimal(fields.Field[Decimal | None]):
    """A number where the bank may also send ``""`` (geolocation): empty loads as ``None``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal | None:
        if isinstance(value, str) and not value.strip():
            return None
        return to_decimal(value)

    def _serialize(
        self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> Any:
        return None if value is None else f"{value:f}"


class OptionalInt(fields.Field[int | None]):
    """An int where the bank may also send ``""`` (no reason code yet): empty loads as ``None``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int | None:
        if isinstance(value, str) and not value.strip():
            return None
        return to_int(value)


class Amount(fields.Field[Decimal]):
    """An amount we send: positive, at most two decimals, up to
    :data:`~flask_halyk.money.AMOUNT_MAX`.

    ``for_form=True`` dumps the token request's form text (``"100"``, ``"12.50"``); otherwise it
    dumps the value the payment page gets (see :func:`js_amount`).
    """

    def __init__(self, *, for_form: bool = False, allow_zero: bool = False,
                 zero_with: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.for_form = for_form
        #: 0 is an amount (a card verification's token request).
        self.allow_zero = allow_zero
        #: 0 is an amount when this key of the same object is true (``cardSave``: a card
        #: verification saves the card, EPAY-REFERENCE.md section 10).
        self.zero_with = zero_with

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        amount = to_decimal(value)
        zero_ok = self.allow_zero or (self.zero_with is not None and data is not None
                                      and data.get(self.zero_with) is True)
        if amount < 0 or (amount == 0 and not zero_ok):
            raise ValidationError("Must be greater than 0.")
        if not has_whole_tiyn(amount):
            raise ValidationError("At most 2 decimal places.")
        return amount

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        amount = to_decimal(value)
        return format_amount(amount) if self.for_form else js_amount(amount)


class InvoiceId(fields.Field[str]):
    """Digits only, 6 to 15 long. Ints are accepted (the bank's JSON may send a number); leading
    zeros cannot survive an int, so we always send strings."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15:
            value = str(value)
        if not isinstance(value, str) or not is_invoice_id(value):
            raise ValidationError("Must be 6 to 15 digits.")
        return value


class OptionalInvoiceId(InvoiceId):
    """An :class:`InvoiceId` the bank may send empty (``invoiceIdAlt``): ``""`` is kept."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if value == "" and isinstance(value, str):
            return ""
        return super()._deserialize(value, attr, data, **kwargs)


class Language(fields.Field[str]):
    """``rus``/``kaz``/``eng`` and ``RU``/``RUS``/``KZ``/``KAZ``/``EN``/``ENG`` in any case, to the
    three-letter lower-case form. ``strict=False`` (incoming) keeps an unknown spelling, or an
    empty string, as sent: a cosmetic field must not make a payment notification unreadable."""

    def __init__(self, *, strict: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.strict = strict

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise ValidationError("Not a valid language.")
        known = LANGUAGE_ALIASES.get(value.strip().lower())
        if known is not None:
            return known
        if self.strict:
            raise ValidationError("Must be one of rus, kaz, eng.")
        return value


#: What no link may hold: whitespace (``\s`` matches what :meth:`str.isspace` does) and control
#: characters. One regular-expression search, not a Python call per character.
_URL_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


class HttpUrl(fields.String):
    """An absolute http(s) URL with a host. Checked with :func:`urllib.parse.urlsplit` rather than
    a TLD regex, so that ``http://localhost:5000/...`` and the sandbox's hosts pass."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        url = super()._deserialize(value, attr, data, **kwargs)
        if len(url) > 2048 or _URL_UNSAFE.search(url):
            raise ValidationError("Not a valid http(s) URL.")
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ValidationError("Not a valid http(s) URL.") from None
        if parts.scheme.lower() not in ("http", "https") or not host:
            raise ValidationError("Must be an absolute http(s) URL.")
        return url


#: Schemes a browser runs or renders in the page that follows the link: never a back link.
SCRIPT_SCHEMES = frozenset({"javascript", "data", "vbscript"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.+)", re.S)


class BackLink(HttpUrl):
    """Where the customer returns: an absolute http(s) URL, or an app's deep link
    (``myapp://orders/5``), as integrations hand the bank; never ``javascript:``, ``data:`` or
    ``vbscript:``. The bank's page takes these links as they come (PROTOCOL.md: only those three
    schemes are dangerous), so the shop's side refuses no more than that, and nothing that is not
    a URL at all."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = fields.String._deserialize(self, value, attr, data, **kwargs)
        match = _SCHEME.fullmatch(text)
        scheme = match.group(1).lower() if match else ""
        if scheme in ("http", "https") or not match:
            return super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 2048 or _URL_UNSAFE.search(text):
            raise ValidationError("Not a valid link.")
        if scheme in SCRIPT_SCHEMES:
            raise ValidationError("Must not be a javascript:, data: or vbscript: link.")
        return text


class Description(fields.String):
    """Order description: non-empty, at most :data:`DESCRIPTION_MAX_BYTES` bytes in UTF-8."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise ValidationError("Must not be empty.")
        if _utf8_length(text) > DESCRIPTION_MAX_BYTES:
            raise ValidationError(f"At most {DESCRIPTION_MAX_BYTES} bytes in UTF-8.")
        return text


class JsonText(fields.Field[str]):
    """``data``: a string that parses as strict JSON, or a dict/list we encode to one; at most
    :data:`DATA_MAX_BYTES` bytes of UTF-8, with no NUL and no lone surrogate (also none
    written as ``\\u0000`` or ``\\ud800``: the text the page receives must decode to text
    any database can keep)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        try:
            if isinstance(value, str):
                text = value
                if _utf8_length(text) > DATA_MAX_BYTES:
                    raise ValidationError(f"At most {DATA_MAX_BYTES} bytes in UTF-8.")
                decoded = json.loads(text, parse_constant=_reject_constant)
            elif isinstance(value, dict | list):
                decoded = value
                text = json.dumps(value, ensure_ascii=False, allow_nan=False)
                if _utf8_length(text) > DATA_MAX_BYTES:
                    raise ValidationError(f"At most {DATA_MAX_BYTES} bytes in UTF-8.")
            else:
                raise ValidationError("Must be a JSON string, an object or a list.")
        except (ValueError, TypeError, RecursionError):  # not marshmallow's: a bad JSON
            raise ValidationError("Not valid JSON.") from None
        problem = _first_problem(decoded, depth=0)
        if problem is not None:
            raise ValidationError(problem)
        return text


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are Python's JSON extensions; the bank's parser would refuse them.
    raise ValueError(name)


class StrictBool(fields.Field[bool]):
    """``true``/``false`` only: we build the payment object, so ``"yes"`` or ``1`` is a bug."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class Currency(fields.String):
    """Three upper-case letters (ISO 4217 alpha code)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _CURRENCY.fullmatch(text):
            raise ValidationError("Must be 3 upper-case letters, e.g. KZT.")
        return text


__all__ = [
    "ACCOUNT_ID_MAX",
    "DATA_MAX_BYTES",
    "DESCRIPTION_MAX_BYTES",
    "EMAIL_MAX",
    "LANGUAGE_ALIASES",
    "NAME_MAX",
    "PHONE_MAX",
    "SCRIPT_SCHEMES",
    "Amount",
    "BackLink",
    "BoundedEmail",
    "BoundedText",
    "Currency",
    "Description",
    "FlexibleDecimal",
    "FlexibleInt",
    "HttpUrl",
    "InvoiceId",
    "JsonText",
    "Language",
    "NonEmptyText",
    "OptionalDecimal",
    "OptionalInt",
    "OptionalInvoiceId",
    "StrictBool",
    "WireText",
    "text_problem",
    "unstorable_text",
]
