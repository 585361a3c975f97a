"""QR payments (EPAY-REFERENCE.md section 17): ``POST /payment/qr/generate`` with a payment
token, ``GET /qr?billNumber=``, and a page that stands for the customer's phone: opening it
"scans" the QR (SCANNED), its buttons pay it with the Homebank card (PAID) or decline it
(REJECTED). A QR neither paid nor rejected within ``options.qr_lifetime_seconds`` (1200: the
vendor's 20 minutes) is REJECTED, and its transaction with it.

Where the material is silent, the choices are in docs/sandbox.md's fidelity table.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from . import cards, payform
from .api import bearer_token, refused
from .faults import inject
from .i18n import TEXTS, language
from .instance import Sandbox, current_sandbox
from .links import http_url
from .merchants import Merchant
from .state import Token, Transaction
from .wire import postlink_body

bp = Blueprint("halyk_sandbox_qr", __name__)

#: The card a Homebank customer pays with on the scan page (the vendor's approved test card).
HOMEBANK_CARD = cards.APPROVED_CARD
#: The reason of a QR that expired, and of one the customer declined (the sandbox's own).
EXPIRED = (457, "QR code expired")
DECLINED = (455, "declined by the customer")


@dataclass
class QrBill:
    """One QR: ``status`` NEW, SCANNED, PAID or REJECTED (``created``: epoch seconds)."""

    bill_number: str
    token: Token
    merchant: Merchant
    invoice_id: str
    amount: Decimal
    currency: str
    description: str
    language: str
    post_link: str
    failure_post_link: str
    created: float
    qrcode: str
    status: str = "NEW"
    error: str = ""

    def answer(self) -> dict[str, Any]:
        """The status answer, with every key the bank's SDK decodes."""
        return {
            "qrcode": self.qrcode, "status": self.status, "trType": "PAYMENT",
            "secure3D": None, "issuer": "HALYK BANK" if self.status == "PAID" else "",
            "issuerBankCountry": "KAZ", "fee": 0, "amount": float(self.amount),
            "currency": self.currency, "paymentChannel": "QR",
            "errDescription": self.error, "retCode": 0 if self.status != "REJECTED" else 1,
        }


def _bills(sandbox: Sandbox) -> dict[str, QrBill]:
    return sandbox.store.qr_bills


@bp.post("/payment/qr/generate")
def generate() -> ResponseReturnValue:
    """Make the QR of the token's invoice and amount."""
    sandbox = current_sandbox()
    token = bearer_token(sandbox)
    if token is None or token.invoice_id is None or token.amount is None:
        return jsonify({"error": "invalid_token", "error_description": "a payment token "
                        "(bound to an invoice) is required"}), 401
    # The operations' faults: like them, making a QR is a call that is never retried.
    fault = inject(sandbox.faults, "operation")
    if fault:
        return fault
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return refused("the body is not a JSON object")
    links = {key: str(body.get(key) or "") for key in ("postLink", "failurePostLink")}
    for key, value in links.items():
        if value and not http_url(value):
            return refused(f"{key} must be a valid URL")
    if sandbox.store.paid(token.invoice_id, token.merchant.terminal_id):
        return refused("this invoice is already paid")
    bill_number = "".join(secrets.choice("0123456789") for _ in range(12))
    scan = f"{request.url_root}qr/scan/{bill_number}"
    bill = QrBill(
        bill_number=bill_number, token=token, merchant=token.merchant,
        invoice_id=token.invoice_id, amount=token.amount, currency=token.currency,
        description=str(body.get("description") or ""),
        language=language(body.get("language")),
        # The token's links win, as for the payment page (links.py); the body's otherwise.
        post_link=token.post_link or links["postLink"],
        failure_post_link=token.failure_post_link or links["failurePostLink"],
        created=time.time(), qrcode=scan,
    )
    with sandbox.store.lock:
        _bills(sandbox)[bill_number] = bill
    return jsonify({"qrcode": scan, "billNumber": bill_number, "homebankLink": scan,
                    "onlinebankLink": f"{scan}?app=onlinebank"})


def _live(sandbox: Sandbox, bill: QrBill) -> None:
    """Expire ``bill`` if its lifetime passed while it was NEW or SCANNED (caller holds the
    lock): REJECTED, with a rejected transaction the status API reports; no postLink."""
    if bill.status in ("NEW", "SCANNED") and \
            time.time() - bill.created >= sandbox.options.qr_lifetime_seconds:
        bill.status, bill.error = "REJECTED", EXPIRED[1]
        _transaction(sandbox, bill, EXPIRED)


@bp.get("/qr")
def status() -> ResponseReturnValue:
    """The QR's status: a payment token of its invoice, or a service token of its merchant."""
    sandbox = current_sandbox()
    token = bearer_token(sandbox)
    if token is None:
        return jsonify({"error": "invalid_token", "error_description": "a valid Bearer token "
                        "is required"}), 401
    fault = inject(sandbox.faults, "status")
    if fault:
        return fault
    with sandbox.store.lock:
        bill = _bills(sandbox).get(request.args.get("billNumber", ""))
        if bill is None or bill.merchant.terminal_id != token.merchant.terminal_id or \
                token.invoice_id not in (None, bill.invoice_id):
            return refused("QR not found", status=404)
        _live(sandbox, bill)
        return jsonify(bill.answer())


def _transaction(sandbox: Sandbox, bill: QrBill, reason: tuple[int, str] | None) -> Transaction:
    """The transaction of a paid (``reason`` None) or rejected QR, stored (lock held)."""
    ok = reason is None
    code, why = (0, "success") if reason is None else reason
    status = ("AUTH" if sandbox.two_stage_of(bill.merchant) else "CHARGE") if ok else "REJECT"
    pan = HOMEBANK_CARD
    payment = {"invoiceId": bill.invoice_id, "amount": bill.amount, "currency": bill.currency,
               "terminal": bill.merchant.terminal_id, "description": bill.description,
               "language": bill.language, "postLink": bill.post_link,
               "failurePostLink": bill.failure_post_link}
    transaction = Transaction(
        id=str(uuid.uuid4()), invoice_id=bill.invoice_id, amount=bill.amount,
        currency=bill.currency, terminal=bill.merchant.terminal_id, status=status,
        reason_code=code, reason=why,
        created=datetime.now(UTC).astimezone(payform.ALMATY).isoformat(timespec="microseconds"),
        card_mask=cards.mask(pan) if ok else "", card_type=cards.card_type(pan) if ok else "",
        card_id="", issuer="HALYK BANK" if ok else "",
        approval_code=f"{secrets.randbelow(10**6):06d}" if ok else "",
        reference=f"{secrets.randbelow(10**12):012d}" if ok else "",
        holder="HOMEBANK CUSTOMER" if ok else "", payment=payment,
        secret_hash=bill.token.secret_hash, secure="no", ip=request.remote_addr or "",
        charged=bill.amount if status == "CHARGE" else Decimal(0),
        processing_terminal=bill.merchant.tid,
        int_reference=secrets.token_hex(8).upper() if ok else "",
    )
    sandbox.store.transactions[transaction.id] = transaction
    return transaction


@bp.route("/qr/scan/<bill_number>", methods=["GET", "POST"])
def scan(bill_number: str) -> ResponseReturnValue:
    """The customer's phone: GET scans the QR, POST ``action=pay`` pays it, ``reject``
    declines it (each sends its postLink)."""
    sandbox = current_sandbox()
    with sandbox.store.lock:
        bill = _bills(sandbox).get(bill_number)
        if bill is None:
            return payform.error_page("rus", "the QR code is unknown", 404)
        lang = bill.language
        _live(sandbox, bill)
        if bill.status == "REJECTED" and bill.error == EXPIRED[1]:
            return payform.error_page(lang, "the QR code has expired", 410)
        sent: tuple[str, dict[str, Any]] | None = None
        done = bill.status in ("PAID", "REJECTED")
        if request.method == "GET":
            if bill.status == "NEW":
                bill.status = "SCANNED"
        elif not done:
            pay = request.form.get("action") == "pay"
            if pay and sandbox.store.paid(bill.invoice_id, bill.merchant.terminal_id):
                return payform.error_page(lang, "this invoice is already paid", 409)
            transaction = _transaction(sandbox, bill, None if pay else DECLINED)
            bill.status = "PAID" if pay else "REJECTED"
            bill.error = "" if pay else DECLINED[1]
            body = postlink_body(transaction, secret_hash=sandbox.options.postlink_secret_hash)
            target = bill.post_link if pay else (bill.failure_post_link or bill.post_link)
            sent = (target, body) if target else None
            done = True
    if sent is not None:
        sandbox.sender.send(*sent)
    return render_template("qr_scan.html", t=TEXTS[lang], lang=lang, bill=bill, done=done)
