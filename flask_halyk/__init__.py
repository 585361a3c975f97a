"""flask-halyk: Halyk Bank ePay card payments for Flask.

``HalykEpay(app)`` and the names below are the public API; everything else may change.
"""

from __future__ import annotations

from .checkout import Payment
from .epay import (
    BankCard,
    CardPaymentResult,
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
    CardAccountMismatch,
    CardError,
    CardNotFound,
    CardUnavailable,
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
    RecurringNotAllowed,
    ThreeDSecureRequired,
    TransportError,
)
from .extension import HalykEpay
from .forms import CheckoutForm, CheckoutFormMixin, CustomerFieldsMixin
from .ledger import Ledger, PaymentRecord, PaymentStatus, SavedCard
from .links import PaymentLinkResult
from .qr import QrPayment, QrPaymentStatus
from .signals import (
    card_saved,
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
    "BankCard",
    "CardAccountMismatch",
    "CardError",
    "CardNotFound",
    "CardPaymentResult",
    "CardUnavailable",
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
    "RecurringNotAllowed",
    "ResultCode",
    "SavedCard",
    "StatusName",
    "StatusResult",
    "ThreeDSecureRequired",
    "Transaction",
    "TransportError",
    "card_saved",
    "payment_cancelled",
    "payment_charged",
    "payment_expired",
    "payment_failed",
    "payment_refunded",
    "payment_succeeded",
    "postlink_rejected",
]
