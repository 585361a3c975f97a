"""What flask-halyk keeps for one app (``app.extensions["halyk"]``), and how any module finds it.

Every module may import this one; it imports none of theirs but the parts it holds, so the
extension module can import its parts without any of them importing it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

from .config import HalykConfig
from .epay import EpayClient
from .errors import ExtensionSetupError
from .ledger import Ledger

if TYPE_CHECKING:  # for the annotation only: the extension module imports this one
    from .extension import HalykEpay

__all__ = ["SANDBOX_ELSEWHERE", "HalykState", "get_state", "sandbox_is_elsewhere"]


@dataclass
class HalykState:
    """Everything flask-halyk keeps for one app. ``extension`` is the ``HalykEpay`` that
    initialised it (receivers registered on one extension object run for its apps only)."""

    config: HalykConfig
    client: EpayClient
    ledger: Ledger
    sandbox: Flask | None
    extension: HalykEpay


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
