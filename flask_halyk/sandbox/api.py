"""The REST API: status, charge, cancel, refund (``Authorization: Bearer <token>``).

Served at ``/`` and under ``/api`` (app.py). Service tokens reach every invoice of their
merchant's terminal; a payment token only its own invoice (integrations call the API with it).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..money import AmountError, parse_amount, same_amount
from .faults import inject
from .instance import Sandbox, current_sandbox
from .state import Token, Transaction
from .wire import status_transaction

bp = Blueprint("halyk_sandbox_api", __name__)

MIN_REFUND = Decimal(10)


class _Refusal(Exception):
    """An operation request the bank refuses (HTTP 400 ``{"code": 100, "message": ...}``)."""


def unauthorized() -> tuple[Response, int]:
    """The bank's answer to a missing, unknown or expired Bearer token."""
    return jsonify({"error": "invalid_token", "error_description": "a valid Bearer token "
                    "for the REST API is required"}), 401


def bearer_token(sandbox: Sandbox) -> Token | None:
    """The live token of the request's ``Authorization: Bearer``, or None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value:
        return None
    token = sandbox.store.token(value.strip())
    if token is None or token.expired:
        return None
    return token


def refused(message: str, code: int = 100, status: int = 400) -> tuple[Response, int]:
    """The bank's refusal envelope ``{"code", "message"}`` (code 100 and HTTP 400 unless the
    call has its own)."""
    return jsonify({"code": code, "message": message}), status


@bp.get("/check-status/payment/transaction/<invoice_id>")
def status(invoice_id: str) -> Any:
    """The status of the latest transaction of an invoice."""
    sandbox = current_sandbox()
    token = bearer_token(sandbox)
    if token is None or token.invoice_id not in (None, invoice_id):
        return unauthorized()
    fault = inject(sandbox.faults, "status")
    if fault:
        return fault
    if not token.terminal_named:
        return jsonify({"resultCode": "104", "resultMessage": "terminal is absent in token"})
    with sandbox.store.lock:
        found = sandbox.store.latest_for_invoice(invoice_id, token.merchant.terminal_id)
        if found is None:
            return jsonify({"resultCode": "102", "resultMessage": "transaction not found"})
        body = status_transaction(
            found, amount_after_refunds=sandbox.options.status_amount_after_refunds)
        rejected = found.status == "REJECT"
    return jsonify({
        "resultCode": "101" if rejected else "100",
        "resultMessage": "rejected" if rejected else "success",
        "transaction": body,
    })


def _body_fields() -> dict[str, Any]:
    """The request body's fields: a JSON object (whatever the Content-Type says, as clients
    send it) or a form. A body that is neither is refused: its amount would otherwise be
    lost and the whole amount taken."""
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.to_dict()
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise _Refusal("the body is neither a JSON object nor a form")
    return body


def _one_value(name: str, body: dict[str, Any]) -> str | None:
    """``name`` from the query and/or the body; given in both, they must name the same value
    (the vendor's charge page: "the values must be identical")."""
    query = request.args.get(name)
    query = None if query in (None, "") else query
    given = body.get(name)
    given = None if given in (None, "") else given
    if query is not None and given is not None:
        same = same_amount(query, given) if name == "amount" else str(query) == str(given)
        if not same:
            raise _Refusal(f"{name} in the query ({query}) and in the body ({given}) differ")
    value = query if query is not None else given
    return None if value is None else str(value)


def _operation_args() -> tuple[Decimal | None, str | None]:
    body = _body_fields()
    raw_amount = _one_value("amount", body)
    external_id = _one_value("externalID", body)
    if raw_amount is None:
        return None, external_id
    try:
        return parse_amount(raw_amount), external_id
    except AmountError:
        raise _Refusal("amount must be a positive number with at most two decimals") from None


@bp.post("/operation/<transaction_id>/<operation>")
def operate(transaction_id: str, operation: str) -> Any:
    """charge / cancel / refund of a transaction, with the bank's state rules."""
    sandbox = current_sandbox()
    token = bearer_token(sandbox)
    if token is None:
        return unauthorized()
    if operation not in ("charge", "cancel", "refund"):
        return jsonify({"code": 100, "message": f"unknown operation {operation}"}), 404
    fault = inject(sandbox.faults, "operation")
    if fault:
        return fault
    try:
        amount, external_id = _operation_args()
        with sandbox.store.lock:
            found = sandbox.store.transactions.get(transaction_id)
            if found is None or found.terminal != token.merchant.terminal_id or \
                    token.invoice_id not in (None, found.invoice_id):
                raise _Refusal("transaction not found")
            _apply(sandbox, found, operation, amount, external_id)
    except _Refusal as refusal:
        return refused(str(refusal))
    return Response(status=200)


def _apply(sandbox: Sandbox, t: Transaction, operation: str, amount: Decimal | None,
           external_id: str | None) -> None:
    """Change ``t`` (caller holds the lock), or raise :class:`_Refusal` with the reason."""
    if operation == "charge":
        if t.status != "AUTH":
            raise _Refusal(f"charge is only possible from AUTH, the transaction is {t.status}")
        charge = t.amount if amount is None else amount
        if charge > t.amount:
            raise _Refusal("charge amount exceeds the authorised amount")
        t.charged, t.status = charge, "CHARGE"
    elif operation == "cancel":
        if t.status != "AUTH":
            raise _Refusal(f"cancel is only possible from AUTH, the transaction is {t.status}")
        t.status = "CANCEL"
    else:
        _refund(sandbox, t, amount, external_id)


def _refund(sandbox: Sandbox, t: Transaction, amount: Decimal | None,
            external_id: str | None) -> None:
    if t.status != "CHARGE":
        raise _Refusal(f"refund is only possible from CHARGE, the transaction is {t.status}")
    if external_id and any(r["externalID"] == external_id for r in t.refunds):
        mode = sandbox.options.refund_external_id
        if mode == "refuse":
            raise _Refusal(f"externalID {external_id} was already refunded")
        if mode == "idempotent":
            return
    remaining = t.charged - t.refunded
    refund = remaining if amount is None else amount
    if refund < MIN_REFUND:
        raise _Refusal(f"refund amount must be at least {MIN_REFUND}")
    if refund > remaining:
        raise _Refusal(f"refund amount exceeds what is left to refund ({remaining})")
    t.refunded += refund
    t.refunds.append({"amount": refund, "externalID": external_id or ""})
    if t.refunded == t.charged:
        t.status = "REFUND"
