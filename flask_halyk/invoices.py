"""Invoice ids: the form ePay accepts, and the arithmetic behind the ids the ledger allocates.

ePay takes 6 to 15 ASCII digits, and wants the last six unique among a shop's invoices. The
client, the schemas, the ledger and the sandbox all ask this module.

An allocated id is ``prefix + six digits``. The six digits come from a counter (kept by the
ledger) passed through a bijection of 0..999999 keyed per database (``value * multiplier +
offset mod 10**6``, the multiplier coprime to 10**6), so consecutive payments do not get
guessable consecutive ids.
"""

from __future__ import annotations

import re
import secrets

from .errors import InvoiceIdError

SUFFIX_DIGITS = 6
SUFFIX_SPACE = 10**SUFFIX_DIGITS
MIN_LENGTH = 6
MAX_LENGTH = 15

_INVOICE_ID = re.compile(r"[0-9]{6,15}")
_PREFIX = re.compile(r"[0-9]{0,9}")


def is_invoice_id(value: object) -> bool:
    """Whether ``value`` is a string ePay accepts as an invoice id."""
    return isinstance(value, str) and _INVOICE_ID.fullmatch(value) is not None


def check_invoice_id(value: object, name: str = "invoice_id") -> str:
    """``value`` if it is a valid invoice id, else :class:`InvoiceIdError` (a ``ValueError``)."""
    if not isinstance(value, str) or _INVOICE_ID.fullmatch(value) is None:
        raise InvoiceIdError(
            f"{name} {value!r} is not an ePay invoice id: digits only, {MIN_LENGTH} to "
            f"{MAX_LENGTH} long."
        )
    return value


def check_prefix(prefix: str) -> str:
    """A prefix for allocated ids: digits, at most 9 (ids stay within 15 digits)."""
    if not isinstance(prefix, str) or _PREFIX.fullmatch(prefix) is None:
        raise InvoiceIdError(f"invoice prefix {prefix!r} must be 0 to 9 digits.")
    return prefix


def suffix_of(invoice_id: str) -> str:
    """The last six digits, the part ePay wants unique."""
    return invoice_id[-SUFFIX_DIGITS:]


def new_key() -> tuple[int, int]:
    """A random (multiplier, offset) for a new database; the multiplier is coprime to 10**6."""
    while True:
        multiplier = secrets.randbelow(SUFFIX_SPACE)
        if multiplier % 2 and multiplier % 5:
            return multiplier, secrets.randbelow(SUFFIX_SPACE)


def invoice_for(value: int, multiplier: int, offset: int, prefix: str) -> str:
    """The invoice id of counter value ``value`` (0 <= value < 10**6)."""
    if not 0 <= value < SUFFIX_SPACE:
        raise ValueError("counter value out of range")
    suffix = (value * multiplier + offset) % SUFFIX_SPACE
    return f"{prefix}{suffix:0{SUFFIX_DIGITS}d}"


__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "SUFFIX_DIGITS",
    "SUFFIX_SPACE",
    "check_invoice_id",
    "check_prefix",
    "invoice_for",
    "is_invoice_id",
    "new_key",
    "suffix_of",
]
