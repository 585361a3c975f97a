"""The example shop without a browser: configuration, CSRF, headers, secrets, fulfilment."""

from __future__ import annotations

import json
import re

import pytest

from examples.shop import create_app
from examples.shop.store import OrderStore

SECRET = "Cl13nt-S3cr3t-Never-Rendered-0xBEEF"


@pytest.fixture
def app(request, tmp_path):
    """The example shop on the embedded sandbox, plus the test's ``@pytest.mark.options``
    settings (pytest-flask's ``client`` requests it; HALYK_* settings must reach create_app)."""
    options = {}
    for marker in reversed(list(request.node.iter_markers("options"))):
        options.update({key.upper(): value for key, value in marker.kwargs.items()})
    app = create_app(
        {
            "SECRET_KEY": "unit",
            "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
            "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
            **options,
        }
    )
    yield app
    app.extensions["halyk"].client.close()


def csrf_token(client, url):
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


# The next two build the shop themselves: their subject is what create_app makes of no
# configuration, or of the environment, which the `app` fixture's settings would hide.


def test_runs_with_no_configuration_at_all(tmp_path, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("HALYK_")]:
        monkeypatch.delenv(key)
    app = create_app({"SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
                      "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"})
    try:
        assert app.extensions["halyk"].config.env == "sandbox"
        assert app.config["SECRET_KEY"]
        assert app.test_client().get("/").status_code == 200
    finally:
        app.extensions["halyk"].client.close()


def test_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HALYK_LANGUAGE", "kaz")
    monkeypatch.setenv("SHOP_DEMO_HOSTILE_PRODUCT", "true")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app({"SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
                      "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"})
    try:
        assert app.config["SECRET_KEY"] == "from-env"
        assert app.config["SHOP_DEMO_HOSTILE_PRODUCT"] is True
        assert app.extensions["halyk"].config.language == "kaz"
    finally:
        app.extensions["halyk"].client.close()


def test_hostile_product_only_with_its_flag(client):
    assert "window.pwned" not in client.get("/").get_data(as_text=True)
    assert client.get("/products/hostile/checkout").status_code == 404


def test_checkout_without_csrf_token_is_refused(client):
    response = client.post("/products/tea/checkout", data={"quantity": "1"})
    assert response.status_code == 400


def test_checkout_creates_the_order_and_its_payment(app, client):
    token = csrf_token(client, "/products/baursak/checkout")
    response = client.post("/products/baursak/checkout", data={
        "csrf_token": token, "quantity": "2", "name": "Arman", "email": "", "phone": "",
        "language": "eng", "amount": "1",  # an amount from the customer is ignored
    })
    assert response.status_code == 302
    ref = response.headers["Location"].rsplit("/", 1)[1]
    order = app.extensions["shop_store"].get(ref)
    with app.app_context():
        record = app.extensions["halyk"].ledger.get(order.invoice_id)
    assert record.amount == 4800 and record.language == "eng" and record.status == "new"
    page = client.get(f"/orders/{ref}").get_data(as_text=True)
    assert 'id="pay-widget"' in page and "payment-api.js" in page


def test_the_pay_page_survives_a_reload_and_refuses_a_spoilt_object(app, client):
    token = csrf_token(client, "/products/tea/checkout")
    ref = client.post("/products/tea/checkout", data={"csrf_token": token, "quantity": "1"}
                      ).headers["Location"].rsplit("/", 1)[1]
    store = app.extensions["shop_store"]
    order = store.get(ref)
    first, second = (client.get(f"/orders/{ref}").get_data(as_text=True) for _ in range(2))
    assert 'id="pay-widget"' in first and 'id="pay-redirect"' in first
    # The same object on every render: the one create_payment built, rebuilt by from_js.
    objects = re.findall(r"var paymentObject = (.*?);\n", second)
    assert len(objects) == 2
    assert all(json.loads(o) == order.payment_object for o in objects)
    spoilt = {**order.payment_object, "amount": "1.234"}
    store.attach_payment(ref, order.invoice_id, spoilt)
    page = client.get(f"/orders/{ref}")
    assert page.status_code == 200
    assert 'id="pay-widget"' not in page.get_data(as_text=True)


def test_every_page_sends_the_strict_policy(client):
    for url in ("/", "/products/tea/checkout", "/admin/", "/no-such-page"):
        policy = client.get(url).headers["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        # The nonce and the embedded sandbox's script, in any order (Talisman puts the nonce
        # last).
        script_src = directives["script-src"].split()
        assert len(script_src) == 2 and "'self'" in script_src, url
        assert any(re.fullmatch(r"'nonce-[\w-]{20,}'", source) for source in script_src), url
        # Inline style only, for the <style> the bank's script injects: scripts stay strict.
        assert directives["style-src"] == "'self' 'unsafe-inline'"
        assert "unsafe-inline" not in directives["script-src"]
        assert "frame-ancestors 'none'" in policy


@pytest.mark.options(halyk_env="test", halyk_external_url="https://shop.example.kz")
def test_the_policy_allows_the_real_epay_hosts_from_csp_sources(client):
    policy = client.get("/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    nonce, = (source for source in directives["script-src"].split()
              if re.fullmatch(r"'nonce-[\w-]{20,}'", source))
    assert sorted(directives["script-src"].split()) == sorted(
        [nonce, "https://test-epay.epayment.kz"])
    assert directives["frame-src"] == ("https://test-epay.epayment.kz "
                                       "https://test-epay.homebank.kz")
    assert directives["form-action"] == ("'self' https://test-epay.epayment.kz "
                                         "https://test-epay.homebank.kz")
    assert directives["connect-src"] == "'self'"


def test_language_switch_never_redirects_off_site(client):
    response = client.get("/language/kaz?next=//evil.example/")
    assert response.headers["Location"] == "/"
    assert client.get("/language/xxx").status_code == 404
    assert 'lang="kk"' in client.get("/").get_data(as_text=True)


@pytest.mark.options(halyk_env="sandbox", halyk_client_id="shop", halyk_client_secret=SECRET,
                     halyk_terminal_id="11111111-2222-3333-4444-555555555555",
                     shop_demo_hostile_product=True)
def test_client_secret_never_rendered(client):
    token = csrf_token(client, "/products/tea/checkout")
    response = client.post("/products/tea/checkout", data={"csrf_token": token,
                                                            "quantity": "1"})
    order_url = response.headers["Location"]
    pages = [client.get(url) for url in ("/", "/products/tea/checkout", order_url,
                                         order_url + "/status.json", "/admin/")]
    assert 'id="pay-widget"' in pages[2].get_data(as_text=True)
    for page in pages:
        assert SECRET not in page.get_data(as_text=True)
        assert SECRET not in str(page.headers)


def test_fulfilment_is_recorded_once(tmp_path):
    store = OrderStore(str(tmp_path / "orders.sqlite3"))
    order = store.create(product_id="tea", quantity=1, amount=1500, language="rus")
    store.attach_payment(order.ref, "100200300", {"invoiceId": "100200300"})
    assert store.mark_fulfilled("100200300") is True
    assert store.mark_fulfilled("100200300") is False
    assert store.mark_fulfilled("999999999") is False
    assert store.get(order.ref).fulfilled_at is not None


def visible_text(html):
    """The text a visitor reads (and the attribute texts a screen reader or a script shows),
    without scripts and styles."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts, self.skip = [], 0

        def handle_starttag(self, tag, attrs):
            self.skip += tag in ("script", "style")
            for name, value in attrs:
                shown = name in ("placeholder", "aria-label", "title", "alt")
                if value and (shown or name.startswith("data-text-")):
                    self.parts.append(value)

        def handle_endtag(self, tag):
            self.skip -= tag in ("script", "style")

        def handle_data(self, data):
            if not self.skip:
                self.parts.append(data)

    reader = Reader()
    reader.feed(html)
    return " ".join(reader.parts)


# Latin words a Russian or Kazakh page may show: the brand, the language menu, currency and
# the bank's status names (data, not text).
NOT_ENGLISH = {"Dombra", "Tea", "flask", "halyk", "Eng", "English", "KZT", "AUTH", "CHARGE",
               "REFUND", "CANCEL", "FAILED"}


@pytest.mark.parametrize("language", ["rus", "kaz"])
def test_every_text_of_the_shop_speaks_the_visitors_language(app, client, language):
    from flask_halyk.ledger import BankReport, PaymentStatus

    client.get(f"/language/{language}")
    pages = [client.get("/").get_data(as_text=True)]
    token = csrf_token(client, "/products/tea/checkout")
    refused = client.post("/products/tea/checkout", data={
        "csrf_token": token, "quantity": "99", "email": "not-an-email", "phone": "x",
        "language": "xx"})
    pages.append(refused.get_data(as_text=True))
    ledger, store = app.extensions["halyk"].ledger, app.extensions["shop_store"]
    refs = []
    for product, news in [("tea", None), ("baursak", BankReport(PaymentStatus.PAID, "t1")),
                          # The bank's reason is English: the page must say it from the code.
                          ("dombra", BankReport(PaymentStatus.FAILED, "t2", reason_code=465,
                                          reason="card blocked")),
                          ("tea", BankReport(PaymentStatus.AUTHORIZED, "t3"))]:
        response = client.post(f"/products/{product}/checkout",
                               data={"csrf_token": token, "quantity": "1"})
        ref = response.headers["Location"].rsplit("/", 1)[1]
        refs.append(ref)
        if news is not None:
            with app.app_context():
                ledger.apply(store.get(ref).invoice_id, news)
    with app.app_context():
        ledger.record_refund(store.get(refs[1]).invoice_id, __import__("decimal").Decimal(100))
    store.mark_fulfilled(store.get(refs[1]).invoice_id)
    for ref in refs:
        pages.append(client.get(f"/orders/{ref}").get_data(as_text=True))
        status = client.get(f"/orders/{ref}/status.json").get_json()
        pages.append(" ".join(str(status[key] or "") for key in ("label", "message")))
    pages.append(client.post(f"/orders/{refs[1]}/retry", data={"csrf_token": token},
                             follow_redirects=True).get_data(as_text=True))
    text = " ".join(visible_text(page) for page in pages)
    # The pages did show what they should: statuses, messages, errors, flashes. (The back
    # office is flask-halyk's dashboard, in the staff's language: tests/test_dashboard.py.)
    from examples.shop.i18n import text as label

    for key in ("status_partially_refunded", "status_failed", "message_failed",
                "status_authorized", "message_authorized", "invalid_quantity", "fulfilled",
                "invalid_email", "nothing_to_retry", "refunded_amount", "reason_card_blocked",
                "place_order", "sandbox_card"):
        assert label(key, language) in text, key
    english = set(re.findall(r"[A-Za-z]{2,}", text)) - NOT_ENGLISH
    assert english == set(), sorted(english)


def place(client, product="tea", quantity="1"):
    """Check out ``product``; returns the order's ref."""
    token = csrf_token(client, f"/products/{product}/checkout")
    response = client.post(f"/products/{product}/checkout",
                           data={"csrf_token": token, "quantity": quantity})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


@pytest.mark.parametrize(
    ("code", "reason_key"),
    [(465, "reason_card_blocked"), (484, "reason_insufficient_funds"),
     (473, "reason_secure_code"), (499, "reason_secure_code"), (464, None), (-498, None),
     (None, None)],
)
def test_a_decline_says_why_from_the_reason_code_never_in_the_banks_words(app, client, code,
                                                                         reason_key):
    from examples.shop.i18n import text
    from flask_halyk.ledger import BankReport, PaymentStatus

    client.get("/language/kaz")
    ref = place(client)
    store = app.extensions["shop_store"]
    with app.app_context():
        app.extensions["halyk"].ledger.apply(
            store.get(ref).invoice_id,
            BankReport(PaymentStatus.FAILED, "t9", reason_code=code, reason="Bank Says Something"))
    expected = text("message_failed", "kaz") + (
        f": {text(reason_key, 'kaz')}." if reason_key else ".")
    page = client.get(f"/orders/{ref}").get_data(as_text=True)
    assert f">{expected}</p>" in page
    assert client.get(f"/orders/{ref}/status.json").get_json()["message"] == expected
    assert "Bank Says Something" not in page


def test_amounts_read_as_the_visitors_language_writes_them(client):
    from decimal import Decimal

    from examples.shop.i18n import money, number

    assert money(Decimal(45000), "rus") == "45\u00a0000\u00a0₸"
    assert money(Decimal("1234.5"), "kaz") == "1\u00a0234,50\u00a0₸"
    assert money(Decimal("1234.5"), "eng") == "1\u00a0234.50\u00a0₸"
    assert number(Decimal("400.00"), "rus") == "400"
    assert "45\u00a0000\u00a0₸" in client.get("/").get_data(as_text=True)
    ref = place(client, "tea", quantity="3")
    assert "4\u00a0500\u00a0₸" in client.get(f"/orders/{ref}").get_data(as_text=True)


def test_every_post_needs_the_csrf_token(app, client):
    ref = place(client)
    invoice_id = app.extensions["shop_store"].get(ref).invoice_id
    for url in (f"/orders/{ref}/retry", f"/admin/payments/{invoice_id}/refund",
                f"/admin/payments/{invoice_id}/cancel", "/products/tea/checkout"):
        assert client.post(url, data={"amount": "10"}).status_code == 400, url
    with app.app_context():
        assert app.extensions["halyk"].ledger.get(invoice_id).status == "new"


def test_the_shop_uses_only_the_public_api():
    """The shop reads like a shop's code: ``from flask_halyk import ...`` only, no module of
    the package reached into."""
    import ast
    from pathlib import Path

    import flask_halyk

    found = []
    for path in Path(__file__).resolve().parents[2].joinpath("examples", "shop").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("flask_halyk"):
                found.append(node.module)
                assert node.module == "flask_halyk", f"{path.name} imports {node.module}"
                assert {a.name for a in node.names} <= set(flask_halyk.__all__), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("flask_halyk") for a in node.names), path.name
    assert found  # the scan did see the shop's imports


@pytest.mark.parametrize(("refund", "on_its_way"), [(None, True), ("100", True),
                                                   ("1500", False)])
def test_a_refunded_order_is_not_on_its_way(app, client, refund, on_its_way):
    from decimal import Decimal

    from flask_halyk.ledger import BankReport, PaymentStatus

    ref = place(client)  # tea: 1 500 tenge
    store, ledger = app.extensions["shop_store"], app.extensions["halyk"].ledger
    invoice_id = store.get(ref).invoice_id
    with app.app_context():
        ledger.apply(invoice_id, BankReport(PaymentStatus.PAID, "t1"))
        if refund is not None:
            ledger.record_refund(invoice_id, Decimal(refund))
    store.mark_fulfilled(invoice_id)
    page = client.get(f"/orders/{ref}").get_data(as_text=True)
    assert ('<p id="fulfilled">' in page) is on_its_way
    assert client.get(f"/orders/{ref}/status.json").get_json()["fulfilled"] is on_its_way
    if refund == "100":
        assert '<span id="refunded-amount">100\u00a0₸</span>' in page


def test_a_remembered_card_pays_the_next_order_in_one_click_and_can_be_removed(app, client):
    store, ledger = app.extensions["shop_store"], app.extensions["halyk"].ledger
    sandbox = app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]
    token = csrf_token(client, "/products/tea/checkout")
    first = client.post("/products/tea/checkout", data={
        "csrf_token": token, "quantity": "1", "save_card": "y"})
    order = store.get(first.headers["Location"].rsplit("/", 1)[1])
    assert order.payment_object["cardSave"] is True
    sandbox.pay(order.payment_object)
    sandbox.wait_for_postlinks(10)
    page = client.get("/account/cards").get_data(as_text=True)
    assert "440563...5096" in page
    checkout = client.get("/products/tea/checkout").get_data(as_text=True)
    card_id = re.search(r'name="card_id" value="([^"]+)"', checkout).group(1)
    again = client.post("/products/tea/checkout", data={
        "csrf_token": token, "quantity": "2", "card_id": card_id})
    repeat = store.get(again.headers["Location"].rsplit("/", 1)[1])
    sandbox.wait_for_postlinks(10)
    with app.app_context():
        paid = ledger.get(repeat.invoice_id)
    assert paid.status == "paid" and paid.card_id == card_id and paid.amount == repeat.amount
    removed = client.post(f"/account/cards/{card_id}/remove", data={"csrf_token": token},
                          follow_redirects=True).get_data(as_text=True)
    assert "440563...5096" not in removed
    # A removed card is refused; the order goes to the bank's page instead.
    fallback = client.post("/products/tea/checkout", data={
        "csrf_token": token, "quantity": "1", "card_id": card_id}, follow_redirects=True)
    assert fallback.status_code == 200
    last = store.get(fallback.request.path.rsplit("/", 1)[1])
    assert last.payment_object and last.payment_object["amount"]


def test_the_tea_club_is_a_monthly_subscription_renewed_by_charge_due(app, client):
    store = app.extensions["shop_store"]
    sandbox = app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]
    token = csrf_token(client, "/products/tea/checkout")
    first = client.post("/products/tea/checkout", data={
        "csrf_token": token, "quantity": "1", "save_card": "y"})
    sandbox.pay(store.get(first.headers["Location"].rsplit("/", 1)[1]).payment_object)
    sandbox.wait_for_postlinks(10)
    page = client.get("/account/cards").get_data(as_text=True)
    card_id = re.search(r'name="card_id" value="([^"]+)"', page).group(1)
    assert 'id="tea-club"' in page and "4\u00a0900\u00a0₸" in page
    joined = client.post("/account/tea-club", data={"csrf_token": token, "card_id": card_id},
                         follow_redirects=True).get_data(as_text=True)
    assert 'id="tea-club-status"' in joined
    before = len(sandbox.transactions)
    result = app.test_cli_runner().invoke(args=["halyk", "charge-due"])
    sandbox.wait_for_postlinks(10)
    assert result.exit_code == 0 and "renewed 1," in result.output, result.output
    [renewal] = sandbox.transactions[before:]
    assert renewal.amount == 4900 and renewal.payment["recurrent"] is True
    assert app.test_cli_runner().invoke(args=["halyk", "charge-due"]).output.startswith(
        "renewed 0,")
    [sub] = app.extensions["halyk"].ledger.subscriptions()
    left = client.post(f"/account/tea-club/{sub.id}/cancel", data={"csrf_token": token},
                       follow_redirects=True)
    assert left.status_code == 200
    assert app.extensions["halyk"].ledger.subscription(sub.id).cancel_at_period_end
    # Another visitor cannot cancel it, nor join with this card.
    with client.session_transaction() as session:
        session["account_id"] = "another-visitor"
    assert client.post(f"/account/tea-club/{sub.id}/cancel",
                       data={"csrf_token": token}).status_code == 404
    assert client.post("/account/tea-club", data={"csrf_token": token,
                                                  "card_id": card_id}).status_code == 404
