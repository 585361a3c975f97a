"""The offline ePay sandbox: a Flask app speaking the bank's protocol (see docs/sandbox.md)."""

from __future__ import annotations

from .app import create_sandbox_app
from .cards import CARDS, THREE_DS_CODE, CardBehaviour
from .faults import Faults
from .instance import Sandbox
from .merchants import TEST_MERCHANT, Merchant
from .server import SandboxServer

__all__ = [
    "CARDS",
    "TEST_MERCHANT",
    "THREE_DS_CODE",
    "CardBehaviour",
    "Faults",
    "Merchant",
    "Sandbox",
    "SandboxServer",
    "create_sandbox_app",
]
