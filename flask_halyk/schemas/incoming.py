"""The schemas of what the bank sends: the OAuth token answer, postLinks (success and failure),
the status answer and its transaction, and the refusal of an operation.

Tolerant of the bank's loose typing, and unknown keys are kept in ``load`` and in ``dump``: the
bank adds fields, and the widget must receive the token response exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    post_dump,
    pre_load,
    validate,
    validates_schema,
)

from .fields import (
    FlexibleDecimal,
    FlexibleInt,
    InvoiceId,
    Language,
    NonEmptyText,
    OptionalDecimal,
    OptionalInt,
    OptionalInvoiceId,
    WireText,
    unstorable_text,
)

#: The longest transaction id kept (the ledger's column; the bank's are 36-character UUIDs):
#: a longer one would be cut when stored, and refunds sent to the cut id.
TRANSACTION_ID_MAX = 64

#: Statuses the status API documents. Others are kept as sent (see :class:`TransactionSchema`).
KNOWN_STATUS_NAMES = frozenset(
    {"NEW", "AUTH", "CHARGE", "CANCEL", "CANCEL_OLD", "REFUND", "VERIFIED", "FAILED", "REJECT",
     "FINGERPRINT", "3D"}
)


class IncomingSchema(Schema):
    """What the bank sends: unknown keys kept on load and on dump; ``None`` tolerated. Text
    anywhere in it (unknown keys, nested values, keys) with a NUL or a lone surrogate is refused:
    no database can keep it and no bank sends it (:func:`~.fields.text_problem`)."""

    class Meta:
        unknown = INCLUDE

    @pre_load
    def _pre_load(self, data: Any, **kwargs: Any) -> Any:
        # One hook, because marshmallow runs several in name order, not definition order.
        if not isinstance(data, Mapping):
            raise ValidationError("Invalid input type.", "_schema")
        problems = unstorable_text(data)
        if problems:
            raise ValidationError(problems)
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


class TokenResponseSchema(IncomingSchema):
    """The OAuth token answer. ``expires_in`` may come as a number or a string (the bank's own
    SDK reads a string); it loads as ``int`` seconds. Unknown keys kept."""

    access_token = NonEmptyText(required=True)
    expires_in = FlexibleInt(required=True, validate=validate.Range(min=0))
    refresh_token = WireText(allow_none=True)
    scope = WireText(allow_none=True)
    token_type = WireText(allow_none=True)


# --- postLink ----------------------------------------------------------------------------------


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

    id = NonEmptyText(required=True, validate=validate.Length(
        max=TRANSACTION_ID_MAX, error=f"At most {TRANSACTION_ID_MAX} characters."))
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
            if "secret_hash" in data:
                given = data["secret_hash"]
                # Compared only as text: other values may not even compare (Decimal('sNaN')).
                if not (isinstance(given, str) and isinstance(alias, str) and given == alias):
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


# --- REST API ----------------------------------------------------------------------------------


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


class SavedCardSchema(IncomingSchema):
    """One entry of ``GET /cards/{accountId}``, in that endpoint's own PascalCase (the only one
    that spells so): ``ID`` is the cardId to pay with. Load the list with ``many=True``."""

    ID = NonEmptyText(required=True)
    TransactionId = WireText(allow_none=True)
    MerchantID = WireText(allow_none=True)
    CardHash = WireText(allow_none=True)
    CardMask = WireText(allow_none=True)
    PayerName = WireText(allow_none=True)
    Reference = WireText(allow_none=True)
    IntReference = WireText(allow_none=True)
    Token = WireText(allow_none=True)
    Terminal = WireText(allow_none=True)
    CreatedDate = WireText(allow_none=True)
    PaymentAvailable = fields.Boolean(allow_none=True)
    AccountID = WireText(allow_none=True)


class CardPaymentResponseSchema(IncomingSchema):
    """The answer of ``POST /payments/cards/auth`` (EPAY-REFERENCE.md section 11, from
    integrations' models): ``status`` (``AUTH``, ``CHARGE``, ``REJECT``...), ``code`` (0: done),
    ``secure3D`` null, or the 3-D Secure step (``paReq``, ``md``, ``termURL``, ``action``)."""

    id = WireText(allow_none=True)
    invoiceID = WireText(allow_none=True)
    status = WireText(allow_none=True)
    code = OptionalInt(allow_none=True)
    message = WireText(allow_none=True)
    cardID = WireText(allow_none=True)
    reference = WireText(allow_none=True)
    intReference = WireText(allow_none=True)
    secure3D = fields.Dict(allow_none=True)


class OperationErrorSchema(IncomingSchema):
    """The HTTP 400 answer of charge/cancel/refund: ``{"code": 100, "message": "..."}``."""

    code = FlexibleInt(required=True)
    message = WireText(load_default="", allow_none=True)


__all__ = [
    "KNOWN_STATUS_NAMES",
    "TRANSACTION_ID_MAX",
    "CardPaymentResponseSchema",
    "FailurePostLinkSchema",
    "IncomingSchema",
    "OperationErrorSchema",
    "PostLinkSchema",
    "SavedCardSchema",
    "StatusResponseSchema",
    "TokenResponseSchema",
    "TransactionSchema",
    "is_success",
]
