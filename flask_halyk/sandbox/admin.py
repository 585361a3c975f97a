"""``/_sandbox/...``: inspection, fault switches and behaviour options over HTTP, for a
standalone sandbox."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, jsonify, request

from .instance import current_sandbox

bp = Blueprint("halyk_sandbox_admin", __name__, url_prefix="/_sandbox")


@bp.get("/faults")
def get_faults() -> Any:
    """The current fault switches."""
    return jsonify(current_sandbox().faults.as_dict())


@bp.post("/faults")
def set_faults() -> Any:
    """Set fault switches from a JSON object; ``{"reset": true}`` turns all off first."""
    faults = current_sandbox().faults
    values = request.get_json(silent=True)
    if not isinstance(values, dict):
        return jsonify({"error": "send a JSON object of fault switches"}), 400
    values = dict(values)
    if values.pop("reset", False):
        faults.reset()
    try:
        faults.update(values)
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(faults.as_dict())


@bp.get("/options")
def get_options() -> Any:
    """The current behaviour switches (docs/sandbox.md, "Fidelity")."""
    return jsonify(current_sandbox().options.as_dict())


@bp.post("/options")
def set_options() -> Any:
    """Set behaviour switches from a JSON object; ``{"reset": true}`` restores the defaults
    first."""
    options = current_sandbox().options
    values = request.get_json(silent=True)
    if not isinstance(values, dict):
        return jsonify({"error": "send a JSON object of sandbox options"}), 400
    values = dict(values)
    if values.pop("reset", False):
        options.reset()
    try:
        options.update(values)
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(options.as_dict())


@bp.get("/transactions")
def transactions() -> Any:
    """Every transaction, as the status API spells them."""
    return jsonify(current_sandbox().transactions_json())


@bp.get("/postlinks")
def postlinks() -> Any:
    """Every postLink delivery attempted, with its outcome."""
    return jsonify([asdict(d) for d in current_sandbox().deliveries])
