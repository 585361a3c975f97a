"""payment-api.js in headless Chromium: a shop page on one origin, the sandbox on another, under a
strict CSP, with the sandbox mounted both standalone and under a path prefix."""

from __future__ import annotations

import json
import threading

import pytest
from flask import Flask, Response
from sandbox_helpers import get_token, payment_object
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from flask_halyk.sandbox import SandboxServer, create_sandbox_app

pytestmark = pytest.mark.browser


def shop_app(script_url: str, sandbox_origin: str) -> Flask:
    app = Flask("widget-shop")
    state: dict[str, str] = {}

    @app.get("/")
    def page() -> Response:
        html = (f'<!doctype html><html><body><div id="out">waiting</div>'
                f'<script src="{script_url}"></script><script src="/shop.js"></script>'
                f'</body></html>')
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' {sandbox_origin}; "
            f"frame-src {sandbox_origin} 'self'; style-src 'self'")
        return response

    @app.get("/shop.js")
    def shop_js() -> Response:
        if state.get("mode") == "redirect":
            return Response("halyk.pay(" + state["object"] + ");", mimetype="text/javascript")
        js = ("halyk.showPaymentWidget(" + state["object"] + ", function (r) {"
              " document.getElementById('out').textContent = JSON.stringify(r); });"
              + state.get("extra_js", ""))
        return Response(js, mimetype="text/javascript")

    @app.get("/back/<outcome>")
    def back(outcome: str) -> Response:
        return Response(f"<!doctype html><p id='back'>{outcome}</p>", mimetype="text/html")

    app.config["STATE"] = state
    return app


def serve(app):
    # A server of our own per shop page: each test builds its shop app (and its payment object)
    # in the test, next to a sandbox on another origin; pytest-flask's live_server serves one
    # `app` fixture, chosen before the test runs.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_widget(browser, sandbox_url: str, script_url: str, token_url: str, pan: str,
               invoice: str, extra_js: str = "") -> tuple[str, list[str]]:
    auth = get_token(token_url, invoice).json()
    shop = shop_app(script_url, sandbox_url)
    shop.config["STATE"]["object"] = json.dumps(payment_object(auth, invoice))
    shop.config["STATE"]["extra_js"] = extra_js
    server = serve(shop)
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        frame = page.frame_locator("#halyk-sandbox-widget iframe")
        frame.locator("input[name=pan]").fill(pan)
        frame.locator("input[name=expiry]").fill("12/39")
        frame.locator("input[name=cvc]").fill("123")
        frame.locator("input[name=holder]").fill("ARMAN ALI")
        frame.locator("#pay").click()
        # No wait_for_function: the shop's CSP forbids the eval it relies on.
        page.wait_for_selector("#out:has-text('success')", timeout=15000)
        out = page.locator("#out").text_content() or ""
        assert page.locator("#halyk-sandbox-widget").count() == 0  # overlay closed
        return out, errors
    finally:
        page.close()
        server.shutdown()


def test_widget_standalone_cross_origin(browser):
    with SandboxServer() as sandbox:
        url = sandbox.url.replace("127.0.0.1", "localhost")  # another origin than the shop's
        out, errors = run_widget(browser, url, f"{url}/payform/payment-api.js", sandbox.url,
                                 "4405639704015096", "600001")
        assert json.loads(out) == {"success": True}
        out, errors2 = run_widget(browser, url, f"{url}/payform/payment-api.js", sandbox.url,
                                  "4003032704547597", "600002")
        assert json.loads(out) == {"success": False}
        assert not [e for e in errors + errors2 if "Content Security Policy" in e]


def test_widget_under_a_prefix(browser):
    sandbox_app = create_sandbox_app()
    host = Flask("host")
    host.wsgi_app = DispatcherMiddleware(host.wsgi_app, {"/halyk-sandbox": sandbox_app})
    with SandboxServer(host) as server:
        base = server.url.replace("127.0.0.1", "localhost")
        out, errors = run_widget(browser, base, f"{base}/halyk-sandbox/payform/payment-api.js",
                                 f"{server.url}/halyk-sandbox", "4405639704015096", "600003")
        assert json.loads(out) == {"success": True}
        assert not [e for e in errors if "Content Security Policy" in e]


def test_widget_ignores_messages_not_from_its_payment_page(browser):
    # The shop's own window (another origin than the sandbox's) claims a failure at once: the
    # widget must stay open, and only the payment page's own answer reaches callBk.
    forged = "window.postMessage(JSON.stringify({success: false}), '*');"
    with SandboxServer() as sandbox:
        url = sandbox.url.replace("127.0.0.1", "localhost")
        out, _ = run_widget(browser, url, f"{url}/payform/payment-api.js", sandbox.url,
                            "4405639704015096", "600004", extra_js=forged)
        assert json.loads(out) == {"success": True}


@pytest.mark.parametrize(("pan", "outcome"), [("4405639704015096", "ok"),
                                              ("4003032704547597", "fail")])
def test_pay_redirects_to_the_page_then_back_to_the_shop(browser, pan, outcome):
    with SandboxServer() as sandbox:
        url = sandbox.url.replace("127.0.0.1", "localhost")
        invoice = "600005" if outcome == "ok" else "600006"
        auth = get_token(sandbox.url, invoice).json()
        shop = shop_app(f"{url}/payform/payment-api.js", url)
        server = serve(shop)
        shop_url = f"http://127.0.0.1:{server.server_port}"
        shop.config["STATE"].update(mode="redirect", object=json.dumps(payment_object(
            auth, invoice, backLink=f"{shop_url}/back/ok",
            failureBackLink=f"{shop_url}/back/fail")))
        page = browser.new_page()
        try:
            page.goto(f"{shop_url}/")
            page.wait_for_url(f"{url}/payform/**", timeout=15000)
            assert page.locator("#sandbox-banner").is_visible()
            page.locator("input[name=pan]").fill(pan)
            page.locator("input[name=expiry]").fill("12/39")
            page.locator("input[name=cvc]").fill("123")
            page.locator("input[name=holder]").fill("ARMAN ALI")
            page.locator("#pay").click()
            page.wait_for_url(f"{shop_url}/back/{outcome}", timeout=15000)
            assert page.locator("#back").text_content() == outcome
        finally:
            page.close()
            server.shutdown()
