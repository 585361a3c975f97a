"""``EpayClient``: the server side of ePay's protocol (tokens, status, charge, cancel, refund).

One pooled :class:`requests.Session` per client; every call has a (connect, read) timeout; only
idempotent calls are retried. Usable without Flask. Every failure reaches the caller as one of the
typed errors of :mod:`flask_halyk.errors`, and the client secret appears in none of them.

This module decides what to send and when (the token cache, the retry policy per call, the one
extra try after a 401); :mod:`flask_halyk.http_calls` sends, :mod:`flask_halyk.answers` reads
what comes back, :mod:`flask_halyk.arguments` checks arguments before anything is sent.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests

from .answers import operation_answer, status_answer, token_answer
from .arguments import check_invoice_id, check_transaction_id, decimal_amount, dump_form
from .config import LONG_SCOPE
from .errors import AuthenticationError, InvalidArgument
from .http_calls import send
from .redaction import safe_url
from .results import OperationResult, PaymentToken, StatusResult
from .schemas import ServiceTokenRequestSchema, TokenRequestSchema
from .schemas.numbers import format_amount

if TYPE_CHECKING:
    from .config import HalykConfig

__all__ = ["REFUND_MINIMUM", "EpayClient"]

logger = logging.getLogger("flask_halyk.client")

#: ePay refuses refunds below 10 tenge; the client refuses them before sending.
REFUND_MINIMUM = Decimal(10)

#: A cached service token is replaced this long before ePay says it expires, so that a call
#: never leaves with a token that dies on the way.
TOKEN_REFRESH_MARGIN = 60.0

# Module-level so that tests can move the clock and skip the backoff sleeps; read at each call.
_monotonic = time.monotonic
_sleep = time.sleep

@dataclass
class _CachedToken:
    token: str
    refresh_at: float  # on the _monotonic clock


class EpayClient:
    """A client for ePay's OAuth and REST API, for one merchant (client id, secret, terminal).

    ``timeout`` is (connect, read) seconds for every call. Token and status calls are retried up
    to ``retries`` times, with jittered exponential backoff from ``backoff`` seconds, on
    connection errors, timeouts and 5xx answers; charge, cancel and refund never are.

    A ``session`` passed in stays the caller's (``close`` leaves it open); otherwise the client
    makes its own. :attr:`session` is public so that adapters can be mounted on it (the embedded
    sandbox mounts a :class:`~flask_halyk.transport.WSGIAdapter`).
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
        self.client_id = client_id
        self._client_secret = client_secret
        self.terminal_id = terminal_id
        self.token_url = token_url
        self.api_url = api_url.rstrip("/")
        self.scope = scope
        self.timeout = (connect, read)
        self.retries = retries
        self.backoff = backoff
        self.currency = currency
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        self._token_lock = threading.Lock()
        self._cached: _CachedToken | None = None

    @classmethod
    def from_config(
        cls, config: HalykConfig, session: requests.Session | None = None
    ) -> EpayClient:
        """A client for the hosts, credentials, timeouts and retries of a resolved config."""
        return cls(
            client_id=config.client_id,
            client_secret=config.client_secret,
            terminal_id=config.terminal_id,
            token_url=config.token_url,
            api_url=config.api_url,
            scope=config.scope,
            timeout=config.timeout,
            retries=config.retries,
            session=session,
            currency=config.currency,
        )

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
    ) -> PaymentToken:
        """Get a fresh token for one payment (never cached: ePay binds it to the invoice).

        Raises :class:`InvalidArgument` (a ``ValueError``) for an invalid invoice id, amount,
        currency or URL (nothing is sent), else the typed errors of :mod:`flask_halyk.errors`.
        """
        fields: dict[str, Any] = {
            **self._credentials(),
            "invoiceID": invoice_id,
            "secret_hash": secret_hash,
            "amount": decimal_amount(amount, "amount"),
            "currency": currency or self.currency,
        }
        if post_link is not None:
            fields["postLink"] = post_link
        if failure_post_link is not None:
            fields["failurePostLink"] = failure_post_link
        form = dump_form(_TOKEN_REQUEST, fields, "payment token request")
        issued = datetime.now(UTC)
        raw, loaded = self._request_token(form, f"payment token for invoice {invoice_id}")
        expires_in = int(loaded["expires_in"])
        return PaymentToken(
            invoice_id=form["invoiceID"],
            amount=Decimal(form["amount"]),
            currency=form["currency"],
            secret_hash=secret_hash,
            raw=raw,
            access_token=str(loaded["access_token"]),
            expires_in=expires_in,
            expires_at=issued + timedelta(seconds=expires_in),
        )

    def service_token(self) -> str:
        """The token for status and operations: cached per client until 60 s before it expires.

        Thread-safe: threads needing a token at once share one token request.
        """
        return self._service_token()[0]

    def _service_token(self) -> tuple[str, bool]:
        """The token, and whether it was fetched just now (a fresh token's 401 is final)."""
        with self._token_lock:
            cached = self._cached
            if cached is not None and _monotonic() < cached.refresh_at:
                return cached.token, False
            form = dump_form(_SERVICE_TOKEN_REQUEST, self._credentials(), "token request")
            started = _monotonic()
            _raw, loaded = self._request_token(form, "service token")
            token = str(loaded["access_token"])
            self._cached = _CachedToken(
                token, started + int(loaded["expires_in"]) - TOKEN_REFRESH_MARGIN
            )
            return token, True

    def _drop_token(self, token: str) -> None:
        with self._token_lock:
            # Another thread may have replaced it already; its new token must stay.
            if self._cached is not None and self._cached.token == token:
                self._cached = None

    def _credentials(self) -> dict[str, Any]:
        return {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "terminal": self.terminal_id,
        }

    def _request_token(
        self, form: Mapping[str, str], what: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """POST the token form; return the answer as received and as loaded by the schema."""
        # Safe to retry: a lost token answer costs nothing but a second token.
        response = self._send("POST", self.token_url, what=what, retry=True, data=dict(form))
        return token_answer(
            response, what=what, token_url=self.token_url, secret=self._client_secret
        )

    # --- status --------------------------------------------------------------------------------

    def status(self, invoice_id: str) -> StatusResult:
        """Ask ePay for the state of the payment of ``invoice_id``.

        Not-found (102), in-progress (107) and rejected (101) are answers, returned as a
        :class:`StatusResult`; 103, 104, 106 and 109 raise :class:`ApiError` with advice.
        """
        check_invoice_id(invoice_id)
        what = f"status of invoice {invoice_id}"
        path = f"/check-status/payment/transaction/{quote(invoice_id, safe='')}"
        response = self._api_call("GET", path, what=what, retry=True)
        return status_answer(response, what=what, secret=self._client_secret)

    # --- operations ----------------------------------------------------------------------------
    #
    # charge, cancel and refund are NEVER retried: when a call times out or meets a 5xx, ePay may
    # well have performed it, and a repeated refund can pay the customer twice. The caller checks
    # status() and decides. (A 401 is the exception: the bank refused the token, so nothing was
    # performed, and one more try with a fresh token is safe.)

    def charge(
        self, transaction_id: str, amount: Decimal | int | str | None = None
    ) -> OperationResult:
        """Capture an authorised payment (two-stage terminals), in full or ``amount`` of it."""
        value = None if amount is None else decimal_amount(amount, "amount")
        params = {} if value is None else {"amount": format_amount(value)}
        return self._operation("charge", transaction_id, params, value, None)

    def cancel(self, transaction_id: str) -> OperationResult:
        """Void an authorised, not yet charged payment."""
        return self._operation("cancel", transaction_id, {}, None, None)

    def refund(
        self,
        transaction_id: str,
        amount: Decimal | int | str | None = None,
        external_id: str | None = None,
    ) -> OperationResult:
        """Refund a charged payment in full, or ``amount`` of it.

        Raises :class:`InvalidArgument` (a ``ValueError``), sending nothing, for an amount under
        :data:`REFUND_MINIMUM` (10 tenge): ePay refuses those, and a bad argument is the
        caller's bug rather than the bank's answer.
        """
        value = None if amount is None else decimal_amount(amount, "amount")
        if value is not None and value < REFUND_MINIMUM:
            raise InvalidArgument(f"a refund must be at least {REFUND_MINIMUM} tenge, not {value}")
        params: dict[str, str] = {}
        if value is not None:
            params["amount"] = format_amount(value)
        if external_id is not None:
            if not external_id:
                raise InvalidArgument("external_id must not be empty")
            params["externalID"] = external_id
        return self._operation("refund", transaction_id, params, value, external_id)

    def _operation(
        self,
        operation: str,
        transaction_id: str,
        params: dict[str, str],
        amount: Decimal | None,
        external_id: str | None,
    ) -> OperationResult:
        check_transaction_id(transaction_id)
        what = f"{operation} of transaction {transaction_id}"
        path = f"/operation/{transaction_id}/{operation}"
        response = self._api_call("POST", path, what=what, retry=False, params=params)
        return operation_answer(
            response,
            operation=operation,
            transaction_id=transaction_id,
            amount=amount,
            external_id=external_id,
            what=what,
            secret=self._client_secret,
        )

    # --- HTTP ----------------------------------------------------------------------------------

    def _api_call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        retry: bool,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Call the REST API with the service token; on a 401 with a cached token, drop it and
        try once more with a fresh one (the bank refused the token, so nothing was done)."""
        url = f"{self.api_url}{path}"
        token, fresh = self._service_token()
        response = self._send(
            method, url, what=what, retry=retry, params=params,
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code == 401 and not fresh:
            logger.debug("%s %s: 401 with a cached service token; fetching a new one",
                         method, safe_url(url))
            self._drop_token(token)
            token, _ = self._service_token()
            response = self._send(
                method, url, what=what, retry=retry, params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"ePay refused the service token for the {what} at {safe_url(url)} "
                f"(HTTP {response.status_code}): check that HALYK_CLIENT_ID and "
                "HALYK_TERMINAL_ID may use this API, and HALYK_SCOPE.",
                status=response.status_code,
            )
        return response

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        retry: bool,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One call with this client's session, timeout and retry policy (see
        :func:`flask_halyk.http_calls.send`)."""
        return send(
            self.session, method, url, what=what, retry=retry, retries=self.retries,
            backoff=self.backoff, timeout=self.timeout, secret=self._client_secret,
            clock=_monotonic, sleep=_sleep, data=data, params=params, headers=headers,
        )


# Schemas are built once: building one costs more than a load, and load()/dump() keep no state
# on the instance, so threads may share them.
_TOKEN_REQUEST = TokenRequestSchema()
_SERVICE_TOKEN_REQUEST = ServiceTokenRequestSchema()
