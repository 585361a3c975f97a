"""The shop's pages (``shop``) and its back office (``admin``)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from flask_halyk import (
    HalykError,
    InvalidPayment,
    Payment,
    PaymentRecord,
    PaymentStatus,
    Plan,
)

from . import catalogue, declines, i18n
from .extensions import halyk
from .forms import CheckoutForm
from .fulfilment import store
from .store import Order

shop = Blueprint("shop", __name__)


def is_staff() -> bool:
    """Who may act in the back office (flask-halyk's dashboard, mounted at ``/admin/`` by
    :func:`~examples.shop.app.create_app`): it refunds money, so it is open to anyone only on
    the offline sandbox (a demo); otherwise it needs SHOP_ADMIN_PASSWORD (HTTP Basic), a
    stand-in for a real shop's staff login. A live shop without that password has none."""
    password = current_app.config.get("SHOP_ADMIN_PASSWORD")
    if not password:
        return bool(halyk.config.env == "sandbox")
    return _given_password(str(password))


def is_viewer() -> bool:
    """Who may see the back office: staff (:func:`is_staff`), and whoever gives
    SHOP_VIEWER_PASSWORD (HTTP Basic), when set: an accountant reads, never refunds."""
    password = current_app.config.get("SHOP_VIEWER_PASSWORD")
    return is_staff() or bool(password and _given_password(str(password)))


def _given_password(password: str) -> bool:
    auth = request.authorization
    given = (auth.password or "") if auth is not None and auth.type == "basic" else ""
    return hmac.compare_digest(given.encode(), password.encode())


def ask_staff_to_log_in(error: HTTPException) -> BaseResponse | HTTPException:
    """The dashboard's 403 to someone not logged in as HTTP Basic's challenge, so that a
    browser asks for the staff password (when the shop has one); a viewer's 403 (an action)
    and any other 403 as it is."""
    passwords = ("SHOP_ADMIN_PASSWORD", "SHOP_VIEWER_PASSWORD")
    if request.blueprint == "halyk_dashboard" and not is_viewer() and \
            any(current_app.config.get(key) for key in passwords):
        return Response("staff only", 401, {"WWW-Authenticate": 'Basic realm="shop admin"'})
    return error


@shop.app_context_processor
def _labels() -> dict[str, Any]:
    return {"label": i18n.label, "money": i18n.money, "number": i18n.number, "when": i18n.when,
            "languages": i18n.LANGUAGES, "language": i18n.language()}


def _hostile() -> bool:
    return bool(current_app.config.get("SHOP_DEMO_HOSTILE_PRODUCT"))


def _currencies() -> set[str]:
    """The currencies the shop's merchants take (``HALYK_CURRENCY``, ``HALYK_MERCHANTS``): a
    product in any other is not on sale."""
    return {m.currency for m in halyk.config.merchants}


@shop.get("/")
def index() -> str:
    """The catalogue."""
    return render_template("shop/catalogue.html", products=catalogue.products(hostile=_hostile(),
                                                        currencies=_currencies()))


@shop.get("/language/<code>")
def set_language(code: str) -> BaseResponse:
    """Remember the visitor's language; it goes to ePay with their next payment."""
    if code not in i18n.LANGUAGES:
        abort(404)
    session["language"] = code
    target = request.args.get("next", "")
    if not _local_path(target):
        target = url_for("shop.index")
    return redirect(target)


def _local_path(target: str) -> bool:
    """Whether ``target`` is a path of this site. An open redirect would help phishers, and
    browsers read ``\\`` as ``/`` and drop tabs and newlines: ``/\\evil.example`` and
    ``/<TAB>/evil.example`` both lead to ``//evil.example``, another site."""
    if any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in target):
        return False
    return target.startswith("/") and not target.startswith("//")


@shop.route("/products/<product_id>/checkout", methods=["GET", "POST"])
def checkout(product_id: str) -> str | BaseResponse | tuple[str, int]:
    """Who pays and how many: creates the order and its ePay payment."""
    product = catalogue.find(product_id, hostile=_hostile(), currencies=_currencies())
    if product is None:
        abort(404)
    submitted = request.form if request.method == "POST" else None
    form = CheckoutForm(submitted, language=i18n.language())
    # Cards are saved with the default merchant (tenge): a product in another currency is
    # paid on its own merchant's page.
    in_tenge = product.currency == halyk.config.currency
    cards = halyk.cards(session["account_id"]) if in_tenge and "account_id" in session else []
    if submitted is None or not form.validate():
        return render_template("shop/checkout.html", product=product, form=form,
                               saved_cards=cards)
    quantity = form.quantity.data
    assert quantity is not None  # InputRequired
    amount = product.price * quantity
    kwargs = form.customer_kwargs()
    order = store().create(
        product_id=product.id, quantity=quantity, amount=amount, language=kwargs["language"]
    )
    description = product.description_in(kwargs["language"])
    card_id = request.form.get("card_id")
    if card_id and in_tenge and _charge_saved_card(order, description, card_id):
        return redirect(url_for("shop.order", ref=order.ref))
    if form.save_card.data and in_tenge:
        kwargs.update(save_card=True, account_id=_account_id())
    try:
        _start_payment(order, description, kwargs, currency=product.currency)
    except HalykError as exc:
        # The detail (marshmallow's, in English) is for the log; the customer reads the
        # refused fields' own messages, in their language.
        current_app.logger.warning("payment for order %s not created: %s", order.ref, exc)
        if isinstance(exc, InvalidPayment) and form.refused(exc):
            return render_template("shop/checkout.html", product=product, form=form), 400
        flash(i18n.label("payment_not_started"), "error")
        return render_template("shop/checkout.html", product=product, form=form,
                               saved_cards=cards), 503
    return redirect(url_for("shop.order", ref=order.ref))


def _account_id() -> str:
    """The visitor's account, for the cards the bank keeps: a stand-in for a real shop's
    login (its user id), kept in the signed session."""
    if "account_id" not in session:
        session["account_id"] = secrets.token_hex(8)
    return str(session["account_id"])


def _charge_saved_card(order: Order, description: str, card_id: str) -> bool:
    """Charge a card the bank keeps for this visitor; False (and a flash) when it cannot be
    used (removed, of another account, a terminal that wants the customer for 3-D Secure...):
    the order is then paid on the bank's page as usual."""
    try:
        payment = halyk.charge_card(card_id, order.amount, description=description,
                                    account_id=_account_id())
    except HalykError as exc:  # a CardError, or the bank
        current_app.logger.warning("order %s: saved card not charged: %s", order.ref, exc)
        flash(i18n.label("card_not_charged"), "error")
        return False
    store().attach_payment(order.ref, payment.invoice_id, {})
    return True


#: The tea club: a monthly subscription paid with a saved card, renewed by ``flask halyk
#: charge-due`` (run it from cron; docs/subscriptions.md).
TEA_CLUB = Plan.monthly(4900, description="Tea club, 250 g a month")


@shop.get("/account/cards")
def cards() -> str:
    """The cards the bank keeps for this visitor, and the tea club paid with one of them."""
    account = session.get("account_id")
    found = halyk.cards(account) if account else []
    club = [s for s in halyk.subscriptions(account) if s.status != "cancelled"] \
        if account else []
    return render_template("shop/cards.html", cards=found, club=club[0] if club else None,
                           club_price=TEA_CLUB.amount)


@shop.post("/account/tea-club")
def join_tea_club() -> BaseResponse:
    """Subscribe this visitor to the tea club with one of its saved cards."""
    try:
        halyk.subscribe(_account_id(), request.form.get("card_id", ""), TEA_CLUB)
    except HalykError as exc:  # a card of another account, removed...
        current_app.logger.warning("tea club not joined: %s", exc)
        abort(404)
    flash(i18n.label("tea_club_joined"), "info")
    return redirect(url_for("shop.cards"))


@shop.post("/account/tea-club/<sub_id>/cancel")
def leave_tea_club(sub_id: str) -> BaseResponse:
    """Leave the tea club at the end of the month paid (only this visitor's)."""
    try:
        halyk.cancel_subscription(sub_id, account_id=_account_id())
    except HalykError as exc:
        current_app.logger.warning("tea club not left: %s", exc)
        abort(404)
    flash(i18n.label("tea_club_left"), "info")
    return redirect(url_for("shop.cards"))


@shop.post("/account/tea-club/<sub_id>/card")
def change_tea_club_card(sub_id: str) -> BaseResponse:
    """Pay the tea club with another of this visitor's saved cards (a renewal that failed is
    then due again at once: the next ``charge-due`` tries the new card)."""
    card_id = request.form.get("card_id", "")
    try:
        halyk.change_card(sub_id, card_id, account_id=_account_id())
    except HalykError as exc:
        current_app.logger.warning("tea club card not changed: %s", exc)
        abort(404)
    mask = next((c.card_mask for c in halyk.cards(_account_id()) if c.card_id == card_id), "")
    flash(i18n.label("tea_club_card_changed", mask=mask), "info")
    return redirect(url_for("shop.cards"))


@shop.post("/account/cards/<card_id>/remove")
def remove_card(card_id: str) -> BaseResponse:
    """Deactivate a saved card at the bank and in the ledger (only one of this visitor's)."""
    try:
        halyk.remove_card(card_id, account_id=_account_id())
    except HalykError as exc:
        current_app.logger.warning("card not removed: %s", exc)
        abort(404)
    flash(i18n.label("card_removed"), "info")
    return redirect(url_for("shop.cards"))


def _start_payment(order: Order, description: str, customer: dict[str, Any], *,
                   currency: str) -> None:
    """A new ePay invoice for ``order``, on the merchant that takes ``currency`` (the USD
    merchant for a product priced in dollars): each attempt has its own invoice and token."""
    order_url = url_for("shop.order", ref=order.ref)
    payment = halyk.create_payment(
        order.amount,
        currency=currency,
        description=description,
        back_link=order_url + "?returned=success",
        failure_back_link=order_url + "?returned=failure",
        **customer,
    )
    store().attach_payment(order.ref, payment.invoice_id, payment.to_js())


def _order_or_404(ref: str) -> Order:
    order = store().get(ref)
    if order is None:
        abort(404)
    return order


def _status_message(payment: PaymentRecord | None) -> str | None:
    """What the order page says about a payment the ledger has settled (None while it is new):
    the same words on the rendered page and in ``status.json`` for the polling page."""
    if payment is None or payment.status is PaymentStatus.NEW:
        return None
    message = i18n.label(f"message_{payment.status}")
    if payment.status is PaymentStatus.FAILED:
        # The bank's reason text is English: the page says why from the reasonCode instead.
        why = declines.reason_label(payment.reason_code)
        return f"{message}: {i18n.label(why)}." if why else f"{message}."
    return message


def _on_its_way(order: Order, payment: PaymentRecord | None) -> bool:
    """Whether the order page says "your order is on its way": fulfilled, and its payment not
    refunded in full nor cancelled since."""
    return (order.fulfilled_at is not None and payment is not None
            and payment.status in (PaymentStatus.PAID, PaymentStatus.AUTHORIZED,
                                   PaymentStatus.PARTIALLY_REFUNDED))


@shop.get("/orders/<ref>")
def order(ref: str) -> str:
    """The order, its status as the ledger records it (from the bank's postLink, never from
    the browser), and the ways to pay while it is unpaid."""
    found = _order_or_404(ref)
    payment = halyk.ledger.get(found.invoice_id) if found.invoice_id else None
    payable = None
    if payment is not None and payment.status is PaymentStatus.NEW and found.payment_object:
        try:
            payable = Payment.from_js(found.payment_object)
        except InvalidPayment as exc:  # a stored object that no longer passes the schema
            current_app.logger.warning("order %s: stored payment object refused: %s", ref, exc)
    product = catalogue.find(found.product_id, hostile=True)
    return render_template(
        "shop/order.html",
        order=found,
        payment=payment,
        payable=payable,
        product=product,
        currency=payment.currency if payment else (product.currency if product else "KZT"),
        message=_status_message(payment),
        on_its_way=_on_its_way(found, payment),
    )


@shop.get("/orders/<ref>/status.json")
def order_status(ref: str) -> Response:
    """The ledger's status, for the page to poll while the postLink is on its way, with what
    the rendered page would say about it (in the visitor's language)."""
    found = _order_or_404(ref)
    payment = halyk.ledger.get(found.invoice_id) if found.invoice_id else None
    return jsonify(
        status=str(payment.status) if payment else None,
        label=i18n.label(f"status_{payment.status}" if payment else "status_none"),
        final=payment is not None and not payment.status.is_pending,
        success=payment is not None and payment.is_paid,
        message=_status_message(payment),
        fulfilled=_on_its_way(found, payment),
    )


@shop.post("/orders/<ref>/retry")
def retry(ref: str) -> BaseResponse:
    """A new payment attempt (a new invoice) after a failed one."""
    found = _order_or_404(ref)
    payment = halyk.ledger.get(found.invoice_id) if found.invoice_id else None
    if payment is not None and payment.status is not PaymentStatus.FAILED:
        flash(i18n.label("nothing_to_retry"), "error")
        return redirect(url_for("shop.order", ref=ref))
    product = catalogue.find(found.product_id, hostile=True)
    language = i18n.language()
    description = product.description_in(language) if product else i18n.label("order")
    try:
        _start_payment(found, description, {"language": language},
                       currency=product.currency if product else halyk.config.currency)
    except HalykError as exc:
        current_app.logger.warning("retry for order %s failed: %s", ref, exc)
        flash(i18n.label("payment_not_started"), "error")
    return redirect(url_for("shop.order", ref=ref))
