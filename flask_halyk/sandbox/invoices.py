"""Payment links: ``POST /invoice`` (EPAY-REFERENCE.md section 19) and the link's page, where a
card pays the invoice (the payment page's own form) and the link's postLinks follow.

The body is JSON in snake_case; the answer is the one an integration recorded from the bank's
test host (its Laravel docblock); the link's page is at ``/api/redirect/invoice-link/<id>`` on
the API host, as that answer's ``invoice_url`` is. Where the material is silent, the choices
are in docs/sandbox.md's fidelity table.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from ..money import amount_or_none
from . import payform
from .api import bearer_token, refused
from .faults import inject
from .i18n import language
from .instance import current_sandbox
from .links import http_url
from .state import InvoiceLink, Token

bp = Blueprint("halyk_sandbox_invoices", __name__)

#: ``expire_period``: the vendor and integrations send ``1d`` and ``3d``; the sandbox also
#: takes minutes and hours (``m``, ``h``), which the material neither shows nor rules out.
_PERIOD = re.compile(r"([1-9][0-9]{0,3})([mhd])")
_UNIT = {"m": 60, "h": 3600, "d": 86400}
#: A bad SMS number: the bank's code 1079 (an integration's record).
BAD_PHONE_CODE = 1079
_PHONE = re.compile(r"\+?[0-9]{10,15}")
# The answer's language: the request's "rus" comes back "ru" (the recorded answer).
_SHORT_LANGUAGE = {"rus": "ru", "kaz": "kz", "eng": "en"}


def _stamp(moment: datetime) -> str:
    """RFC 3339 with nanoseconds and Almaty's offset, as the recorded answer writes it."""
    local = moment.astimezone(payform.ALMATY)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}000" + \
        local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]


@bp.post("/invoice")
def create() -> ResponseReturnValue:
    """Make a payment link; ``Authorization: Bearer`` a password-grant token (or, with
    ``options.invoice_client_credentials``, any service token)."""
    sandbox = current_sandbox()
    token = bearer_token(sandbox)
    if token is None or token.invoice_id is not None or not (
            token.password_grant or sandbox.options.invoice_client_credentials):
        return jsonify({"error": "invalid_token", "error_description": "a password-grant "
                        "Bearer token is required"}), 401
    # The operations' faults: like them, creating a link is a call that is never retried.
    fault = inject(sandbox.faults, "operation")
    if fault:
        return fault
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return refused("the body is not a JSON object")
    merchant = token.merchant
    if str(body.get("shop_id") or "") != merchant.shop_id:
        return refused("shop_id is required and must be the merchant's shop")
    invoice_id = str(body.get("invoice_id") or "")
    if not invoice_id.isdigit():
        return refused("invoice_id is required (digits)")
    amount = amount_or_none(body.get("amount", ""))
    if amount is None:
        return refused("amount must be a positive number")
    period = str(body.get("expire_period") or "1d")
    match = _PERIOD.fullmatch(period)
    if match is None:
        return refused("expire_period must be a number and a unit, such as 1d")
    phone = str(body.get("recipient_contact_sms") or "")
    if phone and not _PHONE.fullmatch(phone):
        return refused("invalid phone number for SMS", BAD_PHONE_CODE)
    links = {key: str(body.get(key) or "") for key in
             ("post_link", "failure_post_link", "back_link", "failure_back_link")}
    for key in ("post_link", "failure_post_link"):
        if links[key] and not http_url(links[key]):
            return refused(f"{key} must be an absolute http(s) URL")
    created = datetime.now(UTC)
    expires = created + timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])
    if sandbox.options.invoice_expiry_seconds is not None:
        expires = created + timedelta(seconds=sandbox.options.invoice_expiry_seconds)
    link_id = str(uuid.uuid4())
    lang = str(body.get("language") or "rus").lower()
    currency = str(body.get("currency") or "KZT").upper()
    answer: dict[str, Any] = {
        "id": link_id, "shop_id": merchant.shop_id, "amount": body.get("amount"),
        "invoice_id": invoice_id, "invoice_alt": "",
        "language": _SHORT_LANGUAGE.get(lang, lang), "currency": currency,
        "description": str(body.get("description") or ""),
        "account_id": str(body.get("account_id") or ""),
        "recipient_contact": str(body.get("recipient_contact") or ""),
        "recipient_contact_sms": phone, "notifier_contact": "",
        "notifier_contact_sms": str(body.get("notifier_contact_sms") or ""),
        "expire_period": period, **links,
        "created_date": _stamp(created), "expire_date": _stamp(expires), "status": "ACTIVE",
        "updated_date": "0001-01-01T00:00:00Z",
        "invoice_url": f"{request.url_root}api/redirect/invoice-link/{link_id}",
        "merchant_id": merchant.client_id, "terminal_id": merchant.terminal_id,
        "card_save": False, "data": "",
    }
    sandbox.store.add_invoice_link(InvoiceLink(
        id=link_id, merchant=merchant, invoice_id=invoice_id, amount=amount, currency=currency,
        language=lang, description=answer["description"], post_link=links["post_link"],
        failure_post_link=links["failure_post_link"], back_link=links["back_link"],
        failure_back_link=links["failure_back_link"], expires_at=expires.timestamp(),
        answer=answer))
    return jsonify(answer)


@bp.get("/redirect/invoice-link/<link_id>")
def page(link_id: str) -> ResponseReturnValue:
    """The link's page: the payment page's card form for the link's invoice, until it
    expires or is paid. The card form's postLinks go to the link's ``post_link`` /
    ``failure_post_link``; the postLink carries no ``secret_hash`` (none was sent)."""
    sandbox = current_sandbox()
    link = sandbox.store.invoice_link(link_id)
    if link is None:
        return payform.error_page("rus", "the payment link is unknown", 404)
    lang = language(link.language)
    if link.expired:
        return payform.error_page(lang, "the payment link has expired", 410)
    if sandbox.store.paid(link.invoice_id, link.merchant.terminal_id):
        return payform.error_page(lang, "this invoice is already paid", 409)
    # The page's token is the link's: bound to its invoice and amount, living as long as it.
    token = sandbox.store.issue(Token(
        f"link-{uuid.uuid4().hex}", link.merchant, "payment", link.expires_at,
        invoice_id=link.invoice_id, amount=link.amount, currency=link.currency,
        post_link=link.post_link, failure_post_link=link.failure_post_link))
    payment: dict[str, Any] = {
        "invoiceId": link.invoice_id, "amount": link.amount, "currency": link.currency,
        "terminal": link.merchant.terminal_id, "language": link.language,
        "description": link.description, "backLink": link.back_link,
        "failureBackLink": link.failure_back_link or link.back_link,
        "postLink": link.post_link, "failurePostLink": link.failure_post_link,
    }
    checkout = sandbox.store.add_checkout(token, payment, False)
    return payform.card_form(checkout)

