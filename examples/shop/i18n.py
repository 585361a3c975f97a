"""The shop's texts in Russian, Kazakh and English, through Flask-Babel's gettext catalogs
(``translations/<locale>/LC_MESSAGES/messages.po``, compiled by :mod:`.catalogs`), and its
amounts through ``babel.numbers``. The chosen language also goes to ePay, so the payment page
speaks it too.

Each text has a key (the catalogs' ``msgctxt``, so that one English word may have two
translations) and its English ``msgid``, below; a test keeps the three catalogs complete.
"""

# Cyrillic labels look like Latin letters to ruff; here they are meant.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from datetime import UTC, datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_date, format_time, get_timezone
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations
from flask import current_app, has_app_context, session
from flask_babel import force_locale, get_translations

from .catalogs import compile_catalogs

LANGUAGES = {"rus": "Рус", "kaz": "Қаз", "eng": "Eng"}
DEFAULT = "rus"
#: ePay's language codes as Babel's locales.
LOCALES = {"rus": "ru", "kaz": "kk", "eng": "en"}
#: Where the shop's dates are read (``SHOP_TIMEZONE`` overrides it).
TIMEZONE = "Asia/Almaty"
#: The sandbox's published approving card, in groups that never wrap apart.
_TEST_CARD = "\u00a0".join(("4405", "6397", "0401", "5096"))

#: Every text of the shop: its key (msgctxt) and its English msgid.
MESSAGES: dict[str, str] = {
    'catalogue': 'Catalogue',
    'buy': 'Buy',
    'checkout': 'Checkout',
    'place_order': 'Continue to payment',
    'order': 'Order',
    'pay_widget': 'Pay by card',
    'pay_redirect': "Pay on the bank's page",
    'status': 'Status',
    'refresh': 'Refresh',
    'retry': 'Try again',
    'language': 'Language',
    'admin': 'Admin',
    'footer': 'Example shop for flask-halyk.',
    'sandbox': 'Sandbox: no real money moves.',
    'sandbox_card': 'Test card {card}: any future expiry, any three-digit code.',
    'field_quantity': 'Quantity',
    'field_name': 'Name',
    'field_email': 'Email',
    'field_phone': 'Phone',
    'field_language': 'Payment language',
    'invalid_quantity': 'Enter a quantity from 1 to 10.',
    'invalid_name': 'Check the name.',
    'invalid_email': 'Check the email address.',
    'invalid_phone': 'Enter a phone number such as +7 701 123 45 67.',
    'invalid_language': 'Choose a language from the list.',
    'payment_not_started': 'The payment could not be started. Please try again in a minute.',
    'nothing_to_retry': 'This order has no failed payment to retry.',
    'status_none': 'no payment',
    'status_new': 'awaiting payment',
    'status_authorized': 'authorised',
    'status_paid': 'paid',
    'status_failed': 'declined',
    'status_cancelled': 'cancelled',
    'status_partially_refunded': 'partially refunded',
    'status_refunded': 'refunded',
    'status_expired': 'expired',
    'refunded_amount': 'refunded',
    'fulfilled': 'Your order is on its way.',
    'placed': 'Placed: {date}',
    'hint_success': "The bank's form reports success; waiting for the bank's confirmation…",
    'hint_failure': 'The payment did not go through.',
    'message_authorized': 'Payment authorised: the amount is held on your card until the shop'
                          ' confirms the order.',
    'message_paid': 'Payment received. Thank you!',
    'message_failed': 'The bank declined the payment',
    'reason_card_number': 'check the card number',
    'reason_expiry': 'the expiry date is wrong',
    'reason_issuer': 'the bank that issued the card declined it',
    'reason_card_blocked': 'the card is blocked',
    'reason_secure_code': 'the 3-D Secure code was wrong',
    'reason_retry_later': 'try again in 30 minutes',
    'reason_card_expired': 'the card has expired',
    'reason_insufficient_funds': 'insufficient funds on the card',
    'reason_online_disabled': 'online purchases are disabled for this card',
    'reason_over_limit': "the amount is over the card's limit",
    'reason_secure_required': 'this card needs a 3-D Secure check',
    'message_cancelled': 'The payment was cancelled.',
    'message_partially_refunded': 'Part of the payment was refunded.',
    'message_refunded': 'The payment was refunded.',
    'message_expired': 'The time to pay ran out; no payment was made.',
    'field_save_card': 'Remember my card for next time',
    'saved_cards': 'Saved cards',
    'no_saved_cards': 'No saved cards yet.',
    'remove_card': 'Remove',
    'card_removed': 'The card was removed.',
    'pay_saved_card': 'Pay with the saved card {mask}',
    'card_not_charged': 'The saved card could not be used; pay by card instead.',
    'tea_club': 'Tea club: 250 g of tea every month, {amount} a month',
    'tea_club_join': 'Join with the card {mask}',
    'tea_club_joined': 'Welcome to the tea club! The first month is charged within minutes.',
    'tea_club_status': 'Tea club: next payment on {date}',
    'tea_club_ends': 'Tea club: ends on {date}',
    'tea_club_cancel': 'Leave the club',
    'tea_club_past_due': 'Tea club: the last payment did not go through; tried again on {date}',
    'tea_club_use_card': 'Pay the tea club with this card',
    'tea_club_card_changed': 'The tea club is now paid with the card {mask}.',
    'tea_club_left': 'You leave the tea club at the end of the month paid.',
    'paid_in_usd': "Paid in US dollars: your bank converts the amount to your card's currency.",
}


class _Missing(dict[str, object]):
    """Placeholders not given stay as they are (``{amount}``)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def language() -> str:
    """The visitor's language (``rus``/``kaz``/``eng``)."""
    chosen = session.get("language")
    return chosen if chosen in LANGUAGES else DEFAULT


def text(key: str, language: str, **values: object) -> str:
    """The label ``key`` in ``language`` (``rus``/``kaz``/``eng``), its ``{placeholders}``
    filled from ``values``."""
    found = str(_translations(language).pgettext(key, MESSAGES[key]))
    return found.format_map(_Missing(card=_TEST_CARD, **values))


def _translations(language: str) -> NullTranslations:
    """The catalog of ``language``: Flask-Babel's, compiled by ``create_app``, in an app;
    outside one (a test's own thread), the same catalogs compiled once for this process."""
    if has_app_context() and "babel" in current_app.extensions:
        with force_locale(LOCALES[language]):
            found: NullTranslations = get_translations()
        return found
    return _outside_an_app(LOCALES[language])


@functools.cache
def _outside_an_app(locale: str) -> NullTranslations:
    directory = tempfile.mkdtemp(prefix="shop-catalogs-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return Translations.load(str(compile_catalogs(directory)), [locale])


def label(key: str, **values: object) -> str:
    """The label ``key`` in the visitor's language, its ``{placeholders}`` filled from
    ``values``."""
    return text(key, language(), **values)


def number(amount: Decimal | int, in_language: str | None = None) -> str:
    """``amount`` as the visitor reads it, by ``babel.numbers``: thousands apart with a
    no-break space in every language (so that a price never wraps, and ``45 000 ₸`` reads the
    same on every page), tiyn only when there are some, a decimal comma in Russian and Kazakh
    and a point in English."""
    value = Decimal(amount)
    pattern = "#,##0" if value == value.to_integral_value() else "#,##0.00"
    shown = format_decimal(value, format=pattern, locale="ru_KZ")
    return shown.replace(",", ".") if (in_language or language()) == "eng" else shown


def money(amount: Decimal | int, in_language: str | None = None, *,
          currency: str = "KZT") -> str:
    """``amount`` in ``currency``: tenge written as :func:`number` writes it (``45 000 ₸``),
    any other currency as the visitor's locale writes it, by ``babel.numbers``
    (``$120.00`` in English, ``120,00 $`` in Russian and Kazakh)."""
    if currency == "KZT":
        return f"{number(amount, in_language)}\u00a0₸"
    locale = LOCALES[in_language or language()]
    return str(format_currency(Decimal(amount), currency, locale=locale))


def when(moment: datetime, in_language: str | None = None) -> str:
    """``moment`` as the visitor reads it, by ``babel.dates``: the date (medium) and the time
    (short) in the visitor's language, joined as their locale joins them (``1 дек. 2026 г.,
    22:05``, ``2026 ж. 01 жел., 22:05``, ``Dec 1, 2026, 10:05 PM``), in the shop's time zone
    (``SHOP_TIMEZONE``, :data:`TIMEZONE`). A naive ``moment`` is UTC, as the stores keep it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone = get_timezone(current_app.config.get("SHOP_TIMEZONE", TIMEZONE)
                        if has_app_context() else TIMEZONE)
    locale = Locale.parse(LOCALES[in_language or language()])
    date = format_date(moment.astimezone(zone), "medium", locale=locale)
    time = format_time(moment, "short", tzinfo=zone, locale=locale)
    return str(locale.datetime_formats["medium"]).format(time, date)
