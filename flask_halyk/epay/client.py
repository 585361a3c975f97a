"""``EpayClient``: the server side of ePay's protocol, for one merchant.

Usable without Flask. Each bank call is one method here, and one module beside it with what it
sends and how its answer is read (:mod:`.tokens`, :mod:`.status`, :mod:`.operations`); the
:class:`~.transport.Transport` sends. Every failure reaches the caller as one of the typed errors
of :mod:`flask_halyk.errors`, and the client secret appears in none of them.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from ..config import LONG_SCOPE
from ..errors import AuthenticationError, InvalidArgument
from ..invoices import check_invoice_id
from ..money import parse_amount
from . import cards, links, operations, qr, recurrent, status, tokens
from .results import (
    BankCard,
    CardPaymentResult,
    OperationResult,
    PaymentLink,
    PaymentToken,
    QrCode,
    QrStatus,
    StatusResult,
)
from .transport import DEFAULT_DEADLINE, Deadline, Reply, Transport, check_deadline

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..config import HalykConfig, MerchantConfig

__all__ = ["EpayClient"]

logger = logging.getLogger("flask_halyk.client")


class EpayClient:
    """A client for ePay's OAuth and REST API, for one merchant (client id, secret, terminal).

    ``timeout`` is (connect, read) seconds for every call. Token and status calls are retried up
    to ``retries`` times, with jittered exponential backoff from ``backoff`` seconds, on
    connection errors, timeouts and 5xx answers; charge, cancel and refund never are.

    ``deadline`` bounds each call as a whole, in seconds (default 25: inside a 30 s worker
    timeout): its service token, every attempt and every backoff sleep. No attempt starts, and
    no attempt's timeout reaches, past it; a call it ends raises :class:`EpayTimeout` naming
    it. Each method also takes its own ``deadline=`` (e.g. a tighter one on a request the bank
    is waiting for).

    A ``session`` passed in stays the caller's (``close`` leaves it open); otherwise the client
    makes its own. :attr:`session` is public so that adapters can be mounted on it (the embedded
    sandbox mounts a :class:`~flask_halyk.epay.wsgi.WSGIAdapter`).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        terminal_id: str,
        token_url: str,
        api_url: str,
        scope: str = LONG_SCOPE,
        timeout: tuple[float, float] = (5, 30),
        retries: int = 2,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        currency: str = "KZT",
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        if not client_id or not client_secret or not terminal_id:
            raise InvalidArgument("client_id, client_secret and terminal_id are all required")
        for name, url in (("token_url", token_url), ("api_url", api_url)):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise InvalidArgument(f"{name} must be an absolute http(s) URL")
        try:
            connect, read = (float(t) for t in timeout)
        except (TypeError, ValueError):
            raise InvalidArgument("timeout must be a (connect, read) pair of seconds") from None
        # NaN passes "<= 0", and an infinite timeout would let a stalled bank hang the call.
        if not (math.isfinite(connect) and math.isfinite(read)) or connect <= 0 or read <= 0:
            raise InvalidArgument("timeouts must be positive, finite seconds")
        if retries < 0 or not math.isfinite(backoff) or backoff < 0:
            raise InvalidArgument("retries and backoff must be finite and not negative")
        checked_deadline = _deadline(deadline)
        self.client_id = client_id
        self.terminal_id = terminal_id
        self.token_url = token_url
        self.api_url = api_url.rstrip("/")
        self.scope = scope
        self.currency = currency
        self._owns_session = session is None
        self.transport = Transport(
            session=session if session is not None else requests.Session(),
            timeout=(connect, read), retries=retries, backoff=backoff, secret=client_secret,
            deadline=checked_deadline,
        )
        self._service_tokens = tokens.ServiceTokenCache(
            self.transport, token_url, self._credentials
        )

    @classmethod
    def from_config(
        cls, config: HalykConfig, session: requests.Session | None = None,
        merchant: MerchantConfig | None = None,
    ) -> EpayClient:
        """A client for the hosts, credentials, timeouts and retries of a resolved config: of
        ``merchant`` (one of ``config.merchants``), by default the default one."""
        chosen = merchant if merchant is not None else config.merchants[0]
        return cls(
            client_id=chosen.client_id,
            client_secret=chosen.client_secret,
            terminal_id=chosen.terminal_id,
            token_url=config.token_url,
            api_url=config.api_url,
            scope=config.scope,
            timeout=config.timeout,
            retries=config.retries,
            session=session,
            currency=chosen.currency,
            deadline=config.deadline,
        )

    @property
    def session(self) -> requests.Session:
        """The pooled session every call goes through."""
        return self.transport.session

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) seconds of every attempt."""
        return self.transport.timeout

    @property
    def deadline(self) -> float:
        """Seconds each call may take in all, unless the call is given its own."""
        return self.transport.deadline

    @property
    def retries(self) -> int:
        """How many times a retriable call is tried again."""
        return self.transport.retries

    @property
    def backoff(self) -> float:
        """The first retry's delay in seconds (doubled for each next one, jittered)."""
        return self.transport.backoff

    def __repr__(self) -> str:
        return (
            f"EpayClient(client_id={self.client_id!r}, terminal_id={self.terminal_id!r}, "
            f"token_url={self.token_url!r}, api_url={self.api_url!r})"
        )

    def __enter__(self) -> EpayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections (only of a session the client made itself)."""
        if self._owns_session:
            self.session.close()

    def _begin(self, deadline: float | None) -> Deadline:
        """The deadline of a call starting now: ``deadline`` seconds, or the client's."""
        return self.transport.begin(None if deadline is None else _deadline(deadline))

    # --- tokens --------------------------------------------------------------------------------

    def payment_token(
        self,
        invoice_id: str,
        amount: Decimal | int | str,
        *,
        currency: str | None = None,
        secret_hash: str,
        post_link: str | None = None,
        failure_post_link: str | None = None,
        deadline: float | None = None,
        verification: bool = False,
        issued: datetime | None = None,
    ) -> PaymentToken:
        """Get a fresh token for one payment (never cached: ePay binds it to the invoice).
        ``verification``: the token of a card verification, whose amount is 0.

        The token's ``expires_at`` counts its ``expires_in`` from ``issued``: a moment before
        the request (by default, when it is sent).

        Raises :class:`InvalidArgument` (a ``ValueError``) for an invalid invoice id, amount,
        currency or URL (nothing is sent), else the typed errors of :mod:`flask_halyk.errors`.
        """
        budget = self._begin(deadline)
        return tokens.payment_token(
            self.transport, self.token_url, self._credentials(),
            invoice_id=invoice_id, amount=parse_amount(amount, allow_zero=verification),
            currency=currency or self.currency,
            secret_hash=secret_hash, post_link=post_link, failure_post_link=failure_post_link,
            deadline=budget, issued=issued,
        )

    def service_token(self, *, deadline: float | None = None) -> str:
        """The token for status and operations: cached per client until 60 s before it expires.

        Thread-safe: threads needing a token at once share one token request.
        """
        return self._service_tokens.get(self._begin(deadline))[0]

    def _credentials(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_id": self.client_id,
            "client_secret": self.transport.secret,
            "terminal": self.terminal_id,
        }

    # --- status --------------------------------------------------------------------------------

    def status(self, invoice_id: str, *, deadline: float | None = None) -> StatusResult:
        """Ask ePay for the state of the payment of ``invoice_id``.

        Not-found (102), in-progress (107) and rejected (101) are answers, returned as a
        :class:`StatusResult`; 103, 104, 106 and 109 raise :class:`ApiError` with advice.
        ``deadline``: seconds for this call in all (the client's by default).
        """
        check_invoice_id(invoice_id)
        budget = self._begin(deadline)
        reply = self._api_call("GET", status.status_path(invoice_id),
                               what=f"status of invoice {invoice_id}", retry=True,
                               deadline=budget)
        return status.read_status(reply)

    # --- operations (never retried: see flask_halyk.epay.operations) ---------------------------

    def charge(
        self, transaction_id: str, amount: Decimal | int | str | None = None, *,
        deadline: float | None = None,
    ) -> OperationResult:
        """Capture an authorised payment (two-stage terminals), in full or ``amount`` of it."""
        return self._operation("charge", transaction_id, amount, None, deadline)

    def cancel(self, transaction_id: str, *, deadline: float | None = None) -> OperationResult:
        """Void an authorised, not yet charged payment."""
        return self._operation("cancel", transaction_id, None, None, deadline)

    def refund(
        self,
        transaction_id: str,
        amount: Decimal | int | str | None = None,
        external_id: str | None = None,
        *,
        deadline: float | None = None,
    ) -> OperationResult:
        """Refund a charged payment in full, or ``amount`` of it.

        Raises :class:`InvalidArgument` (a ``ValueError``), sending nothing, for an amount under
        :data:`~flask_halyk.epay.operations.REFUND_MINIMUM` (10 tenge) on a tenge client.
        """
        return self._operation("refund", transaction_id, amount, external_id, deadline)

    def _operation(
        self,
        operation: operations.Operation,
        transaction_id: str,
        amount: Decimal | int | str | None,
        external_id: str | None,
        deadline: float | None,
    ) -> OperationResult:
        value = None if amount is None else parse_amount(amount)
        params = operations.operation_params(operation, value, external_id, self.currency)
        operations.check_transaction_id(transaction_id)
        budget = self._begin(deadline)
        reply = self._api_call(
            "POST", operations.operation_path(operation, transaction_id),
            what=f"{operation} of transaction {transaction_id}", retry=False, params=params,
            deadline=budget,
        )
        return operations.read_operation(reply, operation, transaction_id, value, external_id)

    # --- saved cards (the payment is never retried: see flask_halyk.epay.cards) ---------------

    def cards(self, account_id: str, *, deadline: float | None = None) -> list[BankCard]:
        """The cards the bank keeps for ``account_id`` (an empty list for none: code 1373)."""
        budget = self._begin(deadline)
        reply = self._api_call("GET", cards.cards_path(account_id),
                               what="list of saved cards", retry=True, deadline=budget)
        return cards.read_cards(reply)

    def deactivate_card(self, card_id: str, *, deadline: float | None = None) -> dict[str, Any]:
        """Deactivate a saved card at the bank; its answer (``{"status": ...}``)."""
        path = cards.deactivate_path(card_id)
        budget = self._begin(deadline)
        reply = self._api_call("POST", path, what=f"deactivation of card {card_id}",
                               retry=True, deadline=budget)
        return cards.read_deactivation(reply)

    def card_payment(
        self,
        token: PaymentToken,
        *,
        card_id: str,
        account_id: str,
        amount: Decimal | int | str,
        description: str,
        language: str = "rus",
        recurrent: bool | None = None,
        currency: str | None = None,
        post_link: str | None = None,
        failure_post_link: str | None = None,
        name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        back_link: str | None = None,
        deadline: float | None = None,
    ) -> CardPaymentResult:
        """Pay the invoice of ``token`` (a payment token for it: :meth:`payment_token`) with
        the saved card ``card_id`` of ``account_id``. Never retried. The answer may be a
        decline (``status`` REJECT) or a 3-D Secure step (``secure3d``); a terminal without
        the right to pay by cardId raises :class:`RecurringNotAllowed`."""
        body = cards.card_payment_body({
            "amount": parse_amount(amount), "currency": currency or self.currency,
            "terminalId": self.terminal_id, "invoiceId": token.invoice_id,
            "description": description, "accountId": account_id, "language": language,
            "paymentType": "cardId", "recurrent": recurrent,
            "cardId": {"id": cards.check_card_id(card_id)},
            "postLink": post_link, "failurePostLink": failure_post_link,
            "name": name, "email": email, "phone": phone,
            "backLink": back_link, "failureBackLink": back_link,
        })
        budget = self._begin(deadline)
        reply = self.transport.send(
            "POST", f"{self.api_url}{cards.CARD_PAYMENT_PATH}",
            what=f"payment of invoice {token.invoice_id} with a saved card", retry=False,
            json=body, headers={"Authorization": f"Bearer {token.access_token}"},
            deadline=budget,
        )
        if reply.status in (401, 403):
            raise AuthenticationError(
                f"ePay refused the payment token for the {reply.what} at {reply.url} "
                f"(HTTP {reply.status}): a token is good for its own invoice and amount only.",
                status=reply.status,
            )
        return cards.read_card_payment(reply, card_id)

    def recurrent_subscribe(self, transaction_id: str, frequency: str, *,
                            deadline: float | None = None) -> recurrent.BankSchedule:
        """Ask the bank to charge the card of the paid transaction ``transaction_id`` on its
        own schedule (``frequency``: ``WEEKLY``, ``MONTHLY``, ``QUARTERLY``), the SDK's
        ``POST /recurrent/subscribe``. Never retried. Not what flask-halyk's subscriptions
        use: see :mod:`flask_halyk.epay.recurrent`."""
        body = recurrent.subscribe_body(transaction_id, frequency)
        budget = self._begin(deadline)
        reply = self._api_call("POST", recurrent.SUBSCRIBE_PATH,
                               what=f"recurrent schedule of transaction {transaction_id}",
                               retry=False, deadline=budget, json=body)
        return recurrent.read_schedule(reply)

    # --- payment links (never retried: see flask_halyk.epay.links.create_invoice) ------------

    def create_invoice_link(
        self,
        invoice_id: str,
        amount: Decimal | int | str,
        *,
        username: str,
        password: str,
        shop_id: str,
        description: str,
        post_link: str,
        failure_post_link: str,
        recipient_email: str | None = None,
        recipient_phone: str | None = None,
        expire_period: str = "1d",
        language: str = "rus",
        currency: str | None = None,
        account_id: str | None = None,
        back_link: str | None = None,
        failure_back_link: str | None = None,
        deadline: float | None = None,
    ) -> PaymentLink:
        """Have ePay send the customer a payment link (``POST /invoice``) by e-mail and/or SMS.

        The token is a password grant with the merchant cabinet's ``username`` and ``password``
        (fetched for this call alone, retried like every token request); the ``/invoice`` call
        itself is never retried. Invalid input raises :class:`InvalidArgument` before anything
        is sent; the password appears in no message.
        """
        check_invoice_id(invoice_id)
        value = parse_amount(amount)
        money = currency or self.currency
        body = links.invoice_body(
            shop_id=shop_id, invoice_id=invoice_id, amount=value, currency=money,
            language=language, description=description, expire_period=expire_period,
            post_link=post_link, failure_post_link=failure_post_link, back_link=back_link,
            failure_back_link=failure_back_link, account_id=account_id,
            recipient_email=recipient_email, recipient_phone=recipient_phone,
        )
        form = links.password_form(self._credentials(), username, password, self.scope)
        budget = self._begin(deadline)
        _raw, loaded = tokens.request_token(self.transport, self.token_url, form,
                                            "password-grant token (payment links)", budget)
        reply = links.create_invoice(self.transport, f"{self.api_url}{links.INVOICE_PATH}",
                                     str(loaded["access_token"]), body, budget)
        if reply.status in (401, 403):
            raise AuthenticationError(
                f"ePay refused the password-grant token for the {reply.what} at {reply.url} "
                f"(HTTP {reply.status}): check HALYK_CABINET_USERNAME and HALYK_SHOP_ID.",
                status=reply.status,
            )
        return links.read_invoice(reply, invoice_id, value, money)

    # --- QR payments (generate never retried: see flask_halyk.epay.qr.generate) --------------

    def create_qr(
        self,
        token: PaymentToken,
        *,
        description: str,
        post_link: str,
        failure_post_link: str,
        language: str = "rus",
        account_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        deadline: float | None = None,
    ) -> QrCode:
        """Have ePay make the QR of the payment ``token`` was issued for (its invoice and
        amount): ``POST /payment/qr/generate`` with that token. Never retried."""
        body = qr.generate_body(post_link=post_link, failure_post_link=failure_post_link,
                                description=description, language=language,
                                account_id=account_id, email=email, phone=phone)
        reply = qr.generate(self.transport, f"{self.api_url}{qr.GENERATE_PATH}",
                            token.access_token, body, token.invoice_id, self._begin(deadline))
        if reply.status in (401, 403):
            raise AuthenticationError(
                f"ePay refused the payment token for the {reply.what} at {reply.url} "
                f"(HTTP {reply.status}): the token may have expired; ask for a new one.",
                status=reply.status)
        return qr.read_generate(reply, token.invoice_id)

    def qr_status(self, bill_number: str, token: PaymentToken, *,
                  deadline: float | None = None) -> QrStatus:
        """The status of a QR (``GET /qr?billNumber=``), asked with a payment token of its
        invoice (as the integration that documents the call does). Retried like the status."""
        if not bill_number or not bill_number.isascii() or not bill_number.isalnum():
            raise InvalidArgument("a billNumber is letters and digits")
        reply = self.transport.send(
            "GET", f"{self.api_url}{qr.STATUS_PATH}", what=f"status of QR {bill_number}",
            retry=True, params={"billNumber": bill_number},
            headers={"Authorization": f"Bearer {token.access_token}"},
            deadline=self._begin(deadline))
        if reply.status in (401, 403):
            raise AuthenticationError(
                f"ePay refused the payment token for the {reply.what} at {reply.url} "
                f"(HTTP {reply.status}).", status=reply.status)
        return qr.read_status(reply, bill_number)

    # --- the API's authorisation ---------------------------------------------------------------

    def _api_call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        retry: bool,
        deadline: Deadline,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Reply:
        """Call the REST API with the service token; on a 401 with a cached token, drop it and
        try once more with a fresh one (the bank refused the token, so nothing was done). One
        ``deadline`` covers all of it."""
        url = f"{self.api_url}{path}"
        token, fresh = self._service_tokens.get(deadline)
        reply = self.transport.send(
            method, url, what=what, retry=retry, params=params, json=json,
            headers={"Authorization": f"Bearer {token}"}, deadline=deadline,
        )
        if reply.status == 401 and not fresh:
            logger.debug("%s %s: 401 with a cached service token; fetching a new one",
                         method, reply.url)
            self._service_tokens.drop(token)
            token, _ = self._service_tokens.get(deadline)
            reply = self.transport.send(
                method, url, what=what, retry=retry, params=params, json=json,
                headers={"Authorization": f"Bearer {token}"}, deadline=deadline,
            )
        if reply.status in (401, 403):
            raise AuthenticationError(
                f"ePay refused the service token for the {what} at {reply.url} "
                f"(HTTP {reply.status}): check that HALYK_CLIENT_ID and "
                "HALYK_TERMINAL_ID may use this API, and HALYK_SCOPE.",
                status=reply.status,
            )
        return reply


def _deadline(seconds: object) -> float:
    try:
        return check_deadline(seconds)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
