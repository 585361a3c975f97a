"""The sandbox's test cards and what each one does. docs/sandbox.md shows the same table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CardBehaviour:
    """What paying with one PAN does: ``reason_code`` 0 approves; ``three_ds`` asks for a code
    first (:data:`THREE_DS_CODE` passes, anything else fails with 473)."""

    reason_code: int
    reason: str
    issuer: str
    three_ds: bool = False

    @property
    def approved(self) -> bool:
        return self.reason_code == 0


THREE_DS_CODE = "123456"
THREE_DS_FAILURE = (473, "3-D Secure code is wrong")

APPROVE = "success"

#: PAN -> behaviour. The first four are the vendor's published test cards.
CARDS: dict[str, CardBehaviour] = {
    "4405639704015096": CardBehaviour(0, APPROVE, "JSC HALYK BANK"),
    "5522042705066736": CardBehaviour(0, APPROVE, "JSC HALYK BANK"),
    "4003032704547597": CardBehaviour(465, "card blocked", "JSC HALYK BANK"),
    "5578342710750560": CardBehaviour(465, "card blocked", "JSC HALYK BANK"),
    "4000000000004848": CardBehaviour(484, "insufficient funds", "JSC KASPI BANK"),
    "5400000000004841": CardBehaviour(484, "insufficient funds", "JSC KASPI BANK"),
    "4000000000004731": CardBehaviour(473, "wrong CVC or 3-D Secure code", "JSC KASPI BANK"),
    "4000000000004624": CardBehaviour(462, "declined by issuer", "JSC FORTEBANK"),
    "4000000000003121": CardBehaviour(0, APPROVE, "JSC HALYK BANK", three_ds=True),
}

#: Luhn-valid PANs not in :data:`CARDS` are refused like the bank's test host refuses cards it
#: does not know, so a shop's tests only pass with documented behaviours.
UNKNOWN_CARD = CardBehaviour(459, "check card number", "")


def behaviour(pan: str) -> CardBehaviour:
    """The behaviour of ``pan`` (digits only)."""
    return CARDS.get(pan, UNKNOWN_CARD)


def luhn_valid(pan: str) -> bool:
    """True if ``pan`` is 12-19 digits with a correct Luhn check digit."""
    if not pan.isdigit() or not 12 <= len(pan) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(pan)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_type(pan: str) -> str:
    """VISA, MASTERCARD or an empty string, from the PAN's leading digits."""
    if pan.startswith("4"):
        return "VISA"
    if pan[:1] == "5" or 2221 <= int(pan[:4] or 0) <= 2720:
        return "MASTERCARD"
    return ""


def mask(pan: str) -> str:
    """The bank's mask: first six, three dots, last four (``440563...5096``)."""
    return f"{pan[:6]}...{pan[-4:]}"
