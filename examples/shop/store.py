"""The shop's own orders: what was bought, under which ePay invoice, and whether it was fulfilled.

Payment state is NOT kept here: the flask-halyk ledger (``halyk.ledger``) is the truth about
money. This store only links an order to its invoice and records fulfilment, idempotently.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    ref TEXT PRIMARY KEY,
    invoice_id TEXT UNIQUE,
    product_id TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    amount TEXT NOT NULL,
    language TEXT NOT NULL,
    payment_object TEXT,
    created_at TEXT NOT NULL,
    fulfilled_at TEXT
)
"""


@dataclass(frozen=True)
class Order:
    """One order. ``ref`` is the unguessable id in the order's URLs (invoice ids are short
    numbers: using them in URLs would let anyone walk through other people's orders)."""

    ref: str
    invoice_id: str | None
    product_id: str
    quantity: int
    amount: Decimal
    language: str
    payment_object: dict[str, Any] | None
    created_at: datetime
    fulfilled_at: datetime | None


class OrderStore:
    """Orders in a small SQLite file, safe to share between the server's threads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def create(self, *, product_id: str, quantity: int, amount: Decimal, language: str) -> Order:
        """A new order, not yet tied to an invoice."""
        ref = secrets.token_urlsafe(12)
        now = datetime.now(UTC).isoformat()
        with self._lock, self._connect() as db:
            db.execute(
                "INSERT INTO orders (ref, product_id, quantity, amount, language, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (ref, product_id, quantity, str(amount), language, now),
            )
        order = self.get(ref)
        assert order is not None
        return order

    def attach_payment(self, ref: str, invoice_id: str, payment_object: dict[str, Any]) -> None:
        """Tie the order to its ePay invoice and keep the payment object for the pay page (it
        holds this invoice's own token, valid for the token's lifetime)."""
        with self._lock, self._connect() as db:
            db.execute(
                "UPDATE orders SET invoice_id = ?, payment_object = ? WHERE ref = ?",
                (invoice_id, json.dumps(payment_object), ref),
            )

    def mark_fulfilled(self, invoice_id: str) -> bool:
        """Record fulfilment once. True only for the call that did it: a repeated signal (a
        reprocess, another worker) finds it done and changes nothing."""
        now = datetime.now(UTC).isoformat()
        with self._lock, self._connect() as db:
            cursor = db.execute(
                "UPDATE orders SET fulfilled_at = ? WHERE invoice_id = ? AND fulfilled_at IS NULL",
                (now, invoice_id),
            )
            return cursor.rowcount == 1

    def get(self, ref: str) -> Order | None:
        """The order with ``ref``."""
        return self._one("SELECT * FROM orders WHERE ref = ?", ref)

    def by_invoice(self, invoice_id: str) -> Order | None:
        """The order paid under ``invoice_id``."""
        return self._one("SELECT * FROM orders WHERE invoice_id = ?", invoice_id)

    def _one(self, sql: str, value: str) -> Order | None:
        with self._connect() as db:
            row = db.execute(sql, (value,)).fetchone()
        return None if row is None else _order(row)


def _order(row: sqlite3.Row) -> Order:
    return Order(
        ref=row["ref"],
        invoice_id=row["invoice_id"],
        product_id=row["product_id"],
        quantity=int(row["quantity"]),
        amount=Decimal(row["amount"]),
        language=row["language"],
        payment_object=json.loads(row["payment_object"]) if row["payment_object"] else None,
        created_at=datetime.fromisoformat(row["created_at"]),
        fulfilled_at=(
            datetime.fromisoformat(row["fulfilled_at"]) if row["fulfilled_at"] else None
        ),
    )
