"""The payment page (``/payform/``), its 3-D Secure step, and payment-api.js."""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Blueprint, render_template, request, send_from_directory
from flask.typing import ResponseReturnValue

from ..money import amount_or_none
from . import cards
from .handover import HandoverError, decode_object, decode_params
from .i18n import TEXTS, language
from .instance import Sandbox, current_sandbox
from .links import LINKS, dangerous_link, delivery_targets
from .state import Checkout, SavedCard, Transaction
from .wire import postlink_body

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
#: The bank script's flags for its transfer calls (``halyk.p2p``, ``aft``, ``oct``).
TRANSFER_FLAGS = ("isTransfer", "isAFT", "isOCT")
ALMATY = timezone(timedelta(hours=5))

bp = Blueprint("halyk_sandbox_payform", __name__, url_prefix="/payform",
               static_folder="static", static_url_path="/static")


@bp.get("/payment-api.js")
def script() -> ResponseReturnValue:
    """The sandbox's payment-api.js (same surface as the bank's)."""
    response = send_from_directory(STATIC, "payment-api.js", mimetype="text/javascript")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _error(lang: str, message: str, status: int = 400) -> ResponseReturnValue:
    """The page that cannot pay. Inside a frame (the widget) it posts ``{"success": false}``
    to the shop's page (static/payform.js), so the bank's script closes the overlay: that
    script has no close button, and a page that posts nothing keeps the customer there."""
    log.warning("sandbox: the payment page refused: %s", message)
    return render_template("error.html", t=TEXTS[lang], lang=lang, message=message), status


def error_page(lang: str, message: str, status: int = 400) -> ResponseReturnValue:
    """The page that cannot pay (for the sandbox's other pages: a payment link's)."""
    return _error(lang, message, status)


def card_form(checkout: Checkout) -> ResponseReturnValue:
    """The card form of ``checkout`` (for a payment link's page)."""
    return _form(checkout, {}, {})


def _payment_object(sandbox: Sandbox) -> dict[str, Any]:
    if request.args.get("params"):
        return decode_params(request.args["params"])
    if request.args.get("object"):
        if sandbox.options.legacy_object_handover:
            return decode_object(request.args["object"])
        raise HandoverError(
            "?object= is the sandbox's old hand-over, not the bank's: hand the object over "
            "with the bank's payment-api.js (?params=), or turn on the sandbox's "
            "options.legacy_object_handover")
    raise HandoverError("the payment object is missing (params)")


def _refusal(sandbox: Sandbox, payment: dict[str, Any]) -> tuple[str, Any]:
    """Why the bank would refuse this object ("" if it would not), and the token."""
    for key in LINKS:
        # A javascript: backLink would run in the page's origin, the shop's own when embedded;
        # any other scheme is taken (app deep links), as the bank takes them.
        if payment.get(key) and dangerous_link(payment[key]):
            return f"{key} must not be a javascript:, data: or vbscript: link", None
    auth = payment.get("auth")
    access = auth.get("access_token") if isinstance(auth, dict) else None
    if not access:
        return "the payment is expired: auth (the token object) is missing", None
    token = sandbox.store.token(str(access))
    if token is None:
        return "the payment is expired: unknown token", None
    if token.expired:
        return "the payment is expired: the token has expired", None
    if token.invoice_id is None:
        return "the token is not a payment token (no invoiceID)", None
    if str(payment.get("invoiceId", "")) != token.invoice_id:
        return "the token was issued for another invoice", None
    if amount_or_none(payment.get("amount", ""), allow_zero=True) != token.amount:
        return "the amount differs from the token's", None
    terminal = payment.get("terminal")
    if terminal and terminal != token.merchant.terminal_id:
        return "the terminal differs from the token's", None
    currency = payment.get("currency")
    if currency and str(currency).upper() != token.currency:
        return "the currency differs from the token's", None
    if sandbox.store.paid(token.invoice_id, token.merchant.terminal_id):
        return "this invoice is already paid", None
    return "", token


@bp.get("/")
def page() -> ResponseReturnValue:
    """The card form for the handed-over payment object."""
    sandbox = current_sandbox()
    widget = request.args.get("isShortForm") == "true"
    try:
        payment = _payment_object(sandbox)
    except HandoverError as exc:
        return _error("rus", str(exc))
    lang = language(payment.get("language"))
    flag = next((f for f in TRANSFER_FLAGS if request.args.get(f) == "true"), None)
    if flag is not None:
        return _error(lang, f"transfers ({flag}: halyk.p2p, aft, oct) are not emulated by the "
                            "sandbox")
    reason, token = _refusal(sandbox, payment)
    if reason:
        return _error(lang, reason)
    checkout = sandbox.store.add_checkout(token, payment, widget)
    return _form(checkout, {}, {})


def _form(checkout: Checkout, errors: dict[str, str], values: dict[str, str],
          status: int = 200) -> ResponseReturnValue:
    lang = language(checkout.payment.get("language"))
    return render_template(
        "payform.html", t=TEXTS[lang], lang=lang, checkout=checkout, payment=checkout.payment,
        merchant=checkout.token.merchant, amount=checkout.token.amount,
        currency=checkout.token.currency, errors=errors, values=values,
        offers_save=offers_save(checkout.payment),
    ), status


def offers_save(payment: dict[str, Any]) -> bool:
    """The page offers to save the card: the object asks (``cardSave``, or the vendor prose's
    ``cardsave``) for a customer account (``accountId``: the bank lists cards by it)."""
    asked = payment.get("cardSave", payment.get("cardsave"))
    return (asked is True or str(asked).lower() == "true") and bool(payment.get("accountId"))


def _valid_expiry(value: str) -> bool:
    match = re.fullmatch(r"(\d{2})\s*/\s*(\d{2})", value)
    if not match:
        return False
    month, year = int(match.group(1)), 2000 + int(match.group(2))
    if not 1 <= month <= 12:
        return False
    now = datetime.now(ALMATY)
    return (year, month) >= (now.year, now.month)


def _live_checkout(sandbox: Sandbox) -> tuple[Checkout | None, ResponseReturnValue | None]:
    checkout = sandbox.store.checkout(request.form.get("checkout", ""))
    if checkout is None:
        return None, _error("rus", "the payment session is unknown", 404)
    lang = language(checkout.payment.get("language"))
    if checkout.token.expired:
        return None, _error(lang, "the payment is expired: the token has expired")
    assert checkout.token.invoice_id is not None
    if sandbox.store.paid(checkout.token.invoice_id, checkout.token.merchant.terminal_id):
        return None, _error(lang, "this invoice is already paid")
    return checkout, None


@bp.post("/pay")
def pay() -> ResponseReturnValue:
    """Check the card server-side, then pay, or ask for the 3-D Secure code."""
    sandbox = current_sandbox()
    checkout, refusal = _live_checkout(sandbox)
    if checkout is None:
        return refusal  # type: ignore[return-value]
    t = TEXTS[language(checkout.payment.get("language"))]
    values = {k: request.form.get(k, "").strip() for k in ("pan", "expiry", "cvc", "holder")}
    save = offers_save(checkout.payment) and request.form.get("save_card") == "1"
    values["save_card"] = "1" if save else ""
    pan = re.sub(r"[\s-]", "", values["pan"])
    errors = {}
    if not cards.luhn_valid(pan):
        errors["pan"] = t["err_pan"]
    if not _valid_expiry(values["expiry"]):
        errors["expiry"] = t["err_expiry"]
    if not re.fullmatch(r"\d{3}", values["cvc"]):
        errors["cvc"] = t["err_cvc"]
    if not values["holder"]:
        errors["holder"] = t["err_holder"]
    if errors:
        values.pop("cvc")
        return _form(checkout, errors, values, 400)
    behaviour = cards.behaviour(pan)
    if behaviour.three_ds:
        sandbox.store.set_3ds(checkout, {"pan": pan, "holder": values["holder"], "save": save})
        lang = language(checkout.payment.get("language"))
        return render_template("secure3d.html", t=t, lang=lang, checkout=checkout,
                               amount=checkout.token.amount, currency=checkout.token.currency)
    return _finish(sandbox, checkout, pan, values["holder"], behaviour.reason_code,
                   behaviour.reason, behaviour.issuer, secure="no", save=save)


@bp.post("/3ds")
def secure3d() -> ResponseReturnValue:
    """The 3-D Secure confirmation: :data:`cards.THREE_DS_CODE` passes, anything else is 473."""
    sandbox = current_sandbox()
    checkout, refusal = _live_checkout(sandbox)
    if checkout is None:
        return refusal  # type: ignore[return-value]
    pending = sandbox.store.take_3ds(checkout)
    if not pending:
        return _error(language(checkout.payment.get("language")), "no 3-D Secure step pending")
    behaviour = cards.behaviour(pending["pan"])
    if secrets.compare_digest(request.form.get("code", "").strip(), cards.THREE_DS_CODE):
        code, reason = behaviour.reason_code, behaviour.reason
    else:
        code, reason = cards.THREE_DS_FAILURE
    return _finish(sandbox, checkout, pending["pan"], pending["holder"], code, reason,
                   behaviour.issuer, secure="yes", save=bool(pending.get("save")))


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def _finish(sandbox: Sandbox, checkout: Checkout, pan: str, holder: str, reason_code: int,
            reason: str, issuer: str, *, secure: str, save: bool = False) -> ResponseReturnValue:
    token, payment = checkout.token, checkout.payment
    assert token.invoice_id is not None and token.amount is not None
    ok = reason_code == 0
    saved = ok and save
    has_card_id = saved or (ok and sandbox.options.card_id_without_save)
    if not ok:
        status = "REJECT"
    elif token.amount == 0:
        status = "VERIFIED"  # card verification (amount 0): nothing to charge
    else:
        status = "AUTH" if sandbox.two_stage_of(token.merchant) else "CHARGE"
    transaction = Transaction(
        id=str(uuid.uuid4()), invoice_id=token.invoice_id, amount=token.amount,
        currency=token.currency, terminal=token.merchant.terminal_id, status=status,
        reason_code=reason_code, reason=reason,
        created=datetime.now(UTC).astimezone(ALMATY).isoformat(timespec="microseconds"),
        card_mask=cards.mask(pan), card_type=cards.card_type(pan),
        card_id=str(uuid.uuid4()) if has_card_id else "", issuer=issuer,
        approval_code=_digits(6) if ok else "", reference=_digits(12) if ok else "",
        holder=holder.upper(), payment=dict(payment), secret_hash=token.secret_hash,
        secure=secure, ip=request.remote_addr or "",
        charged=token.amount if status == "CHARGE" else token.amount * 0,
        processing_terminal=token.merchant.tid,
        int_reference=secrets.token_hex(8).upper() if ok else "",
    )
    lang = language(payment.get("language"))
    if not sandbox.store.add_payment(transaction):
        return _error(lang, "this invoice is already paid")
    if saved:
        sandbox.store.save_card(SavedCard(
            card_id=transaction.card_id, account_id=str(payment["accountId"]),
            terminal=transaction.terminal, pan=pan, card_mask=transaction.card_mask,
            card_type=transaction.card_type, issuer=issuer, holder=transaction.holder,
            transaction_id=transaction.id, reference=transaction.reference,
            int_reference=transaction.int_reference,
            processing_terminal=transaction.processing_terminal, created=transaction.created))
    success_link, failure_link = delivery_targets(token, payment)
    body = postlink_body(transaction, secret_hash=sandbox.options.postlink_secret_hash)
    sandbox.sender.send(success_link if ok else failure_link, body)
    back = payment.get("backLink") if ok else payment.get("failureBackLink")
    return render_template(
        "result.html", t=TEXTS[lang], lang=lang, ok=ok, reason=reason, reason_code=reason_code,
        transaction=transaction, mode="widget" if checkout.short_form else "redirect",
        back=str(back or ""),
    )
