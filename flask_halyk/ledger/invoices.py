"""Invoice ids: the form ePay accepts, and how the ledger allocates them.

An allocated id is ``prefix + six digits``. The six digits come from a counter row in the
database, advanced by one atomic ``UPDATE`` per id, and passed through a bijection of
0..999999 keyed per database (``value * multiplier + offset mod 10**6``, the multiplier coprime
to 10**6). A counter value is consumed even when its id cannot be used, so an id is never handed
out twice, across threads and processes alike; the unique index on the suffix column is the
final guard (it also stops a shop-chosen id from taking an allocated suffix, and the allocator
then moves on). After 10**6 values the ledger raises :class:`InvoiceIdExhausted`.
"""

from __future__ import annotations

import re
import secrets

from ..errors import InvoiceIdError

SUFFIX_DIGITS = 6
SUFFIX_SPACE = 10**SUFFIX_DIGITS
MIN_LENGTH = 6
MAX_LENGTH = 15

_INVOICE_ID = re.compile(r"[0-9]{6,15}")


def is_invoice_id(value: object) -> bool:
    """Whether ``value`` is a string ePay accepts as an invoice id."""
    return isinstance(value, str) and _INVOICE_ID.fullmatch(value) is not None


def check_invoice_id(value: object) -> str:
    """``value`` if it is a valid invoice id, else :class:`InvoiceIdError`."""
    if not is_invoice_id(value):
        raise InvoiceIdError(
            f"{value!r} is not an ePay invoice id: digits only, {MIN_LENGTH} to {MAX_LENGTH} long."
        )
    assert isinstance(value, str)
    return value


def check_prefix(prefix: str) -> str:
    """A prefix for allocated ids: digits, at most 9 (ids stay within 15 digits)."""
    if not re.fullmatch(r"[0-9]{0,9}", prefix):
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
