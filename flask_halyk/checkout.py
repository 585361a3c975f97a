"""The checkout: record a payment, get its own token, build the payment object for the page.

:func:`create_payment` is what ``HalykEpay.create_payment`` calls, in an app context.

Where the links point (:func:`server_origin`, :func:`browser_origin`): the links ePay calls
(postLink, failurePostLink) come from the shop's configured origin (``HALYK_EXTERNAL_URL``, else
``SERVER_NAME``), or on the embedded sandbox from a fixed in-process origin, and never from a
request's Host header, which whoever sends the request chooses. The back links follow the
configured origin too; only on the sandbox, with none configured, do they follow the request
(they send its own sender's browser back, nowhere else).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import current_app, has_request_context, request
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from .config import SHOP_INTERNAL_ORIGIN, HalykConfig, MerchantConfig
from .epay import PaymentToken
from .errors import ConfigurationError, HalykError, InvalidPayment, LedgerUnavailable
from .ledger import PaymentRecord
from .ledger.expiry import ASSUMED_TOKEN_LIFETIME
from .ledger.payments import PendingPayment
from .postlink.verification import make_secret_hash
from .schemas import PaymentObjectSchema, dump_for_js
from .state import HalykState

log = logging.getLogger("flask_halyk.checkout")

#: Blueprint endpoints the bank posts to.
POSTLINK_ENDPOINT = "halyk.postlink"
FAILURE_POSTLINK_ENDPOINT = "halyk.failure_postlink"

# The payment object's wire names, mapped to the keyword a shop passes to create_payment, so
# that an InvalidPayment names what the caller actually wrote.
_KWARG_OF = {
    "invoiceId": "invoice_id",
    "invoiceIdAlt": "invoice_id_alt",
    "backLink": "back_link",
    "failureBackLink": "failure_back_link",
    "accountId": "account_id",
    "cardSave": "save_card",
    "autoBackLink": "auto_back_link",
}

# A dotted path of plain JS identifiers: "onPaid", "shop.checkout.onPaid".
_JS_PATH = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)*")

#: Stands for the invoice id in ``back_link`` / ``failure_back_link``: filled in once the ledger
#: has allocated the id, so a link can name an invoice that does not exist yet.
INVOICE_ID_PLACEHOLDER = "{invoice_id}"
# The placeholder as written, or as url_for spells it (braces percent-encoded, either case).
_INVOICE_ID_SPELLINGS = re.compile(r"\{invoice_id\}|%7[Bb]invoice_id%7[Dd]")
_LINKS = ("backLink", "failureBackLink")

# Stands in for the token while checking the shop's input, before anything is recorded.
_PLACEHOLDER_AUTH = {"access_token": "placeholder", "expires_in": 0}
_PLACEHOLDER_INVOICE = "000000"


def js_path(name: str | None) -> str | None:
    """``name`` if it is a dotted path of JavaScript identifiers (``shop.onPaid``), ``None`` for
    ``None``; anything else raises :class:`HalykError` (a template mistake, caught at render)."""
    if name is None:
        return None
    if not isinstance(name, str) or len(name) > 200 or not _JS_PATH.fullmatch(name):
        raise HalykError(
            f"callback {name!r} is not a JavaScript function name such as 'onPaid' or "
            "'shop.onPaid'."
        )
    return name


@dataclass(frozen=True, repr=False)
class Payment:
    """A created payment: what the page needs to open ePay's form for it.

    ``payment_object`` is the object for ``halyk.showPaymentWidget`` / ``halyk.pay``, with
    JSON-ready values; its ``auth`` is the whole token response. The repr shows no token.

    ``token`` and ``record`` are those of :func:`create_payment`; a payment rebuilt from its
    stored object (:meth:`from_js`) has neither (``None``): its token response is only in
    ``payment_object["auth"]``, where the page needs it anyway.
    """

    invoice_id: str
    amount: Decimal
    currency: str
    description: str
    token: PaymentToken | None
    payment_object: dict[str, Any]
    record: PaymentRecord | None = field(default=None, compare=False)

    @classmethod
    def from_js(cls, payment_object: Mapping[str, Any]) -> Payment:
        """The payment whose object :meth:`to_js` gave, e.g. kept with an order (as JSON) so
        that its pay page can be shown again after a redirect or a reload.

        The object is validated as strictly as when it was built
        (:class:`~flask_halyk.schemas.PaymentObjectSchema`): anything else raises
        :class:`InvalidPayment`, whose ``messages`` are keyed by the object's own (wire) names.
        Only the object is trusted, not the ledger: show the pay page only while
        ``halyk.payments.get(payment.invoice_id).status`` is ``new``.
        """
        loaded = _load(payment_object, names={})
        return cls(
            invoice_id=loaded["invoiceId"],
            amount=loaded["amount"],
            currency=loaded["currency"],
            description=loaded["description"],
            token=None,
            payment_object=dump_for_js(loaded),
        )

    def to_js(self) -> dict[str, Any]:
        """A fresh JSON-ready copy of the payment object (for ``|tojson`` or ``jsonify``)."""
        return copy.deepcopy(self.payment_object)

    @staticmethod
    def js_path(name: str | None) -> str | None:
        """See :func:`js_path` (here so that the macros can reach it)."""
        return js_path(name)

    def __repr__(self) -> str:
        return (
            f"Payment(invoice_id={self.invoice_id!r}, amount={self.amount!r}, "
            f"currency={self.currency!r}, description={self.description!r}, token={self.token!r})"
        )


def create_payment(
    state: HalykState,
    amount: Decimal | int | float | str,
    invoice_id: str | None = None,
    *,
    description: str,
    account_id: str | None = None,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    data: str | Mapping[str, Any] | list[Any] | None = None,
    back_link: str | None = None,
    failure_back_link: str | None = None,
    invoice_id_alt: str | None = None,
    save_card: bool = False,
    recurrent: bool | None = None,
    auto_back_link: bool | None = None,
    merchant: str | None = None,
    currency: str | None = None,
) -> Payment:
    """Record a payment in the ledger, get a token for it alone, and build its payment object.

    - ``amount``: positive, at most 2 decimals (``Decimal``, int or numeric string).
    - ``invoice_id``: 6-15 digits, unused; ``None`` lets the ledger allocate one.
    - ``back_link`` / ``failure_back_link``: where the customer returns; absolute URLs, or paths
      ("/orders/5") made absolute against :func:`browser_origin` (the postLinks: against
      :func:`server_origin`; never a request's Host). Default: the shop's root; the failure
      link defaults to ``back_link``. ``{invoice_id}`` in them (also percent-encoded, as
      ``url_for`` writes it) becomes the payment's invoice id, once the ledger has allocated
      it; any other ``{`` or ``}`` is refused (a misspelt placeholder would be a broken link).
    - ``language``: ``rus``/``kaz``/``eng`` (``HALYK_LANGUAGE`` by default).
    - ``data``: a JSON string, or a dict/list encoded to one.
    - ``save_card``: the bank keeps the card for ``account_id`` (required with it; the
      payment object's ``cardSave``), the ledger lists it (``halyk.cards``); with amount 0 the
      payment is a card verification (``halyk.verify_card``). ``recurrent``, ``auto_back_link``:
      the object's ``recurrent`` and ``autoBackLink``.
    - ``merchant``: the name of the merchant taking it (``HALYK_MERCHANTS``, docs/merchants.md;
      an unknown name is a :class:`ConfigurationError`); ``currency``: the merchant of that
      currency, when exactly one has it (none or several: :class:`InvalidPayment`). Neither:
      the default merchant (``HALYK_CLIENT_ID``...).

    Invalid input (text with a NUL or a lone surrogate, or over its limit, included) raises
    :class:`InvalidPayment` before anything is recorded or sent; a shop whose origin is not
    configured where it must be, :class:`ConfigurationError`. Errors
    from the ledger (invoice id used) and from ePay (transport, credentials) are the typed
    errors of :mod:`flask_halyk.errors`. If ePay fails after the payment was recorded, the
    record stays ``new`` and no page ever sees it.
    """
    config = state.config
    chosen = pick_merchant(config, merchant, currency)
    bank_origin = server_origin(config, current_app.config)
    origin = browser_origin(config, current_app.config)
    root = _script_root()
    back = _absolute(back_link, origin) if back_link else f"{origin}{root}/"
    post_link = bank_origin + root + _endpoint_path(POSTLINK_ENDPOINT)
    failure_post_link = bank_origin + root + _endpoint_path(FAILURE_POSTLINK_ENDPOINT)
    fields: dict[str, Any] = {
        "invoiceIdAlt": invoice_id_alt,
        "backLink": back,
        "failureBackLink": _absolute(failure_back_link, origin) if failure_back_link else back,
        "postLink": post_link,
        "failurePostLink": failure_post_link,
        "language": language or config.language,
        "description": description,
        "accountId": account_id,
        "terminal": chosen.terminal_id,
        "name": name,
        "currency": chosen.currency,
        "data": data,
        "email": email,
        "phone": phone,
        "cardSave": True if save_card else None,
        "recurrent": recurrent,
        "autoBackLink": auto_back_link,
    }
    # Checked first with stand-ins for the invoice id and token, so that bad input never
    # leaves a ledger row or a token request behind.
    stray = _stray_braces(fields)
    if save_card and not account_id:
        stray["account_id"] = ["Required to save the card: the bank keeps it for an account."]
    try:
        checked = _load({**_with_invoice_id(fields, _PLACEHOLDER_INVOICE), "amount": amount,
                         "invoiceId": _PLACEHOLDER_INVOICE if invoice_id is None else invoice_id,
                         "auth": _PLACEHOLDER_AUTH})
    except InvalidPayment as exc:
        raise InvalidPayment({**exc.messages, **stray}) from None
    if stray:
        raise InvalidPayment(stray)
    exact_amount: Decimal = checked["amount"]

    # The row is complete before the bank call: its token is expected to live the bank's usual
    # lifetime from now (counted from before the request, as the client counts it), so that on
    # the happy path nothing is written after the call. Its commit (PostgreSQL: a WAL flush)
    # runs while ePay is asked for the token, and is waited for before the payment is handed
    # out: a postLink can only follow a page that showed it.
    issued = datetime.now(UTC)
    assumed = issued + ASSUMED_TOKEN_LIFETIME
    pending = state.ledger.start_payment(
        invoice_id=None if invoice_id is None else checked["invoiceId"],
        amount=exact_amount,
        currency=chosen.currency,
        terminal=chosen.terminal_id,
        description=checked["description"],
        account_id=account_id,
        language=checked["language"],
        name=name,
        email=email,
        phone=phone,
        card_save=save_card,
        token_expires_at=assumed,
    )
    invoice = pending.record.invoice_id
    secret_hash = make_secret_hash(
        config.postlink_secret, invoice, exact_amount, chosen.currency, chosen.terminal_id,
    )
    try:
        token = state.client_of(chosen).payment_token(
            invoice,
            exact_amount,
            currency=chosen.currency,
            secret_hash=secret_hash,
            post_link=post_link,
            failure_post_link=failure_post_link,
            verification=exact_amount == 0,
            issued=issued,
        )
    except BaseException:
        _forget_token(state, pending, assumed)
        raise
    record = pending.durable()
    if token.expires_at != assumed:  # a lifetime other than the usual one
        record = _note_token(state, record, assumed, token.expires_at)
    loaded = _completed(checked, fields, record.invoice_id, token)
    return Payment(
        invoice_id=record.invoice_id,
        amount=exact_amount,
        currency=chosen.currency,
        description=checked["description"],
        token=token,
        payment_object=dump_for_js(loaded),
        record=record,
    )


def pick_merchant(config: HalykConfig, merchant: str | None,
                  currency: str | None) -> MerchantConfig:
    """The merchant named ``merchant``, else the one of ``currency``, else the default one.
    A currency no merchant or several take, or one the named merchant does not take, is an
    :class:`InvalidPayment`; an unknown name a :class:`ConfigurationError`."""
    wanted = None
    if currency is not None:
        wanted = currency.strip().upper() if isinstance(currency, str) else ""
        if not re.fullmatch(r"[A-Z]{3}", wanted):
            raise InvalidPayment({"currency": [f"{currency!r} is not a three-letter currency "
                                               "code such as KZT."]})
    if merchant is not None:
        chosen = config.merchant(merchant)
        if wanted is not None and chosen.currency != wanted:
            raise InvalidPayment({"currency": [f"the merchant {chosen.name!r} takes "
                                               f"{chosen.currency}, not {wanted}."]})
        return chosen
    if wanted is not None:
        try:
            return config.merchant_of_currency(wanted)
        except ConfigurationError as exc:
            raise InvalidPayment({"currency": [str(exc).removeprefix(f"{exc.key}: ")]}) from None
    return config.merchants[0]


def _note_token(state: HalykState, record: PaymentRecord, assumed: datetime,
                expires_at: datetime | None) -> PaymentRecord:
    """The record with the token expiry noted before the request (``assumed``) replaced by the
    bank's, or by ``None`` (no token known) when the request failed; reconcile expires the
    payment some time after it. A database failure here does not cost the customer a checkout
    whose token is already issued: the ledger keeps the usual lifetime it was given."""
    try:
        return state.ledger.replace_token(record.invoice_id, assumed, expires_at)
    except (LedgerUnavailable, SQLAlchemyError):
        log.warning("flask-halyk: could not record the token expiry of invoice %s; reconcile "
                    "will assume the usual token lifetime", record.invoice_id, exc_info=True)
        return record


def _forget_token(state: HalykState, pending: PendingPayment, assumed: datetime) -> None:
    """After a failed token request: the payment marked as having no known token (its
    expiry then counts from its creation, see :mod:`flask_halyk.ledger.expiry`), once its own
    commit is through. Nothing of the ledger's is raised over the request's error."""
    try:
        record = pending.durable()
    except (LedgerUnavailable, SQLAlchemyError):
        log.warning("flask-halyk: the payment %s whose token request failed was not recorded "
                    "either", pending.record.invoice_id, exc_info=True)
        return
    _note_token(state, record, assumed, None)


def _note_token_expiry(state: HalykState, record: PaymentRecord,
                       token: PaymentToken) -> PaymentRecord:
    """The record with its token's expiry noted (reconcile expires the payment some time after
    it), for a payment recorded before its token was asked for (a QR's). A database failure
    here does not cost the customer a payment whose token is already issued: the ledger then
    assumes the bank's usual lifetime from the payment's creation."""
    try:
        return state.ledger.record_token(record.invoice_id, token.expires_at)
    except (LedgerUnavailable, SQLAlchemyError):
        log.warning("flask-halyk: could not record the token expiry of invoice %s; reconcile "
                    "will assume the usual token lifetime", record.invoice_id, exc_info=True)
        return record


def _completed(checked: Mapping[str, Any], fields: Mapping[str, Any], invoice_id: str,
               token: PaymentToken) -> dict[str, Any]:
    """The payment object ``checked`` (validated with the stand-ins) with the real invoice id
    and token. Only what changed is checked again: the invoice id is the ledger's (valid), the
    token answer was validated by the client, and a back link is loaded again only if the
    placeholder in it became the invoice id."""
    loaded = {**checked, "invoiceId": invoice_id, "auth": token.auth}
    filled = _with_invoice_id(fields, invoice_id)
    for wire in _LINKS:
        if filled.get(wire) != fields.get(wire):
            try:
                loaded[wire] = _PAYMENT_OBJECT.fields[wire].deserialize(filled[wire])
            except ValidationError as exc:
                raise InvalidPayment({_KWARG_OF.get(wire, wire): exc.messages}) from None
    return loaded


def _with_invoice_id(fields: Mapping[str, Any], invoice_id: str) -> dict[str, Any]:
    """``fields`` with :data:`INVOICE_ID_PLACEHOLDER` in the back links replaced by
    ``invoice_id`` (digits only: nothing to escape)."""
    filled = dict(fields)
    for wire in _LINKS:
        link = filled.get(wire)
        if isinstance(link, str):
            filled[wire] = _INVOICE_ID_SPELLINGS.sub(lambda _match: invoice_id, link)
    return filled


def _stray_braces(fields: Mapping[str, Any]) -> dict[str, list[str]]:
    """Problems of back links with braces that are not the placeholder, by argument name."""
    problems: dict[str, list[str]] = {}
    for wire in _LINKS:
        link = fields.get(wire)
        if isinstance(link, str):
            rest = _INVOICE_ID_SPELLINGS.sub("", link)
            if "{" in rest or "}" in rest:
                problems[_KWARG_OF[wire]] = [
                    f"Only the placeholder {INVOICE_ID_PLACEHOLDER} may be written in braces; "
                    "percent-encode other braces (%7B, %7D)."
                ]
    return problems


def _load(
    payment_object: Mapping[str, Any], names: Mapping[str, str] = _KWARG_OF
) -> dict[str, Any]:
    """The payment object validated, or :class:`InvalidPayment` keyed by ``names`` (wire name
    -> the name the caller knows it by; others keep their wire name)."""
    try:
        loaded: dict[str, Any] = _PAYMENT_OBJECT.load(payment_object)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        # Nested auth errors would describe the token; the caller only needs to know it is bad.
        if "auth" in messages:
            messages = {**messages, "auth": ["Not a valid token response."]}
        raise InvalidPayment(
            {names.get(str(k), str(k)): v for k, v in messages.items()}
        ) from None
    return loaded


def configured_origin(config: HalykConfig, app_config: Mapping[str, Any]) -> str | None:
    """The shop's origin as its settings name it (``HALYK_EXTERNAL_URL``, else ``SERVER_NAME``
    with ``PREFERRED_URL_SCHEME``), or None. Never anything a request says."""
    if config.external_url:
        return config.external_url.rstrip("/")
    server_name = app_config.get("SERVER_NAME")
    if server_name:
        return f"{app_config.get('PREFERRED_URL_SCHEME') or 'http'}://{server_name}"
    return None


def server_origin(config: HalykConfig, app_config: Mapping[str, Any]) -> str:
    """Where ePay posts (postLink, failurePostLink): the configured origin; on the embedded
    sandbox without one, :data:`~flask_halyk.config.SHOP_INTERNAL_ORIGIN`, which it delivers
    to in-process. Otherwise (an external sandbox) :class:`ConfigurationError`: the request's
    Host is the sender's to choose, and the bank would post the secret_hash there."""
    origin = configured_origin(config, app_config)
    if origin is not None:
        return origin
    if config.embedded_sandbox:
        return SHOP_INTERNAL_ORIGIN
    raise ConfigurationError(
        "HALYK_EXTERNAL_URL",
        "the sandbox at HALYK_SANDBOX_URL posts postLinks to the shop over HTTP, and their "
        "URL is never taken from a request's Host header (whoever sends the request chooses "
        "it, and the postLink carries the secret_hash): set HALYK_EXTERNAL_URL to where the "
        "shop listens (e.g. 'http://127.0.0.1:5000'), or SERVER_NAME.",
    )


def browser_origin(config: HalykConfig, app_config: Mapping[str, Any]) -> str:
    """Where the customer's browser is sent back to (default and relative back links): the
    configured origin; on the sandbox without one, the current request's (the customer's own
    browser chose it). With ePay's hosts the request is never used."""
    origin = configured_origin(config, app_config)
    if origin is not None:
        return origin
    if config.env == "sandbox" and has_request_context():
        return request.host_url.rstrip("/")
    raise ConfigurationError(
        "HALYK_EXTERNAL_URL",
        "create_payment cannot tell the shop's public URL for the links"
        + (" outside a request" if config.env == "sandbox" else "")
        + ": set HALYK_EXTERNAL_URL (e.g. 'https://shop.example.kz') or SERVER_NAME.",
    )


def own_origins(config: HalykConfig, app_config: Mapping[str, Any]) -> tuple[str, ...]:
    """The origins the shop's postLinks may name (:func:`server_origin`): the embedded
    sandbox delivers to these in-process."""
    origin = configured_origin(config, app_config)
    return (SHOP_INTERNAL_ORIGIN,) if origin is None else (SHOP_INTERNAL_ORIGIN, origin)


def _script_root() -> str:
    """The path the app is mounted at, without a trailing slash ("" at the root)."""
    if has_request_context():
        return request.script_root.rstrip("/")
    return str(current_app.config.get("APPLICATION_ROOT") or "").rstrip("/")


def _endpoint_path(endpoint: str) -> str:
    """The endpoint's path relative to the app's root."""
    adapter = current_app.url_map.bind("localhost", script_name="/")
    try:
        return adapter.build(endpoint)
    except Exception:
        raise ConfigurationError(
            "HALYK_URL_PREFIX",
            f"the endpoint {endpoint!r} is not registered: initialise HalykEpay on this app.",
        ) from None


def _absolute(link: str, origin: str) -> str:
    """A path ("/orders/5", as url_for gives it) joined to ``origin``; anything else as given
    (the schema refuses what is not an absolute http(s) URL)."""
    if link.startswith("/") and not link.startswith("//"):
        return origin + link
    return link


__all__ = [
    "INVOICE_ID_PLACEHOLDER",
    "Payment",
    "browser_origin",
    "configured_origin",
    "create_payment",
    "js_path",
    "own_origins",
    "server_origin",
]


# Schemas are built once: building one costs more than a load, and load()/dump() keep no state
# on the instance, so threads may share them.
_PAYMENT_OBJECT = PaymentObjectSchema()
