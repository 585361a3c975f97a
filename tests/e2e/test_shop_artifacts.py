"""The harness keeps what a failed browser test saw: screenshots of its steps and of the end,
the page's HTML and its console, and nothing for a test that passed.

A browser test is made to fail in a child pytest that uses this directory's real fixtures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent

# The child's conftest: the suite's own `browser` and this directory's fixtures and report hook,
# loaded from their files, with the artifacts folder moved to where the parent looks.
CONFTEST = f"""
import importlib.util
import os
import sys
from pathlib import Path

sys.path[:0] = [{str(HERE.parent)!r}, {str(HERE)!r}]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


_suite = _load("halyk_suite_conftest", {str(HERE.parent / "conftest.py")!r})
_e2e = _load("halyk_e2e_conftest", {str(HERE / "conftest.py")!r})
_e2e.ARTIFACTS = Path(os.environ["HALYK_TEST_ARTIFACTS"])

browser = _suite.browser
shop_config, live_shop = _e2e.shop_config, _e2e.live_shop
browser_log, page, step = _e2e.browser_log, _e2e.page, _e2e.step
pytest_runtest_makereport = _e2e.pytest_runtest_makereport
"""

TESTS = """
def test_fails_on_purpose(page, step):
    page.goto("/")
    step("catalogue")
    page.goto("/products/tea/checkout")
    step("checkout")
    assert page.text_content("h1") == "a heading no page has"


def test_passes(page, step):
    page.goto("/")
    step("catalogue")
    assert page.locator("#product-tea").count() == 1
"""


def test_a_failed_browser_test_leaves_its_screenshots(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_child.py").write_text(TESTS, encoding="utf-8")
    artifacts = tmp_path / "artifacts"
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_child.py"],
        cwd=tmp_path, env={**os.environ, "HALYK_TEST_ARTIFACTS": str(artifacts)},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert child.returncode == 1, child.stdout + child.stderr
    assert "1 failed, 1 passed" in child.stdout, child.stdout

    # One folder, the failed test's; the passing one leaves nothing.
    folders = [p.name for p in artifacts.iterdir()]
    assert len(folders) == 1 and "test_fails_on_purpose" in folders[0], folders
    saved = artifacts / folders[0]
    assert sorted(p.name for p in saved.iterdir()) == [
        "01-catalogue.png", "02-checkout.png", "console.txt", "final.html", "final.png"]
    for png in saved.glob("*.png"):
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), png.name
        assert png.stat().st_size > 1000, png.name
    assert 'id="place-order"' in (saved / "final.html").read_text(encoding="utf-8")
