"""The ledger's tables (SQLAlchemy Core) and the schema version they make up.

Amounts are stored as integer minor units (tiyn): exact on every backend, and summed in SQL
without floating point. Times are stored as naive UTC and read back as aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

#: Bumped with every change to the tables below; :mod:`flask_halyk.ledger.schema` migrates.
SCHEMA_VERSION = 7


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the backend keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the ledger stores aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = MetaData()

schema_version = Table(
    "halyk_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

# The invoice counters: how many of a suffix space's 10**6 values are handed out, and the key of
# the permutation that turns counter values into invoice suffixes (so that ids say nothing about
# order volume, and two shops sharing ePay's test merchant do not collide). Row ``invoice`` is
# the ledger's first (the whole ledger's with HALYK_INVOICE_SUFFIX_SCOPE = "ledger").
# Version 7: one counter per terminal (``terminal``; NULL: not claimed yet), numbered
# (``ordinal``: 0 for ``invoice``, its ids ``prefix + suffix``; k > 0 for ``invoice:k``, its ids
# ``prefix + k + suffix``, so that full ids never meet across terminals), and the highest
# warning threshold already reported (``warned``: 80, 95; NULL: none).
invoice_counter = Table(
    "halyk_invoice_counter",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
    Column("multiplier", BigInteger, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("terminal", String(64)),
    Column("ordinal", Integer),
    Column("warned", Integer),
    Index("ux_halyk_invoice_counter_terminal", "terminal", unique=True),
)

payments = Table(
    "halyk_payments",
    metadata,
    Column("invoice_id", String(15), primary_key=True),
    # The last six digits: ePay wants them unique among a terminal's invoices. Version 7:
    # unique within ``suffix_scope`` (below), no longer across the whole ledger.
    Column("invoice_suffix", String(6), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("terminal", String(64), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("account_id", Text),
    Column("language", String(3)),
    Column("name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("status", String(24), nullable=False),
    Column("bank_status", String(24)),
    Column("transaction_id", String(64)),
    Column("card_mask", String(32)),
    Column("card_type", String(32)),
    Column("card_id", String(64)),
    Column("issuer", Text),
    Column("reference", String(64)),
    Column("approval_code", String(32)),
    Column("reason", Text),
    Column("reason_code", Integer),
    Column("charged_minor", BigInteger),
    Column("refunded_minor", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime),
    # Version 2: when the payment's token expires (issue time + the bank's expires_in), so
    # that reconcile can tell a checkout that can no longer be paid (status ``expired``).
    Column("token_expires_at", UTCDateTime),
    # Version 3: refunds on their way to ePay, not answered yet. Reserved under the row lock
    # before the call (so that concurrent refunds never promise the same money twice), taken
    # off when the bank answers; ``refund_pending_until``: when the newest reservation lapses
    # (a process that died mid-call leaves its reservation behind until then).
    Column("refund_pending_minor", BigInteger),
    Column("refund_pending_until", UTCDateTime),
    # Version 4: the last four digits of card_mask (when it ends with four digits), so that
    # the back office finds a card by them with an index rather than LIKE '%1234'.
    Column("card_last4", String(4)),
    # Version 5: the shop asked the bank to keep the card (``cardSave``); only then is the
    # card of its success kept in ``halyk_cards``. NULL: not asked.
    Column("card_save", Boolean),
    # Version 7: where the suffix is unique: the payment's terminal (HALYK_INVOICE_SUFFIX_SCOPE
    # "terminal", and every payment older than version 7), or "" for the whole ledger
    # ("ledger"). Written with every payment; the unique index below is the final guard.
    Column("suffix_scope", String(64)),
    Index("ux_halyk_payments_suffix_scope", "invoice_suffix", "suffix_scope", unique=True),
    Index("ix_halyk_payments_status_created", "status", "created_at"),
    Index("ix_halyk_payments_created", "created_at"),
    # Version 4: the back office's listing (ledger/listing.py), newest first, filtered by
    # account or card (the other filters ride on the two indexes above, or the primary key).
    Index("ix_halyk_payments_account_created", "account_id", "created_at"),
    Index("ix_halyk_payments_card_created", "card_last4", "created_at"),
)

events = Table(
    "halyk_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    # "postlink", "failure_postlink", or "status" (a status API answer applied by reconcile).
    Column("kind", String(24), nullable=False),
    Column("remote_addr", String(64)),
    Column("headers", Text, nullable=False, default="[]"),
    Column("body", LargeBinary, nullable=False),
    Column("invoice_id", String(15)),
    Column("transaction_id", String(64)),
    Column("verdict", String(16), nullable=False),
    Column("outcome", String(24)),
    Column("reason", Text),
    Column("processed_at", UTCDateTime),
    # Version 3: the claim on a ``dispatching`` event's receivers (a random token, so that only
    # its holder renews or ends it) and its lease, renewed while they run: once it lapses (the
    # process died), a re-delivered postLink, reconcile or reprocess may claim and finish them.
    Column("claim", String(32)),
    Column("lease_until", UTCDateTime),
    Index("ix_halyk_events_invoice", "invoice_id"),
    Index("ix_halyk_events_verdict", "verdict"),
)

# Version 4: every charge, cancel and refund sent to ePay, with what became of it (accepted,
# refused with the bank's words, or no answer): the operations of a payment's timeline. An
# accepted one is written in the transaction that records it on the payment.
operations = Table(
    "halyk_operations",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("invoice_id", String(15), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # "charge", "cancel", "refund".
    Column("operation", String(8), nullable=False),
    Column("amount_minor", BigInteger),
    # "accepted", "refused" (ePay refused it), "unanswered" (no answer: timeout, 5xx).
    Column("outcome", String(16), nullable=False),
    Column("reason", Text),
    Index("ix_halyk_operations_invoice", "invoice_id", "id"),
)


# Version 5: the cards the bank keeps for the shop's customers (cardSave), by the cardId ePay
# gave; never a PAN, never a CVC: only what the postLink or the bank's card list says of them.
# ``status``: ``active`` or ``deactivated`` (POST /card/deactivate, or gone from the bank's
# list); ``payment_available``: the list's PaymentAvailable, NULL until a sync read it.
cards = Table(
    "halyk_cards",
    metadata,
    Column("card_id", String(64), primary_key=True),
    Column("account_id", String(255), nullable=False),
    Column("card_mask", String(32)),
    Column("card_type", String(32)),
    Column("issuer", Text),
    Column("payer_name", Text),
    # The payment that saved it (its invoice id), when the ledger saw that payment.
    Column("invoice_id", String(15)),
    Column("status", String(16), nullable=False),
    Column("payment_available", Boolean),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deactivated_at", UTCDateTime),
    Index("ix_halyk_cards_account", "account_id"),
)


# Version 6: subscriptions (ledger/subscriptions.py): a plan (amount, currency, period) charged
# to one saved card of one account on a schedule the ledger keeps. ``anchor_at``: the first
# period's start; period ``k`` starts at anchor + k periods (calendar months keep the anchor's
# day, clamped to short months). ``period_index``: the period the next charge pays for.
# ``pending_charge``: the charge in flight (claimed by one ``charge-due``), NULL when none.
subscriptions = Table(
    "halyk_subscriptions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(255), nullable=False),
    Column("card_id", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", Text, nullable=False, default=""),
    # "month", "week" or "day", times ``period_count``.
    Column("period_unit", String(8), nullable=False),
    Column("period_count", Integer, nullable=False),
    # "active", "past_due", "paused", "cancelled".
    Column("status", String(16), nullable=False),
    Column("anchor_at", UTCDateTime, nullable=False),
    Column("period_index", Integer, nullable=False),
    Column("next_charge_at", UTCDateTime),
    Column("cancel_at_period_end", Boolean, nullable=False, default=False),
    # Failed attempts of the period being charged (dunning), and the last one's reason.
    Column("attempts", Integer, nullable=False, default=0),
    Column("reason", Text),
    Column("pending_charge", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("cancelled_at", UTCDateTime),
    Index("ix_halyk_subscriptions_due", "status", "next_charge_at"),
    Index("ix_halyk_subscriptions_account", "account_id"),
)

# Version 6: each attempt to charge a subscription's period, written (unique per subscription,
# period and attempt) BEFORE the bank is called: two ``charge-due`` never charge one period
# twice, and one that died mid-call leaves a charge whose payment reconcile settles.
# ``status``: "claimed" (no payment sent yet), "sent" (its payment went to the bank), "paid",
# "failed".
subscription_charges = Table(
    "halyk_subscription_charges",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("subscription_id", String(32), nullable=False),
    Column("period_index", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("invoice_id", String(15)),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime),
    UniqueConstraint("subscription_id", "period_index", "attempt",
                     name="uq_halyk_subscription_charges_period"),
    Index("ix_halyk_subscription_charges_status", "status"),
)
