"""The REST API: status, charge, cancel, refund (Bearer service token)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..money import amount_or_none
from .faults import inject
from .instance import Sandbox, current_sandbox
from .merchants import Merchant
from .state import Transaction
from .wire import status_transaction

bp = Blueprint("halyk_sandbox_api", __name__)

MIN_REFUND = Decimal(10)


def _unauthorized() -> tuple[Response, int]:
    return jsonify({"error": "invalid_token", "error_description": "a valid Bearer token "
                    "for the REST API is required"}), 401


def _merchant(sandbox: Sandbox) -> Merchant | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value:
        return None
    token = sandbox.store.token(value.strip())
    # Payment tokens are bound to one invoice; the API takes service tokens only.
    if token is None or token.expired or token.invoice_id is not None:
        return None
    return token.merchant


def _refused(message: str) -> tuple[Response, int]:
    return jsonify({"code": 100, "message": message}), 400


@bp.get("/check-status/payment/transaction/<invoice_id>")
def status(invoice_id: str) -> Any:
    """The status of the latest transaction of an invoice."""
    sandbox = current_sandbox()
    merchant = _merchant(sandbox)
    if merchant is None:
        return _unauthorized()
    fault = inject(sandbox.faults, "status")
    if fault:
        return fault
    with sandbox.store.lock:
        found = sandbox.store.latest_for_invoice(invoice_id, merchant.terminal_id)
        if found is None:
            return jsonify({"resultCode": "102", "resultMessage": "transaction not found"})
        body = status_transaction(found)
        rejected = found.status == "REJECT"
    return jsonify({
        "resultCode": "101" if rejected else "100",
        "resultMessage": "rejected" if rejected else "success",
        "transaction": body,
    })


def _operation_args() -> tuple[str | None, str | None]:
    body = request.get_json(silent=True) if request.data else None
    body = body if isinstance(body, dict) else {}
    amount = request.args.get("amount", body.get("amount"))
    external = request.args.get("externalID", body.get("externalID"))
    return (None if amount in (None, "") else str(amount)), \
        (None if external in (None, "") else str(external))


@bp.post("/operation/<transaction_id>/<operation>")
def operate(transaction_id: str, operation: str) -> Any:
    """charge / cancel / refund of a transaction, with the bank's state rules."""
    sandbox = current_sandbox()
    merchant = _merchant(sandbox)
    if merchant is None:
        return _unauthorized()
    if operation not in ("charge", "cancel", "refund"):
        return jsonify({"code": 100, "message": f"unknown operation {operation}"}), 404
    fault = inject(sandbox.faults, "operation")
    if fault:
        return fault
    raw_amount, external_id = _operation_args()
    amount: Decimal | None = None
    if raw_amount is not None:
        amount = amount_or_none(raw_amount)
        if amount is None:
            return _refused("amount must be a positive number")
    with sandbox.store.lock:
        found = sandbox.store.transactions.get(transaction_id)
        if found is None or found.terminal != merchant.terminal_id:
            return _refused("transaction not found")
        error = _apply(found, operation, amount, external_id)
    if error:
        return _refused(error)
    return Response(status=200)


def _apply(t: Transaction, operation: str, amount: Decimal | None,
           external_id: str | None) -> str | None:
    """Change ``t`` (caller holds the lock); the bank's refusal text, or None on success."""
    if operation == "charge":
        if t.status != "AUTH":
            return f"charge is only possible from AUTH, the transaction is {t.status}"
        charge = t.amount if amount is None else amount
        if charge > t.amount:
            return "charge amount exceeds the authorised amount"
        t.charged, t.status = charge, "CHARGE"
    elif operation == "cancel":
        if t.status != "AUTH":
            return f"cancel is only possible from AUTH, the transaction is {t.status}"
        t.status = "CANCEL"
    else:
        if t.status != "CHARGE":
            return f"refund is only possible from CHARGE, the transaction is {t.status}"
        remaining = t.charged - t.refunded
        refund = remaining if amount is None else amount
        if refund < MIN_REFUND:
            return f"refund amount must be at least {MIN_REFUND}"
        if refund > remaining:
            return f"refund amount exceeds what is left to refund ({remaining})"
        if external_id and any(r["externalID"] == external_id for r in t.refunds):
            return f"externalID {external_id} was already refunded"
        t.refunded += refund
        t.refunds.append({"amount": refund, "externalID": external_id or ""})
        if t.refunded == t.charged:
            t.status = "REFUND"
    return None
