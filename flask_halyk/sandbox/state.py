"""The sandbox's memory: tokens, checkouts, transactions and postLink deliveries, behind one lock.

Each :class:`Store` belongs to one sandbox instance; nothing is module-global.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .merchants import Merchant

TOKEN_LIFETIME = 7200  # seconds, as in the vendor's example answer


@dataclass
class Token:
    """An issued access token. ``invoice_id`` is None for a service (REST API) token."""

    access_token: str
    merchant: Merchant
    scope: str
    expires_at: float
    invoice_id: str | None = None
    amount: Decimal | None = None
    currency: str = "KZT"
    secret_hash: str = field(default="", repr=False)
    post_link: str = ""
    failure_post_link: str = ""
    #: The token request named the terminal (the status API answers resultCode 104 without).
    terminal_named: bool = True
    #: A password-grant token (the cabinet's login): what ``/invoice`` takes.
    password_grant: bool = False

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class Checkout:
    """A payment page opened with a valid token, waiting for card details."""

    id: str
    token: Token
    payment: dict[str, Any]
    short_form: bool
    pending_3ds: dict[str, Any] | None = None


@dataclass
class Transaction:
    """One payment attempt and its later operations."""

    id: str
    invoice_id: str
    amount: Decimal
    currency: str
    terminal: str
    status: str  # AUTH, CHARGE, CANCEL, REFUND, REJECT, VERIFIED (amount 0)
    reason_code: int
    reason: str
    created: str
    card_mask: str
    card_type: str
    card_id: str
    issuer: str
    approval_code: str
    reference: str
    holder: str
    payment: dict[str, Any]
    secret_hash: str = field(default="", repr=False)
    secure: str = "no"
    ip: str = ""
    #: The 8-digit processing terminal (the status answer's ``terminal``).
    processing_terminal: str = ""
    #: The 16-character internal reference (the status answer's ``intReference``).
    int_reference: str = ""
    charged: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    refunds: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SavedCard:
    """A card the bank keeps for a merchant's customer (``cardSave``), by its cardId. The PAN
    is kept only so that the sandbox can charge it again with its test behaviour."""

    card_id: str
    account_id: str
    terminal: str
    pan: str = field(repr=False)
    card_mask: str
    card_type: str
    issuer: str
    holder: str
    transaction_id: str
    reference: str
    int_reference: str
    processing_terminal: str
    created: str
    active: bool = True
    #: The list's ``PaymentAvailable``: False for a card the bank will not charge (expired).
    payment_available: bool = True


@dataclass
class InvoiceLink:
    """A payment link made by ``POST /invoice``: its page takes a card until ``expires_at``
    (epoch seconds). ``answer``: what ``/invoice`` answered."""

    id: str
    merchant: Merchant
    invoice_id: str
    amount: Decimal
    currency: str
    language: str
    description: str
    post_link: str
    failure_post_link: str
    back_link: str
    failure_back_link: str
    expires_at: float
    answer: dict[str, Any]

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class Delivery:
    """One postLink sent (or attempted)."""

    url: str
    body: dict[str, Any]
    status: int | None = None
    error: str | None = None
    in_process: bool = False


class Store:
    """All state of one sandbox. Every read and write of the dicts happens under :attr:`lock`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tokens: dict[str, Token] = {}
        self.checkouts: dict[str, Checkout] = {}
        self.transactions: dict[str, Transaction] = {}
        self.deliveries: list[Delivery] = []
        self.saved_cards: dict[str, SavedCard] = {}
        #: Payments by cardId waiting for their 3-D Secure step, by ``MD``.
        self.pending_card_3ds: dict[str, dict[str, Any]] = {}
        self.invoice_links: dict[str, InvoiceLink] = {}
        #: QRs by bill number (``sandbox.qr.QrBill``; its module reads and writes them).
        self.qr_bills: dict[str, Any] = {}
        #: ``/recurrent/subscribe``'s schedules by transaction id (the answer's fields).
        self.recurrent_schedules: dict[str, dict[str, Any]] = {}

    def issue(self, token: Token) -> Token:
        with self.lock:
            self.tokens[token.access_token] = token
        return token

    def token(self, access_token: str) -> Token | None:
        with self.lock:
            return self.tokens.get(access_token)

    def add_checkout(self, token: Token, payment: dict[str, Any], short_form: bool) -> Checkout:
        checkout = Checkout(secrets.token_urlsafe(16), token, payment, short_form)
        with self.lock:
            self.checkouts[checkout.id] = checkout
        return checkout

    def checkout(self, checkout_id: str) -> Checkout | None:
        with self.lock:
            return self.checkouts.get(checkout_id)

    def add_payment(self, transaction: Transaction) -> bool:
        """Store ``transaction`` unless its invoice is already paid (False then): check and
        store are one step, so two submissions racing on one invoice never both pay it."""
        with self.lock:
            if self.paid(transaction.invoice_id, transaction.terminal):
                return False
            self.transactions[transaction.id] = transaction
            return True

    def set_3ds(self, checkout: Checkout, pending: dict[str, Any]) -> None:
        with self.lock:
            checkout.pending_3ds = pending

    def take_3ds(self, checkout: Checkout) -> dict[str, Any] | None:
        """The pending 3-D Secure step of ``checkout``, removed: each code is checked once."""
        with self.lock:
            pending, checkout.pending_3ds = checkout.pending_3ds, None
        return pending

    def latest_for_invoice(self, invoice_id: str, terminal: str) -> Transaction | None:
        with self.lock:
            found = [t for t in self.transactions.values()
                     if t.invoice_id == invoice_id and t.terminal == terminal]
        return found[-1] if found else None

    def paid(self, invoice_id: str, terminal: str) -> bool:
        with self.lock:
            return any(t.invoice_id == invoice_id and t.terminal == terminal
                       and t.status != "REJECT" for t in self.transactions.values())

    def save_card(self, card: SavedCard) -> None:
        with self.lock:
            self.saved_cards[card.card_id] = card

    def cards_of(self, account_id: str, terminal: str) -> list[SavedCard]:
        """The active cards of ``account_id`` at ``terminal``, oldest first."""
        with self.lock:
            return [c for c in self.saved_cards.values()
                    if c.account_id == account_id and c.terminal == terminal and c.active]

    def add_invoice_link(self, link: InvoiceLink) -> None:
        with self.lock:
            self.invoice_links[link.id] = link

    def invoice_link(self, link_id: str) -> InvoiceLink | None:
        with self.lock:
            return self.invoice_links.get(link_id)

    def record(self, delivery: Delivery) -> None:
        with self.lock:
            self.deliveries.append(delivery)

    def snapshot_transactions(self) -> list[Transaction]:
        with self.lock:
            return list(self.transactions.values())

    def snapshot_deliveries(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)
