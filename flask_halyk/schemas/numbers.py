"""Numbers on ePay's wire as marshmallow reads them: integers coerced from whatever JSON or a
form carries, and amounts through :mod:`flask_halyk.money`, both within bounds that keep every
value exact.

Invalid input raises :class:`marshmallow.ValidationError`, so that the fields using these helpers
keep the schemas' promise of raising nothing else.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError

from ..money import AmountError
from ..money import to_decimal as money_decimal

#: The largest integer (either sign) any field accepts, as a number or as text.
INT_MAX = 10**18

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def to_decimal(value: Any) -> Decimal:
    """:func:`flask_halyk.money.to_decimal`, failing as a validation error that does not quote
    the value (it may be anything a sender wrote)."""
    try:
        return money_decimal(value)
    except AmountError as exc:
        raise ValidationError(exc.problem) from None


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


__all__ = ["INT_MAX", "to_decimal", "to_int"]
