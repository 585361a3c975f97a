from __future__ import annotations

import json

import pytest
from flask import render_template_string
from jinja2 import DictLoader
from page_helpers import DISTINCT_SECRET, close, js_value, make_shop, scripts_of

from flask_halyk.config import SHOP_INTERNAL_ORIGIN
from flask_halyk.errors import HalykError

HOSTILE = "</script><script>alert(1)</script>"
PROTOCOL_FIELDS = {
    "invoiceId", "invoiceIdAlt", "backLink", "failureBackLink", "postLink", "failurePostLink",
    "language", "description", "accountId", "terminal", "amount", "name", "currency", "data",
    "auth", "email", "phone", "cardSave", "recurrent", "autoBackLink",
}
IMPORT = '{% from "halyk/macros.html" import halyk_script, halyk_widget, halyk_redirect %}'


@pytest.fixture
def shop(tmp_path):
    app = make_shop(tmp_path)
    yield app
    close(app)


def create(app, **kwargs):
    kwargs.setdefault("description", "Order 42")
    return app.extensions["halyk"].extension.create_payment(kwargs.pop("amount", 1500), **kwargs)


def render(template: str, **context) -> str:
    return render_template_string(IMPORT + template, **context)


def test_script_tag_absolute_in_embedded_sandbox(shop):
    with shop.test_request_context("/checkout", base_url="http://shop.test:8000/"):
        html = render('{{ halyk_script(nonce="n0nce", defer=True) }}')
    (attrs, body), = scripts_of(html).scripts
    assert attrs["src"] == "http://shop.test:8000/halyk-sandbox/payform/payment-api.js"
    assert attrs["nonce"] == "n0nce"
    assert "defer" in attrs
    assert body == ""


def test_script_tag_without_nonce_or_defer(shop):
    with shop.test_request_context("/"):
        html = render("{{ halyk_script() }}")
    (attrs, _), = scripts_of(html).scripts
    assert "nonce" not in attrs and "defer" not in attrs


def test_script_url_respects_external_url_and_script_root(tmp_path):
    app = make_shop(tmp_path, HALYK_EXTERNAL_URL="https://shop.example.kz")
    with app.test_request_context("/pay", base_url="http://10.0.0.5:8000/app"):
        html = render("{{ halyk_script() }}")
    close(app)
    (attrs, _), = scripts_of(html).scripts
    assert attrs["src"] == "https://shop.example.kz/app/halyk-sandbox/payform/payment-api.js"


def test_script_url_of_real_hosts_is_unchanged(tmp_path):
    app = make_shop(tmp_path, HALYK_ENV="test", HALYK_EXTERNAL_URL="https://shop.example.kz")
    with app.test_request_context("/"):
        html = render("{{ halyk_script() }}")
    close(app)
    (attrs, _), = scripts_of(html).scripts
    assert attrs["src"] == "https://test-epay.epayment.kz/payform/payment-api.js"


def test_widget_carries_the_payment_object(shop):
    with shop.test_request_context("/checkout", base_url="http://shop.test/"):
        payment = create(shop, name="Arman Ali", account_id="user-7", email="a@b.kz",
                         phone="77771234567", data={"order": 42}, invoice_id_alt="700001")
        html = render('{{ halyk_widget(p, nonce="n0nce") }}', p=payment)
    (attrs, body), = scripts_of(html).scripts
    assert attrs == {"nonce": "n0nce"}
    obj = js_value(body, "paymentObject")
    assert obj == payment.to_js()
    assert set(obj) <= PROTOCOL_FIELDS
    assert {"invoiceId", "invoiceIdAlt", "backLink", "failureBackLink", "postLink",
            "failurePostLink", "language", "description", "accountId", "terminal", "amount",
            "name", "currency", "data", "auth", "email", "phone"} <= set(obj)
    assert obj["auth"] == payment.token.raw  # the whole token response, not the string
    assert obj["invoiceId"] == payment.invoice_id and obj["amount"] == 1500
    # The embedded sandbox posts to the shop in-process: never where a request's Host says.
    assert obj["postLink"] == f"{SHOP_INTERNAL_ORIGIN}/halyk/postlink"
    assert obj["failurePostLink"] == f"{SHOP_INTERNAL_ORIGIN}/halyk/failure-postlink"
    assert obj["backLink"] == "http://shop.test/"  # the customer's own browser: its own Host
    assert json.loads(obj["data"]) == {"order": 42}
    assert "function createPaymentObject(auth, invoiceId, amount)" in body
    assert "window.halyk.showPaymentWidget(po, callBk)" in body
    assert js_value(body, "auto") is True
    assert js_value(body, "callbackPath") is None
    assert js_value(body, "mode") == "widget"


def test_hostile_values_stay_text(shop):
    with shop.test_request_context("/", base_url="http://shop.test/"):
        payment = create(
            shop, description=HOSTILE[:60], name=HOSTILE, account_id=HOSTILE + "'\"&",
            data={"note": HOSTILE}, back_link="http://shop.test/done?x=</script><b>",
        )
        html = render('{{ halyk_script(nonce=n) }}{{ halyk_widget(p, button=b, nonce=n) }}'
                      '{{ halyk_redirect(p, button=b, nonce=n) }}',
                      p=payment, n='"><script>alert(2)</script>', b="#pay'];</script>")
    parsed = scripts_of(html)
    assert len(parsed.scripts) == 3
    assert parsed.tags == ["script", "script", "script"]
    assert "<script>alert" not in html
    for attrs, _body in parsed.scripts:
        assert attrs["nonce"] == '"><script>alert(2)</script>'
    for _attrs, body in parsed.scripts[1:]:
        obj = js_value(body, "paymentObject")
        assert obj["description"] == HOSTILE[:60]
        assert obj["name"] == HOSTILE
        assert obj["accountId"] == HOSTILE + "'\"&"
        assert json.loads(obj["data"]) == {"note": HOSTILE}
        assert obj["backLink"] == "http://shop.test/done?x=</script><b>"
        assert js_value(body, "button") == "#pay'];</script>"


def test_a_payment_rebuilt_from_its_stored_object_renders_the_same(shop):
    from flask_halyk import Payment

    template = ('{{ halyk_widget(p, callback="shop.onPaid", button="#pay", nonce="n", '
                'auto=False) }}{{ halyk_redirect(p, button="#go", nonce="n") }}')
    with shop.test_request_context("/", base_url="http://shop.test/"):
        payment = create(shop, description=HOSTILE[:60], data={"note": HOSTILE})
        original = render(template, p=payment)
        stored = json.loads(json.dumps(payment.to_js()))
        rebuilt = render(template, p=Payment.from_js(stored))
    assert rebuilt == original
    for _attrs, body in scripts_of(rebuilt).scripts:
        assert js_value(body, "paymentObject") == payment.to_js()


def test_callback_path(shop):
    with shop.test_request_context("/"):
        payment = create(shop)
        html = render('{{ halyk_widget(p, callback="shop.checkout.onPaid", auto=False,'
                      ' button="pay") }}', p=payment)
        body = scripts_of(html).scripts[0][1]
        assert js_value(body, "callbackPath") == "shop.checkout.onPaid"
        assert js_value(body, "auto") is False
        assert js_value(body, "button") == "pay"
        for bad in ["alert(1)", "a..b", "1abc", "shop.onPaid;evil()", "", "a b", "x[0]"]:
            with pytest.raises(HalykError):
                render("{{ halyk_widget(p, callback=c) }}", p=payment, c=bad)


def test_redirect_uses_pay_and_waits_for_a_click_by_default(shop):
    with shop.test_request_context("/"):
        payment = create(shop)
        html = render('{{ halyk_redirect(p, button="#pay-now") }}', p=payment)
    (attrs, body), = scripts_of(html).scripts
    assert "nonce" not in attrs
    assert js_value(body, "mode") == "redirect"
    assert js_value(body, "auto") is False
    assert "window.halyk.pay(po)" in body
    assert js_value(body, "paymentObject") == payment.to_js()


def test_secret_never_rendered(shop):
    with shop.test_request_context("/"):
        payment = create(shop, description="x", name="n")
        html = render("{{ halyk_script(nonce='a') }}{{ halyk_widget(p, nonce='a') }}"
                      "{{ halyk_redirect(p, nonce='a') }}{{ p }}{{ p.token }}", p=payment)
    config = shop.extensions["halyk"].config
    assert DISTINCT_SECRET not in html
    assert DISTINCT_SECRET not in repr(payment) and DISTINCT_SECRET not in str(payment.to_js())
    assert config.postlink_secret.hex() not in html
    assert payment.token.secret_hash not in html  # the page needs no secret_hash either
    # The repr shows no usable token.
    assert payment.token.access_token not in repr(payment)


def test_app_templates_override_the_macros(shop):
    shop.jinja_loader = DictLoader({"halyk/macros.html": (
        "{% macro halyk_script(nonce=None, defer=False) %}OVERRIDDEN{% endmacro %}"
        "{% macro halyk_widget(payment) %}{% endmacro %}"
        "{% macro halyk_redirect(payment) %}{% endmacro %}")})
    with shop.test_request_context("/"):
        assert render("{{ halyk_script() }}") == "OVERRIDDEN"


def test_a_macros_file_in_the_app_template_folder_wins(tmp_path):
    from flask import Flask

    from flask_halyk import HalykEpay

    (tmp_path / "templates" / "halyk").mkdir(parents=True)
    (tmp_path / "templates" / "halyk" / "macros.html").write_text(
        "{% macro halyk_script(nonce=None, defer=False) %}SHOP'S OWN{% endmacro %}"
        "{% macro halyk_widget(payment) %}{% endmacro %}"
        "{% macro halyk_redirect(payment) %}{% endmacro %}")
    app = Flask("shop", root_path=str(tmp_path), instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="k", HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}")
    HalykEpay(app)
    try:
        with app.test_request_context("/"):
            assert render("{{ halyk_script() }}") == "SHOP'S OWN"
    finally:
        close(app)


def test_halyk_global_is_the_extension(shop):
    with shop.test_request_context("/"):
        assert render_template_string("{{ halyk.config.currency }}") == "KZT"


# --- in a real browser: the script waits for a slow, deferred payment-api.js ---------------------

STUB_LIBRARY = """
window.__calls = [];
window.halyk = {
  showPaymentWidget: function (obj, callBk) {
    window.__calls.push({kind: "widget", obj: obj});
    callBk({success: window.__succeed});
  },
  pay: function (obj) { window.__calls.push({kind: "pay", obj: obj}); }
};
"""

PAGE = IMPORT + """<!doctype html><html><body>
<script nonce="{{ n }}">window.__succeed = {{ succeed|tojson }}; window.__results = [];
window.shop = {onPaid: function (r) { window.__results.push(r); }};</script>
{{ halyk_script(nonce=n, defer=True) }}
{% if redirect %}{{ halyk_redirect(p, nonce=n, **opts) }}
{%- else %}{{ halyk_widget(p, nonce=n, **opts) }}{% endif %}
<p>{{ p.description }}</p>
<button id="pay">Pay</button>
</body></html>"""


@pytest.fixture
def live_shop(tmp_path):
    import secrets
    import threading
    import time

    from werkzeug.serving import make_server

    app = make_shop(tmp_path, HALYK_SCRIPT_URL="/stub/payment-api.js")
    payments = {}

    @app.get("/stub/payment-api.js")
    def stub_library():
        time.sleep(0.4)  # arrives well after the inline script has run
        return STUB_LIBRARY, 200, {"Content-Type": "text/javascript"}

    @app.get("/page/<int:number>")
    def page(number):
        from flask import request

        nonce = secrets.token_urlsafe(8)
        payment = payments[number]
        opts = {k: v for k, v in request.args.items() if k in ("callback", "button")}
        if request.args.get("auto") == "0":
            opts["auto"] = False
        redirect = request.args.get("redirect") == "1"
        if redirect:
            opts.pop("callback", None)
        html = render_template_string(PAGE, p=payment, n=nonce, opts=opts, redirect=redirect,
                                      succeed=request.args.get("ok") == "1")
        return html, 200, {"Content-Security-Policy":
                           f"script-src 'nonce-{nonce}'; object-src 'none'"}

    @app.get("/done")
    def done():
        return "done"

    # Served in this process, not by pytest-flask's live_server (a fork made when it starts):
    # the pages serve payments created below, once the server's URL is known, whose tokens only
    # this process's embedded sandbox issued.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    with app.test_request_context("/", base_url=base + "/"):
        for number in range(3):
            payments[number] = create(app, description=HOSTILE[:60] if number == 0 else "Tea",
                                      back_link="/done", failure_back_link="/done?failed=1")
    yield base, payments
    server.shutdown()
    close(app)


def _until(page, expression, timeout=10.0):
    # Not page.wait_for_function: its predicate is eval'd in the page, which the CSP forbids.
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never true: {expression}")


def _open(browser, url):
    page = browser.new_page()
    errors, violations = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: violations.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.goto(url)
    return page, errors, violations


@pytest.mark.browser
def test_widget_in_browser_waits_for_library_and_calls_back(live_shop, browser):
    base, payments = live_shop
    page, errors, violations = _open(browser, f"{base}/page/0?callback=shop.onPaid&ok=1")
    _until(page, "window.__results && window.__results.length === 1")
    calls = page.evaluate("window.__calls")
    assert [c["kind"] for c in calls] == ["widget"]
    assert calls[0]["obj"] == payments[0].to_js()
    assert page.evaluate("window.__results") == [{"success": True}]
    # The hostile description is text on the page, nothing ran from it.
    assert page.evaluate("document.querySelectorAll('script').length") == 3
    assert errors == [] and violations == []
    page.close()


@pytest.mark.browser
def test_widget_in_browser_default_callback_follows_the_back_links(live_shop, browser):
    base, _ = live_shop
    page, errors, _ = _open(browser, f"{base}/page/1?ok=0")
    page.wait_for_url(f"{base}/done?failed=1", timeout=10_000)
    page.goto(f"{base}/page/1?ok=1")
    page.wait_for_url(f"{base}/done", timeout=10_000)
    assert errors == []
    page.close()


@pytest.mark.browser
def test_widget_in_browser_opens_on_click_only(live_shop, browser):
    base, payments = live_shop
    page, errors, _ = _open(browser, f"{base}/page/2?button=pay&auto=0&callback=shop.onPaid")
    _until(page, "window.halyk !== undefined")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__calls") == []
    page.click("#pay")
    _until(page, "window.__calls.length === 1")
    assert page.evaluate("window.__calls")[0]["obj"]["invoiceId"] == payments[2].invoice_id
    assert errors == []
    page.close()


@pytest.mark.browser
def test_redirect_in_browser_calls_pay_on_click_only(live_shop, browser):
    base, payments = live_shop
    page, errors, violations = _open(browser, f"{base}/page/2?redirect=1&button=pay")
    _until(page, "window.halyk !== undefined")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__calls") == []
    page.click("#pay")
    _until(page, "window.__calls.length === 1")
    [call] = page.evaluate("window.__calls")
    assert call["kind"] == "pay" and call["obj"] == payments[2].to_js()
    assert errors == [] and violations == []
    page.close()
