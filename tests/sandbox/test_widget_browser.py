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
        js = ("halyk.showPaymentWidget(" + state["object"] + ", function (r) {"
              " document.getElementById('out').textContent = JSON.stringify(r); });")
        return Response(js, mimetype="text/javascript")

    app.config["STATE"] = state
    return app


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_widget(browser, sandbox_url: str, script_url: str, token_url: str, pan: str,
               invoice: str) -> tuple[str, list[str]]:
    auth = get_token(token_url, invoice).json()
    shop = shop_app(script_url, sandbox_url)
    shop.config["STATE"]["object"] = json.dumps(payment_object(auth, invoice))
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
