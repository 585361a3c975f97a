"""QR payments (EPAY-REFERENCE.md section 17): ``POST /payment/qr/generate`` with the payment's
own token, and ``GET /qr?billNumber=`` for its status.

The vendor's page is readable only up to its token step (a payment token, ``"expires_in":
"1200"``: the QR lives 20 minutes, then it is REJECTED); the two calls are known from an
integration that uses the vendor's test QR merchant (the body and the answer's keys) and from
the bank's own SDK (the status answer and its statuses). The integration polls the status
with a payment token of the same invoice, as :meth:`EpayClient.qr_status` does.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ..errors import InvalidArgument
from ..money import amount_or_none
from .results import QrCode, QrStatus
from .transport import Deadline, Reply, Transport

__all__ = ["GENERATE_PATH", "QR_LANGUAGE", "QR_STATUSES", "STATUS_PATH", "generate",
           "generate_body", "read_generate", "read_status"]

GENERATE_PATH = "/payment/qr/generate"
STATUS_PATH = "/qr"
#: The statuses of a QR ([VENDOR-SDK]); PAID and REJECTED are final.
QR_STATUSES = ("NEW", "SCANNED", "BLOCKED", "REJECTED", "AUTH", "PAID")
#: The body's ``language``: the integration sends ``"ru"``.
QR_LANGUAGE = {"rus": "ru", "kaz": "kz", "eng": "en"}


def generate_body(*, post_link: str, failure_post_link: str, description: str, language: str,
                  account_id: str | None = None, email: str | None = None,
                  phone: str | None = None) -> dict[str, Any]:
    """The JSON body of ``POST /payment/qr/generate`` (camelCase, as the integration sends)."""
    if not description:
        raise InvalidArgument("a QR payment needs a description")
    body: dict[str, Any] = {
        "postLink": post_link, "failurePostLink": failure_post_link,
        "description": description, "language": QR_LANGUAGE.get(language, language),
    }
    for key, value in (("accountId", account_id), ("payerEmail", email),
                       ("payerPhone", phone)):
        if value:
            body[key] = value
    return body


def generate(transport: Transport, url: str, access_token: str, body: dict[str, Any],
             invoice_id: str, deadline: Deadline) -> Reply:
    """Send ``POST /payment/qr/generate``. Never retried: a lost answer may have made a QR the
    customer is about to scan; a second one would be a second bill for one invoice."""
    return transport.send("POST", url, what=f"QR of invoice {invoice_id}", retry=False,
                          json=body, headers={"Authorization": f"Bearer {access_token}"},
                          deadline=deadline)


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    return str(value)


def read_generate(reply: Reply, invoice_id: str) -> QrCode:
    """The QR of a generate answer; a refusal raises :class:`ApiError`, anything else without
    a ``billNumber`` :class:`InvalidResponse`."""
    body = reply.json()
    if not 200 <= reply.status < 300 or not isinstance(body, dict):
        raise reply.unexpected(body)
    bill = _text(body, "billNumber")
    # The status call's key, and a page's attribute: letters and digits only.
    if bill is None or not re.fullmatch(r"[A-Za-z0-9]{1,64}", bill):
        raise reply.invalid("a QR answer without a billNumber of letters and digits")
    links = {}
    for key in ("homebankLink", "onlinebankLink"):
        link = _text(body, key)
        # Shown as links on pages: http(s) or the banks' app schemes, never script.
        links[key] = link if link and not link.lower().lstrip().startswith(
            ("javascript:", "data:", "vbscript:")) else None
    return QrCode(invoice_id=invoice_id, bill_number=bill, qrcode=_text(body, "qrcode") or "",
                  homebank_link=links["homebankLink"], onlinebank_link=links["onlinebankLink"],
                  raw=body)


def read_status(reply: Reply, bill_number: str) -> QrStatus:
    """The status answer of a QR; a refusal raises :class:`ApiError`."""
    body = reply.json()
    if not 200 <= reply.status < 300 or not isinstance(body, dict):
        raise reply.unexpected(body)
    status = _text(body, "status")
    if status is None:
        raise reply.invalid("a QR status answer without its status")
    amount: Decimal | None = amount_or_none(body.get("amount", ""), allow_zero=True)
    return QrStatus(bill_number=bill_number, status=status.upper(), amount=amount,
                    currency=_text(body, "currency"), error=_text(body, "errDescription"),
                    raw=body)
