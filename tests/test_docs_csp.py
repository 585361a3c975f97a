"""docs/usage.md's two Content-Security-Policy recipes (a plain after_request, Flask-Talisman),
taken from the page's code blocks, not copied here: each one's header carries a fresh nonce per
response, the very nonce of every script the macros write, and csp_sources(); and in Chromium
the widget opens under it with no CSP violation."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string
from page_helpers import Scripts, close
from werkzeug.serving import make_server

from flask_halyk.extension import HalykEpay

ROOT = Path(__file__).resolve().parent.parent
SECTION = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8").split(
    "### With a Content-Security-Policy nonce", 1)[1].split("\n## ", 1)[0]
BLOCK = re.compile(r"^```(python|jinja)\n(.*?)^```$", re.M | re.S)


def recipes() -> dict[str, tuple[str, str]]:
    """Each recipe's Python block and the template lines that go with it (the jinja block
    after it)."""
    blocks = BLOCK.findall(SECTION)
    assert [language for language, _ in blocks] == ["python", "jinja"] * 2
    plain, talisman = blocks[1][1], blocks[3][1]
    assert "g.csp_nonce" in plain and "csp_nonce()" in talisman
    return {"after_request": (blocks[0][1], plain), "talisman": (blocks[2][1], talisman)}


PAGE = """{% from "halyk/macros.html" import halyk_script, halyk_widget %}
<!doctype html>
<html>
<body>
<button id="pay">Pay {{ payment.amount }}</button>
""" + "{}" + """
</body>
</html>
"""


def recipe_app(tmp_path: Path, recipe: str, **config: Any) -> Flask:
    """A shop on the embedded sandbox with the recipe's code run as written (``app`` and
    ``halyk`` in scope) and a page rendering the recipe's template lines."""
    python, template = recipes()[recipe]
    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="test-secret-key",
                      HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                      **config)
    halyk = HalykEpay(app)
    exec(compile(python, f"usage.md ({recipe})", "exec"), {"app": app, "halyk": halyk})
    page = PAGE.replace("{}", template)

    @app.get("/pay")
    def pay() -> str:
        payment = halyk.create_payment(1500, description="Tea")
        return render_template_string(page, payment=payment)

    return app


@pytest.fixture(params=["after_request", "talisman"])
def recipe(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    app = recipe_app(tmp_path, request.param)
    yield app
    close(app)


def directives(policy: str) -> dict[str, list[str]]:
    return {name: sources.split() for name, _, sources in
            (part.strip().partition(" ") for part in policy.split(";"))}


def test_the_recipes_are_the_two_of_the_page():
    assert set(recipes()) == {"after_request", "talisman"}


def test_every_script_carries_the_nonce_of_its_response(recipe):
    client = recipe.test_client()
    nonces = []
    for _ in range(2):
        response = client.get("/pay")
        assert response.status_code == 200
        policy = directives(response.headers["Content-Security-Policy"])
        (nonce,) = (source for source in policy["script-src"] if source.startswith("'nonce-"))
        nonces.append(nonce)
        parser = Scripts()
        parser.feed(response.get_data(as_text=True))
        assert len(parser.scripts) == 2  # payment-api.js and the widget's inline script
        assert {f"'nonce-{attributes.get('nonce')}'" for attributes, _ in parser.scripts} == {
            nonce}
        # The embedded sandbox's script and payment page are the shop's own paths.
        assert "'self'" in policy["script-src"] and policy["frame-src"] == ["'self'"]
        assert "'unsafe-inline'" in policy["style-src"]
        assert "'unsafe-inline'" not in policy["script-src"]
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert nonces[0] != nonces[1]


@pytest.mark.parametrize("name", ["after_request", "talisman"])
def test_the_recipes_take_the_bank_hosts_from_csp_sources(tmp_path, name):
    """With ePay's test hosts, the policy names them where csp_sources() says (no payment is
    made: the shop's root page carries the policy too)."""
    app = recipe_app(tmp_path, name, HALYK_ENV="test",
                     HALYK_EXTERNAL_URL="https://shop.example.kz")
    app.add_url_rule("/", "index", lambda: "shop")
    try:
        policy = directives(app.test_client().get("/").headers["Content-Security-Policy"])
    finally:
        close(app)
    assert "https://test-epay.epayment.kz" in policy["script-src"]
    assert set(policy["frame-src"]) == {"https://test-epay.epayment.kz",
                                        "https://test-epay.homebank.kz"}


# --- in Chromium ---------------------------------------------------------------------------------

VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture
def served(recipe: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, recipe, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.mark.browser
def test_the_widget_opens_styled_under_the_recipe_with_no_violation(browser, served):
    page = browser.new_page()
    try:
        page.add_init_script(VIOLATIONS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{served}/pay")
        page.click("#pay")
        page.wait_for_selector(".widgetScreen iframe.iframeClass")
        page.frame_locator(".widgetScreen iframe.iframeClass").locator("#card-form").wait_for()
        # The bank's injected <style> applied ('unsafe-inline' in style-src): the overlay is
        # fixed over the page.
        assert page.evaluate(
            "getComputedStyle(document.querySelector('.widgetScreen')).position") == "fixed"
        found = []
        for frame in page.frames:
            found.extend(frame.evaluate("window.__cspViolations || []"))
        assert found == [] and errors == []
    finally:
        page.close()
