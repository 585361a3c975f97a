"""Marshmallow schemas of everything on ePay's wire.

``Schema().load(data)`` returns a dict keyed as the wire spells it (``invoiceId`` in postLinks,
``invoiceID`` in status answers), with values coerced: amounts :class:`~decimal.Decimal`,
``expires_in`` / ``reasonCode`` / ``resultCode`` ``int``, language ``rus``/``kaz``/``eng``.
Invalid input raises :class:`marshmallow.ValidationError` and nothing else, whatever the input.

Outgoing schemas (what we build: :class:`TokenRequestSchema`, :class:`ServiceTokenRequestSchema`,
:class:`PaymentObjectSchema`) are strict and reject unknown keys. Incoming schemas (what the bank
sends: :class:`TokenResponseSchema`, :class:`PostLinkSchema`, :class:`StatusResponseSchema`,
:class:`OperationErrorSchema`) are tolerant of the bank's loose typing and keep unknown keys, in
``load`` and in ``dump``: the bank adds fields, and the widget must receive the token response
exactly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from marshmallow import (
    INCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_dump,
    pre_load,
    validate,
    validates_schema,
)

#: The cap on ``description`` in UTF-8 bytes. *Unsure*: integrations cap it at 125 bytes, the
#: vendor pages say nothing. Cyrillic letters take two bytes each, so ~62 Russian letters.
DESCRIPTION_MAX_BYTES = 125

#: The largest amount any schema accepts. Not a bank limit: a bound that keeps Decimal
#: arithmetic exact (2 decimals within 28 significant digits) and floats exact for the page.
AMOUNT_MAX = Decimal("9999999999999.99")

#: Statuses the status API documents. Others are kept as sent (see :class:`TransactionSchema`).
KNOWN_STATUS_NAMES = frozenset(
    {"NEW", "AUTH", "CHARGE", "CANCEL", "CANCEL_OLD", "REFUND", "VERIFIED", "FAILED", "REJECT",
     "FINGERPRINT", "3D"}
)

#: Every spelling of a language seen on the wire, mapped to the one we send.
LANGUAGE_ALIASES: dict[str, str] = {
    "rus": "rus", "ru": "rus",
    "kaz": "kaz", "kz": "kaz", "kk": "kaz",
    "eng": "eng", "en": "eng",
}

_INVOICE_ID = re.compile(r"[0-9]{6,15}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Anchored: marshmallow's Regexp validator only matches at the start of the string.
_PHONE = re.compile(r"\+?[0-9]{5,15}\Z")
_CENT = Decimal("0.01")
# Bounds on what a number may spell out. Numbers dump as plain digits ("0.000...5"), and the
# tiniest float (5e-324) takes 326 characters that way: within these bounds, whatever loads also
# reloads from its own dump, and no input can make a dump of unbounded length.
_DECIMAL_PLACES_MAX = 400
_NUMBER_MAX_CHARS = 440
_INT_MAX = 10**18


# --- coercion shared by the fields -------------------------------------------------------------


def _to_decimal(value: Any) -> Decimal:
    """A finite Decimal from an int, float, Decimal or plain numeric string (no exponent, no
    NaN/Infinity, no underscores), within +/- :data:`AMOUNT_MAX`."""
    if isinstance(value, bool):
        raise ValidationError("Not a valid number.")
    try:
        if isinstance(value, int):
            if abs(value) > AMOUNT_MAX:
                raise ValidationError("Number out of range.")
            result = Decimal(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValidationError("Not a finite number.")
            # repr, not the binary value: 12.1 means 12.10, not 12.0999999...
            result = Decimal(repr(value))
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise ValidationError("Not a finite number.")
            result = value
        elif isinstance(value, str):
            text = value.strip()
            if len(text) > _NUMBER_MAX_CHARS or not _NUMBER.fullmatch(text):
                raise ValidationError("Not a valid number.")
            result = Decimal(text)
        else:
            raise ValidationError("Not a valid number.")
    except (InvalidOperation, ValueError, OverflowError) as exc:
        raise ValidationError("Not a valid number.") from exc
    if abs(result) > AMOUNT_MAX:
        raise ValidationError("Number out of range.")
    exponent = result.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_DECIMAL_PLACES_MAX:
        raise ValidationError("Too many decimal places.")
    return result


def _to_int(value: Any) -> int:
    """An int from an int, an integral float or a numeric string, within +/- 10**18."""
    if isinstance(value, bool):
        raise ValidationError("Not a valid integer.")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValidationError("Not a valid integer.")
        result = int(value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        result = int(value.strip())
    else:
        raise ValidationError("Not a valid integer.")
    if abs(result) > _INT_MAX:
        raise ValidationError("Integer out of range.")
    return result


def _decimal_places_ok(value: Decimal) -> bool:
    return value == value.quantize(_CENT)


def _format_amount(value: Decimal) -> str:
    """``"100"`` when whole, else two decimals (``"12.50"``): the form the bank's examples use."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.quantize(_CENT):f}"


def _utf8_length(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # A lone surrogate (possible from json.loads) is not text the bank can take.
        raise ValidationError("Not valid Unicode text.") from None


# --- fields ------------------------------------------------------------------------------------


class WireText(fields.String):
    """A string; incoming bodies sometimes carry codes and references as JSON numbers, so ints and
    finite floats are accepted and turned into their text (``157911`` -> ``"157911"``)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _INT_MAX:
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
        return _to_int(value)


class FlexibleDecimal(fields.Field[Decimal]):
    """An amount from the bank: a JSON number or numeric string, to :class:`Decimal`. Dumps as a
    plain numeric string so that nothing is lost to floats and a reload gives the same value."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        return _to_decimal(value)

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else f"{value:f}"


class OptionalDecimal(fields.Field[Decimal | None]):
    """A number where the bank may also send ``""`` (geolocation): empty loads as ``None``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal | None:
        if isinstance(value, str) and not value.strip():
            return None
        return _to_decimal(value)

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
        return _to_int(value)


class Amount(fields.Field[Decimal]):
    """An amount we send: positive, at most two decimals, up to :data:`AMOUNT_MAX`.

    ``for_form=True`` dumps the token request's form text (``"100"``, ``"12.50"``); otherwise it
    dumps the value the payment page gets (see :func:`js_amount`).
    """

    def __init__(self, *, for_form: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.for_form = for_form

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        amount = _to_decimal(value)
        if amount <= 0:
            raise ValidationError("Must be greater than 0.")
        if not _decimal_places_ok(amount):
            raise ValidationError("At most 2 decimal places.")
        return amount

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        amount = _to_decimal(value)
        return _format_amount(amount) if self.for_form else js_amount(amount)


class InvoiceId(fields.Field[str]):
    """Digits only, 6 to 15 long. Ints are accepted (the bank's JSON may send a number); leading
    zeros cannot survive an int, so we always send strings."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15:
            value = str(value)
        if not isinstance(value, str) or not _INVOICE_ID.fullmatch(value):
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


class HttpUrl(fields.String):
    """An absolute http(s) URL with a host. Checked with :func:`urllib.parse.urlsplit` rather than
    a TLD regex, so that ``http://localhost:5000/...`` and the sandbox's hosts pass."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        url = super()._deserialize(value, attr, data, **kwargs)
        if len(url) > 2048 or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
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
    """``data``: a string that parses as strict JSON, or a dict/list we encode to one."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        try:
            if isinstance(value, str):
                _utf8_length(value)
                json.loads(value, parse_constant=_reject_constant)
                return value
            if isinstance(value, dict | list):
                return json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (ValueError, TypeError, RecursionError):
            raise ValidationError("Not valid JSON.") from None
        raise ValidationError("Must be a JSON string, an object or a list.")


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


class TokenResponseField(fields.Field[dict[str, Any]]):
    """The whole token response (``auth``), validated by :class:`TokenResponseSchema` and dumped
    as the full dict, unknown keys included: the payment page needs every key of it."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, Any]:
        loaded: dict[str, Any] = TokenResponseSchema().load(value)
        return loaded

    def _serialize(
        self, value: dict[str, Any] | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> Any:
        if value is None:
            return None
        dumped: dict[str, Any] = TokenResponseSchema().dump(value)
        return dumped


# --- base classes ------------------------------------------------------------------------------


class OutgoingSchema(Schema):
    """What we build and send: unknown keys are a programming error."""

    class Meta:
        unknown = RAISE


class IncomingSchema(Schema):
    """What the bank sends: unknown keys kept on load and on dump; ``None`` tolerated."""

    class Meta:
        unknown = INCLUDE

    @pre_load
    def _pre_load(self, data: Any, **kwargs: Any) -> Any:
        # One hook, because marshmallow runs several in name order, not definition order.
        if not isinstance(data, Mapping):
            raise ValidationError("Invalid input type.", "_schema")
        return self.normalise(dict(data))

    def normalise(self, data: dict[str, Any]) -> dict[str, Any]:
        """Rewrite a raw body (a fresh dict) before its fields load. Subclasses override."""
        return data

    @post_dump(pass_original=True)
    def _keep_unknown(self, dumped: dict[str, Any], original: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(original, Mapping):
            for key, value in original.items():
                if key not in self.fields and key not in dumped:
                    dumped[key] = value
        return dumped


# --- outgoing ----------------------------------------------------------------------------------


class ServiceTokenRequestSchema(OutgoingSchema):
    """The form of a service-token request (status, charge, cancel, refund).

    ``terminal`` is optional: the status API answers resultCode 104 "terminal absent in token",
    so a shop whose account has several terminals may need to name one.
    ``dump`` gives the form dict the client posts.
    """

    grant_type = fields.String(required=True, validate=validate.Equal("client_credentials"))
    scope = NonEmptyText(required=True)
    client_id = NonEmptyText(required=True)
    client_secret = NonEmptyText(required=True)
    terminal = NonEmptyText()


class TokenRequestSchema(ServiceTokenRequestSchema):
    """The form of a payment-token request: one token per invoice.

    Sends ``currency``, never the widget page's ``curency`` typo. ``dump`` gives the form dict,
    every value a string, amount ``"100"`` when whole else ``"12.50"``.
    """

    invoiceID = InvoiceId(required=True)
    secret_hash = NonEmptyText(required=True)
    amount = Amount(required=True, for_form=True)
    currency = Currency(required=True)
    terminal = NonEmptyText(required=True)
    postLink = HttpUrl()
    failurePostLink = HttpUrl()


class PaymentObjectSchema(OutgoingSchema):
    """The object handed to ``halyk.showPaymentWidget`` / ``halyk.pay``.

    ``None`` values are dropped before validation, so a caller can pass ``email=None`` for
    "not given"; a required field given as ``None`` is reported missing. ``dump`` (or
    :func:`dump_for_js`) gives JSON-ready values.
    """

    invoiceId = InvoiceId(required=True)
    invoiceIdAlt = InvoiceId()
    backLink = HttpUrl(required=True)
    failureBackLink = HttpUrl()
    postLink = HttpUrl(required=True)
    failurePostLink = HttpUrl()
    language = Language(required=True)
    description = Description(required=True)
    accountId = fields.String()
    terminal = NonEmptyText(required=True)
    amount = Amount(required=True)
    name = fields.String()
    currency = Currency(required=True)
    data = JsonText()
    auth = TokenResponseField(required=True)
    email = fields.Email()
    phone = fields.String(validate=validate.Regexp(_PHONE, error="Digits only, optional +."))
    cardSave = StrictBool()
    recurrent = StrictBool()
    autoBackLink = StrictBool()

    @pre_load
    def _drop_none(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if v is not None}
        return data


def js_amount(amount: Decimal) -> int | float:
    """The amount as the payment page gets it: an ``int`` when whole (the bank's examples all send
    integer tenge), else a ``float``. A float, not a string, because the page receives a number
    in every vendor example; two-decimal amounts up to :data:`AMOUNT_MAX` have at most 15
    significant digits, so the float's shortest repr is exactly the decimal (``12.5``, ``0.1``)."""
    if amount == amount.to_integral_value():
        return int(amount)
    return float(amount)


def dump_for_js(payment_object: Mapping[str, Any]) -> dict[str, Any]:
    """A loaded payment object as JSON-ready values for ``showPaymentWidget`` / ``pay``.

    Amount becomes an int or float (:func:`js_amount`), ``auth`` the whole token response with
    its unknown keys, ``data`` stays a JSON string, absent fields stay absent.
    """
    dumped: dict[str, Any] = PaymentObjectSchema().dump(payment_object)
    return dumped


# --- incoming: token ---------------------------------------------------------------------------


class TokenResponseSchema(IncomingSchema):
    """The OAuth token answer. ``expires_in`` may come as a number or a string (the bank's own
    SDK reads a string); it loads as ``int`` seconds. Unknown keys kept."""

    access_token = NonEmptyText(required=True)
    expires_in = FlexibleInt(required=True, validate=validate.Range(min=0))
    refresh_token = WireText(allow_none=True)
    scope = WireText(allow_none=True)
    token_type = WireText(allow_none=True)


# --- incoming: postLink ------------------------------------------------------------------------


class PostLinkSchema(IncomingSchema):
    """A postLink body, success (``code: "ok"``) and failure (``code: "error"``) alike.

    Required: ``id``, ``invoiceId``, ``amount``, ``currency``, ``terminal``, ``code`` and
    ``reasonCode``. ``reasonCode`` is required rather than defaulted from ``code``: the bank
    always sends it, success needs both ``code == "ok"`` and ``reasonCode == 0``
    (:func:`is_success`), and a body without it is not one the bank sends (the ledger keeps the
    raw body, so it can be reprocessed if that ever proves wrong). ``code`` is lower-cased and
    must be ``ok`` or ``error``: an unknown outcome is not guessed at.

    ``secretHash`` is read as ``secret_hash`` (two different values are refused). Optional
    fields accept ``""`` and ``null``; unknown keys are kept.
    """

    id = NonEmptyText(required=True)
    invoiceId = InvoiceId(required=True)
    invoiceIdAlt = OptionalInvoiceId(allow_none=True)
    amount = FlexibleDecimal(required=True, validate=validate.Range(min=0))
    currency = NonEmptyText(required=True)
    terminal = NonEmptyText(required=True)
    code = fields.String(required=True)
    reason = WireText(allow_none=True)
    reasonCode = FlexibleInt(required=True)
    secret_hash = WireText(allow_none=True)

    accountId = WireText(allow_none=True)
    approvalCode = WireText(allow_none=True)
    cardId = WireText(allow_none=True)
    cardMask = WireText(allow_none=True)
    cardType = WireText(allow_none=True)
    dateTime = WireText(allow_none=True)
    description = WireText(allow_none=True)
    email = WireText(allow_none=True)
    ip = WireText(allow_none=True)
    ipCity = WireText(allow_none=True)
    ipCountry = WireText(allow_none=True)
    ipDistrict = WireText(allow_none=True)
    ipRegion = WireText(allow_none=True)
    ipLatitude = OptionalDecimal(allow_none=True)
    ipLongitude = OptionalDecimal(allow_none=True)
    issuer = WireText(allow_none=True)
    language = Language(strict=False, allow_none=True)
    name = WireText(allow_none=True)
    phone = WireText(allow_none=True)
    reference = WireText(allow_none=True)
    secure = WireText(allow_none=True)
    secureDetails = WireText(allow_none=True)
    tokenRecipient = WireText(allow_none=True)

    def normalise(self, data: dict[str, Any]) -> dict[str, Any]:
        """``secretHash`` -> ``secret_hash``; ``code`` stripped and lower-cased."""
        if "secretHash" in data:
            alias = data.pop("secretHash")
            if "secret_hash" in data and data["secret_hash"] != alias:
                raise ValidationError("secret_hash and secretHash differ.", "secret_hash")
            data["secret_hash"] = alias
        code = data.get("code")
        if isinstance(code, str):
            data["code"] = code.strip().lower()
        return data

    @validates_schema
    def _check_code(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data.get("code") not in ("ok", "error"):
            raise ValidationError("Must be 'ok' or 'error'.", "code")


#: The failure postLink has the same shape; one schema reads both.
FailurePostLinkSchema = PostLinkSchema


def is_success(postlink: Mapping[str, Any]) -> bool:
    """Whether a loaded postLink reports a paid order: ``code == "ok"`` and ``reasonCode == 0``.
    Any non-zero reasonCode (negative ones too, e.g. -498) is a failure, whatever ``code`` says."""
    return postlink.get("code") == "ok" and postlink.get("reasonCode") == 0


# --- incoming: REST API ------------------------------------------------------------------------


class TransactionSchema(IncomingSchema):
    """``transaction`` of a status answer, in the API's own spellings (``invoiceID``,
    ``accountID``, ``cardID``, ``terminalID``). Every field optional except ``id`` when the
    answer is a success (checked by :class:`StatusResponseSchema`).

    ``statusName`` is kept as sent, upper-cased, even when not in :data:`KNOWN_STATUS_NAMES`:
    the bank may add statuses, and refusing the whole answer would hide the payment; the result
    layer decides what an unknown status means (nothing is "paid" unless it is CHARGE or AUTH).
    """

    id = WireText(allow_none=True)
    createdDate = WireText(allow_none=True)
    invoiceID = WireText(allow_none=True)
    invoiceIdAlt = WireText(allow_none=True)
    amount = FlexibleDecimal(allow_none=True)
    amountBonus = FlexibleDecimal(allow_none=True)
    payoutAmount = FlexibleDecimal(allow_none=True)
    orgAmount = FlexibleDecimal(allow_none=True)
    approvalCode = WireText(allow_none=True)
    data = fields.Raw(allow_none=True)
    currency = WireText(allow_none=True)
    terminal = WireText(allow_none=True)
    terminalID = WireText(allow_none=True)
    accountID = WireText(allow_none=True)
    description = WireText(allow_none=True)
    language = Language(strict=False, allow_none=True)
    cardMask = WireText(allow_none=True)
    cardType = WireText(allow_none=True)
    issuer = WireText(allow_none=True)
    reference = WireText(allow_none=True)
    reason = WireText(allow_none=True)
    reasonCode = OptionalInt(allow_none=True)
    intReference = WireText(allow_none=True)
    secure = fields.Raw(allow_none=True)
    secureDetails = WireText(allow_none=True)
    statusID = WireText(allow_none=True)
    statusName = WireText(allow_none=True)
    name = WireText(allow_none=True)
    email = WireText(allow_none=True)
    phone = WireText(allow_none=True)
    cardID = WireText(allow_none=True)
    xlsRRN = WireText(allow_none=True)
    ip = WireText(allow_none=True)
    ipCity = WireText(allow_none=True)
    ipCountry = WireText(allow_none=True)
    ipDistrict = WireText(allow_none=True)
    ipRegion = WireText(allow_none=True)
    ipLatitude = OptionalDecimal(allow_none=True)
    ipLongitude = OptionalDecimal(allow_none=True)

    def normalise(self, data: dict[str, Any]) -> dict[str, Any]:
        """``statusName`` stripped and upper-cased."""
        status = data.get("statusName")
        if isinstance(status, str):
            data["statusName"] = status.strip().upper()
        return data


class StatusResponseSchema(IncomingSchema):
    """``GET /check-status/payment/transaction/{invoiceId}``: ``{resultCode, resultMessage,
    transaction}``. ``resultCode`` is an int (number or numeric string); ``transaction`` may be
    absent or ``null`` (not found, in progress), but a success (resultCode 100) must carry one
    with an ``id`` and a ``statusName``."""

    resultCode = FlexibleInt(required=True)
    resultMessage = WireText(allow_none=True)
    transaction = fields.Nested(TransactionSchema, allow_none=True)

    @validates_schema
    def _success_has_transaction(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data.get("resultCode") != 100:
            return
        transaction = data.get("transaction")
        if not transaction:
            raise ValidationError("resultCode 100 without a transaction.", "transaction")
        for key in ("id", "statusName"):
            if not transaction.get(key):
                raise ValidationError(f"resultCode 100 without transaction.{key}.", "transaction")


class OperationErrorSchema(IncomingSchema):
    """The HTTP 400 answer of charge/cancel/refund: ``{"code": 100, "message": "..."}``."""

    code = FlexibleInt(required=True)
    message = WireText(load_default="", allow_none=True)


__all__ = [
    "AMOUNT_MAX",
    "DESCRIPTION_MAX_BYTES",
    "KNOWN_STATUS_NAMES",
    "LANGUAGE_ALIASES",
    "FailurePostLinkSchema",
    "OperationErrorSchema",
    "PaymentObjectSchema",
    "PostLinkSchema",
    "ServiceTokenRequestSchema",
    "StatusResponseSchema",
    "TokenRequestSchema",
    "TokenResponseSchema",
    "TransactionSchema",
    "dump_for_js",
    "is_success",
    "js_amount",
]
