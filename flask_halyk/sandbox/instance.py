"""The :class:`Sandbox` object of one sandbox app: merchants, state, faults, postLink sender."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from flask import Flask, current_app

from .delivery import PostLinkSender
from .faults import Faults
from .merchants import TEST_MERCHANT, Merchant
from .state import Delivery, Store, Transaction
from .wire import status_transaction


class Sandbox:
    """One offline ePay. Found at ``app.extensions["halyk_sandbox"]``."""

    def __init__(self, merchants: Iterable[Merchant] | None = None, *, two_stage: bool = False,
                 local_app: Flask | None = None, postlink_timeout: float = 10) -> None:
        self.merchants: tuple[Merchant, ...] = tuple(merchants or (TEST_MERCHANT,))
        self.two_stage = two_stage
        self.store = Store()
        self.faults = Faults()
        self.sender = PostLinkSender(self.store, self.faults, local_app=local_app,
                                     timeout=postlink_timeout)

    def merchant(self, client_id: str, client_secret: str) -> Merchant | None:
        """The merchant with these credentials, or None."""
        for merchant in self.merchants:
            # Constant time: the sandbox may be reachable by others (an embedded demo shop).
            if merchant.client_id == client_id and secrets.compare_digest(
                    merchant.client_secret.encode(), client_secret.encode()):
                return merchant
        return None

    @property
    def transactions(self) -> list[Transaction]:
        """Every transaction so far, oldest first (a copy)."""
        return self.store.snapshot_transactions()

    @property
    def deliveries(self) -> list[Delivery]:
        """Every postLink sent or attempted so far, oldest first (a copy)."""
        return self.store.snapshot_deliveries()

    def transactions_json(self) -> list[dict[str, Any]]:
        """The transactions as the status API spells them."""
        with self.store.lock:
            return [status_transaction(t) for t in self.store.transactions.values()]

    def wait_for_postlinks(self, timeout: float = 10) -> None:
        """Block until postLinks in flight are delivered (or ``timeout`` passes)."""
        self.sender.join(timeout)

    def __repr__(self) -> str:
        return f"<Sandbox merchants={[m.client_id for m in self.merchants]} " \
               f"two_stage={self.two_stage}>"


def current_sandbox() -> Sandbox:
    """The sandbox of the app handling the current request."""
    sandbox: Sandbox = current_app.extensions["halyk_sandbox"]
    return sandbox
