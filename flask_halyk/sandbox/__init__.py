"""The offline ePay sandbox: a Flask app speaking the bank's protocol (see docs/sandbox.md).

The test cards are named in :mod:`flask_halyk.sandbox.cards` (``cards.APPROVED_CARD``...).
"""

from __future__ import annotations

from . import cards
from .app import create_sandbox_app
from .cards import CARDS, THREE_DS_CODE, CardBehaviour
from .faults import Faults
from .instance import Sandbox
from .merchants import TEST_MERCHANT, Merchant
from .options import Options
from .payer import PaymentPageError, PaymentResult
from .server import SandboxServer

__all__ = [
    "CARDS",
    "TEST_MERCHANT",
    "THREE_DS_CODE",
    "CardBehaviour",
    "Faults",
    "Merchant",
    "Options",
    "PaymentPageError",
    "PaymentResult",
    "Sandbox",
    "SandboxServer",
    "cards",
    "create_sandbox_app",
]
