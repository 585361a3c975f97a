"""QR payments: a payment shown as a QR code for the customer's phone (the bank's QR API,
EPAY-REFERENCE.md section 17). The payment is recorded and paid like any other: the ledger's
invoice id, the payment's own token (with the shop's ``secret_hash``), postLinks to the shop's
blueprint (from its settings, never a request's Host), the same signals, exactly once.

:func:`create_qr_payment` makes it; :func:`qr_status` asks the bank how the QR stands (the shop
polls it from its checkout page's view), and settles the ledger at once through the status API
when the QR is PAID or REJECTED (the postLink then changes nothing). A QR lives 20 minutes (the
token's ``expires_in`` says so); then the bank marks it REJECTED.

The QR image: the bank's ``qrcode`` format is not published. :attr:`QrPayment.svg` draws the QR
of the bank's payload with the optional ``segno`` package (``pip install flask-halyk[qr]``) as
inline SVG, which needs no Content-Security-Policy source; a ``qrcode`` that is already a PNG
in base64 is shown as a ``data:`` image (``img-src data:``).
"""

from __future__ import annotations

import base64
import binascii
import importlib
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from .checkout import (
    FAILURE_POSTLINK_ENDPOINT,
    POSTLINK_ENDPOINT,
    _endpoint_path,
    _note_token_expiry,
    _script_root,
    pick_merchant,
    server_origin,
)
from .config import SANDBOX_INTERNAL_ORIGIN, SHOP_INTERNAL_ORIGIN, HalykConfig
from .epay import PaymentToken, QrCode, QrStatus
from .errors import HalykError, InvalidArgument, InvalidPayment, LedgerUnavailable, PaymentNotFound
from .i18n import gettext as _
from .ledger import PaymentRecord, PaymentStatus
from .links import _browser_origin, _checked
from .postlink.verification import make_secret_hash
from .recovery import reconcile_payment
from .state import HalykState

__all__ = ["QR_IMAGE_MODULE", "QR_LIFETIME", "QrPayment", "QrPaymentStatus", "create_qr_payment",
           "qr_status"]

log = logging.getLogger("flask_halyk.qr")

#: How long a QR may be paid: "20 minutes after the QR code is generated, if the QR code has
#: not been assigned the final status (PAID, REJECTED), the QR code will be canceled" (vendor).
QR_LIFETIME = timedelta(minutes=20)

#: The optional package that draws the QR (imported by name when a page asks for the image).
QR_IMAGE_MODULE = "segno"


@dataclass(frozen=True)
class QrPayment:
    """A payment shown as a QR: ``bill_number`` (the bank's key of the QR), ``qrcode`` (as the
    bank sent it), the links that open it in Homebank / Onlinebank on the phone itself, and
    ``expires_at`` (20 minutes after it was made). ``record``: the payment in the ledger."""

    invoice_id: str
    bill_number: str
    qrcode: str
    homebank_link: str | None
    onlinebank_link: str | None
    amount: Decimal
    currency: str
    expires_at: datetime | None
    record: PaymentRecord | None = field(default=None, compare=False)
    qr: QrCode | None = field(default=None, repr=False, compare=False)

    @property
    def png_data_url(self) -> str | None:
        """The bank's ``qrcode`` as a ``data:image/png`` URL when it is a base64 PNG, else
        None (a page shows it with ``img-src data:`` in its CSP)."""
        text = self.qrcode.strip()
        if text.startswith("data:image/png;base64,"):
            return text
        try:
            head = base64.b64decode(text[:24] + "=" * (-len(text[:24]) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
        return f"data:image/png;base64,{text}" if head.startswith(b"\x89PNG") else None

    def words(self) -> dict[str, str]:
        """The macro's texts, in the customer's language (:mod:`flask_halyk.i18n`)."""
        minutes = 20
        if self.expires_at is not None:
            left = (self.expires_at - datetime.now(UTC)).total_seconds()
            minutes = max(0, math.ceil(left / 60))
        return {
            "scan": _("Scan the code with the Homebank or Onlinebank app to pay."),
            "alt": _("QR code of the payment"),
            "homebank": _("Pay in Homebank"),
            "onlinebank": _("Pay in Onlinebank"),
            "until": _("The code is valid for %(minutes)s more min.", minutes=minutes),
            "check": _("I have paid: check the payment"),
        }

    def svg(self, scale: int = 5) -> Markup | None:
        """The QR of the bank's payload as inline SVG (no script, no style: no CSP source
        needed), drawn with the optional ``segno``; None without it, or when ``qrcode`` is an
        image already (:attr:`png_data_url`)."""
        if not self.qrcode or self.png_data_url is not None:
            return None
        try:
            segno: Any = importlib.import_module(QR_IMAGE_MODULE)
        except ImportError:
            return None
        drawn = segno.make(self.qrcode, error="m").svg_inline(
            scale=scale, dark="#000", light="#fff", title=f"QR {self.bill_number}")
        return Markup(drawn)  # noqa: S704 - segno's own SVG of the payload, escaped by segno


@dataclass(frozen=True)
class QrPaymentStatus:
    """How a QR payment stands: the bank's QR status (NEW, SCANNED, BLOCKED, AUTH, PAID,
    REJECTED) and the ledger's status of the payment after it."""

    invoice_id: str
    bill_number: str
    qr_status: str
    payment_status: PaymentStatus
    qr: QrStatus = field(repr=False, compare=False)

    @property
    def final(self) -> bool:
        """The QR is PAID or REJECTED."""
        return self.qr.final


def _links(config: HalykConfig) -> tuple[str, str]:
    bank_origin = server_origin(config, current_app.config)
    root = _script_root()
    return (bank_origin + root + _endpoint_path(POSTLINK_ENDPOINT),
            bank_origin + root + _endpoint_path(FAILURE_POSTLINK_ENDPOINT))


def _token(state: HalykState, record: PaymentRecord, post_link: str,
           failure_post_link: str) -> PaymentToken:
    config = state.config
    secret_hash = make_secret_hash(config.postlink_secret, record.invoice_id, record.amount,
                                   record.currency, record.terminal)
    return state.client_for(record.terminal).payment_token(
        record.invoice_id, record.amount, currency=record.currency, secret_hash=secret_hash,
        post_link=post_link, failure_post_link=failure_post_link)


def create_qr_payment(
    state: HalykState,
    amount: Decimal | int | str,
    *,
    description: str,
    language: str | None = None,
    account_id: str | None = None,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    merchant: str | None = None,
    currency: str | None = None,
) -> QrPayment:
    """Record a payment, get its own token and have ePay make its QR.

    ``merchant`` / ``currency``: the merchant taking it, as for ``create_payment``
    (docs/merchants.md); neither: the default one.

    Invalid input raises :class:`InvalidPayment` before anything is recorded or sent. ePay's
    refusal and transport failures are the typed errors of :mod:`flask_halyk.errors`; the
    payment then stays ``new`` and reconcile expires it. The QR is never asked for twice by
    itself (a lost answer may be a QR the customer is scanning).
    """
    config = state.config
    chosen = pick_merchant(config, merchant, currency)
    exact, lang = _checked(amount, description, language, config)
    post_link, failure_post_link = _links(config)
    record = state.ledger.create_payment(
        invoice_id=None, amount=exact, currency=chosen.currency, terminal=chosen.terminal_id,
        description=description, account_id=account_id, language=lang, name=name,
        email=email, phone=phone,
    )
    token = _token(state, record, post_link, failure_post_link)
    record = _note_token_expiry(state, record, token)
    made_at = datetime.now(UTC)
    try:
        made = state.client_for(record.terminal).create_qr(
            token, description=description, post_link=post_link,
            failure_post_link=failure_post_link, language=lang, account_id=account_id,
            email=email, phone=phone)
    except InvalidArgument as exc:
        raise InvalidPayment({"description": [str(exc)]}) from None
    homebank, onlinebank = (_browser_link(config, made.homebank_link),
                            _browser_link(config, made.onlinebank_link))
    qrcode = _browser_link(config, made.qrcode) or made.qrcode
    try:
        state.ledger.note_qr(record.invoice_id, made.bill_number)
    except (LedgerUnavailable, SQLAlchemyError):
        # The QR exists at the bank: its postLink still reaches the ledger; only the polling
        # of this payment (which reads the bill number from the journal) is lost.
        log.warning("flask-halyk: could not note the QR of invoice %s",
                                   record.invoice_id, exc_info=True)
    return QrPayment(
        invoice_id=record.invoice_id, bill_number=made.bill_number, qrcode=qrcode,
        homebank_link=homebank, onlinebank_link=onlinebank, amount=exact,
        currency=chosen.currency, expires_at=min(token.expires_at, made_at + QR_LIFETIME),
        record=record, qr=made)


def _browser_link(config: HalykConfig, link: str | None) -> str | None:
    """A link of the embedded sandbox's answer as a browser reaches it (under
    ``HALYK_SANDBOX_PREFIX``); anything else as given."""
    if link and config.embedded_sandbox and link.startswith(SANDBOX_INTERNAL_ORIGIN + "/"):
        base = (_browser_origin(config) or SHOP_INTERNAL_ORIGIN) + _script_root()
        return base + config.sandbox_prefix + link[len(SANDBOX_INTERNAL_ORIGIN):]
    return link


def bill_number_of(state: HalykState, invoice_id: str) -> str:
    """The bill number of the payment's QR (the last one made), or :class:`PaymentNotFound`
    for a payment that has none."""
    numbers = [e.reason for e in state.ledger.journal(invoice_id)
               if e.operation == "qr" and e.reason]
    if not numbers:
        raise PaymentNotFound(f"payment {invoice_id} has no QR")
    return numbers[-1]


def qr_status(state: HalykState, invoice_id: str) -> QrPaymentStatus:
    """Ask ePay how the payment's QR stands (with a fresh payment token of its invoice, as the
    integration that documents the call does). When the QR is PAID or REJECTED and the ledger
    still has the payment ``new``, the status API settles it now (signals fired once, as by
    reconcile); otherwise nothing is written."""
    record = state.ledger.require(invoice_id)
    bill = bill_number_of(state, invoice_id)
    post_link, failure_post_link = _links(state.config)
    token = _token(state, record, post_link, failure_post_link)
    found = state.client_for(record.terminal).qr_status(bill, token)
    status = record.status
    if found.final and record.status == PaymentStatus.NEW:
        try:
            reconcile_payment(state, invoice_id)
        except HalykError:
            log.warning("flask-halyk: QR %s of invoice %s is %s; the status check failed",
                        bill, invoice_id, found.status, exc_info=True)
        status = state.ledger.require(invoice_id).status
    return QrPaymentStatus(invoice_id=invoice_id, bill_number=bill, qr_status=found.status,
                           payment_status=PaymentStatus(status), qr=found)
