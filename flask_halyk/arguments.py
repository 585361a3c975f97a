"""Checks of the client's arguments, made before anything is sent: invoice and transaction ids,
amounts, and the outgoing forms. A bad argument is the caller's bug, so each raises
:class:`~flask_halyk.errors.InvalidArgument` (a ``ValueError``), naming the field, not the secret.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError

from .errors import InvalidArgument
from .redaction import validation_problem

__all__ = [
    "check_invoice_id",
    "check_transaction_id",
    "decimal_amount",
    "dump_form",
]

_INVOICE_ID = re.compile(r"[0-9]{6,15}")
_TRANSACTION_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_CENT = Decimal("0.01")


def check_invoice_id(invoice_id: object) -> str:
    """``invoice_id`` if it is 6 to 15 digits."""
    if not isinstance(invoice_id, str) or not _INVOICE_ID.fullmatch(invoice_id):
        raise InvalidArgument("invoice_id must be 6 to 15 digits")
    return invoice_id


def check_transaction_id(transaction_id: object) -> str:
    """``transaction_id`` if it can be ePay's transaction id (letters, digits, ``-``, ``_``)."""
    if not isinstance(transaction_id, str) or not _TRANSACTION_ID.fullmatch(transaction_id):
        raise InvalidArgument(
            "transaction_id must be ePay's transaction id (the UUID of the postLink 'id' or "
            "status transaction.id), not the invoice id"
        )
    return transaction_id


def decimal_amount(amount: object, name: str) -> Decimal:
    """A positive amount with at most two decimals, from a Decimal, int or numeric string."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int | str):
        raise InvalidArgument(f"{name} must be a Decimal, an int or a numeric string")
    try:
        value = Decimal(amount.strip() if isinstance(amount, str) else amount)
    except InvalidOperation:
        raise InvalidArgument(f"{name} {amount!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise InvalidArgument(f"{name} must be a positive number, not {amount!r}")
    if value != value.quantize(_CENT):
        raise InvalidArgument(f"{name} has more than two decimal places: {amount!r}")
    return value


def dump_form(schema: Any, fields: dict[str, Any], what: str) -> dict[str, str]:
    """Validate outgoing fields and dump them as the form to post, or raise InvalidArgument.

    The error is raised outside the ``except``: marshmallow's error keeps the input,
    client secret included, and must not ride along as ``__context__``.
    """
    try:
        form: dict[str, str] = schema.dump(schema.load(fields))
    except ValidationError as exc:
        problem = validation_problem(exc)
    else:
        return form
    raise InvalidArgument(f"invalid {what}: {problem}")
