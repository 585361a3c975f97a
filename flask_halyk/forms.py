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

import re
from collections.abc import Callable
from typing import Any

from flask import current_app, has_app_context
from marshmallow import ValidationError as SchemaError
from wtforms import DecimalField, Form, SelectField, StringField
from wtforms.fields import choices as wtforms_choices
from wtforms.validators import InputRequired, Optional, StopValidation

from .config import LANGUAGES
from .errors import HalykError
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

#: How a phone number may be written in the form: digits, an optional leading ``+``, and the
#: spaces, dashes, dots and brackets people put between them.
_WRITTEN_PHONE = re.compile(r"\+?[0-9\s().\-]+\Z")
#: A phone number as the form asks for it when it refuses one.
PHONE_EXAMPLE = "+7 701 123 45 67"
#: What the form says when it refuses a phone number.
PHONE_MESSAGE = (f"Enter a phone number such as {PHONE_EXAMPLE} (or 8 701 123 45 67): "
                 "5 to 15 digits, spaces, dashes and brackets allowed.")
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


class MatchesSchema:
    """A WTForms validator that runs the :class:`~flask_halyk.schemas.PaymentObjectSchema`
    field ``wire_name`` on the submitted text, so the form accepts exactly what ePay's payment
    object accepts, and ``field.data`` becomes the value the schema produced."""

    def __init__(self, wire_name: str, *, normalise: Callable[[str], str] | None = None,
                 message: str | None = None) -> None:
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
            raise StopValidation(problem)
        try:
            field.data = self.schema_field.deserialize(value)
        except SchemaError as exc:
            if self.message is not None:
                raise StopValidation(self.message) from None
            messages = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
            raise StopValidation(" ".join(str(m) for m in messages)) from None


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
    "Amount",
    validators=[InputRequired(), MatchesSchema("amount")],
    places=2,
    render_kw={"min": "0.01", "step": "0.01", "inputmode": "decimal"},
)
_DESCRIPTION = StringField(
    "Description",
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

    name = StringField("Name", validators=[Optional(), MatchesSchema("name")],
                       render_kw={"autocomplete": "name", "maxlength": str(NAME_MAX)})
    email = StringField("Email", validators=[Optional(), MatchesSchema("email")],
                        render_kw={"type": "email", "autocomplete": "email",
                                   "maxlength": str(EMAIL_MAX)})
    # Written as people write it (+7 701 123 45 67, 8 701 ...), sent as the bank takes it
    # (+77011234567): :func:`phone_number`; the schema's PHONE_MAX applies to that.
    phone = StringField("Phone", validators=[Optional(), MatchesSchema(
                            "phone", normalise=phone_number, message=PHONE_MESSAGE)],
                        render_kw={"type": "tel", "autocomplete": "tel",
                                   "placeholder": PHONE_EXAMPLE,
                                   "maxlength": str(PHONE_INPUT_MAX)})
    language = SelectField("Language", choices=_language_choices(), coerce=_language,
                           default=_default_language)

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


def _given(field: Any) -> str | None:
    data = field.data
    if data is None or (isinstance(data, str) and not data.strip()):
        return None
    return str(data)


class CheckoutForm(CheckoutFormMixin, Form):
    """The checkout form for plain WTForms (no CSRF: use the mixin with ``FlaskForm`` for it)."""


__all__ = [
    "LANGUAGE_LABELS",
    "CheckoutForm",
    "CheckoutFormMixin",
    "CustomerFieldsMixin",
    "MatchesSchema",
]
