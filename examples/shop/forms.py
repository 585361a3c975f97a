"""The shop's checkout form: flask-halyk's customer fields, with Flask-WTF's CSRF token."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from flask_halyk import CheckoutFormMixin


class CheckoutForm(CheckoutFormMixin, FlaskForm):  # type: ignore[misc]
    """Name, email, phone, language and a quantity. The amount and the description come from
    the catalogue, never from the customer, so the mixin's two fields are removed."""

    # WTForms drops a mixin's field set to None.
    amount = None  # type: ignore[assignment]
    description = None  # type: ignore[assignment]
    quantity = IntegerField(
        "Quantity", default=1, validators=[InputRequired(), NumberRange(min=1, max=10)]
    )

    def customer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``halyk.create_payment`` that the customer gave."""
        def given(value: Any) -> str | None:
            return value.strip() or None if isinstance(value, str) else None

        return {
            "name": given(self.name.data),
            "email": given(self.email.data),
            "phone": given(self.phone.data),
            "language": self.language.data,
        }
