"""Saved cards: the cards ePay keeps for a shop's customers (``cardSave``), by the cardId it
gave, per customer account. Never a PAN, never a CVC: only what the postLink or the bank's card
list says of a card (mask, type, issuer, holder's name).

A card is saved in the transaction that applies the success that carried its cardId
(:func:`note_card`, called by :mod:`.changes`), so it exists exactly when the payment that
saved it is recorded; :meth:`CardStore.sync_cards` brings the ledger in line with the bank's
list, :meth:`CardStore.deactivate_card` records a deactivation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from ..errors import CardNotFound
from ..schemas.fields import ACCOUNT_ID_MAX
from .core import LedgerCore
from .models import BankReport, PaymentRecord
from .rows import clean
from .tables import cards

__all__ = ["ACTIVE", "DEACTIVATED", "CardStore", "SavedCard", "note_card"]

#: A card the bank keeps and the shop may charge.
ACTIVE = "active"
#: Deactivated (by the shop, or gone from the bank's list): never charged again.
DEACTIVATED = "deactivated"


@dataclass(frozen=True)
class SavedCard:
    """A card ePay keeps for one customer account (``account_id``), charged by ``card_id``."""

    card_id: str
    account_id: str
    card_mask: str | None
    card_type: str | None
    issuer: str | None
    payer_name: str | None
    #: The payment that saved it, when the ledger recorded that payment.
    invoice_id: str | None
    status: str
    #: The bank list's ``PaymentAvailable``; None until :meth:`CardStore.sync_cards` read it.
    payment_available: bool | None
    created_at: datetime
    updated_at: datetime
    deactivated_at: datetime | None

    @property
    def is_active(self) -> bool:
        """Kept by the bank, not deactivated."""
        return self.status == ACTIVE

    @property
    def can_pay(self) -> bool:
        """Active, and the bank's list did not say ``PaymentAvailable: false``."""
        return self.is_active and self.payment_available is not False


def card_record(row: Row[Any]) -> SavedCard:
    """A ``halyk_cards`` row as a :class:`SavedCard`."""
    m = row._mapping
    return SavedCard(**{name: m[name] for name in SavedCard.__dataclass_fields__})


def note_card(conn: Connection, now: datetime, payment: PaymentRecord,
              report: BankReport) -> None:
    """Keep the card of a success that carries a cardId, for the payment's account (in the
    caller's transaction), when the shop asked for it (``card_save``). A payment without an
    account saves nothing: its card could never be listed or charged for anyone. A card
    already known is refreshed (and active again)."""
    card_id = clean(report.card_id, 64)
    account_id = clean(payment.account_id, ACCOUNT_ID_MAX)
    if not payment.card_save or not card_id or not account_id \
            or not report.status.is_success_or_verified:
        return
    values: dict[str, Any] = {
        "account_id": account_id,
        "card_mask": clean(report.card_mask, 32) or payment.card_mask,
        "card_type": clean(report.card_type, 32) or payment.card_type,
        "issuer": clean(report.issuer, 500) or payment.issuer,
        "payer_name": payment.name,
        "invoice_id": payment.invoice_id,
        "status": ACTIVE,
        "updated_at": now,
        "deactivated_at": None,
    }
    found = conn.execute(
        select(cards.c.account_id).where(cards.c.card_id == card_id).with_for_update()
    ).first()
    if found is None:
        conn.execute(insert(cards).values(card_id=card_id, created_at=now, **values))
    elif found.account_id == account_id:
        # Charged again: refreshed, its first payment (``invoice_id``) kept.
        del values["invoice_id"]
        conn.execute(update(cards).where(cards.c.card_id == card_id).values(**values))
    # A cardId the bank gave to another account is left with that account: never moved.


class CardStore(LedgerCore):
    """The ledger's saved cards."""

    def cards(self, account_id: str, *, include_inactive: bool = False) -> list[SavedCard]:
        """The cards of ``account_id``, oldest first; only active ones unless
        ``include_inactive``."""
        self._ensure()
        query = select(cards).where(cards.c.account_id == account_id)
        if not include_inactive:
            query = query.where(cards.c.status == ACTIVE)
        with self._read() as conn:
            rows = conn.execute(query.order_by(cards.c.created_at, cards.c.card_id)).all()
        return [card_record(row) for row in rows]

    def card(self, card_id: str) -> SavedCard | None:
        """The card of ``card_id``, or None."""
        self._ensure()
        with self._read() as conn:
            row = conn.execute(select(cards).where(cards.c.card_id == card_id)).first()
        return None if row is None else card_record(row)

    def require_card(self, card_id: str) -> SavedCard:
        """The card of ``card_id``, or :class:`CardNotFound`."""
        card = self.card(card_id)
        if card is None:
            raise CardNotFound(f"no saved card {card_id} in the ledger")
        return card

    def deactivate_card(self, card_id: str) -> SavedCard:
        """Record that the card is deactivated (the bank deactivated it, or no longer lists
        it). Idempotent."""
        self._ensure()
        with self._write() as conn:
            now = self.now()
            conn.execute(update(cards).where(cards.c.card_id == card_id,
                                             cards.c.status == ACTIVE)
                         .values(status=DEACTIVATED, deactivated_at=now, updated_at=now))
            row = conn.execute(select(cards).where(cards.c.card_id == card_id)).first()
        if row is None:
            raise CardNotFound(f"no saved card {card_id} in the ledger")
        return card_record(row)

    def sync_cards(self, account_id: str,
                   listed: Iterable[Mapping[str, Any]]) -> list[SavedCard]:
        """Bring the cards of ``account_id`` in line with the bank's list (entries as
        :class:`~flask_halyk.schemas.SavedCardSchema` loads them: ``ID``, ``CardMask``,
        ``PaymentAvailable``...): cards it lists are added or refreshed (active, with their
        ``PaymentAvailable``), active cards it no longer lists are deactivated. Entries of
        another account (``AccountID``) are ignored. Returns the account's active cards."""
        self._ensure()
        entries = [e for e in listed
                   if e.get("ID") and e.get("AccountID") in (None, "", account_id)]
        with self._write() as conn:
            now = self.now()
            known = {row.card_id: row for row in conn.execute(
                select(cards).where(cards.c.account_id == account_id).with_for_update()
            ).all()}
            for entry in entries:
                card_id = clean(entry["ID"], 64) or ""
                available = entry.get("PaymentAvailable")
                values: dict[str, Any] = {
                    "status": ACTIVE, "deactivated_at": None, "updated_at": now,
                    "payment_available": available if isinstance(available, bool) else None,
                }
                if entry.get("CardMask"):
                    values["card_mask"] = clean(entry["CardMask"], 32)
                if entry.get("PayerName"):
                    values["payer_name"] = clean(entry["PayerName"], 500)
                if card_id in known:
                    conn.execute(update(cards).where(cards.c.card_id == card_id)
                                 .values(**values))
                    continue
                taken = conn.execute(select(cards.c.card_id)
                                     .where(cards.c.card_id == card_id)).first()
                if taken is None:  # a card of another account keeps its account
                    conn.execute(insert(cards).values(card_id=card_id, account_id=account_id,
                                                      created_at=now, **values))
            listed_ids = {clean(e["ID"], 64) for e in entries}
            gone = [card_id for card_id, row in known.items()
                    if card_id not in listed_ids and row.status == ACTIVE]
            if gone:
                conn.execute(update(cards).where(cards.c.card_id.in_(gone))
                             .values(status=DEACTIVATED, deactivated_at=now, updated_at=now))
        return self.cards(account_id)
