"""flask-halyk: Halyk Bank ePay card payments for Flask.

``HalykEpay(app)`` and the names below are the public API; everything else may change.
"""

from __future__ import annotations

from .checkout import Payment
from .epay import (
    EpayClient,
    OperationResult,
    PaymentLink,
    PaymentToken,
    ResultCode,
    StatusName,
    StatusResult,
    Transaction,
)
from .errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EpayConnectionError,
    EpayTimeout,
    EpayUnavailable,
    ExtensionSetupError,
    HalykError,
    InvalidArgument,
    InvalidPayment,
    InvalidResponse,
    InvoiceIdError,
    InvoiceIdExhausted,
    InvoiceIdInUse,
    LedgerUnavailable,
    OperationNotRecorded,
    PaymentNotFound,
    PaymentStateError,
    TransportError,
)
from .extension import HalykEpay
from .forms import CheckoutForm, CheckoutFormMixin, CustomerFieldsMixin
from .ledger import Ledger, PaymentRecord, PaymentStatus
from .links import PaymentLinkResult
from .qr import QrPayment, QrPaymentStatus
from .signals import (
    payment_cancelled,
    payment_charged,
    payment_expired,
    payment_failed,
    payment_refunded,
    payment_succeeded,
    postlink_rejected,
)

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AuthenticationError",
    "CheckoutForm",
    "CheckoutFormMixin",
    "ConfigurationError",
    "CustomerFieldsMixin",
    "EpayClient",
    "EpayConnectionError",
    "EpayTimeout",
    "EpayUnavailable",
    "ExtensionSetupError",
    "HalykEpay",
    "HalykError",
    "InvalidArgument",
    "InvalidPayment",
    "InvalidResponse",
    "InvoiceIdError",
    "InvoiceIdExhausted",
    "InvoiceIdInUse",
    "Ledger",
    "LedgerUnavailable",
    "OperationNotRecorded",
    "OperationResult",
    "Payment",
    "PaymentLink",
    "PaymentLinkResult",
    "PaymentNotFound",
    "PaymentRecord",
    "PaymentStateError",
    "PaymentStatus",
    "PaymentToken",
    "QrPayment",
    "QrPaymentStatus",
    "ResultCode",
    "StatusName",
    "StatusResult",
    "Transaction",
    "TransportError",
    "payment_cancelled",
    "payment_charged",
    "payment_expired",
    "payment_failed",
    "payment_refunded",
    "payment_succeeded",
    "postlink_rejected",
]
