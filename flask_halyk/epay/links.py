"""``POST /invoice``: a payment link the bank sends the customer by e-mail or SMS
(EPAY-REFERENCE.md section 19), and the password-grant token it takes (section 3.4).

The token is the OAuth *password* grant: the merchant cabinet's login and password besides the
client id and secret. The request body is JSON in snake_case; the answer (known from an
integration's record of a real test answer) carries the link's ``id``, its ``invoice_url``
and ``expire_date``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..errors import InvalidArgument
from ..money import js_amount
from .results import PaymentLink
from .transport import Deadline, Reply, Transport

__all__ = ["EXPIRE_PERIOD", "INVOICE_PATH", "check_expire_period", "create_invoice",
           "invoice_body", "password_form", "read_invoice"]

INVOICE_PATH = "/invoice"

#: ``expire_period``: a count and a unit. The vendor's example and integrations send ``1d`` and
#: ``3d``; other units are not documented, so only days are sent.
EXPIRE_PERIOD = re.compile(r"[1-9][0-9]{0,2}d")

# A phone as the vendor's example writes it ("+777711111111"): the bank refuses a bad SMS
# number with code 1079, after the token; checked here first so nothing is sent.
_PHONE = re.compile(r"\+?[0-9]{10,15}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# RFC 3339 with up to 9 fractional digits (Go's time format); Python reads 6.
_FRACTION = re.compile(r"(\.\d{6})\d+")


def check_expire_period(value: str) -> str:
    """``value`` if it is a number of days such as ``1d`` (at most ``999d``), else
    :class:`InvalidArgument`."""
    if not isinstance(value, str) or not EXPIRE_PERIOD.fullmatch(value):
        raise InvalidArgument(f"expire_period must be a number of days such as '1d' or '3d', "
                              f"not {value!r}")
    return value


def password_form(credentials: dict[str, str], username: str, password: str,
                  scope: str) -> dict[str, str]:
    """The password grant's form: the client's credentials and the cabinet's login."""
    if not username or not password:
        raise InvalidArgument("the cabinet's username and password are both required")
    form = {k: v for k, v in credentials.items() if k != "terminal"}
    return {**form, "grant_type": "password", "username": username, "password": password,
            "scope": scope}


def invoice_body(
    *,
    shop_id: str,
    invoice_id: str,
    amount: Decimal,
    currency: str,
    language: str,
    description: str,
    expire_period: str,
    post_link: str,
    failure_post_link: str,
    back_link: str | None,
    failure_back_link: str | None,
    account_id: str | None,
    recipient_email: str | None,
    recipient_phone: str | None,
) -> dict[str, Any]:
    """The JSON body of ``POST /invoice``, or :class:`InvalidArgument` (nothing sent)."""
    if not recipient_email and not recipient_phone:
        raise InvalidArgument("a payment link needs the customer's e-mail or phone (or both)")
    if recipient_email and not _EMAIL.fullmatch(recipient_email):
        raise InvalidArgument(f"{recipient_email!r} is not an e-mail address")
    if recipient_phone and not _PHONE.fullmatch(recipient_phone):
        raise InvalidArgument("the phone must be digits with an optional '+', 10 to 15 of "
                              "them, such as '+77011234567'")
    return {
        "shop_id": shop_id,
        "account_id": account_id or "",
        "invoice_id": invoice_id,
        # The vendor's example sends a number (100), as the payment object does.
        "amount": js_amount(amount),
        "language": language,
        "description": description,
        "expire_period": check_expire_period(expire_period),
        "recipient_contact": recipient_email or "",
        "recipient_contact_sms": recipient_phone or "",
        "notifier_contact_sms": "",
        "currency": currency,
        "post_link": post_link,
        "failure_post_link": failure_post_link,
        "back_link": back_link or "",
        "failure_back_link": failure_back_link or back_link or "",
    }


def _when(value: Any) -> datetime | None:
    """An RFC 3339 time of the answer (Go's zero time, ``0001-01-01T00:00:00Z``: None)."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError:
        return None


def read_invoice(reply: Reply, invoice_id: str, amount: Decimal, currency: str) -> PaymentLink:
    """The link of a ``POST /invoice`` answer; a refusal raises :class:`ApiError` with the
    bank's code (1079: a bad SMS number), anything else :class:`InvalidResponse`."""
    body = reply.json()
    if not 200 <= reply.status < 300 or not isinstance(body, dict):
        raise reply.unexpected(body)
    link_id, url = body.get("id"), body.get("invoice_url")
    if not isinstance(link_id, str) or not link_id:
        raise reply.invalid("an invoice answer without its id")
    # Shown as a link on pages: nothing but http(s) may pass (a javascript: URL would run).
    if not isinstance(url, str) or not re.match(r"https?://[^\s/]+", url):
        raise reply.invalid("an invoice answer without an http(s) invoice_url")
    return PaymentLink(
        id=link_id, invoice_id=str(body.get("invoice_id") or invoice_id), invoice_url=url,
        amount=amount, currency=str(body.get("currency") or currency),
        status=str(body.get("status") or ""), expire_period=str(body.get("expire_period") or ""),
        created_date=_when(body.get("created_date")), expire_date=_when(body.get("expire_date")),
        raw=body,
    )


def create_invoice(transport: Transport, url: str, token: str, body: dict[str, Any],
                   deadline: Deadline) -> Reply:
    """Send ``POST /invoice``. Never retried: a lost answer may have created the link and sent
    the customer its e-mail or SMS already; a blind second try would bill them twice (two
    links for one invoice). Whoever repeats it decides, knowing that."""
    return transport.send(
        "POST", url, what=f"payment link for invoice {body['invoice_id']}", retry=False,
        json=body, headers={"Authorization": f"Bearer {token}"}, deadline=deadline)
