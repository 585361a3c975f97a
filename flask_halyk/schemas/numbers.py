"""Numbers on ePay's wire: amounts and integers coerced from whatever JSON or a form carries,
within bounds that keep every value exact, and the two ways an amount is spelled going out.

Invalid input raises :class:`marshmallow.ValidationError`, so that the fields using these helpers
keep the schemas' promise of raising nothing else.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError

#: The largest amount any schema accepts. Not a bank limit: a bound that keeps Decimal
#: arithmetic exact (2 decimals within 28 significant digits) and floats exact for the page.
AMOUNT_MAX = Decimal("9999999999999.99")

#: The largest integer (either sign) any field accepts, as a number or as text.
INT_MAX = 10**18

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_CENT = Decimal("0.01")
# Bounds on what a number may spell out. Numbers dump as plain digits ("0.000...5"), and the
# tiniest float (5e-324) takes 326 characters that way: within these bounds, whatever loads also
# reloads from its own dump, and no input can make a dump of unbounded length.
_DECIMAL_PLACES_MAX = 400
_NUMBER_MAX_CHARS = 440


def to_decimal(value: Any) -> Decimal:
    """A finite Decimal from an int, float, Decimal or plain numeric string (no exponent, no
    NaN/Infinity, no underscores), within +/- :data:`AMOUNT_MAX`."""
    if isinstance(value, bool):
        raise ValidationError("Not a valid number.")
    try:
        if isinstance(value, int):
            if abs(value) > AMOUNT_MAX:
                raise ValidationError("Number out of range.")
            result = Decimal(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValidationError("Not a finite number.")
            # repr, not the binary value: 12.1 means 12.10, not 12.0999999...
            result = Decimal(repr(value))
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise ValidationError("Not a finite number.")
            result = value
        elif isinstance(value, str):
            text = value.strip()
            if len(text) > _NUMBER_MAX_CHARS or not _NUMBER.fullmatch(text):
                raise ValidationError("Not a valid number.")
            result = Decimal(text)
        else:
            raise ValidationError("Not a valid number.")
    except (InvalidOperation, ValueError, OverflowError) as exc:
        raise ValidationError("Not a valid number.") from exc
    if abs(result) > AMOUNT_MAX:
        raise ValidationError("Number out of range.")
    exponent = result.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_DECIMAL_PLACES_MAX:
        raise ValidationError("Too many decimal places.")
    return result


def to_int(value: Any) -> int:
    """An int from an int, an integral float or a numeric string, within +/- :data:`INT_MAX`."""
    if isinstance(value, bool):
        raise ValidationError("Not a valid integer.")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValidationError("Not a valid integer.")
        result = int(value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        result = int(value.strip())
    else:
        raise ValidationError("Not a valid integer.")
    if abs(result) > INT_MAX:
        raise ValidationError("Integer out of range.")
    return result


def decimal_places_ok(value: Decimal) -> bool:
    """Whether the value has at most two decimal places (whole tiyn)."""
    return value == value.quantize(_CENT)


def format_amount(value: Decimal) -> str:
    """``"100"`` when whole, else two decimals (``"12.50"``): the form the bank's examples use."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.quantize(_CENT):f}"


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
    "INT_MAX",
    "decimal_places_ok",
    "format_amount",
    "js_amount",
    "to_decimal",
    "to_int",
]
