"""payment-api.js in headless Chromium: a shop page on one origin, the sandbox on another, under a
strict CSP (style-src as HalykEpay.csp_sources gives it), with the sandbox mounted both
standalone and under a path prefix; the script's hand-over checked against the npm lz-string
1.4.4 package's output, and its surface and behaviour against the bank's."""

from __future__ import annotations

import json
import threading
from pathlib import Path

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
            f"frame-src {sandbox_origin} 'self'; style-src 'self' 'unsafe-inline'")
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
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
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
        frame = page.frame_locator(".widgetScreen iframe.iframeClass")
        frame.locator("input[name=pan]").fill(pan)
        frame.locator("input[name=expiry]").fill("12/39")
        frame.locator("input[name=cvc]").fill("123")
        frame.locator("input[name=holder]").fill("ARMAN ALI")
        frame.locator("#pay").click()
        # No wait_for_function: the shop's CSP forbids the eval it relies on.
        page.wait_for_selector("#out:has-text('success')", timeout=15000)
        out = page.locator("#out").text_content() or ""
        assert page.locator(".widgetScreen").count() == 0  # overlay closed
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


VECTORS = json.loads((Path(__file__).parent / "data" / "handover_vectors.json").read_text(
    encoding="utf-8"))


def bare_page(sandbox_url: str, before: str = "") -> Flask:
    """A page with no CSP that loads the sandbox's payment-api.js (``before``: a script first)."""
    app = Flask("bare-shop")

    @app.get("/")
    def page() -> Response:
        return Response(f"<!doctype html><html><head></head><body>{before}"
                        f'<script src="{sandbox_url}/payform/payment-api.js"></script>'
                        "</body></html>", mimetype="text/html")

    return app


def test_the_script_hands_over_as_the_npm_lz_string_package(browser):
    with SandboxServer() as sandbox:
        server = serve(bare_page(sandbox.url))
        page = browser.new_page()
        try:
            for vector in VECTORS:
                page.goto(f"http://127.0.0.1:{server.server_port}/")
                src = page.evaluate("""obj => {
                    halyk.showPaymentWidget(obj, function () {});
                    return document.querySelector('.widgetScreen .iframeBox .iframeHolder '
                                                  + 'iframe.iframeClass').src; }""",
                                    vector["object"])
                prefix = f"{sandbox.url}/payform/?params="
                assert src == prefix + vector["params"] + "&isShortForm=true"
        finally:
            page.close()
            server.shutdown()


def test_the_script_has_the_bank_surface_and_behaviour(browser):
    with SandboxServer() as sandbox:
        url = sandbox.url.replace("127.0.0.1", "localhost")
        auth = get_token(sandbox.url, "600010").json()
        bad = payment_object(auth, "600011")  # another invoice: the page cannot pay it
        server = serve(bare_page(url, before="<script>window.halyk = {mine: 1};</script>"))
        page = browser.new_page()
        try:
            page.goto(f"http://127.0.0.1:{server.server_port}/")
            surface = page.evaluate("""() => ({
                mine: halyk.mine, config: halyk.Config(),
                kinds: ['pay', 'showPaymentWidget', 'p2p', 'aft', 'oct'].map(
                    n => typeof halyk[n]) })""")
            assert surface["mine"] == 1  # an existing halyk object is extended, not replaced
            assert surface["kinds"] == ["function"] * 5
            assert surface["config"]["pageUrL"] == f"{url}/payform/"
            assert surface["config"]["origin"] == url
            page.evaluate("""obj => {
                window.calls = [];
                halyk.showPaymentWidget(obj, function (result) {
                    calls.push({result: result,
                                overlay: document.querySelectorAll('.widgetScreen').length});
                }); }""", bad)
            assert page.locator("head style").count() == 1
            style = page.locator("head style").text_content() or ""
            for name in ("widgetScreen", "iframeBox", "iframeHolder", "iframeClass"):
                assert "." + name in style
            assert page.locator(".widgetScreen button").count() == 0  # no close button
            # The page refuses the object and posts {"success": false}: the overlay closes,
            # callBk having run while it was still there (the bank's order).
            page.wait_for_selector(".widgetScreen", state="detached", timeout=15000)
            assert page.evaluate("calls") == [{"result": {"success": False}, "overlay": 1}]
        finally:
            page.close()
            server.shutdown()


def test_p2p_aft_oct_and_pay_navigate_with_the_bank_flags(browser):
    with SandboxServer() as sandbox:
        server = serve(bare_page(sandbox.url))
        page = browser.new_page()
        try:
            for call, flag in (("pay", ""), ("p2p", "&isTransfer=true"),
                               ("aft", "&isAFT=true"), ("oct", "&isOCT=true")):
                page.goto(f"http://127.0.0.1:{server.server_port}/")
                with page.expect_navigation():
                    page.evaluate(f"obj => halyk.{call}(obj)", VECTORS[0]["object"])
                assert page.url == (f"{sandbox.url}/payform/?params={VECTORS[0]['params']}"
                                    + flag)
        finally:
            page.close()
            server.shutdown()


def test_the_widget_shows_the_save_card_box_and_the_card_is_kept(browser):
    """cardSave with an accountId: a ticked, visible "save the card" box on the page; paid with
    it ticked, the bank keeps the card and the postLink's card has a cardId."""
    with SandboxServer() as sandbox:
        url = sandbox.url.replace("127.0.0.1", "localhost")
        auth = get_token(sandbox.url, "600010").json()
        shop = shop_app(f"{url}/payform/payment-api.js", url)
        shop.config["STATE"]["object"] = json.dumps(payment_object(auth, "600010",
                                                                   cardSave=True))
        server = serve(shop)
        page = browser.new_page()
        try:
            page.goto(f"http://127.0.0.1:{server.server_port}/")
            frame = page.frame_locator(".widgetScreen iframe.iframeClass")
            box = frame.locator("#save-card")
            box.wait_for(state="visible", timeout=15000)
            assert box.is_checked()
            assert "Сохранить карту" in (frame.locator("label.save-card").text_content() or "")
            frame.locator("input[name=pan]").fill("4405639704015096")
            frame.locator("input[name=expiry]").fill("12/39")
            frame.locator("input[name=cvc]").fill("123")
            frame.locator("input[name=holder]").fill("ARMAN ALI")
            frame.locator("#pay").click()
            page.wait_for_selector("#out:has-text('success')", timeout=15000)
        finally:
            page.close()
            server.shutdown()
        [card] = sandbox.sandbox.store.saved_cards.values()
        assert (card.account_id, card.card_mask) == ("testuser1", "440563...5096")
        assert sandbox.sandbox.transactions[-1].card_id == card.card_id
