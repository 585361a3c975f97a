"""Payment links: bill a customer who is not on the site. The bank sends them a link by e-mail
and/or SMS (its ``/invoice`` API); they pay on the bank's page, and the payment reaches the
shop like any other: a ledger record with the ledger's invoice id, postLinks to the shop's own
blueprint, the same signals, exactly once.

:func:`create_payment_link` is what ``HalykEpay.create_payment_link`` calls, in an app context.
The links the bank posts to come from the shop's settings (``HALYK_EXTERNAL_URL`` /
``SERVER_NAME``, or the embedded sandbox's in-process origin), never from a request's Host,
as for :func:`~flask_halyk.checkout.create_payment`.

A link lives until its ``expire_date``: it is recorded as the payment's token expiry, so that
``flask halyk reconcile`` ends an unpaid one as ``expired``, as it ends an abandoned checkout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app, has_request_context, request
from sqlalchemy.exc import SQLAlchemyError

from .checkout import (
    FAILURE_POSTLINK_ENDPOINT,
    POSTLINK_ENDPOINT,
    _absolute,
    _endpoint_path,
    _script_root,
    configured_origin,
    server_origin,
)
from .config import SANDBOX_INTERNAL_ORIGIN, SHOP_INTERNAL_ORIGIN, HalykConfig
from .epay import PaymentLink
from .epay.links import check_expire_period, invoice_body
from .errors import ConfigurationError, InvalidArgument, InvalidPayment, LedgerUnavailable
from .ledger import PaymentRecord
from .money import AmountError, parse_amount
from .schemas.fields import LANGUAGE_ALIASES
from .state import HalykState

__all__ = ["PaymentLinkResult", "create_payment_link"]

log = logging.getLogger("flask_halyk.links")


@dataclass(frozen=True)
class PaymentLinkResult:
    """A payment link sent to a customer: ``invoice_url`` (their page), the bank's ``id`` of
    the link, and ``expires_at`` (None if the bank's answer did not say). ``record``: the
    payment in the ledger (``new`` until they pay); ``link``: the bank's answer."""

    invoice_id: str
    id: str
    invoice_url: str
    expires_at: datetime | None
    amount: Decimal
    currency: str
    record: PaymentRecord = field(compare=False)
    link: PaymentLink = field(repr=False, compare=False)


def create_payment_link(
    state: HalykState,
    amount: Decimal | int | str,
    *,
    description: str,
    recipient_email: str | None = None,
    recipient_phone: str | None = None,
    expire_period: str = "1d",
    language: str | None = None,
    account_id: str | None = None,
    name: str | None = None,
    back_link: str | None = None,
    failure_back_link: str | None = None,
) -> PaymentLinkResult:
    """Record a payment and have ePay send its link to ``recipient_email`` and/or
    ``recipient_phone`` (``+77011234567``), valid for ``expire_period`` (days: ``1d``, ``3d``).

    Invalid input raises :class:`InvalidPayment` (``messages`` by argument) before anything is
    recorded or sent; payment links not configured (``HALYK_CABINET_USERNAME``...),
    :class:`ConfigurationError`. ePay's refusal (code 1079: a bad SMS number) and transport
    failures are the typed errors of :mod:`flask_halyk.errors`; the payment then stays ``new``
    with no link, and reconcile expires it. The link is never requested twice by itself: a
    lost answer may still have reached the customer.
    """
    config = state.config
    if not (config.cabinet_username and config.cabinet_password and config.shop_id):
        raise ConfigurationError(
            "HALYK_CABINET_USERNAME", "payment links need the merchant cabinet's login: set "
            "HALYK_CABINET_USERNAME, HALYK_CABINET_PASSWORD and HALYK_SHOP_ID.")
    exact, lang = _checked(amount, description, language, config)
    bank_origin = server_origin(config, current_app.config)
    root = _script_root()
    post_link = bank_origin + root + _endpoint_path(POSTLINK_ENDPOINT)
    failure_post_link = bank_origin + root + _endpoint_path(FAILURE_POSTLINK_ENDPOINT)
    origin = _browser_origin(config)
    back = (_absolute(back_link, origin) if back_link and origin else back_link) or (
        f"{origin}{root}/" if origin else None)
    failure_back = (_absolute(failure_back_link, origin) if failure_back_link and origin
                    else failure_back_link) or back
    fields = {
        "shop_id": config.shop_id, "amount": exact, "currency": config.currency,
        "language": lang, "description": description, "expire_period": expire_period,
        "post_link": post_link, "failure_post_link": failure_post_link, "back_link": back,
        "failure_back_link": failure_back, "account_id": account_id,
        "recipient_email": recipient_email, "recipient_phone": recipient_phone,
    }
    # Checked with a stand-in invoice id first: bad input leaves no ledger row behind.
    try:
        check_expire_period(expire_period)
    except InvalidArgument as exc:
        raise InvalidPayment({"expire_period": [str(exc)]}) from None
    try:
        invoice_body(invoice_id="000000", **fields)  # type: ignore[arg-type]
    except InvalidArgument as exc:
        text = str(exc)
        key = ("recipient_phone" if text.startswith("the phone") else
               "recipient_email" if "e-mail address" in text else "recipient")
        raise InvalidPayment({key: [text]}) from None
    record = state.ledger.create_payment(
        invoice_id=None, amount=exact, currency=config.currency, terminal=config.terminal_id,
        description=description, account_id=account_id, language=lang, name=name,
        email=recipient_email, phone=recipient_phone,
    )
    link = state.client.create_invoice_link(
        record.invoice_id, exact, username=config.cabinet_username,
        password=config.cabinet_password, shop_id=config.shop_id, description=description,
        post_link=post_link, failure_post_link=failure_post_link,
        recipient_email=recipient_email, recipient_phone=recipient_phone,
        expire_period=expire_period, language=lang, currency=config.currency,
        account_id=account_id, back_link=back, failure_back_link=failure_back,
    )
    url = _browser_url(config, link.invoice_url, origin)
    expires = link.expire_date or (
        state.ledger.now() + timedelta(days=int(expire_period.rstrip("d"))))
    record = _noted(state, record, url, expires)
    return PaymentLinkResult(
        invoice_id=record.invoice_id, id=link.id, invoice_url=url, expires_at=link.expire_date,
        amount=exact, currency=config.currency, record=record, link=link,
    )


def _checked(amount: Decimal | int | str, description: str, language: str | None,
             config: HalykConfig) -> tuple[Decimal, str]:
    """The amount and language, or :class:`InvalidPayment` keyed by argument."""
    problems: dict[str, list[str]] = {}
    exact = Decimal(0)
    try:
        exact = parse_amount(amount)
    except AmountError as exc:
        problems["amount"] = [str(exc)]
    if not isinstance(description, str) or not description.strip():
        problems["description"] = ["A description is required: the customer reads it."]
    lang = LANGUAGE_ALIASES.get(str(language or config.language).strip().lower())
    if lang is None:
        problems["language"] = ["Must be one of rus, kaz, eng."]
    if problems:
        raise InvalidPayment(problems)
    assert lang is not None
    return exact, lang


def _browser_origin(config: HalykConfig) -> str | None:
    """Where a browser reaches the shop: its configured origin; on the sandbox without one,
    the current request's (the operator's own browser chose it); else None."""
    origin = configured_origin(config, current_app.config)
    if origin is None and config.env == "sandbox" and has_request_context():
        origin = request.host_url.rstrip("/")
    return origin


def _browser_url(config: HalykConfig, url: str, origin: str | None) -> str:
    """``invoice_url`` as a browser reaches it: the embedded sandbox answers with its
    in-process origin, which is served to browsers under ``HALYK_SANDBOX_PREFIX``."""
    if config.embedded_sandbox and url.startswith(SANDBOX_INTERNAL_ORIGIN + "/"):
        base = (origin or SHOP_INTERNAL_ORIGIN) + _script_root() + config.sandbox_prefix
        return base + url[len(SANDBOX_INTERNAL_ORIGIN):]
    return url


def _noted(state: HalykState, record: PaymentRecord, url: str,
           expires: datetime) -> PaymentRecord:
    """The record with the link's expiry noted (reconcile expires it after), and the link in
    its journal (the timeline). The link is sent already: a database failure here costs the
    notes, not the link (reconcile then assumes the usual token lifetime)."""
    try:
        record = state.ledger.record_token(record.invoice_id, expires)
        state.ledger.note_link(record.invoice_id, url)
    except (LedgerUnavailable, SQLAlchemyError):
        log.warning("flask-halyk: could not note the payment link of invoice %s",
                    record.invoice_id, exc_info=True)
    return record
