"""``/_sandbox/...``: inspection, fault switches and behaviour options over HTTP, for a
standalone sandbox; and ``POST /_sandbox/pay`` (:data:`pay_bp`), which an embedded sandbox
serves too, behind its admin key (``flask halyk send-postlink``)."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any

from flask import Blueprint, jsonify, request

from ..redaction import safe_url
from .cards import APPROVED_CARD, BLOCKED_CARD
from .faults import Faults
from .instance import current_sandbox
from .options import Options
from .payer import PaymentPageError

bp = Blueprint("halyk_sandbox_admin", __name__, url_prefix="/_sandbox")

#: ``POST /_sandbox/pay`` alone: what ``flask halyk send-postlink`` calls.
pay_bp = Blueprint("halyk_sandbox_trigger", __name__, url_prefix="/_sandbox")

#: The header carrying an embedded sandbox's admin key
#: (:func:`flask_halyk.config.sandbox_admin_key`).
ADMIN_KEY_HEADER = "X-Halyk-Sandbox-Key"


@bp.get("/faults")
def get_faults() -> Any:
    """The current fault switches."""
    return jsonify(current_sandbox().faults.as_dict())


@bp.post("/faults")
def set_faults() -> Any:
    """Set fault switches from a JSON object; ``{"reset": true}`` turns all off first."""
    return _set_switches(current_sandbox().faults, "fault switches")


@bp.get("/options")
def get_options() -> Any:
    """The current behaviour switches (docs/sandbox.md, "Fidelity")."""
    return jsonify(current_sandbox().options.as_dict())


@bp.post("/options")
def set_options() -> Any:
    """Set behaviour switches from a JSON object; ``{"reset": true}`` restores the defaults
    first."""
    return _set_switches(current_sandbox().options, "sandbox options")


@bp.get("/transactions")
def transactions() -> Any:
    """Every transaction, as the status API spells them."""
    return jsonify(current_sandbox().transactions_json())


@bp.get("/postlinks")
def postlinks() -> Any:
    """Every postLink delivery attempted, with its outcome."""
    return jsonify([asdict(d) for d in current_sandbox().deliveries])


@pay_bp.post("/pay")
def pay_invoice() -> Any:
    """Pay the latest payment token the sandbox issued for ``invoice_id`` with the approved
    (``"approved": true``) or a declined test card, through the payment page as a browser
    would (:meth:`Sandbox.pay_invoice`): the transaction exists for the status API and the postLink
    is the bank's own, signed with the token's secret_hash and sent by the sandbox's sender.

    404: no payment token for that invoice; 409: the invoice is already paid; 422: the page
    refused the payment (an expired token...); 403: an embedded sandbox's admin key missing or
    wrong. The answer names the transaction and each postLink delivery (URL without query,
    HTTP status or error), never a body (it holds the secret_hash).
    """
    sandbox = current_sandbox()
    if sandbox.admin_key is not None and not secrets.compare_digest(
            request.headers.get(ADMIN_KEY_HEADER, "").encode(), sandbox.admin_key.encode()):
        return jsonify({"error": f"this sandbox takes {ADMIN_KEY_HEADER} with the shop's "
                                 "sandbox admin key (flask halyk send-postlink sends it)"}), 403
    values = request.get_json(silent=True)
    if not isinstance(values, dict) or not isinstance(values.get("invoice_id"), str) or \
            not isinstance(values.get("approved"), bool):
        return jsonify({"error": 'send {"invoice_id": "...", "approved": true|false}'}), 400
    invoice_id: str = values["invoice_id"]
    try:
        result = sandbox.pay_invoice(invoice_id,
                                     APPROVED_CARD if values["approved"] else BLOCKED_CARD)
    except PaymentPageError as exc:
        status = exc.status if exc.status in (404, 409) else 422
        if "already paid" in exc.message:
            status = 409
        return jsonify({"error": exc.message}), status
    return jsonify({
        "invoice_id": invoice_id, "transaction_id": result.transaction_id,
        "approved": result.approved, "status": result.status,
        "reason_code": result.reason_code, "reason": result.reason,
        "deliveries": [{"url": safe_url(d.url), "status": d.status, "error": d.error}
                       for d in result.deliveries],
    })


def _set_switches(switches: Faults | Options, what: str) -> Any:
    values = request.get_json(silent=True)
    if not isinstance(values, dict):
        return jsonify({"error": f"send a JSON object of {what}"}), 400
    values = dict(values)
    if values.pop("reset", False):
        switches.reset()
    try:
        switches.update(values)
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(switches.as_dict())
