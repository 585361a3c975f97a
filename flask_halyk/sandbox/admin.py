"""``/_sandbox/...``: inspection, fault switches and behaviour options over HTTP, for a
standalone sandbox."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, jsonify, request

from .faults import Faults
from .instance import current_sandbox
from .options import Options

bp = Blueprint("halyk_sandbox_admin", __name__, url_prefix="/_sandbox")


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
