"""Merchants the sandbox knows: who may ask for tokens."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..config import (
    SANDBOX_SHOP_ID,
    TEST_CABINET_PASSWORD,
    TEST_CABINET_USERNAME,
    TEST_CLIENT_ID,
    TEST_CLIENT_SECRET,
    TEST_TERMINAL_ID,
)


@dataclass(frozen=True)
class Merchant:
    """One merchant's credentials. ``repr`` hides the secret.

    ``terminal_id`` is the TerminalID of the cabinet (a UUID: the token request's ``terminal``,
    the postLink's ``terminal``, the status answer's ``terminalID``). ``processing_terminal``
    is the 8-digit processing terminal the status answer calls ``terminal`` (the vendor's
    example: ``"98120001"``); empty: derived from ``terminal_id``. ``cabinet_username`` /
    ``cabinet_password``: the cabinet login of the password grant (payment links), and
    ``shop_id`` the shop ``/invoice`` names. ``two_stage``: this terminal's own mode (None:
    the sandbox's), so that a one-stage and a two-stage merchant pay side by side.
    """

    client_id: str
    client_secret: str = field(repr=False)
    terminal_id: str
    name: str = "Sandbox shop"
    processing_terminal: str = ""
    cabinet_username: str = TEST_CABINET_USERNAME
    cabinet_password: str = field(default=TEST_CABINET_PASSWORD, repr=False)
    shop_id: str = SANDBOX_SHOP_ID
    #: Whether this merchant's terminal is two-stage; None: the sandbox's ``two_stage``.
    two_stage: bool | None = None

    @property
    def tid(self) -> str:
        """The 8-digit processing terminal id (given, or derived: stable for a terminal)."""
        if self.processing_terminal:
            return self.processing_terminal
        digest = hashlib.sha256(self.terminal_id.encode("utf-8")).digest()
        return "98" + f"{int.from_bytes(digest[:8], 'big') % 10**6:06d}"


#: The vendor's published test merchant, the default of every sandbox; its processing terminal
#: is the one of the vendor's status example for this TerminalID.
TEST_MERCHANT = Merchant(TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TERMINAL_ID, "Test merchant",
                         processing_terminal="98120001")
