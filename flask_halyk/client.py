"""``EpayClient``: the server side of ePay's protocol (tokens, status, charge, cancel, refund).

One pooled :class:`requests.Session` per client; every call has a (connect, read) timeout; only
idempotent calls are retried. Usable without Flask. Every failure reaches the caller as one of the
typed errors of :mod:`flask_halyk.errors`, and the client secret appears in none of them.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from marshmallow import ValidationError

from .config import LONG_SCOPE
from .errors import (
    ApiError,
    AuthenticationError,
    EpayConnectionError,
    EpayTimeout,
    EpayUnavailable,
    HalykError,
    InvalidArgument,
    InvalidResponse,
)
from .results import (
    OperationResult,
    PaymentToken,
    ResultCode,
    StatusName,
    StatusResult,
    Transaction,
)
from .schemas import (
    OperationErrorSchema,
    ServiceTokenRequestSchema,
    StatusResponseSchema,
    TokenRequestSchema,
    TokenResponseSchema,
)

if TYPE_CHECKING:
    from .config import HalykConfig

__all__ = ["REFUND_MINIMUM", "EpayClient"]

logger = logging.getLogger("flask_halyk.client")

#: ePay refuses refunds below 10 tenge; the client refuses them before sending.
REFUND_MINIMUM = Decimal(10)

#: A cached service token is replaced this long before ePay says it expires, so that a call
#: never leaves with a token that dies on the way.
TOKEN_REFRESH_MARGIN = 60.0

# Module-level so that tests can move the clock and skip the backoff sleeps.
_monotonic = time.monotonic
_sleep = time.sleep

_INVOICE_ID = re.compile(r"[0-9]{6,15}")
_TRANSACTION_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_CENT = Decimal("0.01")
_BODY_PREVIEW = 200

# ePay's OAuth server answers these for wrong credentials (RFC 6749 section 5.2).
_AUTH_ERRORS = frozenset({"invalid_client", "unauthorized_client", "access_denied"})

_STATUS_ADVICE = {
    ResultCode.ERROR: "ePay reported an internal error; try again later, and contact ePay "
    "support if it persists.",
    ResultCode.TERMINAL_ABSENT: "the service token names no terminal: check HALYK_TERMINAL_ID "
    "(it is sent as 'terminal' in the token request).",
    ResultCode.INCORRECT_TERMINAL: "the terminal is incorrect: check HALYK_TERMINAL_ID against "
    "the ePay merchant cabinet.",
    ResultCode.FOREIGN_TERMINAL: "the terminal does not belong to this client: check that "
    "HALYK_TERMINAL_ID and HALYK_CLIENT_ID come from the same merchant cabinet.",
}

_OPERATION_ADVICE = {
    "charge": "charge needs an authorised (AUTH) payment on a two-stage terminal",
    "cancel": "cancel needs an authorised (AUTH), not yet charged payment",
    "refund": "refund needs a charged (CHARGE) payment and at least 10 tenge",
}


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
        connect, read = (float(t) for t in timeout)
        if connect <= 0 or read <= 0:
            raise InvalidArgument("timeouts must be positive seconds")
        if retries < 0 or backoff < 0:
            raise InvalidArgument("retries and backoff must not be negative")
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
            "amount": _decimal_amount(amount, "amount"),
            "currency": currency or self.currency,
        }
        if post_link is not None:
            fields["postLink"] = post_link
        if failure_post_link is not None:
            fields["failurePostLink"] = failure_post_link
        form = _dump_form(TokenRequestSchema(), fields, "payment token request")
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
            form = _dump_form(ServiceTokenRequestSchema(), self._credentials(), "token request")
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
        status = response.status_code
        url = _safe_url(self.token_url)
        body = self._json_or_none(response)
        error = body.get("error") if isinstance(body, dict) else None
        if status in (401, 403) or error in _AUTH_ERRORS:
            detail = ""
            if isinstance(body, dict):
                detail = self._scrub(str(body.get("error_description") or error or ""))
            raise AuthenticationError(
                f"ePay refused the credentials for the {what} at {url} (HTTP {status}"
                f"{': ' + detail if detail else ''}): check HALYK_CLIENT_ID, HALYK_CLIENT_SECRET "
                "and HALYK_TERMINAL_ID, and that they belong to this environment's hosts.",
                status=status,
            )
        if 400 <= status < 500:
            if isinstance(body, dict):
                message = body.get("error_description") or body.get("message") or error
                code = body.get("code")
                raise ApiError(
                    f"ePay refused the {what} at {url} (HTTP {status}): "
                    f"{self._scrub(str(message))}. Check the invoice id, amount and currency.",
                    code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                    status=status,
                )
            raise self._invalid(response, what, "a client error page instead of JSON")
        if not 200 <= status < 300:
            raise self._invalid(response, what, f"HTTP {status} instead of a token")
        if not isinstance(body, dict):
            raise self._invalid(response, what, "no JSON object")
        try:
            loaded: dict[str, Any] = TokenResponseSchema().load(body)
        except ValidationError as exc:
            problem = _problem(exc)
        else:
            return body, loaded
        raise self._invalid(response, what, f"a token answer with {problem}")

    # --- status --------------------------------------------------------------------------------

    def status(self, invoice_id: str) -> StatusResult:
        """Ask ePay for the state of the payment of ``invoice_id``.

        Not-found (102), in-progress (107) and rejected (101) are answers, returned as a
        :class:`StatusResult`; 103, 104, 106 and 109 raise :class:`ApiError` with advice.
        """
        if not isinstance(invoice_id, str) or not _INVOICE_ID.fullmatch(invoice_id):
            raise InvalidArgument("invoice_id must be 6 to 15 digits")
        what = f"status of invoice {invoice_id}"
        path = f"/check-status/payment/transaction/{quote(invoice_id, safe='')}"
        response = self._api_call("GET", path, what=what, retry=True)
        body = self._json_or_none(response)
        if not isinstance(body, dict) or "resultCode" not in body:
            raise self._unexpected(response, what, body)
        try:
            loaded: dict[str, Any] = StatusResponseSchema().load(body)
        except ValidationError as exc:
            problem = _problem(exc)
        else:
            return self._status_result(response, what, body, loaded)
        raise self._invalid(response, what, f"a status answer with {problem}")

    def _status_result(
        self,
        response: requests.Response,
        what: str,
        body: dict[str, Any],
        loaded: dict[str, Any],
    ) -> StatusResult:
        code = ResultCode(loaded["resultCode"])
        message = str(loaded.get("resultMessage") or "")
        advice = _STATUS_ADVICE.get(code)
        if advice is not None:
            raise ApiError(
                f"ePay answered resultCode {int(code)} ({message or code.meaning}) for the "
                f"{what} at {_safe_url(response.url)}: {advice}",
                code=int(code),
                status=response.status_code,
            )
        raw_tx = body.get("transaction")
        transaction = _transaction(loaded.get("transaction"), raw_tx)
        if code == ResultCode.SUCCESS and transaction is None:
            raise self._invalid(response, what, "resultCode 100 and a transaction without amount")
        return StatusResult(
            result_code=code, result_message=message, transaction=transaction, raw=body
        )

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
        value = None if amount is None else _decimal_amount(amount, "amount")
        params = {} if value is None else {"amount": _amount_text(value)}
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
        value = None if amount is None else _decimal_amount(amount, "amount")
        if value is not None and value < REFUND_MINIMUM:
            raise InvalidArgument(f"a refund must be at least {REFUND_MINIMUM} tenge, not {value}")
        params: dict[str, str] = {}
        if value is not None:
            params["amount"] = _amount_text(value)
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
        if not isinstance(transaction_id, str) or not _TRANSACTION_ID.fullmatch(transaction_id):
            raise InvalidArgument(
                "transaction_id must be ePay's transaction id (the UUID of the postLink 'id' or "
                "status transaction.id), not the invoice id"
            )
        what = f"{operation} of transaction {transaction_id}"
        path = f"/operation/{transaction_id}/{operation}"
        response = self._api_call("POST", path, what=what, retry=False, params=params)
        status = response.status_code
        body = self._json_or_none(response)
        if 200 <= status < 300:
            return OperationResult(
                operation=operation,
                transaction_id=transaction_id,
                amount=amount,
                external_id=external_id,
                http_status=status,
                raw=body if isinstance(body, dict) else None,
            )
        raise self._unexpected(response, what, body, advice=_OPERATION_ADVICE[operation])

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
                         method, _safe_url(url))
            self._drop_token(token)
            token, _ = self._service_token()
            response = self._send(
                method, url, what=what, retry=retry, params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"ePay refused the service token for the {what} at {_safe_url(url)} "
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
        """One call, retried if ``retry`` on connection errors, timeouts and 5xx.

        Errors are built inside ``except`` but raised outside it, so that they carry no
        ``__context__``: requests' exceptions hold the prepared request, form body and client
        secret included.
        """
        safe = _safe_url(url)
        attempts = 1 + (self.retries if retry else 0)
        failure: HalykError | None = None
        for attempt in range(1, attempts + 1):
            started = _monotonic()
            response: requests.Response | None = None
            failure = None
            try:
                response = self.session.request(
                    method, url, data=data, params=params, headers=headers,
                    timeout=self.timeout, allow_redirects=False,
                )
            except requests.Timeout as exc:
                failure = EpayTimeout(self._timeout_message(exc, what, safe, attempt, retry))
            except requests.RequestException as exc:
                failure = EpayConnectionError(
                    f"Could not reach ePay for the {what} at {safe} "
                    f"({self._reason(exc)}){_attempts(attempt)}: check the host setting "
                    "(HALYK_TOKEN_URL / HALYK_API_URL), DNS and the network."
                    + ("" if retry else _NOT_RETRIED)
                )
            elapsed = _monotonic() - started
            logger.debug(
                "%s %s -> %s in %.3f s (attempt %d/%d)", method, safe,
                response.status_code if response is not None else type(failure).__name__,
                elapsed, attempt, attempts,
            )
            if response is not None:
                if response.status_code < 500:
                    return response
                failure = EpayUnavailable(
                    f"ePay answered HTTP {response.status_code} to the {what} at {safe}"
                    f"{_attempts(attempt)}: the bank is unavailable; try again later."
                    + ("" if retry else _NOT_RETRIED),
                    status=response.status_code,
                )
                response.close()
            if attempt < attempts:
                jitter = random.uniform(0.5, 1.5)  # noqa: S311 - spreads retries, not a secret
                _sleep(self.backoff * 2 ** (attempt - 1) * jitter)
        assert failure is not None
        raise failure

    def _timeout_message(
        self, exc: requests.Timeout, what: str, safe: str, attempt: int, retry: bool
    ) -> str:
        connect, read = self.timeout
        if isinstance(exc, requests.ConnectTimeout):
            phase = f"could not connect within {connect:g} s"
        else:
            phase = f"did not answer within {read:g} s"
        return (
            f"ePay {phase} for the {what} at {safe}{_attempts(attempt)}: try again later, or "
            "raise HALYK_TIMEOUT." + ("" if retry else _NOT_RETRIED)
        )

    # --- answers -------------------------------------------------------------------------------

    @staticmethod
    def _json_or_none(response: requests.Response) -> Any:
        """The decoded JSON body, or ``None`` when the body is empty or not JSON."""
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def _unexpected(
        self,
        response: requests.Response,
        what: str,
        body: Any,
        advice: str | None = None,
    ) -> HalykError:
        """The error for an answer that is not the success the call expects: the bank's own
        ``{"code", "message"}`` refusal as :class:`ApiError`, anything else as
        :class:`InvalidResponse`."""
        status = response.status_code
        if 400 <= status < 500 and isinstance(body, dict):
            try:
                refusal = OperationErrorSchema().load(body)
            except ValidationError:
                refusal = None
            if refusal is not None:
                message = self._scrub(str(refusal.get("message") or ""))
                return ApiError(
                    f"ePay refused the {what} at {_safe_url(response.url)} (HTTP {status}, "
                    f"code {refusal['code']}: {message or 'no message'})"
                    + (f"; {advice}: check status() first." if advice else "."),
                    code=int(refusal["code"]),
                    status=status,
                )
        if 300 <= status < 400:
            return self._invalid(
                response, what,
                f"a redirect to {_safe_url(response.headers.get('Location', '?'))}",
            )
        return self._invalid(response, what, f"HTTP {status} with an unexpected body")

    def _invalid(self, response: requests.Response, what: str, problem: str) -> InvalidResponse:
        text = self._scrub(response.text)
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower() or text.lstrip()[:1] == "<":
            problem = f"{problem} (an HTML page)"
        preview = " ".join(text[:_BODY_PREVIEW].split())
        return InvalidResponse(
            f"ePay answered the {what} at {_safe_url(response.url)} with {problem}, not what the "
            f"protocol promises: check the host setting (HALYK_TOKEN_URL / HALYK_API_URL) and "
            f"any proxy in between. Body starts: {preview!r}",
            body=text,
        )

    def _reason(self, exc: BaseException) -> str:
        """A short, secret-free description of a requests exception (its text names the host
        and path, never the body)."""
        text = " ".join(str(exc).split())[:300]
        return self._scrub(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)

    def _scrub(self, text: str) -> str:
        return text.replace(self._client_secret, "***") if self._client_secret else text


_NOT_RETRIED = (
    " This operation is never retried automatically (it may have been performed): "
    "check status() before repeating it."
)


def _attempts(attempt: int) -> str:
    return f" after {attempt} attempts" if attempt > 1 else ""


def _safe_url(url: str | None) -> str:
    """The URL without credentials, query or fragment, for messages and logs."""
    if not url:
        return "?"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _decimal_amount(amount: object, name: str) -> Decimal:
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


def _amount_text(value: Decimal) -> str:
    """``"100"`` when whole, else ``"12.50"``: the form of the bank's examples."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.quantize(_CENT):f}"


def _dump_form(schema: Any, fields: dict[str, Any], what: str) -> dict[str, str]:
    """Validate outgoing fields and dump them as the form to post, or raise ValueError.

    The ValueError is raised outside the ``except``: marshmallow's error keeps the input,
    client secret included, and must not ride along as ``__context__``.
    """
    try:
        form: dict[str, str] = schema.dump(schema.load(fields))
    except ValidationError as exc:
        problem = _problem(exc)
    else:
        return form
    raise InvalidArgument(f"invalid {what}: {problem}")


def _problem(exc: ValidationError) -> str:
    """Which fields failed and why, without their values."""
    messages = exc.messages
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in messages.items())
    return _flatten(messages)


def _flatten(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return str(value)


def _transaction(loaded: Any, raw: Any) -> Transaction | None:
    """A :class:`Transaction` from a loaded status ``transaction``; ``None`` when there is none
    or it lacks its id, status name or amount."""
    if not isinstance(loaded, Mapping):
        return None
    tx_id, status_name, amount = loaded.get("id"), loaded.get("statusName"), loaded.get("amount")
    if not tx_id or not status_name or amount is None:
        return None
    reason_code = loaded.get("reasonCode")
    return Transaction(
        id=str(tx_id),
        invoice_id=str(loaded.get("invoiceID") or ""),
        amount=amount,
        currency=str(loaded.get("currency") or ""),
        status_name=StatusName(status_name),
        terminal_id=loaded.get("terminalID") or loaded.get("terminal") or None,
        card_mask=loaded.get("cardMask") or None,
        reason=loaded.get("reason") or None,
        reason_code=reason_code if isinstance(reason_code, int) else None,
        approval_code=loaded.get("approvalCode") or None,
        reference=loaded.get("reference") or None,
        created=loaded.get("createdDate") or None,
        raw=dict(raw) if isinstance(raw, Mapping) else dict(loaded),
    )
