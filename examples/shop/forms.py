"""The shop's checkout form: flask-halyk's customer fields and a quantity.

The amount and the description come from the catalogue, never from the customer, so the form
has no such fields (``CustomerFieldsMixin``, not ``CheckoutFormMixin``). It is a plain WTForms
form: Flask-WTF's ``CSRFProtect`` guards every POST of the app, and the template sends its token.
"""

from __future__ import annotations

from wtforms import BooleanField, Form, IntegerField
from wtforms.validators import InputRequired, NumberRange

from flask_halyk import CustomerFieldsMixin


class CheckoutForm(CustomerFieldsMixin, Form):
    """Name, email, phone, language (``customer_kwargs()``) and how many."""

    quantity = IntegerField(
        "Quantity", default=1, validators=[InputRequired(), NumberRange(min=1, max=10)]
    )
    #: Ask the bank to keep the card for this visitor's account (flask-halyk's save_card).
    save_card = BooleanField("Remember my card", default=False)
