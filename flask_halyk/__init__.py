"""flask-halyk: Halyk Bank ePay card payments for Flask."""

from __future__ import annotations

from .errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EpayConnectionError,
    EpayTimeout,
    EpayUnavailable,
    HalykError,
    InvalidResponse,
    InvoiceIdExhausted,
    TransportError,
)

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConfigurationError",
    "EpayConnectionError",
    "EpayTimeout",
    "EpayUnavailable",
    "HalykError",
    "InvalidResponse",
    "InvoiceIdExhausted",
    "TransportError",
]
