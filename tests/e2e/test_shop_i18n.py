"""The example shop's gettext catalogs (translations/*.po, Flask-Babel): complete in ru, kk and
en, placeholders kept, compiled when the app is created and never committed as binaries."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from examples.shop import create_app, i18n
from examples.shop.catalogs import SOURCES, compile_catalogs

ROOT = Path(__file__).resolve().parents[2]


def catalog(locale: str):
    with (SOURCES / locale / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file, locale=locale)


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_each_catalog_has_every_text_of_the_shop(locale):
    messages = {message.context: message for message in catalog(locale) if message.id}
    assert set(messages) == set(i18n.MESSAGES)
    for key, english in i18n.MESSAGES.items():
        message = messages[key]
        assert message.id == english, key
        if locale == "en":
            continue  # the msgids are the English texts
        assert message.string and not message.fuzzy, key
        assert set(re.findall(r"{\w+}", message.string)) == set(re.findall(r"{\w+}", english)), key


def test_the_catalogs_are_sources_only():
    """No .mo next to the .po files, and none in git: they are compiled, not committed."""
    assert sorted(path.parent.parent.name for path in SOURCES.glob("*/LC_MESSAGES/*.po")) == [
        "en", "kk", "ru"]
    assert not list(SOURCES.rglob("*.mo"))
    tracked = subprocess.run(["git", "ls-files", "*.mo"], cwd=ROOT, capture_output=True,
                             text=True, check=False)
    assert tracked.returncode != 0 or tracked.stdout == ""


def test_compile_writes_each_catalog_once(tmp_path):
    target = compile_catalogs(tmp_path / "mo")
    compiled = sorted(target.rglob("*.mo"))
    assert [path.relative_to(target).parts[0] for path in compiled] == ["en", "kk", "ru"]
    stamps = [path.stat().st_mtime_ns for path in compiled]
    compile_catalogs(target)
    assert [path.stat().st_mtime_ns for path in compiled] == stamps


def test_the_shop_speaks_from_the_compiled_catalogs(tmp_path):
    shop = create_app({"SECRET_KEY": "unit", "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
                       "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"})
    directory = Path(shop.config["BABEL_TRANSLATION_DIRECTORIES"])
    assert (directory / "kk" / "LC_MESSAGES" / "messages.mo").is_file()
    with shop.test_request_context():
        assert i18n.text("buy", "kaz") == "Сатып алу"
        assert i18n.text("buy", "rus") == "Купить"
        assert i18n.text("buy", "eng") == "Buy"
        # One English word, two Russian ones: the key (msgctxt) tells them apart.
        assert i18n.text("status_refunded", "rus") != i18n.text("refunded_amount", "rus")
        assert "4405\u00a06397\u00a00401\u00a05096" in i18n.text("sandbox_card", "eng")
    client = shop.test_client()
    client.get("/language/kaz")
    page = client.get("/").get_data(as_text=True)
    assert "Сатып алу" in page and "45\u00a0000\u00a0₸" in page


@pytest.mark.parametrize("language", ["rus", "kaz", "eng"])
def test_the_checkout_takes_a_written_phone_and_says_the_format_when_it_refuses(tmp_path,
                                                                                 language):
    shop = create_app({"SECRET_KEY": "unit", "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
                       "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"})
    client = shop.test_client()
    client.get(f"/language/{language}")
    page = client.get("/products/tea/checkout").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    refused = client.post("/products/tea/checkout", data={
        "csrf_token": token, "quantity": "1", "phone": "+7 (701"})
    with shop.test_request_context():
        message = i18n.text("invalid_phone", language)
    assert "+7 701 123 45 67" in message
    assert refused.status_code != 302 and message in refused.get_data(as_text=True)
    placed = client.post("/products/tea/checkout", data={
        "csrf_token": token, "quantity": "1", "phone": "+7 (701) 123-45-67"})
    assert placed.status_code == 302
    ref = placed.headers["Location"].rsplit("/", 1)[1]
    # The payment object the widget sends to the bank: the number as the bank takes it.
    assert shop.extensions["shop_store"].get(ref).payment_object["phone"] == "+77011234567"
