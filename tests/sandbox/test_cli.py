from __future__ import annotations

import socket
import subprocess
import sys
import time

import requests
import werkzeug.serving
from click.testing import CliRunner
from flask import Flask
from sandbox_helpers import get_token

from flask_halyk import HalykEpay
from flask_halyk.config import TEST_CLIENT_SECRET
from flask_halyk.sandbox.cli import sandbox_command

SHOP_SECRET = "Shop-Secret-Never-Printed-42"
SHOP_TERMINAL = "11111111-2222-3333-4444-555555555555"


def test_sandbox_command_builds_and_runs_a_sandbox(monkeypatch):
    calls = []
    monkeypatch.setattr(werkzeug.serving, "run_simple",
                        lambda host, port, app, **kw: calls.append((host, port, app, kw)))
    result = CliRunner().invoke(sandbox_command, ["--port", "8799", "--two-stage"])
    assert result.exit_code == 0, result.output
    [(host, port, app, kw)] = calls
    assert (host, port, kw["threaded"]) == ("127.0.0.1", 8799, True)
    assert app.extensions["halyk_sandbox"].two_stage is True
    assert "http://127.0.0.1:8799" in result.output


def _shop(tmp_path, **config):
    app = Flask("shop", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="k", HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'l.sqlite3'}",
                      **config)
    HalykEpay(app)
    return app


def test_sandbox_command_knows_the_sandbox_shops_own_merchant(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(werkzeug.serving, "run_simple",
                        lambda host, port, app, **kw: calls.append(app))
    shop = _shop(tmp_path, HALYK_ENV="sandbox", HALYK_SANDBOX_URL="http://127.0.0.1:8799",
                 HALYK_CLIENT_ID="shop", HALYK_CLIENT_SECRET=SHOP_SECRET,
                 HALYK_TERMINAL_ID=SHOP_TERMINAL, HALYK_TWO_STAGE=True)
    result = shop.test_cli_runner().invoke(args=["halyk", "sandbox", "--port", "8799"])
    assert result.exit_code == 0, result.output
    sandbox = calls[0].extensions["halyk_sandbox"]
    assert sandbox.merchant("shop", SHOP_SECRET).terminal_id == SHOP_TERMINAL
    assert sandbox.merchant("test", TEST_CLIENT_SECRET) is not None
    assert sandbox.two_stage is True
    assert SHOP_SECRET not in result.output


def test_sandbox_command_never_takes_production_credentials(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(werkzeug.serving, "run_simple",
                        lambda host, port, app, **kw: calls.append(app))
    shop = _shop(tmp_path, HALYK_ENV="prod", HALYK_EXTERNAL_URL="https://shop.example.kz",
                 HALYK_CLIENT_ID="shop",
                 HALYK_CLIENT_SECRET=SHOP_SECRET, HALYK_TERMINAL_ID=SHOP_TERMINAL)
    assert shop.test_cli_runner().invoke(args=["halyk", "sandbox"]).exit_code == 0
    assert calls[0].extensions["halyk_sandbox"].merchant("shop", SHOP_SECRET) is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_flask_halyk_sandbox_serves_on_its_port(tmp_path):
    """The real command in a subprocess, asked over HTTP with the shop's own credentials."""
    port = _free_port()
    (tmp_path / "shopapp.py").write_text(f"""
from flask import Flask
from flask_halyk import HalykEpay
app = Flask("shop", instance_path={str(tmp_path)!r})
app.config.update(SECRET_KEY="k", HALYK_ENV="sandbox",
                  HALYK_SANDBOX_URL="http://127.0.0.1:{port}", HALYK_CLIENT_ID="shop",
                  HALYK_CLIENT_SECRET={SHOP_SECRET!r}, HALYK_TERMINAL_ID={SHOP_TERMINAL!r},
                  HALYK_DATABASE_URL="sqlite:///{tmp_path / 'l.sqlite3'}")
HalykEpay(app)
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "shopapp", "halyk", "sandbox", "--port",
         str(port)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        answer = None
        deadline = time.monotonic() + 30
        while answer is None and time.monotonic() < deadline:
            try:
                answer = get_token(f"http://127.0.0.1:{port}", client_id="shop",
                                   client_secret=SHOP_SECRET, terminal=SHOP_TERMINAL)
            except requests.ConnectionError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200, answer
        assert answer.json()["token_type"] == "Bearer"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "SANDBOX" in output and SHOP_SECRET not in output
