"""The bank's own schedule of a card's payments: ``POST {api}/recurrent/subscribe``.

Known only from Halyk's mobile SDK (EPAY-REFERENCE.md section 14): the request
``{"transactionId": "<uuid>", "paymentFrequency": "WEEKLY" | "MONTHLY" | "QUARTERLY"}`` and the
answer ``{createdDate, paymentFrequency, lastPaymentDate, clientId, invoiceId, amount,
currency, reference}``. No vendor page describes it: who charges later, when, with which
invoice ids and which postLinks is not published, so flask-halyk's subscriptions do not use it
(docs/subscriptions.md); a shop that wants the bank's schedule can call it with
:meth:`~flask_halyk.epay.EpayClient.recurrent_subscribe`.

It sets up charges of a card, so it is never retried: a lost answer is not repeated blindly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import InvalidArgument
from .transport import Reply

__all__ = ["FREQUENCIES", "SUBSCRIBE_PATH", "BankSchedule", "read_schedule", "subscribe_body"]

SUBSCRIBE_PATH = "/recurrent/subscribe"
#: The SDK's ``paymentFrequency`` values.
FREQUENCIES = ("WEEKLY", "MONTHLY", "QUARTERLY")


@dataclass(frozen=True)
class BankSchedule:
    """The bank's answer to ``/recurrent/subscribe``, its dates as sent (the SDK's format
    ``yyyy-MM-dd'T'HH:mm:ss.SSSSSSSZ``)."""

    payment_frequency: str | None
    created_date: str | None
    last_payment_date: str | None
    client_id: str | None
    invoice_id: str | None
    amount: Decimal | None
    currency: str | None
    reference: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def subscribe_body(transaction_id: object, frequency: object) -> dict[str, str]:
    """The request; :class:`InvalidArgument` (nothing sent) for what the SDK cannot send."""
    if not isinstance(transaction_id, str) or not transaction_id.strip():
        raise InvalidArgument("recurrent_subscribe needs the id of the paid transaction "
                              "(the postLink's or the status's id)")
    if frequency not in FREQUENCIES:
        raise InvalidArgument(f"paymentFrequency must be one of {', '.join(FREQUENCIES)}, "
                              f"not {frequency!r}")
    return {"transactionId": transaction_id.strip(), "paymentFrequency": str(frequency)}


def read_schedule(reply: Reply) -> BankSchedule:
    """A 2xx with a JSON object is the schedule; anything else raises (:class:`ApiError` for
    the bank's ``{"code", "message"}``, else :class:`InvalidResponse`)."""
    body = reply.json()
    if not (200 <= reply.status < 300):
        raise reply.unexpected(body, advice="the transaction must be a paid payment of this "
                                            "terminal with a saved card")
    if not isinstance(body, dict):
        raise reply.invalid("no JSON object for the recurrent schedule")

    def text(key: str) -> str | None:
        value = body.get(key)
        return None if value is None else str(value)

    amount: Decimal | None = None
    if body.get("amount") is not None:
        try:
            amount = Decimal(str(body["amount"]))
        except InvalidOperation:
            raise reply.invalid("an amount that is not a number") from None
    return BankSchedule(
        payment_frequency=text("paymentFrequency"), created_date=text("createdDate"),
        last_payment_date=text("lastPaymentDate"), client_id=text("clientId"),
        invoice_id=text("invoiceId"), amount=amount, currency=text("currency"),
        reference=text("reference"), raw=dict(body),
    )
