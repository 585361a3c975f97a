"""Fulfilment: what the shop does once the ledger says an order is paid.

It runs from the postLink (the bank's server-to-server notice), never from the browser's
callback, which anyone can fake. It may run more than once for one payment (``flask halyk
reprocess``, a second worker), so it is idempotent: the store marks an order fulfilled once.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from flask_halyk import PaymentRecord

from .extensions import halyk
from .store import OrderStore

log = logging.getLogger("examples.shop.fulfilment")


def store() -> OrderStore:
    """The current app's order store."""
    found = current_app.extensions["shop_store"]
    assert isinstance(found, OrderStore)
    return found


@halyk.on_success
def fulfil(payment: PaymentRecord, postlink: dict[str, Any] | None) -> None:
    """Ship the order paid by ``payment`` (a ledger record), once."""
    if store().mark_fulfilled(payment.invoice_id):
        log.info("order for invoice %s paid: fulfilling", payment.invoice_id)
    else:
        log.info("invoice %s already fulfilled (or not a shop order)", payment.invoice_id)

