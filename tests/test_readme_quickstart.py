"""The README's quickstart, as a reader pastes it: its code blocks are taken from README.md (not
copied here) into an empty folder, `flask run` serves them, and Chromium pays through the widget
on the embedded sandbox, once with the approved test card and once with the declined one."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
APPROVED = "4405639704015096"
DECLINED = "4003032704547597"

pytestmark = pytest.mark.browser


def quickstart_files() -> dict[str, str]:
    """The files the Quickstart section names (a caption line with the file name in backticks,
    then its code block)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"`([\w./-]+)`:\s*\n\s*```\w*\n(.*?)```", section, re.DOTALL)
    return dict(blocks)


def test_the_quickstart_names_its_files() -> None:
    assert set(quickstart_files()) == {"app.py", "templates/pay.html"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    for name, text in quickstart_files().items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALYK_", "FLASK_"))}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "run", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/", timeout=5)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the quickstart did not start within 60 s"
                time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def pay(browser: Any, base: str, pan: str) -> dict[str, Any]:
    """Buy, pay in the widget's frame, and return what the order page says once final."""
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/")
        page.click("#buy")
        frame = page.frame_locator("iframe").first
        frame.locator("input[name=pan]").fill(pan)
        frame.locator("input[name=expiry]").fill(f"12/{(date.today().year + 1) % 100:02d}")
        frame.locator("input[name=cvc]").fill("123")
        frame.locator("input[name=holder]").fill("QUICK START")
        frame.locator("button[type=submit], #pay").first.click()
        page.wait_for_url(re.compile(r"/orders/\d+$"))
        order_url = page.url
        deadline = time.monotonic() + 15
        while True:
            order: dict[str, Any] = json.loads(requests.get(order_url, timeout=5).text)
            if order["status"] != "new" or time.monotonic() > deadline:
                return order
            time.sleep(0.1)
    finally:
        context.close()


def test_the_quickstart_takes_a_payment_and_a_decline(
        browser: Any, quickstart: tuple[str, subprocess.Popen[str]]) -> None:
    base, process = quickstart
    paid = pay(browser, base, APPROVED)
    declined = pay(browser, base, DECLINED)
    assert paid["status"] == "paid"
    assert declined["status"] == "failed"
    assert requests.get(f"{base}/orders/999999999", timeout=5).status_code == 404
    process.terminate()
    output = process.communicate(timeout=10)[0]
    # The receiver ran once, for the paid order only.
    assert output.count("paid: ") == 1 and f"paid: {paid['invoice_id']}" in output
