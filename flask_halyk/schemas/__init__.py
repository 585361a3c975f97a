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

Where each part lives: :mod:`.numbers` (integers and amounts as marshmallow reads them),
:mod:`.fields` (the reusable fields), :mod:`.outgoing` and :mod:`.incoming` (the schemas).
"""

from __future__ import annotations

from .fields import (
    ACCOUNT_ID_MAX,
    DATA_MAX_BYTES,
    DESCRIPTION_MAX_BYTES,
    EMAIL_MAX,
    LANGUAGE_ALIASES,
    NAME_MAX,
    PHONE_MAX,
)
from .incoming import (
    KNOWN_STATUS_NAMES,
    CardPaymentResponseSchema,
    FailurePostLinkSchema,
    OperationErrorSchema,
    PostLinkSchema,
    SavedCardSchema,
    StatusResponseSchema,
    TokenResponseSchema,
    TransactionSchema,
    is_success,
)
from .outgoing import (
    CardPaymentRequestSchema,
    PaymentObjectSchema,
    ServiceTokenRequestSchema,
    TokenRequestSchema,
    VerificationTokenRequestSchema,
    dump_for_js,
)

__all__ = [
    "ACCOUNT_ID_MAX",
    "DATA_MAX_BYTES",
    "DESCRIPTION_MAX_BYTES",
    "EMAIL_MAX",
    "KNOWN_STATUS_NAMES",
    "LANGUAGE_ALIASES",
    "NAME_MAX",
    "PHONE_MAX",
    "CardPaymentRequestSchema",
    "CardPaymentResponseSchema",
    "FailurePostLinkSchema",
    "OperationErrorSchema",
    "PaymentObjectSchema",
    "PostLinkSchema",
    "SavedCardSchema",
    "ServiceTokenRequestSchema",
    "StatusResponseSchema",
    "TokenRequestSchema",
    "TokenResponseSchema",
    "TransactionSchema",
    "VerificationTokenRequestSchema",
    "dump_for_js",
    "is_success",
]
