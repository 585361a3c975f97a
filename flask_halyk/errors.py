"""The exceptions flask-halyk raises.

Every error a shop can meet derives from :class:`HalykError`, so one ``except`` catches them all.
Messages say what happened and what to do; none of them ever carries the client secret, nor
any other credential of the request an answer quotes (:mod:`flask_halyk.redaction`).
"""

from __future__ import annotations

from typing import Any


class HalykError(Exception):
    """Base class of every flask-halyk error."""


class ConfigurationError(HalykError):
    """The app's ``HALYK_*`` configuration is missing, contradictory or unsafe."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class ExtensionSetupError(HalykError, RuntimeError):
    """``HalykEpay`` was set up wrongly: ``init_app`` called twice on one app, or the extension
    used on an app it was never initialised on. Also a ``RuntimeError``, as Flask's own
    set-up mistakes are."""


class TransportError(HalykError):
    """ePay could not be reached, or did not answer in time (after any retries)."""


class EpayTimeout(TransportError):
    """ePay did not answer within the configured timeout, or the call's overall deadline
    (``HALYK_DEADLINE``, or the one given to the call) ended it. ``deadline``: that deadline in
    seconds; ``attempts``: how many attempts were made (None when unknown)."""

    def __init__(self, message: str, deadline: float | None = None,
                 attempts: int | None = None) -> None:
        self.deadline = deadline
        self.attempts = attempts
        super().__init__(message)


class EpayConnectionError(TransportError):
    """The connection to ePay failed (DNS, refused, reset, TLS)."""


class EpayUnavailable(TransportError):
    """ePay answered with a 5xx status, after any retries."""

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)


class AuthenticationError(HalykError):
    """ePay refused the credentials (client id, client secret or terminal)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class ApiError(HalykError):
    """ePay understood the request and refused it, with its own code and message.

    ``code`` is the bank's code (``100`` for the operation errors, a ``resultCode`` for status);
    ``bank_message`` the bank's own text for it (``message``, ``resultMessage`` or
    ``error_description``), for showing or logging; ``status`` is the HTTP status when there was
    one.
    """

    def __init__(
        self,
        message: str,
        code: int | None = None,
        status: int | None = None,
        bank_message: str | None = None,
    ) -> None:
        self.code = code
        self.status = status
        self.bank_message = bank_message
        super().__init__(message)


class OperationNotRecorded(HalykError):
    """ePay performed a charge, cancel or refund, and the ledger could not record it (its
    database failed: ``__cause__`` is the :class:`LedgerUnavailable`). The money moved: do not
    repeat the operation. ``operation``, ``invoice_id``, ``amount`` say what was done and
    ``result`` is ePay's answer; once the database is back, record it with
    ``halyk.ledger.record_refund(invoice_id, amount)`` (``record_charge``, ``record_cancel``)."""

    def __init__(self, message: str, *, operation: str, invoice_id: str,
                 amount: Any, result: Any) -> None:
        self.operation = operation
        self.invoice_id = invoice_id
        self.amount = amount
        self.result = result
        super().__init__(message)


class InvalidResponse(HalykError):
    """ePay answered something that is not what the protocol promises (garbage, HTML, fields
    missing). ``body`` holds the start of what came back, for the logs."""

    def __init__(self, message: str, body: str = "") -> None:
        self.body = body[:500]
        super().__init__(message)


class LedgerUnavailable(HalykError):
    """The ledger's database could not be used: down, unreachable, its file unreadable, its
    tables gone. The call that raised it recorded nothing (its transaction was rolled back);
    try again later. The ledger checks (and if need be creates) its tables again on the next
    call, so a database that comes back, even empty, serves without a restart.

    ``reason`` is the driver's own first line (no SQL, no parameters)."""

    def __init__(self, message: str, reason: str = "") -> None:
        self.reason = reason
        super().__init__(message)


class InvalidArgument(HalykError, ValueError):
    """A call was given an argument ePay would refuse (an amount with three decimals, a refund
    under 10 tenge, an invoice id of letters...). Nothing was sent. Also a ``ValueError``."""


class InvalidPayment(InvalidArgument):
    """``create_payment`` was given something ePay would refuse (amount, invoice id, description,
    links, email...). ``messages`` maps each argument to what is wrong with it; nothing was
    recorded or sent."""

    def __init__(self, messages: dict[str, Any]) -> None:
        self.messages = messages
        detail = "; ".join(f"{key}: {value}" for key, value in messages.items())
        super().__init__(f"invalid payment: {detail}")


class InvoiceIdExhausted(HalykError):
    """No unused invoice id is left in the configured range."""


class InvoiceIdError(HalykError, ValueError):
    """An invoice id given to the ledger is not one ePay accepts (digits only, 6 to 15 long)."""


class InvoiceIdInUse(InvoiceIdError):
    """The invoice id, or another id with the same last six digits, is already in the ledger.

    ePay wants the last six digits unique among a shop's invoices, and an id is never reused.
    """


class PaymentNotFound(HalykError, LookupError):
    """The ledger holds no payment with this invoice id."""


class PaymentStateError(HalykError):
    """The payment is not in a state that allows the operation (a refund of an unpaid payment,
    a refund beyond what is left, a charge of a failed one...). The message says exactly why
    ("cannot refund 5000 of payment 100483920: only 4800.00 is left"); ``refusal``, when the
    ledger's rule refused it, holds the same in parts
    (:class:`flask_halyk.ledger.states.Refusal`: ``code``, ``status``, ``amount``, ``left``,
    ``in_flight``) for a back office to word in its own language."""

    def __init__(self, message: str, refusal: Any = None) -> None:
        self.refusal = refusal
        super().__init__(message)


class CardNotFound(HalykError, LookupError):
    """The ledger holds no saved card with this cardId."""


class SubscriptionNotFound(HalykError, LookupError):
    """The ledger holds no subscription with this id."""


class CardError(HalykError):
    """A saved card cannot be charged. ``card_id`` names it."""

    def __init__(self, message: str, card_id: str | None = None) -> None:
        self.card_id = card_id
        super().__init__(message)


class CardUnavailable(CardError):
    """The card is deactivated (removed, or no longer in the bank's list), or the bank's list
    says ``PaymentAvailable: false`` (an expired or blocked card): ask the customer for
    another card. Nothing was sent."""


class CardAccountMismatch(CardError):
    """The card belongs to another customer account than the one named: refused before any
    bank call."""


class RecurringNotAllowed(CardError, ApiError):
    """ePay refused a payment with a saved card because this terminal may not charge saved
    cards without the customer (recurring / card-on-file rights are set per terminal by the
    bank): ask Halyk to enable them, or send the customer through the payment page."""

    def __init__(self, message: str, card_id: str | None = None, *, code: int | None = None,
                 status: int | None = None, bank_message: str | None = None) -> None:
        ApiError.__init__(self, message, code=code, status=status, bank_message=bank_message)
        self.card_id = card_id


class ThreeDSecureRequired(CardError):
    """The terminal requires 3-D Secure for payments with a saved card: the bank answered with
    a ``secure3D`` step instead of a payment. The payment stays ``new`` in the ledger under
    ``invoice_id``; to finish it, send the customer's browser to ``action`` with a form POST
    of ``PaReq`` (``pa_req``), ``MD`` (``md``) and ``TermUrl`` (``term_url``), as the bank's
    SDK does; the postLink (or ``flask halyk reconcile``) then records the outcome."""

    def __init__(self, message: str, card_id: str | None = None, *, invoice_id: str,
                 secure3d: dict[str, Any]) -> None:
        super().__init__(message, card_id)
        self.invoice_id = invoice_id
        self.secure3d = dict(secure3d)
        self.action = str(secure3d.get("action") or "")
        self.pa_req = str(secure3d.get("paReq") or "")
        self.md = str(secure3d.get("md") or "")
        self.term_url = str(secure3d.get("termURL") or secure3d.get("termUrl") or "")


__all__ = [
    "ApiError",
    "AuthenticationError",
    "CardAccountMismatch",
    "CardError",
    "CardNotFound",
    "CardUnavailable",
    "ConfigurationError",
    "EpayConnectionError",
    "EpayTimeout",
    "EpayUnavailable",
    "ExtensionSetupError",
    "HalykError",
    "InvalidArgument",
    "InvalidPayment",
    "InvalidResponse",
    "InvoiceIdError",
    "InvoiceIdExhausted",
    "InvoiceIdInUse",
    "LedgerUnavailable",
    "OperationNotRecorded",
    "PaymentNotFound",
    "PaymentStateError",
    "RecurringNotAllowed",
    "ThreeDSecureRequired",
    "TransportError",
]
