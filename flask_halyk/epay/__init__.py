"""The client of ePay's server-side API, with no Flask in it.

:class:`EpayClient` holds one merchant's credentials and a :class:`~.transport.Transport`
(session, timeouts, retries, redaction). Each bank call is a method of the client and a module
of its own holding what the call sends and how its answer is read: :mod:`.tokens`,
:mod:`.status`, :mod:`.operations`, :mod:`.cards`, :mod:`.recurrent`. What the calls return
is in :mod:`.results`; :mod:`.wsgi` routes a URL prefix to an in-process WSGI app (the
embedded sandbox).
"""

from __future__ import annotations

from .client import EpayClient
from .operations import REFUND_MINIMUM
from .recurrent import BankSchedule
from .results import (
    BankCard,
    CardPaymentResult,
    OperationResult,
    PaymentLink,
    PaymentToken,
    QrCode,
    QrStatus,
    ResultCode,
    StatusName,
    StatusResult,
    Transaction,
)
from .wsgi import WSGIAdapter

__all__ = [
    "REFUND_MINIMUM",
    "BankCard",
    "BankSchedule",
    "CardPaymentResult",
    "EpayClient",
    "OperationResult",
    "PaymentLink",
    "PaymentToken",
    "QrCode",
    "QrStatus",
    "ResultCode",
    "StatusName",
    "StatusResult",
    "Transaction",
    "WSGIAdapter",
]
