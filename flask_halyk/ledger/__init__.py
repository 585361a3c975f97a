"""The payment ledger: payments, raw postLink events, invoice ids and the state machine.

SQLAlchemy Core on SQLite (default) or PostgreSQL; the shop needs no ORM of its own.
See docs/ledger.md.
"""

from __future__ import annotations

from .models import (
    ApplyResult,
    Change,
    EventRecord,
    EventVerdict,
    News,
    PaymentRecord,
    PaymentStatus,
)
from .store import Ledger

__all__ = [
    "ApplyResult",
    "Change",
    "EventRecord",
    "EventVerdict",
    "Ledger",
    "News",
    "PaymentRecord",
    "PaymentStatus",
]
