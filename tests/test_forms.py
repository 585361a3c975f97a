from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Flask, render_template_string, request
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict
from wtforms import Form, IntegerField

from flask_halyk.errors import HalykError
from flask_halyk.forms import (
    PHONE_MESSAGE,
    CheckoutForm,
    CheckoutFormMixin,
    CustomerFieldsMixin,
    phone_number,
)
from flask_halyk.schemas import DESCRIPTION_MAX_BYTES, PaymentObjectSchema

VALID = {"amount": "1500", "description": "Order 42", "name": "Arman Ali",
         "email": "arman@example.kz", "phone": "+77771234567", "language": "eng"}

# A complete, valid payment object: each property test swaps one field for the form's input.
BASE_OBJECT = {
    "invoiceId": "000123456",
    "backLink": "https://shop.example.kz/done",
    "postLink": "https://shop.example.kz/halyk/postlink",
    "language": "rus",
    "description": "Order 42",
    "terminal": "67e34d63-102f-4bd1-898e-370781d0074d",
    "amount": 100,
    "currency": "KZT",
    "auth": {"access_token": "T", "expires_in": 7200},
}


def form_of(**overrides):
    data = {**VALID, **overrides}
    return CheckoutForm(MultiDict({k: v for k, v in data.items() if v is not None}))


def schema_accepts(wire_name, value):
    try:
        PaymentObjectSchema().load({**BASE_OBJECT, wire_name: value})
    except ValidationError:
        return False
    return True


def test_valid_form_gives_create_payment_kwargs():
    form = form_of()
    assert form.validate(), form.errors
    assert form.payment_kwargs() == {
        "amount": Decimal("1500"), "description": "Order 42", "name": "Arman Ali",
        "email": "arman@example.kz", "phone": "+77771234567", "language": "eng",
    }


def test_optional_fields_empty_mean_not_given():
    form = form_of(name="", email="  ", phone=None)
    assert form.validate(), form.errors
    kwargs = form.payment_kwargs()
    assert kwargs["name"] is None and kwargs["email"] is None and kwargs["phone"] is None


@pytest.mark.parametrize("amount", ["0", "-5", "10.123", "abc", "", "1e2", "NaN", "0.00"])
def test_bad_amounts_refused(amount):
    form = form_of(amount=amount)
    assert not form.validate()
    assert "amount" in form.errors


@pytest.mark.parametrize(("amount", "expected"), [("0.01", Decimal("0.01")),
                                                  ("12.5", Decimal("12.5")),
                                                  (" 100 ", Decimal("100"))])
def test_good_amounts_accepted(amount, expected):
    form = form_of(amount=amount)
    assert form.validate(), form.errors
    assert form.payment_kwargs()["amount"] == expected


def test_description_byte_cap_counts_utf8_bytes():
    cyrillic_ok = "Я" * (DESCRIPTION_MAX_BYTES // 2)
    assert form_of(description=cyrillic_ok).validate()
    too_long = "Я" * (DESCRIPTION_MAX_BYTES // 2 + 1)
    form = form_of(description=too_long)
    assert not form.validate()
    assert "description" in form.errors
    assert not form_of(description="   ").validate()
    assert not form_of(description="").validate()


@pytest.mark.parametrize(("given", "sent"), [("rus", "rus"), ("RU", "rus"), ("Kaz", "kaz"),
                                              ("EN", "eng"), ("eng", "eng")])
def test_language_spellings(given, sent):
    form = form_of(language=given)
    assert form.validate(), form.errors
    assert form.payment_kwargs()["language"] == sent


@pytest.mark.parametrize("bad", ["de", "russian", ""])
def test_unknown_language_refused(bad):
    form = form_of(language=bad)
    assert not form.validate()
    assert "language" in form.errors


def test_bad_email_refused():
    form = form_of(email="not an email")
    assert not form.validate()
    assert "email" in form.errors


def test_payment_kwargs_of_an_unvalidated_form_is_an_error():
    form = CheckoutForm(MultiDict({"description": "x"}))
    with pytest.raises(HalykError):
        form.payment_kwargs()


def test_renders_html_hints():
    html = str(form_of().amount())
    assert 'min="0.01"' in html and 'step="0.01"' in html and "required" in html
    assert f'maxlength="{DESCRIPTION_MAX_BYTES}"' in str(form_of().description())


def test_language_default_comes_from_the_app_config():
    app = Flask(__name__)

    class _State:
        class config:  # stands in for HalykConfig
            language = "kaz"

    app.extensions["halyk"] = _State()
    with app.app_context():
        assert CheckoutForm().language.data == "kaz"
    assert CheckoutForm().language.data == "rus"


# --- customer fields only: amount and description are the shop's ----------------------------

class CustomerForm(CustomerFieldsMixin, Form):
    quantity = IntegerField("Quantity", default=1)


def test_customer_fields_have_no_amount_or_description():
    form = CustomerForm(MultiDict({**VALID, "quantity": "2"}))
    assert [field.name for field in form] == ["name", "email", "phone", "language", "quantity"]
    assert not hasattr(form, "amount") and not hasattr(form, "description")
    assert form.validate(), form.errors
    # What the customer posted as amount or description goes nowhere.
    assert form.customer_kwargs() == {"name": "Arman Ali", "email": "arman@example.kz",
                                      "phone": "+77771234567", "language": "eng"}
    assert form.quantity.data == 2


def test_customer_fields_validate_like_the_schema_and_blank_means_not_given():
    bad = CustomerForm(MultiDict({"email": "not an email", "phone": "12ab", "language": "de"}))
    assert not bad.validate()
    assert set(bad.errors) == {"email", "phone", "language"}
    blank = CustomerForm(MultiDict({"name": " ", "email": "", "language": "KZ"}))
    assert blank.validate(), blank.errors
    assert blank.customer_kwargs() == {"name": None, "email": None, "phone": None,
                                       "language": "kaz"}


def test_checkout_form_is_the_customer_fields_plus_amount_and_description():
    assert issubclass(CheckoutFormMixin, CustomerFieldsMixin)
    form = form_of()
    assert [field.name for field in form] == [
        "amount", "description", "name", "email", "phone", "language"]
    assert form.validate(), form.errors
    kwargs = form.payment_kwargs()
    assert kwargs == {"amount": Decimal("1500"), "description": "Order 42",
                      **form.customer_kwargs()}


def test_customer_fields_mixin_is_public():
    import flask_halyk

    assert flask_halyk.CustomerFieldsMixin is CustomerFieldsMixin
    assert "CustomerFieldsMixin" in flask_halyk.__all__


# --- the form accepts exactly what the schema accepts ---------------------------------------

amount_text = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(min_value=Decimal("-5"), max_value=Decimal("100000"), places=3).map(str),
    st.text(alphabet="0123456789.-+eE ,_", max_size=12),
    st.text(max_size=8),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(amount_text)
@example("1.")
@example(".5")
@example("１００")  # noqa: RUF001 - full-width digits: Decimal takes them, the schema does not
@example("9999999999999.99")
@example("10000000000000")
def test_amount_agrees_with_schema(text):
    form = form_of(amount=text)
    accepted = form.validate()
    assert accepted == schema_accepts("amount", text), (text, form.errors)
    if accepted:
        assert form.payment_kwargs()["amount"] == PaymentObjectSchema().load(
            {**BASE_OBJECT, "amount": text})["amount"]


def _blank_means_absent(wire_name, text):
    if not text.strip():
        return True  # the form passes None on, which the schema drops
    if wire_name == "phone":
        return schema_accepts(wire_name, phone_number(text))  # the form writes it first
    return schema_accepts(wire_name, text)


@settings(max_examples=200)
@given(st.one_of(st.text(max_size=140), st.text(alphabet="Яa <>&\"' ", max_size=70)))
def test_description_agrees_with_schema(text):
    form = form_of(description=text)
    assert form.validate() == schema_accepts("description", text), (text, form.errors)


@settings(max_examples=200)
@given(st.one_of(st.emails().map(str), st.text(max_size=30),
                 st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)),
       st.sampled_from(["email", "phone", "name"]))
def test_optional_fields_agree_with_schema(text, field):
    form = form_of(**{field: text})
    assert form.validate() == _blank_means_absent(field, text), (field, text, form.errors)


@settings(max_examples=100)
@given(st.one_of(st.sampled_from(["rus", "kaz", "eng", "RU", "KZ", "EN", "RUS", "KAZ", "ENG",
                                  "Ru", "kk"]),
                 st.text(max_size=5)))
def test_language_agrees_with_schema(text):
    form = form_of(language=text)
    assert form.validate() == schema_accepts("language", text), (text, form.errors)


# --- Flask-WTF, CSRF on -------------------------------------------------------------------------

class FlaskCheckout(CheckoutFormMixin, FlaskForm):
    pass


class FlaskCustomer(CustomerFieldsMixin, FlaskForm):
    pass


@pytest.fixture
def app():
    """A Flask-WTF app (CSRF on) with a checkout form and a customer form, without flask-halyk:
    pytest-flask's ``client`` serves it."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="forms-test", WTF_CSRF_ENABLED=True)

    @app.route("/checkout", methods=["GET", "POST"])
    def checkout():
        form = FlaskCheckout()
        if form.validate_on_submit():
            kwargs = form.payment_kwargs()
            return {"ok": True, "amount": str(kwargs["amount"]), "language": kwargs["language"]}
        if request.method == "POST":
            return {"ok": False, "errors": form.errors}, 400
        return render_template_string(
            "<form method=post>{{ form.csrf_token }}{{ form.amount }}{{ form.description }}"
            "</form>", form=form)

    @app.route("/customer", methods=["GET", "POST"])
    def customer():
        form = FlaskCustomer()
        if form.validate_on_submit():
            return form.customer_kwargs()
        if request.method == "POST":
            return {"errors": form.errors}, 400
        return render_template_string("<form>{{ form.csrf_token }}</form>", form=form)

    return app


def test_flask_wtf_customer_fields_with_csrf(client):
    refused = client.post("/customer", data={"name": "Arman", "language": "eng"})
    assert refused.status_code == 400 and "csrf_token" in refused.get_json()["errors"]
    page = client.get("/customer").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    answer = client.post("/customer", data={"csrf_token": token, "name": "Arman",
                                            "amount": "1", "language": "EN"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"name": "Arman", "email": None, "phone": None,
                                 "language": "eng"}


def test_flask_wtf_csrf_required(client):
    response = client.post("/checkout", data=VALID)
    assert response.status_code == 400
    assert "csrf_token" in response.get_json()["errors"]


def test_flask_wtf_with_token(client):
    page = client.get("/checkout").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/checkout", data={**VALID, "csrf_token": token, "language": "KZ"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"ok": True, "amount": "1500", "language": "kaz"}


def test_flask_wtf_with_token_still_validates_fields(client):
    page = client.get("/checkout").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/checkout", data={**VALID, "csrf_token": token, "amount": "0"})
    assert response.status_code == 400
    assert set(response.get_json()["errors"]) == {"amount"}


# --- the phone number, as people write it ---------------------------------------------------------


@pytest.mark.parametrize("written", [
    "+77011234567", "+7 701 123 45 67", "8 701 123 45 67", "+7 (701) 123-45-67",
    "8 (701) 123-45-67", "77011234567", "87011234567", " +7 701 123 4567 ", "+7.701.123.45.67",
    "+7\u00a0701\u00a0123\u00a045\u00a067",
])
def test_the_phone_field_takes_the_usual_kazakh_forms_and_sends_the_banks(written):
    form = form_of(phone=written)
    assert form.validate(), form.errors
    assert form.payment_kwargs()["phone"] == "+77011234567"
    assert schema_accepts("phone", "+77011234567")


@pytest.mark.parametrize("written", ["12ab", "+7 701 123 45 67 89 01 23", "+7 (701", "1234",
                                     "+", "phone: 8 701 123 45 67"])
def test_a_refused_phone_number_says_the_format(written):
    form = form_of(phone=written)
    assert not form.validate()
    assert form.errors["phone"] == [PHONE_MESSAGE]
    assert "+7 701 123 45 67" in PHONE_MESSAGE


def test_other_countries_keep_their_digits():
    assert phone_number("+44 20 7946 0958") == "+442079460958"
    assert phone_number("12345") == "12345"
    assert phone_number("not a number") == "not a number"


def test_the_phone_input_takes_a_written_number_and_shows_the_format():
    html = str(form_of().phone)
    assert 'placeholder="+7 701 123 45 67"' in html
    assert int(re.search(r'maxlength="(\d+)"', html).group(1)) >= len("+7 (701) 123-45-67")
