"""``POST /oauth2/token``: payment tokens (bound to an invoice) and service tokens."""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..config import LONG_SCOPE
from ..invoices import is_invoice_id
from ..money import amount_or_none
from .faults import inject
from .instance import Sandbox, current_sandbox
from .links import DELIVERY_LINKS, http_url
from .state import TOKEN_LIFETIME, Token

bp = Blueprint("halyk_sandbox_oauth", __name__)

#: Seconds a password-grant token lives: the vendor's invoice page answers ``"900"``.
PASSWORD_TOKEN_LIFETIME = 900

_TOKEN_ALPHABET = string.ascii_uppercase + string.digits + "_"


def _error(status: int, error: str, description: str) -> tuple[Response, int]:
    return jsonify({"error": error, "error_description": description}), status


def _new_access_token() -> str:
    # The vendor's example token looks like "DCEB8O_ZM5U7SO_T_U5EJQ".
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(22))


@bp.post("/oauth2/token")
@bp.post("/epay2/oauth2/token")  # the older test host's path (EPAY-REFERENCE.md 0.1)
def token() -> Any:
    """Issue a token; form-encoded or multipart body, fields as the bank takes them."""
    sandbox = current_sandbox()
    fault = inject(sandbox.faults, "token")
    if fault:
        return fault
    form = request.form
    missing = [k for k in ("grant_type", "client_id", "client_secret") if not form.get(k)]
    if missing:
        return _error(400, "invalid_request", f"missing field(s): {', '.join(missing)}")
    if form["grant_type"] == "password":
        return _password_grant(sandbox)
    if form["grant_type"] != "client_credentials":
        return _error(400, "unsupported_grant_type",
                      "grant_type must be client_credentials or password")
    terminal = form.get("terminal", "")
    merchant = sandbox.merchant(form["client_id"], form["client_secret"], terminal)
    # Our best guess of the bank's answer to wrong credentials: the OAuth2 standard one.
    if merchant is None or (terminal and terminal != merchant.terminal_id):
        return _error(401, "invalid_client", "client authentication failed")
    scope = form.get("scope") or LONG_SCOPE
    expires_at = time.time() + TOKEN_LIFETIME
    invoice_id, raw_amount = form.get("invoiceID", ""), form.get("amount", "")
    if not invoice_id and not raw_amount:
        issued = Token(_new_access_token(), merchant, scope, expires_at,
                       terminal_named=bool(terminal))
    else:
        if not terminal:
            return _error(400, "invalid_request", "missing field(s): terminal")
        if not is_invoice_id(invoice_id):
            return _error(400, "invalid_request", "invoiceID must be 6 to 15 digits")
        amount = amount_or_none(raw_amount, allow_zero=True)
        if amount is None:
            return _error(400, "invalid_request", "amount must be a non-negative number")
        for key in DELIVERY_LINKS:
            if form.get(key) and not http_url(form[key]):
                return _error(400, "invalid_request", f"{key} must be an absolute http(s) URL")
        currency = (form.get("currency") or form.get("curency") or "KZT").upper()
        issued = Token(
            _new_access_token(), merchant, scope, expires_at,
            invoice_id=invoice_id, amount=amount, currency=currency,
            secret_hash=form.get("secret_hash", ""),
            post_link=form.get("postLink", ""),
            failure_post_link=form.get("failurePostLink", ""),
        )
    sandbox.store.issue(issued)
    return jsonify({
        "access_token": issued.access_token,
        # The bank's own SDK decodes a string (a number would not decode); the widget page's
        # example shows a number: options.expires_in_as_text chooses.
        "expires_in": str(TOKEN_LIFETIME) if sandbox.options.expires_in_as_text
        else TOKEN_LIFETIME,
        "refresh_token": "",
        "scope": scope,
        "token_type": "Bearer",
    })


def _password_grant(sandbox: Sandbox) -> Any:
    """The password grant (payment links, EPAY-REFERENCE.md 3.4): the client's credentials and
    the merchant cabinet's login. Answered as the vendor's invoice page shows it: a string
    ``expires_in`` of ``"900"`` and a refresh token."""
    form = request.form
    missing = [k for k in ("username", "password") if not form.get(k)]
    if missing:
        return _error(400, "invalid_request", f"missing field(s): {', '.join(missing)}")
    merchant = sandbox.merchant(form["client_id"], form["client_secret"])
    if merchant is None:
        return _error(401, "invalid_client", "client authentication failed")
    if not (secrets.compare_digest(form["username"].encode(), merchant.cabinet_username.encode())
            and secrets.compare_digest(form["password"].encode(),
                                       merchant.cabinet_password.encode())):
        return _error(400, "invalid_grant", "bad user credentials")
    scope = form.get("scope") or LONG_SCOPE
    issued = Token(_new_access_token(), merchant, scope, time.time() + PASSWORD_TOKEN_LIFETIME,
                   password_grant=True)
    sandbox.store.issue(issued)
    return jsonify({
        "access_token": issued.access_token,
        "expires_in": str(PASSWORD_TOKEN_LIFETIME),
        "refresh_token": _new_access_token(),
        "scope": scope,
        "token_type": "Bearer",
    })
