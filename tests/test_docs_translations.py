"""docs/translations.md's code blocks, taken from the page (not copied here) and run: Flask-Babel's
set-up makes the form speak Kazakh, the create_payment refusal recipe flashes the customer's
words and logs marshmallow's, the pybabel commands give a shop a German catalog the extension
uses, and the contributor's example runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po, write_po
from flask import Flask, get_flashed_messages
from flask_babel import Babel
from werkzeug.datastructures import MultiDict

from flask_halyk.extension import HalykEpay
from flask_halyk.forms import CheckoutForm

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "translations.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks() -> list[tuple[str, str]]:
    found = BLOCK.findall(PAGE)
    assert [language for language, _ in found] == ["python", "python", "bash", "bash", "python"]
    return found


def shop(tmp_path: Path) -> tuple[Flask, dict[str, Any]]:
    """An app with the page's first two Python blocks run in it (``app`` and ``halyk`` in
    scope, as the page assumes)."""
    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="test-secret-key",
                      HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    namespace: dict[str, Any] = {"app": app, "halyk": HalykEpay(app)}
    for index in (0, 1):
        exec(compile(blocks()[index][1], f"translations.md (block {index})", "exec"), namespace)
    return app, namespace


def test_flask_babels_set_up_makes_the_form_speak_the_customers_language(tmp_path):
    app, _ = shop(tmp_path)
    assert "babel" in app.extensions
    for language, email in (("kk", "Электрондық пошта мекенжайын енгізіңіз"),
                            ("ru", "Введите адрес электронной почты"),
                            ("en", "Enter an email address")):
        with app.test_request_context(headers={"Accept-Language": language}):
            form = CheckoutForm(MultiDict({"amount": "10", "description": "x", "email": "no"}))
            assert not form.validate()
            assert form.errors["email"][0].startswith(email)


def test_a_refusal_is_flashed_in_the_customers_words_and_logged_in_marshmallows(tmp_path,
                                                                              caplog):
    app, namespace = shop(tmp_path)
    with app.test_request_context(headers={"Accept-Language": "kk"}):
        assert namespace["start_payment"](1500, "not-an-email") is None
        assert get_flashed_messages() == [
            "Электрондық пошта мекенжайын енгізіңіз, мысалы name@example.kz."]
    assert "payment refused" in caplog.text and "Not a valid email address." in caplog.text
    with app.test_request_context(headers={"Accept-Language": "kk"}):
        assert namespace["start_payment"](1500, "arman@example.kz") is not None


def test_a_shop_adds_a_language_with_the_documented_commands(tmp_path):
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    init, compile_ = blocks()[2][1], blocks()[3][1]
    if not os.path.exists(os.path.join(bin_dir, "pybabel")):
        pytest.skip("pybabel is not installed next to this Python")
    subprocess.run(["bash", "-ec", init], cwd=tmp_path, env=env, check=True, capture_output=True,
                   timeout=60)
    source = tmp_path / "translations" / "de" / "LC_MESSAGES" / "flask_halyk.po"
    with source.open("rb") as file:
        catalog = read_po(file)
    catalog["Phone"].string = "Telefon"  # what the shop translates; the rest stays empty
    with source.open("wb") as file:
        write_po(file, catalog)
    subprocess.run(["bash", "-ec", compile_], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=60)
    app = Flask("shop", root_path=str(tmp_path))  # translations/ is the default directory
    Babel(app, locale_selector=lambda: "de")
    with app.test_request_context():
        form = CheckoutForm()
        assert str(form.phone.label.text) == "Telefon"
        assert str(form.amount.label.text) == "Amount"


def test_the_contributors_example_runs():
    namespace: dict[str, Any] = {}
    exec(compile(blocks()[4][1], "translations.md (contributors)", "exec"), namespace)
    assert str(namespace["TITLE"]) == "Payments"
    assert namespace["paid_today"](3) == "3 paid today"
