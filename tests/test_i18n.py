"""The extension's words for customers (flask_halyk.i18n): Russian and Kazakh through Flask-Babel,
English without it, the shop's own catalogs over the package's, WTForms' own messages in the same
locale, marshmallow's English never shown, and catalogs that are complete and ship as text."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template_string, request
from flask_babel import Babel
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField
from wtforms.validators import NumberRange

from flask_halyk import i18n
from flask_halyk.errors import InvalidPayment
from flask_halyk.forms import (
    FIELD_MESSAGES,
    PHONE_MESSAGE,
    CheckoutForm,
    customer_messages,
)
from flask_halyk.i18n import gettext, lazy_gettext, ngettext

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_halyk"
TRANSLATIONS = PACKAGE / "translations"
KEYWORDS = {"gettext": None, "lazy_gettext": None, "ngettext": (1, 2), "_": None}
#: What .ci/catalogs extracts (.ci/babel.cfg): the modules, and the dashboard's templates.
METHOD_MAP = [("**.py", "python"), ("templates/halyk/dashboard/**.html", "jinja2")]

BAD = {"amount": "0", "description": "   ", "name": "x" * 300, "email": "nope",
       "phone": "12ab", "language": "xx"}


def babel_app(**config: object) -> Flask:
    """An app whose locale is ``?lang=`` (Flask-Babel initialised)."""
    app = Flask(__name__)
    app.config.update(config)
    Babel(app, locale_selector=lambda: request.args.get("lang", "en"))
    return app


def refusals(app: Flask, lang: str | None = None) -> dict[str, list[str]]:
    with app.test_request_context(f"/?lang={lang}" if lang else "/"):
        form = CheckoutForm(MultiDict(BAD))
        assert not form.validate()
        return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


# --- in the customer's language ------------------------------------------------------------------


def test_without_flask_babel_on_the_app_the_form_speaks_english():
    errors = refusals(Flask(__name__))
    assert errors == {
        "amount": ["Enter an amount in tenge greater than zero, such as 4500 or 4500.50."],
        "description": ["Enter a description of at most 125 Latin or 62 Cyrillic letters."],
        "name": ["Enter a name of at most 255 characters."],
        "email": ["Enter an email address such as name@example.kz."],
        "phone": ["Enter a phone number such as +7 701 123 45 67 (or 8 701 123 45 67): 5 to 15"
                  " digits; spaces, dashes and brackets are allowed."],
        "language": ["Not a valid choice."],
    }


def test_outside_an_app_messages_are_english():
    assert gettext("Phone") == "Phone"
    assert str(lazy_gettext("Enter a name of at most %(limit)d characters.", limit=3)) \
        == "Enter a name of at most 3 characters."
    assert ngettext("%(num)d try", "%(num)d tries", 2) == "2 tries"
    assert i18n.locale() is None


def test_in_russian():
    errors = refusals(babel_app(), "ru")
    assert errors["amount"] == ["Введите сумму в тенге больше нуля, например 4500 или 4500.50."]
    assert errors["description"] == [
        "Введите описание: не более 125 символов латиницей или 62 кириллицей."]
    assert errors["email"] == ["Введите адрес электронной почты, например name@example.kz."]
    assert errors["phone"][0].startswith("Введите номер телефона, например +7 701 123 45 67 (или")
    assert errors["name"] == ["Введите имя не длиннее 255 символов."]
    assert errors["language"] == ["Выберите вариант из списка."]


def test_in_kazakh():
    errors = refusals(babel_app(), "kk")
    assert errors["amount"] == [
        "Теңгемен нөлден үлкен соманы енгізіңіз, мысалы 4500 немесе 4500.50."]
    assert errors["phone"][0].startswith("Телефон нөмірін енгізіңіз, мысалы +7 701 123 45 67")
    assert errors["name"] == ["Ұзындығы 255 таңбадан аспайтын атты енгізіңіз."]
    assert errors["email"] == ["Электрондық пошта мекенжайын енгізіңіз, мысалы name@example.kz."]


def test_a_regional_locale_finds_its_languages_catalog():
    assert refusals(babel_app(), "ru_KZ") == refusals(babel_app(), "ru")


def test_wtforms_own_messages_come_in_the_same_locale():
    """Those the extension's fields show from its catalog (WTForms < 3.2 has no Kazakh), the
    rest (a shop's own fields) from WTForms'."""

    class WithQuantity(CheckoutForm):
        quantity = IntegerField(validators=[NumberRange(min=1, max=10)])

    app = babel_app()
    for lang, required, choice, decimal in (
            ("ru", "Заполните это поле.", "Выберите вариант из списка.",
             "Введите число, например 4500.50."),
            ("kk", "Бұл өрісті толтырыңыз.", "Тізімнен нұсқаны таңдаңыз.",
             "Санды енгізіңіз, мысалы 4500.50."),
            ("en", "This field is required.", "Not a valid choice.",
             "Not a valid decimal value.")):
        with app.test_request_context(f"/?lang={lang}"):
            form = WithQuantity(MultiDict({"description": "x", "language": "xx",
                                           "quantity": "99"}))
            assert not form.validate()
            assert form.errors["amount"] == [required]
            assert form.errors["language"] == [choice]
            number_range = form.errors["quantity"][0]
            form = WithQuantity(MultiDict({"amount": "lots", "description": "x"}))
            assert not form.validate()
            assert form.errors["amount"][0] == decimal
        if lang == "ru":
            # WTForms' Russian (its wording changes between WTForms versions)
            assert re.fullmatch(r"[\u0400-\u04ff ]+ 1 [\u0400-\u04ff]+ 10\.", number_range)
        elif lang == "en":
            assert number_range == "Number must be between 1 and 10."


def test_a_form_that_names_its_locales_keeps_them():
    class English(CheckoutForm):
        class Meta:
            locales = ("en",)

    with babel_app().test_request_context("/?lang=ru"):
        form = English(MultiDict({"description": "x"}))
        assert not form.validate()
        assert form.errors["amount"] == ["This field is required."]
        assert form.errors == {"amount": ["This field is required."]}


def test_labels_are_translated_when_shown():
    app = babel_app()
    page = "{{ form.amount.label }} {{ form.phone.label }} {{ form.language.label }}"
    for lang, shown in (("ru", ("Сумма", "Телефон", "Язык")), ("kk", ("Сома", "Телефон", "Тіл")),
                        ("en", ("Amount", "Phone", "Language"))):
        with app.test_request_context(f"/?lang={lang}"):
            html = render_template_string(page, form=CheckoutForm())
            assert re.findall(r">([^<]+)</label>", html) == list(shown)


def test_a_lazy_message_is_text_where_it_is_used():
    with babel_app().test_request_context("/?lang=ru"):
        assert str(PHONE_MESSAGE) == PHONE_MESSAGE
        assert "+7 701 123 45 67" in PHONE_MESSAGE
        assert PHONE_MESSAGE.startswith("Введите")
        assert len(PHONE_MESSAGE) == len(str(PHONE_MESSAGE))
        assert "<" + lazy_gettext("Phone") + ">" == "<Телефон>"
        # Jinja escapes it like any text (a translation is never trusted as HTML).
        assert render_template_string("{{ m }}", m=lazy_gettext("Phone")) == "Телефон"
        assert {lazy_gettext("Phone"): 1}[lazy_gettext("Phone")] == 1
        assert repr(lazy_gettext("Phone")) == "lazy_gettext('Phone')"


# --- marshmallow's English never reaches a customer ----------------------------------------------


def test_a_refusal_of_create_payment_is_told_in_the_customers_words():
    error = InvalidPayment({"email": ["Not a valid email address."], "back_link": ["Bad URL."],
                            "phone": ["Digits only, optional +."]})
    with babel_app().test_request_context("/?lang=kk"):
        told = customer_messages(error)
        assert told == {"email": str(FIELD_MESSAGES["email"]), "phone": str(PHONE_MESSAGE)}
        assert told["email"].startswith("Электрондық пошта")
        form = CheckoutForm(MultiDict({"amount": "10", "description": "x"}))
        assert form.refused(error)
        assert form.errors["email"] == [told["email"]]
        assert not CheckoutForm().refused(InvalidPayment({"back_link": ["Bad URL."]}))
    assert "Not a valid email address." in str(error)  # the developer's detail stays


def test_no_schema_message_in_any_form_error(caplog):
    caplog.set_level("DEBUG", logger="flask_halyk.forms")
    for lang in ("ru", "kk", "en"):
        errors = refusals(babel_app(), lang)
        schema_words = ("Not a valid", "Must not", "bytes", "Length", "Digits only", "Shorter")
        for name, messages in errors.items():
            if name != "language":  # WTForms' own choice message
                assert not any(w in m for w in schema_words for m in messages), messages
    # The developer's detail is in the log (which field, the schema's message, not the value).
    assert "email refused by the schema's email: ['Not a valid email address.']" in caplog.text
    assert "12ab" not in caplog.text


def test_a_nul_in_a_field_is_refused_with_the_fields_message():
    with babel_app().test_request_context("/?lang=ru"):
        form = CheckoutForm(MultiDict({"amount": "10", "description": "x",
                                       "email": "a\x00@example.kz"}))
        assert not form.validate()
        assert form.errors == {"email": [str(FIELD_MESSAGES["email"])]}


# --- the shop's own catalogs ---------------------------------------------------------------------


def _compile(directory: Path, locale: str, messages: dict[str, str]) -> None:
    catalog = Catalog(locale=locale, domain="flask_halyk")
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    target = directory / locale / "LC_MESSAGES" / "flask_halyk.mo"
    target.parent.mkdir(parents=True)
    with target.open("wb") as file:
        write_mo(file, catalog)


def test_a_shop_overrides_a_message_and_adds_a_language(tmp_path):
    _compile(tmp_path, "ru", {"Phone": "Мобильный"})
    _compile(tmp_path, "de", {"Phone": "Telefon"})
    app = babel_app(BABEL_TRANSLATION_DIRECTORIES=str(tmp_path))
    with app.test_request_context("/?lang=ru"):
        assert gettext("Phone") == "Мобильный"
        assert gettext("Amount") == "Сумма"  # the package's, where the shop has none
    with app.test_request_context("/?lang=de"):
        assert gettext("Phone") == "Telefon"
        assert gettext("Amount") == "Amount"
        # WTForms has German of its own.
        form = CheckoutForm(MultiDict({"description": "x"}))
        assert not form.validate()
        assert form.errors["amount"] == ["Dieses Feld wird benötigt."]


# --- the catalogs --------------------------------------------------------------------------------


def extracted() -> set[str]:
    """Every message the package marks for translation, as a pybabel extract would find it."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(PACKAGE), method_map=METHOD_MAP, keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",)):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "flask_halyk.po").open("rb") as file:
        return read_po(file, locale=locale)


def test_the_package_marks_its_customer_messages():
    assert {"Phone", "Amount", "Enter an email address such as %(example)s.",
            "Choose a language from the list."} <= extracted()


def untranslated(found: Catalog, messages: set[str]) -> list[str]:
    """The messages ``found`` has no usable translation of (absent, empty or fuzzy), and those
    whose placeholders differ from the msgid's."""
    broken = {str(message.id) for message, errors in found.check() if errors}
    return sorted(m for m in messages
                  if found.get(m) is None or not found[m].string or found[m].fuzzy
                  or m in broken)


@pytest.mark.parametrize("locale", ["ru", "kk"])
def test_every_message_has_a_translation(locale):
    missing = untranslated(catalog(locale), extracted())
    assert missing == [], f"run .ci/catalogs and translate these in {locale}: {missing}"


def test_the_template_and_every_catalog_have_exactly_the_marked_messages():
    with (TRANSLATIONS / "flask_halyk.pot").open("rb") as file:
        template = read_po(file)
    for messages in (template, catalog("ru"), catalog("kk"), catalog("en")):
        assert {m.id for m in messages if m.id} == extracted(), "run .ci/catalogs"


def test_the_missing_translation_check_can_fail():
    broken = catalog("kk")
    broken["Phone"].string = ""
    broken["Language"].flags.add("fuzzy")
    email = "Enter an email address such as %(example)s."
    broken[email].string = "Электрондық пошта, мысалы %(sample)s."
    assert untranslated(broken, extracted()) == sorted([email, "Language", "Phone"])
    assert untranslated(catalog("kk"), {*extracted(), "A new message"}) == ["A new message"]


def test_no_compiled_catalog_is_committed():
    tracked = subprocess.run(["git", "ls-files", "*.mo"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    assert tracked == ""
    assert not list(TRANSLATIONS.rglob("*.mo"))


def test_a_catalog_compiles_in_memory():
    compiled = i18n.packaged_catalog("kk")
    assert compiled.gettext("Language") == "Тіл"
    assert i18n.packaged_catalog("de") is None
    buffer = io.BytesIO()
    with (TRANSLATIONS / "ru" / "LC_MESSAGES" / "flask_halyk.po").open("rb") as file:
        write_mo(buffer, read_po(file))
    assert buffer.getvalue()


# --- as installed --------------------------------------------------------------------------------


_PROBE = """
import sys
from flask import Flask, request
from werkzeug.datastructures import MultiDict
import flask_halyk
from flask_halyk.forms import CheckoutForm
app = Flask("probe")
try:
    from flask_babel import Babel
except ImportError:
    pass
else:
    Babel(app, locale_selector=lambda: "kk")
with app.test_request_context("/"):
    form = CheckoutForm(MultiDict({"amount": "10", "description": "x", "email": "no"}))
    form.validate()
    print(flask_halyk.__file__)
    print(form.errors["email"][0])
"""


def _probe(path: str, *, without_babel: bool = False) -> list[str]:
    code = ("import sys; sys.modules['flask_babel'] = None; sys.modules['babel'] = None\n"
            if without_babel else "") + _PROBE
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=path, check=True, timeout=60)
    return done.stdout.splitlines()


def test_the_core_install_needs_no_babel():
    _where, message = _probe(str(ROOT), without_babel=True)
    assert message == "Enter an email address such as name@example.kz."


def test_a_built_package_carries_working_translations(tmp_path):
    """What setuptools puts in a wheel (build_py with setup.cfg's package_data), imported from
    there: the .po files are in it and the form speaks Kazakh."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE",
                 "CHANGES.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "flask_halyk",
                    ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    built = tmp_path / "built"
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
                    "build_py", "--build-lib", str(built)], cwd=source, check=True,
                   capture_output=True, timeout=120)
    shipped = sorted(p.relative_to(built).as_posix() for p in built.rglob("*.po*"))
    assert shipped == sorted(
        [f"flask_halyk/translations/{locale}/LC_MESSAGES/flask_halyk.po"
         for locale in ("en", "kk", "ru")] + ["flask_halyk/translations/flask_halyk.pot"])
    where, message = _probe(str(built))
    assert where.startswith(str(built))
    assert message == "Электрондық пошта мекенжайын енгізіңіз, мысалы name@example.kz."
