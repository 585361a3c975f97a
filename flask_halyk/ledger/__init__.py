"""The payment ledger: payments, the raw events the bank sent, invoice ids and the state
machine, in the shop's database (SQLAlchemy Core on SQLite by default, or PostgreSQL).

Storage only: it records and answers, and never tells the shop anything (signals are fired by
:mod:`flask_halyk.dispatch`). See docs/ledger.md.

Where each part lives: :mod:`.core` (engine, clock, transactions), :mod:`.payments` (new payments,
invoice ids, reads), :mod:`.changes` (moving a payment), :mod:`.events` (raw events and their
verdicts), :mod:`.states` (statuses and the rules of moving between them), :mod:`.reports` (the
bank's messages in ledger terms), :mod:`.models` (records), :mod:`.rows`, :mod:`.tables`,
:mod:`.cards` (saved cards), :mod:`.subscriptions`
(subscriptions and their charges), :mod:`.schema` (migrations), :mod:`.listing` (the back office's
reads), :mod:`.journal` (operations sent to ePay), :mod:`.engine`, :mod:`.expiry`, :mod:`.transfer`.
"""

from __future__ import annotations

from .cards import CardStore, SavedCard
from .changes import ChangeStore
from .events import EventStore
from .journal import JournalStore, OperationEntry
from .listing import ListingStore, PaymentFilter, PaymentPage, Timeline, TimelineEntry
from .models import ApplyResult, BankReport, EventRecord, InvoiceCapacity, PaymentRecord
from .payments import PaymentStore
from .states import Change, EventVerdict, PaymentStatus
from .subscriptions import Plan, Subscription, SubscriptionStore


class Ledger(PaymentStore, ChangeStore, EventStore, ListingStore, JournalStore, CardStore,
             SubscriptionStore):
    """The payment ledger of one database: see :class:`~.core.LedgerCore` for its arguments,
    :class:`~.payments.PaymentStore`, :class:`~.changes.ChangeStore`,
    :class:`~.events.EventStore`, :class:`~.listing.ListingStore` and
    :class:`~.journal.JournalStore` for what it does."""


__all__ = [
    "ApplyResult",
    "BankReport",
    "Change",
    "EventRecord",
    "EventVerdict",
    "InvoiceCapacity",
    "Ledger",
    "OperationEntry",
    "PaymentFilter",
    "PaymentPage",
    "PaymentRecord",
    "PaymentStatus",
    "Plan",
    "SavedCard",
    "Subscription",
    "Timeline",
    "TimelineEntry",
]
