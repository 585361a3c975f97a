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


#: The 3-D Secure code that passes the step of :data:`THREE_DS_CARD`.
THREE_DS_CODE = "123456"
THREE_DS_FAILURE = (473, "3-D Secure code is wrong")

APPROVE = "success"

# The test cards by name, for a shop's tests (``Sandbox.pay(obj, cards.BLOCKED_CARD)``).
#: Approved (VISA); the vendor's published test card.
APPROVED_CARD = "4405639704015096"
#: Approved (MASTERCARD); the vendor's published test card.
APPROVED_MASTERCARD = "5522042705066736"
#: Declined, card blocked (465); the vendor's published test card.
BLOCKED_CARD = "4003032704547597"
#: Declined, card blocked (465), MASTERCARD; the vendor's published test card.
BLOCKED_MASTERCARD = "5578342710750560"
#: Declined, insufficient funds (484).
INSUFFICIENT_FUNDS_CARD = "4000000000004848"
#: Declined, insufficient funds (484), MASTERCARD.
INSUFFICIENT_FUNDS_MASTERCARD = "5400000000004841"
#: Declined, wrong CVC or 3-D Secure failure (473).
WRONG_CVC_CARD = "4000000000004731"
#: Declined by the issuer (462).
ISSUER_DECLINED_CARD = "4000000000004624"
#: Asks for a 3-D Secure code: :data:`THREE_DS_CODE` approves, anything else fails (473).
THREE_DS_CARD = "4000000000003121"
#: Luhn-valid but not a test card: declined, check card number (459).
UNLISTED_CARD = "4111111111111111"

#: PAN -> behaviour. The first four are the vendor's published test cards.
CARDS: dict[str, CardBehaviour] = {
    APPROVED_CARD: CardBehaviour(0, APPROVE, "JSC HALYK BANK"),
    APPROVED_MASTERCARD: CardBehaviour(0, APPROVE, "JSC HALYK BANK"),
    BLOCKED_CARD: CardBehaviour(465, "card blocked", "JSC HALYK BANK"),
    BLOCKED_MASTERCARD: CardBehaviour(465, "card blocked", "JSC HALYK BANK"),
    INSUFFICIENT_FUNDS_CARD: CardBehaviour(484, "insufficient funds", "JSC KASPI BANK"),
    INSUFFICIENT_FUNDS_MASTERCARD: CardBehaviour(484, "insufficient funds", "JSC KASPI BANK"),
    WRONG_CVC_CARD: CardBehaviour(473, "wrong CVC or 3-D Secure code", "JSC KASPI BANK"),
    ISSUER_DECLINED_CARD: CardBehaviour(462, "declined by issuer", "JSC FORTEBANK"),
    THREE_DS_CARD: CardBehaviour(0, APPROVE, "JSC HALYK BANK", three_ds=True),
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
