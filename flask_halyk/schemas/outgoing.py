"""The schemas of what we build and send: the payment-token and service-token request forms,
and the payment object handed to the bank's payment page, with its JSON-ready dump.

Strict: unknown keys are a programming error and raise :class:`marshmallow.ValidationError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from .fields import (
    ACCOUNT_ID_MAX,
    NAME_MAX,
    PHONE_MAX,
    Amount,
    BackLink,
    BoundedEmail,
    BoundedText,
    Currency,
    Description,
    HttpUrl,
    InvoiceId,
    JsonText,
    Language,
    NonEmptyText,
    StrictBool,
    unstorable_text,
)
from .incoming import TokenResponseSchema

# Anchored: marshmallow's Regexp validator only matches at the start of the string.
_PHONE = re.compile(r"\+?[0-9]{5,15}\Z")


class TokenResponseField(fields.Field[dict[str, Any]]):
    """The whole token response (``auth``), validated by :class:`TokenResponseSchema` and kept
    exactly as the bank sent it, unknown keys included: the payment page needs every key of it,
    and ``expires_in`` stays the text (``"7200"``) or number the bank wrote."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, Any]:
        _TOKEN_RESPONSE.load(value)  # raises ValidationError for what is no token response
        return dict(value)

    def _serialize(
        self, value: dict[str, Any] | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> Any:
        if value is None:
            return None
        dumped: dict[str, Any] = _TOKEN_RESPONSE.dump(value)
        return dumped


class OutgoingSchema(Schema):
    """What we build and send: unknown keys are a programming error. Text with a NUL or a lone
    surrogate is refused wherever it is: it could be neither stored nor sent
    (:func:`~.fields.text_problem`)."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _pre_load(self, data: Any, **kwargs: Any) -> Any:
        # One hook, because marshmallow runs several in name order, not definition order.
        if not isinstance(data, Mapping):
            return data  # marshmallow refuses it ("Invalid input type.")
        data = self.normalise(dict(data))
        problems = unstorable_text(data)
        if problems:
            raise ValidationError(problems)
        return data

    def normalise(self, data: dict[str, Any]) -> dict[str, Any]:
        """Rewrite the input (a fresh dict) before its fields load. Subclasses override."""
        return data


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
    backLink = BackLink(required=True)
    failureBackLink = BackLink()
    postLink = HttpUrl(required=True)
    failurePostLink = HttpUrl()
    language = Language(required=True)
    description = Description(required=True)
    accountId = BoundedText(max_length=ACCOUNT_ID_MAX)
    terminal = NonEmptyText(required=True)
    # 0 with cardSave: a card verification (EPAY-REFERENCE.md section 10).
    amount = Amount(required=True, zero_with="cardSave")
    name = BoundedText(max_length=NAME_MAX)
    currency = Currency(required=True)
    data = JsonText()
    auth = TokenResponseField(required=True)
    email = BoundedEmail()
    phone = BoundedText(max_length=PHONE_MAX,
                        validate=validate.Regexp(_PHONE, error="Digits only, optional +."))
    cardSave = StrictBool()
    recurrent = StrictBool()
    autoBackLink = StrictBool()

    def normalise(self, data: dict[str, Any]) -> dict[str, Any]:
        """``None`` values dropped (not given)."""
        return {k: v for k, v in data.items() if v is not None}


class CardIdSchema(OutgoingSchema):
    """``{"id": "<cardId>"}``: how the saved-card payment names its card."""

    id = NonEmptyText(required=True, validate=validate.Length(max=64))


class CardPaymentRequestSchema(OutgoingSchema):
    """The JSON body of ``POST /payments/cards/auth``: a payment with a saved card
    (``paymentType: "cardId"``), sent with the payment token of its invoice. The field set is
    the one integrations send (EPAY-REFERENCE.md section 11: the vendor page's body is not
    readable); ``None`` values are dropped."""

    amount = Amount(required=True)
    currency = Currency(required=True)
    name = BoundedText(max_length=NAME_MAX)
    terminalId = NonEmptyText(required=True)
    invoiceId = InvoiceId(required=True)
    invoiceIdAlt = InvoiceId()
    description = Description(required=True)
    accountId = BoundedText(required=True, max_length=ACCOUNT_ID_MAX)
    email = BoundedEmail()
    phone = BoundedText(max_length=PHONE_MAX)
    backLink = BackLink()
    failureBackLink = BackLink()
    postLink = HttpUrl()
    failurePostLink = HttpUrl()
    language = Language(required=True)
    paymentType = fields.String(required=True, validate=validate.Equal("cardId"))
    recurrent = StrictBool()
    cardId = fields.Nested(CardIdSchema, required=True)

    def normalise(self, data: dict[str, Any]) -> dict[str, Any]:
        """``None`` values dropped (not given)."""
        return {k: v for k, v in data.items() if v is not None}


class VerificationTokenRequestSchema(TokenRequestSchema):
    """The payment-token request of a card verification: amount 0 (EPAY-REFERENCE.md
    section 10.1)."""

    amount = Amount(required=True, for_form=True, allow_zero=True)


def dump_for_js(payment_object: Mapping[str, Any]) -> dict[str, Any]:
    """A loaded payment object as JSON-ready values for ``showPaymentWidget`` / ``pay``.

    Amount becomes an int or float (:func:`js_amount`), ``auth`` the whole token response with
    its unknown keys, ``data`` stays a JSON string, absent fields stay absent.
    """
    dumped: dict[str, Any] = _PAYMENT_OBJECT.dump(payment_object)
    return dumped


# Schemas are built once: building one costs more than a load, and load()/dump() keep no state
# on the instance, so threads may share them.
_TOKEN_RESPONSE = TokenResponseSchema()
_PAYMENT_OBJECT = PaymentObjectSchema()


__all__ = [
    "CardPaymentRequestSchema",
    "OutgoingSchema",
    "PaymentObjectSchema",
    "ServiceTokenRequestSchema",
    "TokenRequestSchema",
    "TokenResponseField",
    "VerificationTokenRequestSchema",
    "dump_for_js",
]
