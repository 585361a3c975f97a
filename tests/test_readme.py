"""The README's first command, as a newcomer runs it: the example shop starts on the embedded
sandbox with no configuration and serves its catalogue and the payment script."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_starts_the_shop_with_flask_run(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert "flask --app examples.shop run" in readme
    port = _free_port()
    # A clean environment: no HALYK_* or SECRET_KEY from the caller, instance files in tmp_path.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALYK_", "FLASK_"))}
    env.pop("SECRET_KEY", None)
    env["SHOP_DATABASE"] = str(tmp_path / "shop.sqlite3")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "examples.shop", "run", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                page = requests.get(base + "/", timeout=5)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the shop did not start within 60 s"
                time.sleep(0.2)
        assert page.status_code == 200
        assert "Content-Security-Policy" in page.headers
        script = requests.get(base + "/halyk-sandbox/payform/payment-api.js", timeout=5)
        assert script.status_code == 200 and "showPaymentWidget" in script.text
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "SANDBOX" in output  # said loudly in the log
    assert f"Running on {base}" in output
