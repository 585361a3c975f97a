"""Merchants the sandbox knows: who may ask for tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TERMINAL_ID


@dataclass(frozen=True)
class Merchant:
    """One merchant's credentials. ``repr`` hides the secret."""

    client_id: str
    client_secret: str = field(repr=False)
    terminal_id: str
    name: str = "Sandbox shop"


#: The vendor's published test merchant, the default of every sandbox.
TEST_MERCHANT = Merchant(TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TERMINAL_ID, "Test merchant")
