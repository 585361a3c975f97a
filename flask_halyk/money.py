"""Amounts: how they are read, compared, stored and spelled, in one place.

Every amount flask-halyk handles (a shop's argument, the bank's JSON, a stored row, a form the
sandbox receives) is read by :func:`to_decimal`, so one amount never means two things in two
modules. Floats are read by their shortest repr (``12.1`` is ``12.10``, not the binary
``12.0999...``), which also makes a float carrying arithmetic noise (``0.1 + 0.2``) fail the
two-decimals rule instead of being rounded silently.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from .errors import InvalidArgument

#: The largest amount accepted anywhere. Not a bank limit: a bound that keeps Decimal
#: arithmetic exact (2 decimals within 28 significant digits) and floats exact for the page.
AMOUNT_MAX = Decimal("9999999999999.99")

#: One tiyn: amounts have at most two decimal places.
CENT = Decimal("0.01")

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Bounds on what a number may spell out. Numbers dump as plain digits ("0.000...5"), and the
# tiniest float (5e-324) takes 326 characters that way: within these bounds, whatever loads also
# reloads from its own dump, and no input can make a dump of unbounded length.
_DECIMAL_PLACES_MAX = 400
_NUMBER_MAX_CHARS = 440


class AmountError(InvalidArgument):
    """An amount that cannot be used. ``problem`` says why without quoting the value (for
    validation messages about text from outside); the message names the argument and value."""

    def __init__(self, name: str, value: object, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{name} {_shown(value)}: {problem[:1].lower()}{problem[1:]}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_decimal(value: object, name: str = "amount") -> Decimal:
    """A finite :class:`Decimal` from an int, a float (by its repr), a Decimal or a plain
    numeric string (digits, one point, a sign; no exponent, NaN or underscores), within
    +/- :data:`AMOUNT_MAX`. Anything else raises :class:`AmountError` (a ``ValueError``)."""
    if isinstance(value, bool):
        raise AmountError(name, value, "Not a number (a boolean).")
    try:
        if isinstance(value, int):
            if abs(value) > AMOUNT_MAX:
                raise AmountError(name, value, "Number out of range.")
            result = Decimal(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise AmountError(name, value, "Not a finite number.")
            result = Decimal(repr(value))
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise AmountError(name, value, "Not a finite number.")
            result = value
        elif isinstance(value, str):
            text = value.strip()
            if len(text) > _NUMBER_MAX_CHARS or not _NUMBER.fullmatch(text):
                raise AmountError(name, value, "Not a number.")
            result = Decimal(text)
        else:
            raise AmountError(name, value, "Not a number.")
    except (InvalidOperation, ValueError, OverflowError) as exc:
        if isinstance(exc, AmountError):
            raise
        raise AmountError(name, value, "Not a number.") from None
    if abs(result) > AMOUNT_MAX:
        raise AmountError(name, value, "Number out of range.")
    exponent = result.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_DECIMAL_PLACES_MAX:
        raise AmountError(name, value, "Too many decimal places.")
    return result


def has_whole_tiyn(value: Decimal) -> bool:
    """Whether the value has at most two decimal places."""
    return value == value.quantize(CENT)


def parse_amount(value: object, name: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """An amount money can be: :func:`to_decimal`, greater than zero (or not negative, with
    ``allow_zero``), whole tiyn (at most two decimal places)."""
    amount = to_decimal(value, name)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise AmountError(name, value, "Must be a positive number."
                          if not allow_zero else "Must not be negative.")
    if not has_whole_tiyn(amount):
        raise AmountError(name, value, "Has more than two decimal places.")
    return amount


def amount_or_none(value: object, *, allow_zero: bool = False) -> Decimal | None:
    """:func:`parse_amount`, or ``None`` where it would raise (for code that words its own
    refusal, as the sandbox does for the bank)."""
    try:
        return parse_amount(value, allow_zero=allow_zero)
    except AmountError:
        return None


def canonical(value: object) -> str:
    """The one spelling of an amount, for comparisons and MACs: ``100``, ``"100"``, ``100.0``
    and ``Decimal("100.00")`` all give ``"100"``; ``12.20`` gives ``"12.2"``."""
    text = format(to_decimal(value).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def same_amount(a: object, b: object) -> bool:
    """Whether two spellings name the same amount (False if either is not a number)."""
    try:
        return canonical(a) == canonical(b)
    except AmountError:
        return False


def to_minor(value: object) -> int:
    """Tenge to tiyn (minor units), for storage: not negative, at most two decimals."""
    return int(parse_amount(value, allow_zero=True) * 100)


def from_minor(minor: int) -> Decimal:
    """Tiyn to tenge, with two decimals."""
    return (Decimal(minor) / 100).quantize(CENT)


def format_amount(value: Decimal) -> str:
    """``"100"`` when whole, else two decimals (``"12.50"``): the form the bank's examples use."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.quantize(CENT):f}"


def js_amount(amount: Decimal) -> int | float:
    """The amount as the payment page gets it: an ``int`` when whole (the bank's examples all send
    integer tenge), else a ``float``. A float, not a string, because the page receives a number
    in every vendor example; two-decimal amounts up to :data:`AMOUNT_MAX` have at most 15
    significant digits, so the float's shortest repr is exactly the decimal (``12.5``, ``0.1``)."""
    if amount == amount.to_integral_value():
        return int(amount)
    return float(amount)


__all__ = [
    "AMOUNT_MAX",
    "CENT",
    "AmountError",
    "amount_or_none",
    "canonical",
    "format_amount",
    "from_minor",
    "has_whole_tiyn",
    "js_amount",
    "parse_amount",
    "same_amount",
    "to_decimal",
    "to_minor",
]
