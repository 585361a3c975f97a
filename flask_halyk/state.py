"""What flask-halyk keeps for one app (``app.extensions["halyk"]``), and how any module finds it.

Every module may import this one; it imports none of theirs but the parts it holds, so the
extension module can import its parts without any of them importing it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from .config import DEFAULT_MERCHANT, HalykConfig, MerchantConfig
from .epay import EpayClient
from .errors import ConfigurationError, ExtensionSetupError
from .ledger import Ledger

if TYPE_CHECKING:  # for the annotation only: the extension module imports this one
    from .extension import HalykEpay

__all__ = ["SANDBOX_ELSEWHERE", "HalykState", "get_state", "sandbox_is_elsewhere"]


@dataclass
class HalykState:
    """Everything flask-halyk keeps for one app. ``extension`` is the ``HalykEpay`` that
    initialised it (receivers registered on one extension object run for its apps only).
    ``client`` is the default merchant's; ``clients`` holds every merchant's by name, each with
    its own service-token cache (empty when built by hand: the default one alone)."""

    config: HalykConfig
    client: EpayClient
    ledger: Ledger
    sandbox: Flask | None
    extension: HalykEpay
    clients: dict[str, EpayClient] = field(default_factory=dict)

    def merchant_of(self, terminal: str | None) -> MerchantConfig:
        """The merchant of a payment made on ``terminal``. With one merchant, it (a row from
        before a terminal change keeps working as before); with several, a terminal no merchant
        has is a :class:`ConfigurationError`: no other merchant's token may act on it."""
        found = self.config.merchant_of_terminal(terminal)
        if found is not None:
            return found
        if len(self.config.merchants) == 1:
            return self.config.merchants[0]
        raise ConfigurationError("HALYK_MERCHANTS", f"no configured merchant has the terminal "
                                 f"{terminal!r} of this payment.")

    def client_of(self, merchant: MerchantConfig) -> EpayClient:
        """The client of ``merchant``."""
        if merchant.name == DEFAULT_MERCHANT:
            return self.client  # as it stands: tests and shops may have replaced it
        try:
            return self.clients[merchant.name]
        except KeyError:
            raise ConfigurationError("HALYK_MERCHANTS", f"the merchant {merchant.name!r} has "
                                     "no client in this app.") from None

    def client_for(self, terminal: str | None) -> EpayClient:
        """The client of the merchant of a payment made on ``terminal``."""
        return self.client_of(self.merchant_of(terminal))


def get_state(app: Flask | None = None) -> HalykState:
    """The :class:`HalykState` of ``app`` (default: ``current_app``)."""
    target = app if app is not None else current_app
    try:
        state = target.extensions["halyk"]
    except KeyError:
        raise ExtensionSetupError(
            "flask-halyk is not initialised on this app: call HalykEpay(app) or "
            "halyk.init_app(app) first."
        ) from None
    assert isinstance(state, HalykState)
    return state


#: Why a command-line process should not ask its own embedded sandbox about payments.
SANDBOX_ELSEWHERE = (
    "the embedded sandbox lives in the memory of the process that serves the shop: this "
    "process's sandbox has never seen a payment, so it would answer 'not found' for every "
    "invoice. Run `flask halyk sandbox` on a port and point the shop at it with "
    "HALYK_SANDBOX_URL to ask it from the command line."
)


def sandbox_is_elsewhere(state: HalykState) -> bool:
    """True when ``state`` embeds a sandbox that has issued no payment token in this process:
    the ledger's payments were made through another process's sandbox (``flask run``)."""
    if state.sandbox is None:
        return False
    store = state.sandbox.extensions["halyk_sandbox"].store
    with store.lock:
        return not any(token.invoice_id for token in store.tokens.values())
