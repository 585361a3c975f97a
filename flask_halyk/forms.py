"""A checkout form whose validation is the payment object schema's own.

Plain WTForms::

    form = CheckoutForm(request.form)

Flask-WTF (CSRF and all)::

    from flask_wtf import FlaskForm
    class Checkout(CheckoutFormMixin, FlaskForm):
        pass

Either way, ``if form.validate(): halyk.create_payment(**form.payment_kwargs())``.

A shop that prices from its own catalogue takes only the customer's fields from the form::

    class Checkout(CustomerFieldsMixin, Form):
        pass

    halyk.create_payment(product.price, description=product.name, **form.customer_kwargs())
"""

from __future__ import annotations

import functools
import gettext as stdlib_gettext
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, cast

from flask import current_app, has_app_context
from marshmallow import ValidationError as SchemaError
from wtforms import DecimalField, Form, SelectField, StringField
from wtforms.fields import choices as wtforms_choices
from wtforms.i18n import messages_path
from wtforms.meta import DefaultMeta
from wtforms.validators import InputRequired, Optional, StopValidation

from . import i18n
from .config import LANGUAGES
from .errors import HalykError, InvalidPayment
from .i18n import LazyString, lazy_gettext
from .schemas import (
    DESCRIPTION_MAX_BYTES,
    EMAIL_MAX,
    LANGUAGE_ALIASES,
    NAME_MAX,
    PaymentObjectSchema,
)
from .schemas.fields import text_problem

#: Labels of the languages ePay's form speaks, each in its own language.
LANGUAGE_LABELS = {"rus": "Русский", "kaz": "Қазақша", "eng": "English"}


def _language_choices() -> list[Any]:
    # WTForms >= 3.3 deprecates (value, label) tuples for SelectChoice; older ones lack it.
    select_choice = getattr(wtforms_choices, "SelectChoice", None)
    if select_choice is None:
        return list(LANGUAGE_LABELS.items())
    return [select_choice(value, label) for value, label in LANGUAGE_LABELS.items()]


_SCHEMA = PaymentObjectSchema()
#: A field the schema refused: which one and the schema's messages (never the value), at DEBUG.
log = logging.getLogger("flask_halyk.forms")

#: How a phone number may be written in the form: digits, an optional leading ``+``, and the
#: spaces, dashes, dots and brackets people put between them.
_WRITTEN_PHONE = re.compile(r"\+?[0-9\s().\-]+\Z")
#: A phone number as the form asks for it when it refuses one.
PHONE_EXAMPLE = "+7 701 123 45 67"
#: What the form says when it refuses a phone number (in the customer's language: see
#: :mod:`flask_halyk.i18n`).
PHONE_MESSAGE = lazy_gettext(
    "Enter a phone number such as %(example)s (or %(trunk)s): 5 to 15 digits; spaces, dashes"
    " and brackets are allowed.", example=PHONE_EXAMPLE, trunk="8 701 123 45 67")
#: What the form says when it refuses an amount.
AMOUNT_MESSAGE = lazy_gettext(
    "Enter an amount in tenge greater than zero, such as 4500 or 4500.50.")
#: What the form says when it refuses a description (the bank's limit is in bytes: a Cyrillic
#: letter takes two).
DESCRIPTION_MESSAGE = lazy_gettext(
    "Enter a description of at most %(latin)d Latin or %(cyrillic)d Cyrillic letters.",
    latin=DESCRIPTION_MAX_BYTES, cyrillic=DESCRIPTION_MAX_BYTES // 2)
#: What the form says when it refuses a name.
NAME_MESSAGE = lazy_gettext("Enter a name of at most %(limit)d characters.", limit=NAME_MAX)
#: What the form says when it refuses an email address.
EMAIL_MESSAGE = lazy_gettext("Enter an email address such as %(example)s.",
                             example="name@example.kz")
#: What the form says when it refuses a language.
LANGUAGE_MESSAGE = lazy_gettext("Choose a language from the list.")
#: WTForms' own messages that the fields here can show, in the extension's catalogs as well (only
#: marked here): the customer reads them in their language even where WTForms ships no catalog
#: for it (Kazakh before WTForms 3.2).
WTFORMS_MESSAGES = (
    lazy_gettext("This field is required."),
    lazy_gettext("Not a valid decimal value."),
    lazy_gettext("Not a valid choice."),
)
#: What a customer is told about each argument of ``create_payment`` they can give through the
#: form, when it is refused (:func:`customer_messages`): never the schema's English.
FIELD_MESSAGES: Mapping[str, LazyString] = {
    "amount": AMOUNT_MESSAGE,
    "description": DESCRIPTION_MESSAGE,
    "name": NAME_MESSAGE,
    "email": EMAIL_MESSAGE,
    "phone": PHONE_MESSAGE,
    "language": LANGUAGE_MESSAGE,
}
#: The longest phone number the input takes as typed (with spaces, dashes and brackets).
PHONE_INPUT_MAX = 32


def phone_number(text: str) -> str:
    """A phone number as the bank takes it (``+`` and digits, E.164) from how people write
    one: ``+7 701 123 45 67``, ``+7 (701) 123-45-67`` and ``8 701 123 45 67`` (Kazakhstan's
    trunk prefix) are all ``+77011234567``; eleven digits starting with 7 get the ``+``. Text
    that is not digits and separators is returned as it is (the schema refuses it)."""
    stripped = text.strip()
    if not _WRITTEN_PHONE.match(stripped):
        return text
    digits = re.sub(r"[^0-9]", "", stripped)
    if stripped.startswith("+"):
        return f"+{digits}"
    if len(digits) == 11 and digits[0] in "78":
        return f"+7{digits[1:]}"
    return digits


_INVALID = lazy_gettext("Check this field.")


def _label(text: LazyString) -> str:
    # WTForms' stubs want a str for a label; a LazyString is one each time it is shown.
    return cast("str", text)


class MatchesSchema:
    """A WTForms validator that runs the :class:`~flask_halyk.schemas.PaymentObjectSchema`
    field ``wire_name`` on the submitted text, so the form accepts exactly what ePay's payment
    object accepts, and ``field.data`` becomes the value the schema produced.

    A refusal says ``message`` (else the field's :data:`FIELD_MESSAGES` entry, else "Check this
    field."), translated for the customer; the schema's own English goes to the
    ``flask_halyk.forms`` logger at DEBUG."""

    def __init__(self, wire_name: str, *, normalise: Callable[[str], str] | None = None,
                 message: str | LazyString | None = None) -> None:
        self.wire_name = wire_name
        self.schema_field = _SCHEMA.fields[wire_name]
        self.normalise = normalise
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        value = field.raw_data[0] if field.raw_data else field.data
        if self.normalise is not None and isinstance(value, str):
            value = self.normalise(value)
        # The schema refuses a NUL or a lone surrogate anywhere in the object; one field alone
        # must refuse it as well.
        problem = text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            self._refuse(field, [problem])
        try:
            field.data = self.schema_field.deserialize(value)
        except SchemaError as exc:
            self._refuse(field, exc.messages)

    def _refuse(self, field: Any, detail: object) -> None:
        # The customer reads the field's own message, in their language; the schema's English
        # is for developers (the log).
        log.debug("%s refused by the schema's %s: %s", field.name, self.wire_name, detail)
        message = self.message if self.message is not None else FIELD_MESSAGES.get(
            self.wire_name, _INVALID)
        raise StopValidation(str(message)) from None


def _language(value: Any) -> Any:
    # Accepts the spellings the schema accepts (RU, Kaz, ENG...) and keeps the wire form.
    if isinstance(value, str):
        return LANGUAGE_ALIASES.get(value.strip().lower(), value)
    return value


def _default_language() -> str:
    state = current_app.extensions.get("halyk") if has_app_context() else None
    language = getattr(getattr(state, "config", None), "language", None)
    return language if language in LANGUAGES else "rus"


# Made before the customer fields so that CheckoutFormMixin's forms keep their field order
# (amount, description, name, ...): WTForms orders fields by when they were created.
_AMOUNT = DecimalField(
    _label(lazy_gettext("Amount")),
    validators=[InputRequired(), MatchesSchema("amount")],
    places=2,
    render_kw={"min": "0.01", "step": "0.01", "inputmode": "decimal"},
)
_DESCRIPTION = StringField(
    _label(lazy_gettext("Description")),
    validators=[InputRequired(), MatchesSchema("description")],
    # A hint for the browser; the real cap is in UTF-8 bytes, checked by the schema.
    render_kw={"maxlength": str(DESCRIPTION_MAX_BYTES)},
)


class CustomerFieldsMixin:
    """What a customer may say about themselves: name, email, phone and the payment page's
    language, to mix into a ``Form`` or a Flask-WTF ``FlaskForm``.

    For shops that price from their own catalogue: the amount and the description are the
    shop's, never the customer's, so they are not fields here. An empty optional field means
    "not given" (``None`` in :meth:`customer_kwargs`).
    """

    name = StringField(_label(lazy_gettext("Name")),
                       validators=[Optional(), MatchesSchema("name")],
                       render_kw={"autocomplete": "name", "maxlength": str(NAME_MAX)})
    email = StringField(_label(lazy_gettext("Email")),
                        validators=[Optional(), MatchesSchema("email")],
                        render_kw={"type": "email", "autocomplete": "email",
                                   "maxlength": str(EMAIL_MAX)})
    # Written as people write it (+7 701 123 45 67, 8 701 ...), sent as the bank takes it
    # (+77011234567): :func:`phone_number`; the schema's PHONE_MAX applies to that.
    phone = StringField(_label(lazy_gettext("Phone")), validators=[Optional(), MatchesSchema(
                            "phone", normalise=phone_number, message=PHONE_MESSAGE)],
                        render_kw={"type": "tel", "autocomplete": "tel",
                                   "placeholder": PHONE_EXAMPLE,
                                   "maxlength": str(PHONE_INPUT_MAX)})
    language = SelectField(_label(lazy_gettext("Language")), choices=_language_choices(),
                           coerce=_language, default=_default_language)

    class Meta(DefaultMeta):
        """WTForms' own messages ("This field is required.", "Not a valid choice."...) in the
        locale Flask-Babel selected: the extension's catalog for those its fields show
        (:data:`WTFORMS_MESSAGES`), the catalogs WTForms ships for the rest (a shop's own
        fields). A form whose ``Meta`` names ``locales`` keeps WTForms' behaviour."""

        def get_translations(self, form: Any) -> Any:
            chosen = i18n.locale() if self.locales is False else None
            if chosen is not None:
                return FormTranslations(i18n.translations(), _wtforms_translations(str(chosen)))
            return super().get_translations(form)

    def refused(self, error: InvalidPayment) -> bool:
        """Show what ``create_payment`` refused of this form's values on their fields: each
        field ``error`` names gets its message (:data:`FIELD_MESSAGES`, in the customer's
        language, never the schema's English). Returns whether ``error`` named any of the
        form's fields; when it did not, the refusal is about the shop's own arguments (log it,
        ``error.messages`` has the detail)."""
        found = False
        for name, message in customer_messages(error).items():
            field = getattr(self, name, None)
            if field is not None and hasattr(field, "errors"):
                field.errors = [*field.errors, message]
                found = True
        return found

    def customer_kwargs(self) -> dict[str, Any]:
        """The validated customer fields as keyword arguments of ``halyk.create_payment``
        (``name``, ``email``, ``phone``, ``language``). Call it after the form validated."""
        return {
            "name": _given(self.name),
            "email": _given(self.email),
            "phone": _given(self.phone),
            "language": self.language.data,
        }


class CheckoutFormMixin(CustomerFieldsMixin):
    """The customer fields plus ``amount`` and ``description``, for shops where the customer
    chooses what to pay (donations, invoices paid by number...).

    A shop selling from a catalogue must not take the amount or the description from the form:
    it uses :class:`CustomerFieldsMixin` and passes its own.
    """

    amount = _AMOUNT
    description = _DESCRIPTION

    def payment_kwargs(self) -> dict[str, Any]:
        """The validated values as keyword arguments of ``halyk.create_payment``."""
        amount = self.amount.data
        if amount is None:
            raise HalykError("payment_kwargs() needs a form that validated.")
        return {"amount": amount, "description": self.description.data,
                **self.customer_kwargs()}


class FormTranslations:
    """WTForms' translations object for the forms here: a message of the extension's catalog in
    its words, any other from WTForms' own catalog."""

    def __init__(self, ours: i18n.GNUTranslations, wtforms: i18n.GNUTranslations) -> None:
        self.ours = ours
        self.wtforms = wtforms

    def gettext(self, message: str) -> str:
        found = self.ours.gettext(message)
        return found if found != message else self.wtforms.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        found = self.ours.ngettext(singular, plural, n)
        if found not in (singular, plural):
            return found
        return self.wtforms.ngettext(singular, plural, n)


@functools.cache
def _wtforms_translations(locale_name: str) -> stdlib_gettext.NullTranslations:
    languages = [locale_name, locale_name.partition("_")[0]]
    return stdlib_gettext.translation("wtforms", messages_path(), languages, fallback=True)


def customer_messages(error: InvalidPayment) -> dict[str, str]:
    """What to tell a customer about a refused ``create_payment``: for each argument of
    ``error.messages`` that a customer gives (:data:`FIELD_MESSAGES`), its message in their
    language; the shop's own arguments (links, invoice id...) are left out, and marshmallow's
    English never comes through. ``error`` itself keeps the full detail for the log."""
    return {name: str(FIELD_MESSAGES[name]) for name in error.messages if name in FIELD_MESSAGES}


def _given(field: Any) -> str | None:
    data = field.data
    if data is None or (isinstance(data, str) and not data.strip()):
        return None
    return str(data)


class CheckoutForm(CheckoutFormMixin, Form):
    """The checkout form for plain WTForms (no CSRF: use the mixin with ``FlaskForm`` for it)."""


__all__ = [
    "AMOUNT_MESSAGE",
    "DESCRIPTION_MESSAGE",
    "EMAIL_MESSAGE",
    "FIELD_MESSAGES",
    "LANGUAGE_LABELS",
    "LANGUAGE_MESSAGE",
    "NAME_MESSAGE",
    "PHONE_MESSAGE",
    "WTFORMS_MESSAGES",
    "CheckoutForm",
    "CheckoutFormMixin",
    "CustomerFieldsMixin",
    "MatchesSchema",
    "customer_messages",
]
