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

Where each part lives: :mod:`.numbers` (number and amount coercion), :mod:`.fields` (the
reusable fields), :mod:`.outgoing` and :mod:`.incoming` (the schemas). Import from here.
"""

from __future__ import annotations

# The fields and base schemas stay importable from here, as they were before the package split,
# without joining __all__ (the "as" form marks them re-exported for type checkers).
from .fields import DESCRIPTION_MAX_BYTES, LANGUAGE_ALIASES
from .fields import Amount as Amount
from .fields import Currency as Currency
from .fields import Description as Description
from .fields import FlexibleDecimal as FlexibleDecimal
from .fields import FlexibleInt as FlexibleInt
from .fields import HttpUrl as HttpUrl
from .fields import InvoiceId as InvoiceId
from .fields import JsonText as JsonText
from .fields import Language as Language
from .fields import NonEmptyText as NonEmptyText
from .fields import OptionalDecimal as OptionalDecimal
from .fields import OptionalInt as OptionalInt
from .fields import OptionalInvoiceId as OptionalInvoiceId
from .fields import StrictBool as StrictBool
from .fields import WireText as WireText
from .incoming import (
    KNOWN_STATUS_NAMES,
    FailurePostLinkSchema,
    OperationErrorSchema,
    PostLinkSchema,
    StatusResponseSchema,
    TokenResponseSchema,
    TransactionSchema,
    is_success,
)
from .incoming import IncomingSchema as IncomingSchema
from .numbers import AMOUNT_MAX, js_amount
from .outgoing import OutgoingSchema as OutgoingSchema
from .outgoing import (
    PaymentObjectSchema,
    ServiceTokenRequestSchema,
    TokenRequestSchema,
    dump_for_js,
)
from .outgoing import TokenResponseField as TokenResponseField

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
