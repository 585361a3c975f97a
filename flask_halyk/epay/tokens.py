"""``POST /oauth2/token``: the payment token (one per invoice, for the widget) and the service
token (status and operations), their request forms and how ePay's answer is read.

The service token is cached per client by :class:`ServiceTokenCache`; a payment token never is:
ePay binds it to its invoice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError

from ..errors import ApiError, AuthenticationError, EpayTimeout, InvalidArgument
from ..redaction import validation_problem
from ..schemas import (
    ServiceTokenRequestSchema,
    TokenRequestSchema,
    TokenResponseSchema,
    VerificationTokenRequestSchema,
)
from .results import PaymentToken
from .transport import Deadline, Reply, Transport

__all__ = ["TOKEN_REFRESH_MARGIN", "ServiceTokenCache", "payment_token", "request_token"]

#: A cached service token is replaced this long before ePay says it expires, so that a call
#: never leaves with a token that dies on the way.
TOKEN_REFRESH_MARGIN = 60.0

# The token answer's keys whose values are credentials.
_TOKEN_KEYS = ("access_token", "refresh_token")

# ePay's OAuth server answers these for wrong credentials (RFC 6749 section 5.2).
_AUTH_ERRORS = frozenset({"invalid_client", "unauthorized_client", "access_denied"})


def dump_form(schema: Schema, fields: Mapping[str, Any], what: str) -> dict[str, str]:
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


def request_token(
    transport: Transport, token_url: str, form: Mapping[str, str], what: str,
    deadline: Deadline | float | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST a token form; return the answer as received and as loaded by the schema."""
    # Safe to retry: a lost token answer costs nothing but a second token.
    reply = transport.send("POST", token_url, what=what, retry=True, data=dict(form),
                           deadline=deadline)
    return read_token(reply)


def read_token(reply: Reply) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answer to a token request as received and as loaded by the schema; wrong
    credentials raise :class:`AuthenticationError`, other refusals :class:`ApiError`, anything
    else that is not a token :class:`InvalidResponse`."""
    status, what, url = reply.status, reply.what, reply.url
    body = reply.json()
    error = body.get("error") if isinstance(body, dict) else None
    if status in (401, 403) or error in _AUTH_ERRORS:
        detail = ""
        if isinstance(body, dict):
            detail = reply.scrub(str(body.get("error_description") or error or ""))
        raise AuthenticationError(
            f"ePay refused the credentials for the {what} at {url} (HTTP {status}"
            f"{': ' + detail if detail else ''}): check HALYK_CLIENT_ID, HALYK_CLIENT_SECRET "
            "and HALYK_TERMINAL_ID, and that they belong to this environment's hosts.",
            status=status,
        )
    if 400 <= status < 500:
        if isinstance(body, dict):
            message = body.get("error_description") or body.get("message") or error
            text = reply.scrub(str(message)) if message is not None else None
            code = body.get("code")
            raise ApiError(
                f"ePay refused the {what} at {url} (HTTP {status}): "
                f"{text or 'no message'}. Check the invoice id, amount and currency.",
                code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                status=status,
                bank_message=text,
            )
        raise reply.invalid("a client error page instead of JSON")
    if not 200 <= status < 300:
        raise reply.invalid(f"HTTP {status} instead of a token")
    if not isinstance(body, dict):
        raise reply.invalid("no JSON object")
    try:
        loaded: dict[str, Any] = _TOKEN_RESPONSE.load(body)
    except ValidationError as exc:
        problem = validation_problem(exc)
    else:
        return body, loaded
    # A token in an error message would end up in logs and error trackers; only the widget
    # may see one.
    tokens = [body[k] for k in _TOKEN_KEYS if isinstance(body.get(k), str)]
    raise reply.invalid(f"a token answer with {problem}", hide=tokens)


def payment_token(
    transport: Transport,
    token_url: str,
    credentials: Mapping[str, str],
    *,
    invoice_id: str,
    amount: Decimal,
    currency: str,
    secret_hash: str,
    post_link: str | None,
    failure_post_link: str | None,
    deadline: Deadline | float | None = None,
    issued: datetime | None = None,
) -> PaymentToken:
    """Ask for the token of one payment (see :meth:`EpayClient.payment_token`)."""
    fields: dict[str, Any] = {
        **credentials,
        "invoiceID": invoice_id,
        "secret_hash": secret_hash,
        "amount": amount,
        "currency": currency,
    }
    if post_link is not None:
        fields["postLink"] = post_link
    if failure_post_link is not None:
        fields["failurePostLink"] = failure_post_link
    schema = _VERIFICATION_TOKEN_REQUEST if amount == 0 else _TOKEN_REQUEST
    form = dump_form(schema, fields, "payment token request")
    if issued is None:
        issued = datetime.now(UTC)
    raw, loaded = request_token(transport, token_url, form,
                                f"payment token for invoice {invoice_id}", deadline)
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


@dataclass
class _Cached:
    token: str
    refresh_at: float  # on the transport's monotonic clock


class ServiceTokenCache:
    """One client's service token, kept until :data:`TOKEN_REFRESH_MARGIN` seconds before it
    expires. Thread-safe: threads needing a token at once share one token request."""

    def __init__(self, transport: Transport, token_url: str,
                 credentials: Callable[[], Mapping[str, str]]) -> None:
        self._transport = transport
        self._token_url = token_url
        self._credentials = credentials
        self._lock = threading.Lock()
        self._cached: _Cached | None = None

    def get(self, deadline: Deadline | None = None) -> tuple[str, bool]:
        """The token, and whether it was fetched just now (a fresh token's 401 is final).

        ``deadline``: of the call that needs the token. Waiting for another thread's token
        request counts against it too: past it, :class:`EpayTimeout`.
        """
        budget = self._transport.begin(deadline)
        if not self._lock.acquire(timeout=max(0.0, budget.remaining())):
            raise EpayTimeout(
                f"the service token was still being fetched by another request when the "
                f"call's deadline of {budget.seconds:g} s ended (0 attempts): try again later, "
                "or raise HALYK_DEADLINE.",
                deadline=budget.seconds, attempts=0,
            )
        try:
            cached = self._cached
            if cached is not None and self._transport.now() < cached.refresh_at:
                return cached.token, False
            form = dump_form(_SERVICE_TOKEN_REQUEST, self._credentials(), "token request")
            started = self._transport.now()
            _raw, loaded = request_token(self._transport, self._token_url, form,
                                         "service token", budget)
            token = str(loaded["access_token"])
            self._cached = _Cached(
                token, started + int(loaded["expires_in"]) - TOKEN_REFRESH_MARGIN
            )
            return token, True
        finally:
            self._lock.release()

    def drop(self, token: str) -> None:
        """Forget ``token`` (the bank refused it), unless another thread replaced it already."""
        with self._lock:
            if self._cached is not None and self._cached.token == token:
                self._cached = None


# Schemas are built once: building one costs more than a load, and load()/dump() keep no state
# on the instance, so threads may share them.
_TOKEN_REQUEST = TokenRequestSchema()
_VERIFICATION_TOKEN_REQUEST = VerificationTokenRequestSchema()
_SERVICE_TOKEN_REQUEST = ServiceTokenRequestSchema()
_TOKEN_RESPONSE = TokenResponseSchema()
