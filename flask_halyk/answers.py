"""ePay's answers read into the client's typed results (:mod:`flask_halyk.results`), or into the
typed errors of :mod:`flask_halyk.errors`: the token answer, the status answer, the answer to an
operation, and the bank's refusals, redirects, HTML pages and malformed bodies.

Every message names the URL without its query and scrubs the client secret from whatever the
bank echoed. Errors are raised outside ``except`` blocks, so that no marshmallow error (which
keeps the input) rides along as ``__context__``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import requests
from marshmallow import ValidationError

from .errors import ApiError, AuthenticationError, HalykError, InvalidResponse
from .redaction import safe_url, scrub, validation_problem
from .results import OperationResult, ResultCode, StatusName, StatusResult, Transaction
from .schemas import OperationErrorSchema, StatusResponseSchema, TokenResponseSchema

__all__ = [
    "invalid",
    "json_or_none",
    "operation_answer",
    "status_answer",
    "token_answer",
    "unexpected",
]

_BODY_PREVIEW = 200

# The token answer's keys whose values are credentials.
_TOKEN_KEYS = ("access_token", "refresh_token")

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


def json_or_none(response: requests.Response) -> Any:
    """The decoded JSON body, or ``None`` when the body is empty or not JSON."""
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError:
        return None


# --- token -------------------------------------------------------------------------------------


def token_answer(
    response: requests.Response, *, what: str, token_url: str, secret: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answer to a token request as received and as loaded by the schema; wrong
    credentials raise :class:`AuthenticationError`, other refusals :class:`ApiError`, anything
    else that is not a token :class:`InvalidResponse`."""
    status = response.status_code
    url = safe_url(token_url)
    body = json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    if status in (401, 403) or error in _AUTH_ERRORS:
        detail = ""
        if isinstance(body, dict):
            detail = scrub(str(body.get("error_description") or error or ""), secret)
        raise AuthenticationError(
            f"ePay refused the credentials for the {what} at {url} (HTTP {status}"
            f"{': ' + detail if detail else ''}): check HALYK_CLIENT_ID, HALYK_CLIENT_SECRET "
            "and HALYK_TERMINAL_ID, and that they belong to this environment's hosts.",
            status=status,
        )
    if 400 <= status < 500:
        if isinstance(body, dict):
            message = body.get("error_description") or body.get("message") or error
            text = scrub(str(message), secret) if message is not None else None
            code = body.get("code")
            raise ApiError(
                f"ePay refused the {what} at {url} (HTTP {status}): "
                f"{text or 'no message'}. Check the invoice id, amount and currency.",
                code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                status=status,
                bank_message=text,
            )
        raise invalid(response, what, "a client error page instead of JSON", secret)
    if not 200 <= status < 300:
        raise invalid(response, what, f"HTTP {status} instead of a token", secret)
    if not isinstance(body, dict):
        raise invalid(response, what, "no JSON object", secret)
    try:
        loaded: dict[str, Any] = _TOKEN_RESPONSE.load(body)
    except ValidationError as exc:
        problem = validation_problem(exc)
    else:
        return body, loaded
    # A token in an error message would end up in logs and error trackers; only the widget
    # may see one.
    tokens = [body[k] for k in _TOKEN_KEYS if isinstance(body.get(k), str)]
    raise invalid(response, what, f"a token answer with {problem}", secret, hide=tokens)


# --- status ------------------------------------------------------------------------------------


def status_answer(response: requests.Response, *, what: str, secret: str) -> StatusResult:
    """The answer to a status request as a :class:`StatusResult`; resultCodes that need the
    shop's attention (103, 104, 106, 109) raise :class:`ApiError` with advice."""
    body = json_or_none(response)
    if not isinstance(body, dict) or "resultCode" not in body:
        raise unexpected(response, what, body, secret)
    try:
        loaded: dict[str, Any] = _STATUS_RESPONSE.load(body)
    except ValidationError as exc:
        problem = validation_problem(exc)
    else:
        return _status_result(response, what, body, loaded, secret)
    raise invalid(response, what, f"a status answer with {problem}", secret)


def _status_result(
    response: requests.Response,
    what: str,
    body: dict[str, Any],
    loaded: dict[str, Any],
    secret: str,
) -> StatusResult:
    code = ResultCode(loaded["resultCode"])
    message = str(loaded.get("resultMessage") or "")
    advice = _STATUS_ADVICE.get(code)
    if advice is not None:
        raise ApiError(
            f"ePay answered resultCode {int(code)} ({scrub(message, secret) or code.meaning}) "
            "for the "
            f"{what} at {safe_url(response.url)}: {advice}",
            code=int(code),
            status=response.status_code,
            bank_message=scrub(message, secret) or None,
        )
    raw_tx = body.get("transaction")
    transaction = _transaction(loaded.get("transaction"), raw_tx)
    if code == ResultCode.SUCCESS and transaction is None:
        raise invalid(response, what, "resultCode 100 and a transaction without amount", secret)
    return StatusResult(
        result_code=code, result_message=message, transaction=transaction, raw=body
    )


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


# --- operations --------------------------------------------------------------------------------


def operation_answer(
    response: requests.Response,
    *,
    operation: str,
    transaction_id: str,
    amount: Decimal | None,
    external_id: str | None,
    what: str,
    secret: str,
) -> OperationResult:
    """The answer to charge, cancel or refund: a 2xx is done unless it is an HTML page; the
    bank's refusal raises :class:`ApiError` with advice, anything else
    :class:`InvalidResponse`."""
    status = response.status_code
    body = json_or_none(response)
    if 200 <= status < 300 and body is None and response.content.strip() and _is_html(response):
        # A 2xx HTML page (a proxy's maintenance page, say) proves nothing: calling it done
        # could report a refund that never happened, calling it failed invites a second
        # refund. Only the status API can tell. A short plain-text "OK" stays a success.
        raise invalid(
            response, what,
            f"HTTP {status} with a page instead of an answer; whether the {operation} was "
            f"done is unknown: ask status() before trying it again",
            secret,
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
    raise unexpected(response, what, body, secret, advice=_OPERATION_ADVICE[operation])


# --- errors ------------------------------------------------------------------------------------


def _is_html(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return "html" in content_type.lower() or response.content.lstrip()[:1] == b"<"


def unexpected(
    response: requests.Response,
    what: str,
    body: Any,
    secret: str,
    advice: str | None = None,
) -> HalykError:
    """The error for an answer that is not the success the call expects: the bank's own
    ``{"code", "message"}`` refusal as :class:`ApiError`, anything else as
    :class:`InvalidResponse`."""
    status = response.status_code
    if 400 <= status < 500 and isinstance(body, dict):
        try:
            refusal = _OPERATION_ERROR.load(body)
        except ValidationError:
            refusal = None
        if refusal is not None:
            message = scrub(str(refusal.get("message") or ""), secret)
            return ApiError(
                f"ePay refused the {what} at {safe_url(response.url)} (HTTP {status}, "
                f"code {refusal['code']}: {message or 'no message'})"
                + (f"; {advice}: check status() first." if advice else "."),
                code=int(refusal["code"]),
                status=status,
                bank_message=message or None,
            )
    if 300 <= status < 400:
        return invalid(
            response, what,
            f"a redirect to {safe_url(response.headers.get('Location', '?'))}",
            secret,
        )
    return invalid(response, what, f"HTTP {status} with an unexpected body", secret)


def invalid(
    response: requests.Response, what: str, problem: str, secret: str,
    hide: Iterable[str] = (),
) -> InvalidResponse:
    """The error for an answer that breaks the protocol, with a secret-free start of its body
    (``hide``: other values to scrub from it, such as tokens)."""
    text = scrub(response.text, secret)
    for value in hide:
        text = scrub(text, value)
    if _is_html(response):
        problem = f"{problem} (an HTML page)"
    preview = " ".join(text[:_BODY_PREVIEW].split())
    return InvalidResponse(
        f"ePay answered the {what} at {safe_url(response.url)} with {problem}, not what the "
        f"protocol promises: check the host setting (HALYK_TOKEN_URL / HALYK_API_URL) and "
        f"any proxy in between. Body starts: {preview!r}",
        body=text,
    )


# Schemas are built once: building one costs more than a load, and load()/dump() keep no state
# on the instance, so threads may share them.
_TOKEN_RESPONSE = TokenResponseSchema()
_STATUS_RESPONSE = StatusResponseSchema()
_OPERATION_ERROR = OperationErrorSchema()
