"""The example shop's gettext catalogs (translations/*.po, Flask-Babel): complete in ru, kk and
en, placeholders kept, compiled when the app is created and never committed as binaries."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from examples.shop import create_app, i18n
from examples.shop.catalogs import SOURCES, compile_catalogs
from examples.shop.extensions import halyk
from flask_halyk import InvalidPayment

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


def _shop(tmp_path):
    return create_app({"SECRET_KEY": "unit", "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
                       "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"})


def _token(client, url):
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize(("language", "placed", "month"), [
    ("rus", "Оформлен: ", "дек."), ("kaz", "Рәсімделді: ", "жел."), ("eng", "Placed: ", "Dec")])
def test_dates_and_amounts_in_the_pages_language(tmp_path, language, placed, month):
    shop = _shop(tmp_path)
    client = shop.test_client()
    client.get(f"/language/{language}")
    token = _token(client, "/products/baursak/checkout")
    ref = client.post("/products/baursak/checkout", data={"csrf_token": token, "quantity": "3"}
                      ).headers["Location"].rsplit("/", 1)[1]
    order = shop.extensions["shop_store"].get(ref)
    with shop.test_request_context():
        shown = i18n.when(order.created_at, language)
    assert month in shown and shown.count(":") == 1  # date, then hours and minutes
    page = client.get(f"/orders/{ref}").get_data(as_text=True)
    assert f"{placed}{shown}" in page
    # The back office (flask-halyk's dashboard) writes the amount as the shop does, in the
    # same language, and its times in the shop's time zone (spelled the same in every
    # language).
    admin = client.get("/admin/").get_data(as_text=True)
    amount = i18n.money(order.amount, language)
    assert amount in page and "KZT" not in admin
    row = re.search(rf'id="payment-{order.invoice_id}".*?</tr>', admin, re.S).group(0)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert amount in cells
    assert order.created_at.astimezone(ZoneInfo(i18n.TIMEZONE)).strftime(
        "%Y-%m-%d %H:%M") in row


def test_dates_are_in_the_shops_time_zone():
    moment = datetime(2026, 12, 31, 20, 30, tzinfo=UTC)  # 1 January in Almaty
    # CLDR puts narrow or no-break spaces in some places; which ones changes between versions.
    def plain(text):
        return re.sub(r"\s", " ", text)

    assert plain(i18n.when(moment, "rus")) == "1 янв. 2027 г., 01:30"  # noqa: RUF001
    assert plain(i18n.when(moment.replace(tzinfo=None), "eng")) == "Jan 1, 2027, 1:30 AM"
    assert plain(i18n.when(moment, "kaz")) == "2027 ж. 01 қаң., 01:30"


def test_no_date_or_amount_is_formatted_by_hand():
    """Every date goes through when() (babel.dates) and every amount through money()/number()
    (babel.numbers): no strftime, no isoformat and no bare currency code on a page."""
    shop_dir = ROOT / "examples" / "shop"
    for path in [*shop_dir.glob("templates/shop/*.html"), shop_dir / "views.py"]:
        text = path.read_text(encoding="utf-8")
        assert "strftime" not in text and ".isoformat()" not in text, path.name
        assert not re.search(r"\{\{[^}]*\.currency\s*\}\}", text.replace(
            '{{ number(p.amount) }} {{ p.currency }}', "")), path.name
        assert not re.search(r"\{\{\s*[\w.]*amount\s*\}\}", text), path.name


@pytest.mark.parametrize("language", ["kaz", "rus"])
def test_a_refusal_of_create_payment_is_never_shown_in_marshmallows_english(
        tmp_path, monkeypatch, caplog, language):
    def refuse(*args, **kwargs):
        raise InvalidPayment({"email": ["Not a valid email address."]})

    shop = _shop(tmp_path)
    monkeypatch.setattr(halyk, "create_payment", refuse)
    client = shop.test_client()
    client.get(f"/language/{language}")
    token = _token(client, "/products/tea/checkout")
    refused = client.post("/products/tea/checkout", data={
        "csrf_token": token, "quantity": "1", "email": "arman@example.kz"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    with shop.test_request_context():
        assert i18n.text("invalid_email", language) in page
    assert "Not a valid" not in page
    # The developer still gets the detail.
    assert "Not a valid email address." in caplog.text
