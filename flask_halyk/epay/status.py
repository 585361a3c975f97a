"""``GET /check-status/payment/transaction/{invoiceId}``: what ePay knows of an invoice, read
into a :class:`StatusResult`; the resultCodes that need the shop's attention raise
:class:`ApiError` with advice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from marshmallow import ValidationError

from ..errors import ApiError
from ..redaction import validation_problem
from ..schemas import StatusResponseSchema
from .results import ResultCode, StatusName, StatusResult, Transaction
from .transport import Reply

__all__ = ["read_status", "status_path"]

_ADVICE = {
    ResultCode.ERROR: "ePay reported an internal error; try again later, and contact ePay "
    "support if it persists.",
    ResultCode.TERMINAL_ABSENT: "the service token names no terminal: check HALYK_TERMINAL_ID "
    "(it is sent as 'terminal' in the token request).",
    ResultCode.INCORRECT_TERMINAL: "the terminal is incorrect: check HALYK_TERMINAL_ID against "
    "the ePay merchant cabinet.",
    ResultCode.FOREIGN_TERMINAL: "the terminal does not belong to this client: check that "
    "HALYK_TERMINAL_ID and HALYK_CLIENT_ID come from the same merchant cabinet.",
}


def status_path(invoice_id: str) -> str:
    """The API path of the status of ``invoice_id`` (a checked invoice id)."""
    return f"/check-status/payment/transaction/{quote(invoice_id, safe='')}"


def read_status(reply: Reply) -> StatusResult:
    """The answer to a status request as a :class:`StatusResult`; resultCodes that need the
    shop's attention (103, 104, 106, 109) raise :class:`ApiError` with advice."""
    body = reply.json()
    if not isinstance(body, dict) or "resultCode" not in body:
        raise reply.unexpected(body)
    try:
        loaded: dict[str, Any] = _STATUS_RESPONSE.load(body)
    except ValidationError as exc:
        problem = validation_problem(exc)
    else:
        return _result(reply, body, loaded)
    raise reply.invalid(f"a status answer with {problem}")


def _result(reply: Reply, body: dict[str, Any], loaded: dict[str, Any]) -> StatusResult:
    code = ResultCode(loaded["resultCode"])
    message = str(loaded.get("resultMessage") or "")
    advice = _ADVICE.get(code)
    if advice is not None:
        bank_message = reply.scrub(message)
        raise ApiError(
            f"ePay answered resultCode {int(code)} ({bank_message or code.meaning}) for the "
            f"{reply.what} at {reply.url}: {advice}",
            code=int(code),
            status=reply.status,
            bank_message=bank_message or None,
        )
    transaction = _transaction(loaded.get("transaction"), body.get("transaction"))
    if code == ResultCode.SUCCESS and transaction is None:
        raise reply.invalid("resultCode 100 and a transaction without amount")
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


# Built once: building a schema costs more than a load, and load() keeps no state on the
# instance, so threads may share it.
_STATUS_RESPONSE = StatusResponseSchema()
