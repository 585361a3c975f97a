"""``POST /operation/{transactionId}/charge|cancel|refund``: what each operation sends, and
how ePay's answer is read.

These calls are never retried: when one times out or meets a 5xx, ePay may well have performed
it, and a repeated refund can pay the customer twice. The caller checks the status and decides.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from ..errors import InvalidArgument
from ..money import format_amount
from .results import OperationResult
from .transport import Reply

__all__ = [
    "REFUND_MINIMUM",
    "Operation",
    "check_transaction_id",
    "operation_params",
    "operation_path",
    "read_operation",
]

#: The operations of the API.
Operation = Literal["charge", "cancel", "refund"]

#: ePay refuses refunds below 10 tenge; the client refuses them before sending (in tenge only:
#: the vendor names no minimum in another currency, so none is imposed there).
REFUND_MINIMUM = Decimal(10)

_TRANSACTION_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")

_ADVICE = {
    "charge": "charge needs an authorised (AUTH) payment on a two-stage terminal",
    "cancel": "cancel needs an authorised (AUTH), not yet charged payment",
    "refund": "refund needs a charged (CHARGE) payment and at least 10 tenge",
}


def check_transaction_id(transaction_id: object) -> str:
    """``transaction_id`` if it can be ePay's transaction id (letters, digits, ``-``, ``_``)."""
    if not isinstance(transaction_id, str) or not _TRANSACTION_ID.fullmatch(transaction_id):
        raise InvalidArgument(
            "transaction_id must be ePay's transaction id (the UUID of the postLink 'id' or "
            "status transaction.id), not the invoice id"
        )
    return transaction_id


def operation_path(operation: Operation, transaction_id: str) -> str:
    """The API path of ``operation`` on a checked transaction id."""
    return f"/operation/{transaction_id}/{operation}"


def operation_params(
    operation: Operation, amount: Decimal | None, external_id: str | None = None,
    currency: str = "KZT",
) -> dict[str, str]:
    """The query of an operation: ``amount`` when partial, ``externalID`` for a refund.
    A refund in tenge under :data:`REFUND_MINIMUM` raises :class:`InvalidArgument` (ePay
    refuses it, and a bad argument is the caller's bug rather than the bank's answer)."""
    if (operation == "refund" and amount is not None and currency.upper() == "KZT"
            and amount < REFUND_MINIMUM):
        raise InvalidArgument(f"a refund must be at least {REFUND_MINIMUM} tenge, not {amount}")
    params: dict[str, str] = {}
    if amount is not None:
        params["amount"] = format_amount(amount)
    if external_id is not None:
        if not external_id:
            raise InvalidArgument("external_id must not be empty")
        params["externalID"] = external_id
    return params


def read_operation(
    reply: Reply,
    operation: Operation,
    transaction_id: str,
    amount: Decimal | None,
    external_id: str | None,
) -> OperationResult:
    """The answer to charge, cancel or refund: a 2xx is done unless it is an HTML page; the
    bank's refusal raises :class:`ApiError` with advice, anything else
    :class:`InvalidResponse`."""
    status = reply.status
    body = reply.json()
    if 200 <= status < 300 and body is None and reply.response.content.strip() \
            and reply.is_html():
        # A 2xx HTML page (a proxy's maintenance page, say) proves nothing: calling it done
        # could report a refund that never happened, calling it failed invites a second
        # refund. Only the status API can tell. A short plain-text "OK" stays a success.
        raise reply.invalid(
            f"HTTP {status} with a page instead of an answer; whether the {operation} was "
            f"done is unknown: ask status() before trying it again"
        )
    if 200 <= status < 300:
        return OperationResult(
            operation=operation,
            transaction_id=transaction_id,
            amount=amount,
            external_id=external_id,
            http_status=status,
            raw=body if isinstance(body, dict) else None,
        )
    raise reply.unexpected(body, advice=_ADVICE[operation])
