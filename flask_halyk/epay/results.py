"""What :class:`~flask_halyk.epay.EpayClient` returns: frozen, typed views of ePay's answers.

Each result keeps ``raw``, the bank's answer as received, so that nothing the bank said is lost
to the typing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

__all__ = [
    "BankCard",
    "CardPaymentResult",
    "OperationResult",
    "PaymentLink",
    "PaymentToken",
    "QrCode",
    "QrStatus",
    "ResultCode",
    "StatusName",
    "StatusResult",
    "Transaction",
]

_RESULT_MEANINGS = {
    100: "success: the transaction was found, read its statusName",
    101: "the payment was rejected",
    102: "no transaction with this invoice id",
    103: "ePay reported an error",
    104: "the terminal is absent in the token",
    106: "incorrect terminal",
    107: "in progress: ask again later",
    109: "the terminal does not belong to this client",
}


class ResultCode(IntEnum):
    """``resultCode`` of the status API. Codes the bank adds later are still representable:
    ``ResultCode(555)`` is a member named ``UNKNOWN_555``."""

    SUCCESS = 100
    REJECTED = 101
    NOT_FOUND = 102
    ERROR = 103
    TERMINAL_ABSENT = 104
    INCORRECT_TERMINAL = 106
    IN_PROGRESS = 107
    FOREIGN_TERMINAL = 109

    @classmethod
    def _missing_(cls, value: object) -> ResultCode | None:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return cls(int(value))
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        # A pseudo-member, as enum.Flag makes for unnamed combinations; not cached, so equal
        # codes give equal (not identical) members.
        member = int.__new__(cls, value)
        member._name_ = f"UNKNOWN_{value}"
        member._value_ = value
        return member

    @property
    def meaning(self) -> str:
        """What the code means, in words."""
        return _RESULT_MEANINGS.get(int(self), f"unknown result code {int(self)}")


class StatusName(StrEnum):
    """``transaction.statusName`` of the status API. Unknown names are still representable."""

    NEW = "NEW"
    AUTH = "AUTH"
    CHARGE = "CHARGE"
    CANCEL = "CANCEL"
    CANCEL_OLD = "CANCEL_OLD"
    REFUND = "REFUND"
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"
    REJECT = "REJECT"
    FINGERPRINT = "FINGERPRINT"
    THREE_D = "3D"

    @classmethod
    def _missing_(cls, value: object) -> StatusName | None:
        if not isinstance(value, str):
            return None
        upper = value.strip().upper()
        if upper in cls._value2member_map_:
            return cls(upper)
        member = str.__new__(cls, value)
        member._name_ = f"UNKNOWN_{value}"
        member._value_ = value
        return member


_PENDING = frozenset({StatusName.NEW, StatusName.FINGERPRINT, StatusName.THREE_D})
_FAILED = frozenset({StatusName.FAILED, StatusName.REJECT})
_CANCELLED = frozenset({StatusName.CANCEL, StatusName.CANCEL_OLD})


def _mask(secret: str) -> str:
    """Enough of a token to tell two apart in a log, not enough to use it."""
    return f"{secret[:4]}...({len(secret)} chars)" if len(secret) > 8 else "***"


@dataclass(frozen=True, repr=False)
class PaymentToken:
    """A token for one payment, bound to one invoice; never reuse it for another.

    ``raw`` is the token response exactly as ePay sent it; hand :attr:`auth` to the widget as
    paymentObject ``auth`` (the page needs the whole object, not only ``access_token``).
    """

    invoice_id: str
    amount: Decimal
    currency: str
    secret_hash: str
    raw: dict[str, Any]
    access_token: str
    expires_in: int
    expires_at: datetime

    @property
    def auth(self) -> dict[str, Any]:
        """A copy of the token response, for paymentObject ``auth``."""
        return copy.deepcopy(self.raw)

    def __repr__(self) -> str:
        return (
            f"PaymentToken(invoice_id={self.invoice_id!r}, amount={self.amount!r}, "
            f"currency={self.currency!r}, access_token={_mask(self.access_token)!r}, "
            f"expires_at={self.expires_at.isoformat()!r})"
        )


@dataclass(frozen=True)
class PaymentLink:
    """A payment link the bank made (``POST /invoice``) and sent to the customer by e-mail or
    SMS: ``invoice_url`` is the page where they pay, until ``expire_date``. ``raw``: the answer
    as ePay sent it."""

    id: str
    invoice_id: str
    invoice_url: str
    amount: Decimal
    currency: str
    status: str
    expire_period: str
    created_date: datetime | None
    expire_date: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class QrCode:
    """A QR the bank made for one payment (``POST /payment/qr/generate``): ``qrcode`` as the
    bank sent it (its format is not published), its ``bill_number`` (the status call's key),
    and the links that open the payment in the bank's apps."""

    invoice_id: str
    bill_number: str
    qrcode: str
    homebank_link: str | None
    onlinebank_link: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class QrStatus:
    """A QR's status (``GET /qr``): NEW, SCANNED, BLOCKED, AUTH, PAID or REJECTED (a QR not
    paid within 20 minutes is REJECTED)."""

    bill_number: str
    status: str
    amount: Decimal | None
    currency: str | None
    error: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def final(self) -> bool:
        """PAID or REJECTED: nothing more will happen to this QR."""
        return self.status in ("PAID", "REJECTED")


@dataclass(frozen=True)
class Transaction:
    """``transaction`` of a status answer. ``raw`` has every field, typed ones included."""

    id: str
    invoice_id: str
    amount: Decimal
    currency: str
    status_name: StatusName
    terminal_id: str | None = None
    card_mask: str | None = None
    reason: str | None = None
    reason_code: int | None = None
    approval_code: str | None = None
    reference: str | None = None
    created: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class StatusResult:
    """The answer of the status API for one invoice.

    ``found`` tells whether ePay knows the invoice; ``paid`` whether the money is the shop's
    (``CHARGE``, or ``AUTH`` on a two-stage terminal awaiting charge: see ``authorized``);
    ``pending`` whether to ask again later; ``failed`` whether the payment is refused for good.
    """

    result_code: ResultCode
    result_message: str
    transaction: Transaction | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def status_name(self) -> StatusName | None:
        """The transaction's ``statusName``, if there is a transaction."""
        return self.transaction.status_name if self.transaction else None

    @property
    def found(self) -> bool:
        """ePay knows this invoice."""
        return self.result_code != ResultCode.NOT_FOUND and self.transaction is not None

    @property
    def charged(self) -> bool:
        """The money was captured (``CHARGE``)."""
        return self._ok and self.status_name == StatusName.CHARGE

    @property
    def authorized(self) -> bool:
        """The money is held, awaiting :meth:`~flask_halyk.epay.EpayClient.charge` or
        ``cancel`` (``AUTH``, two-stage terminals)."""
        return self._ok and self.status_name == StatusName.AUTH

    @property
    def paid(self) -> bool:
        """The customer paid: :attr:`charged` or :attr:`authorized`."""
        return self.charged or self.authorized

    @property
    def pending(self) -> bool:
        """No final answer yet (``107``, or ``NEW``/``3D``/``FINGERPRINT``): ask later."""
        if self.result_code == ResultCode.IN_PROGRESS:
            return True
        return self._ok and self.status_name in _PENDING

    @property
    def failed(self) -> bool:
        """The payment was refused (``101``, ``FAILED`` or ``REJECT``)."""
        if self.result_code == ResultCode.REJECTED:
            return True
        return self.status_name in _FAILED

    @property
    def cancelled(self) -> bool:
        """An authorisation was voided (``CANCEL``, ``CANCEL_OLD``)."""
        return self._ok and self.status_name in _CANCELLED

    @property
    def refunded(self) -> bool:
        """The payment was refunded (``REFUND``; a partial refund may show ``CHARGE``)."""
        return self._ok and self.status_name == StatusName.REFUND

    @property
    def _ok(self) -> bool:
        return self.result_code == ResultCode.SUCCESS


@dataclass(frozen=True)
class OperationResult:
    """A charge, cancel or refund that ePay accepted (refusals raise
    :class:`~flask_halyk.errors.ApiError`).

    ``raw`` is the decoded JSON answer when there was one (ePay often answers an empty body).
    """

    operation: str
    transaction_id: str
    amount: Decimal | None
    external_id: str | None
    http_status: int
    raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)



@dataclass(frozen=True)
class BankCard:
    """One entry of the bank's list of an account's saved cards (``GET /cards/{accountId}``,
    PascalCase on the wire): ``card_id`` is its ``ID``, the cardId to pay with."""

    card_id: str
    account_id: str | None
    card_mask: str | None
    payer_name: str | None
    #: ``PaymentAvailable``: False when the bank will not charge it (expired, blocked...).
    payment_available: bool | None
    created: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class CardPaymentResult:
    """The answer to a payment with a saved card (``POST /payments/cards/auth``).

    ``status``: the bank's statusName (``CHARGE``, ``AUTH`` on a two-stage terminal, ``REJECT``
    for a decline); ``code`` its code (0: done, else the decline's reason code);
    ``secure3d``: None, or the 3-D Secure step the terminal requires (``paReq``, ``md``,
    ``termURL``, ``action``), when the payment waits for the customer."""

    transaction_id: str | None
    invoice_id: str | None
    status: str | None
    code: int | None
    message: str | None
    card_id: str | None
    reference: str | None
    secure3d: dict[str, Any] | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def approved(self) -> bool:
        """The bank took (CHARGE) or holds (AUTH) the money."""
        return self.secure3d is None and (self.status or "").upper() in ("AUTH", "CHARGE") \
            and not self.code
