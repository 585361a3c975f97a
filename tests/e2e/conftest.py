"""The browser harness: a fresh context per test on the session's Chromium (``browser`` in
tests/conftest.py), the example shop served on loopback per test (fresh SQLite ledger and order
store), screenshots on failure.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# `examples` is not installed with the package: the shop is imported from the checkout.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 15_000

# Collects CSP violations in every frame (the shop's pages and the payment page's iframe).
_VIOLATION_COLLECTOR = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI,
                               sample: e.sample, source: e.sourceFile, line: e.lineNumber});
});
"""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@dataclass
class LiveShop:
    """The example shop served on loopback."""

    url: str
    app: Any

    def ledger(self, invoice_id: str) -> Any:
        """The ledger's record of ``invoice_id``, read through the shop's own extension."""
        from examples.shop.extensions import halyk

        with self.app.app_context():
            return halyk.ledger.get(invoice_id)

    def order_by_invoice(self, invoice_id: str) -> Any:
        return self.app.extensions["shop_store"].by_invoice(invoice_id)

    @property
    def sandbox(self) -> Any:
        """The embedded sandbox (its ``faults`` switches, its transactions)."""
        return self.app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]


@pytest.fixture
def shop_config(tmp_path: Path) -> dict[str, Any]:
    """The shop's config for one test; a test may change it before asking for ``live_shop``."""
    return {
        "SECRET_KEY": "e2e-secret-key",
        "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
        "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
        "SHOP_DEMO_HOSTILE_PRODUCT": True,
    }


@pytest.fixture
def live_shop(shop_config: dict[str, Any]) -> Iterator[LiveShop]:
    """The shop on the embedded sandbox, served by werkzeug (threaded) on an ephemeral port.

    In this process, not by pytest-flask's live_server (a fork of the test's process): tests
    flip the embedded sandbox's fault switches and run `flask halyk reconcile` against the
    sandbox that saw the payments, both of which live in the serving process's memory."""
    from werkzeug.serving import make_server

    from examples.shop import create_app

    app = create_app(shop_config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), name="e2e-shop",
                              daemon=True)
    thread.start()
    try:
        yield LiveShop(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["halyk"].client.close()


@dataclass
class BrowserLog:
    """What the page said: console messages, uncaught errors, and CSP violations."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    steps: list[tuple[str, bytes]] = field(default_factory=list)

    def csp_problems(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m]


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(
    browser: Any, live_shop: LiveShop, browser_log: BrowserLog, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A fresh context and page on the live shop; on failure, screenshots of the recorded steps
    and of the final state, plus the console log, go to test-artifacts/<test>/."""
    context = browser.new_context(base_url=live_shop.url, viewport={"width": 1100, "height": 800})
    context.add_init_script(_VIOLATION_COLLECTOR)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda m: browser_log.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: browser_log.errors.append(str(e)))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        _save_artifacts(request.node.nodeid, page, browser_log)
    context.close()


def _save_artifacts(nodeid: str, page: Any, log: BrowserLog) -> None:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)
    folder.mkdir(parents=True, exist_ok=True)
    for index, (name, png) in enumerate(log.steps, 1):
        (folder / f"{index:02d}-{name}.png").write_bytes(png)
    try:
        page.screenshot(path=str(folder / "final.png"), full_page=True)
        (folder / "final.html").write_text(page.content(), encoding="utf-8")
    except Exception as exc:  # the page may have crashed: keep what we have
        (folder / "final-error.txt").write_text(str(exc), encoding="utf-8")
    (folder / "console.txt").write_text(
        "\n".join([*log.console, "--- uncaught errors ---", *log.errors]), encoding="utf-8"
    )


@pytest.fixture
def step(page: Any, browser_log: BrowserLog) -> Any:
    """``step("name")`` screenshots the page now; kept (and written) only if the test fails."""

    def take(name: str) -> None:
        browser_log.steps.append((name, page.screenshot()))

    return take
