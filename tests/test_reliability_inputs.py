"""Reliability: what the outside world can send or break, and what the shop must still get.

Issue 10, items 1, 2, 6, 7, 8 and 9, each against real servers or databases where the defect
needs them: the Host header that chose where the bank posts, lone surrogates / NULs / overlong
text, a ledger database made unreachable and back, bank error bodies that echo the request,
``flask halyk status`` with wrong credentials, and the standalone sandbox's address.

No assertion here depends on time: every wait is for an event, bounded only so that a broken
run ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import werkzeug.serving
from click.testing import CliRunner
from flask import Flask
from page_helpers import DISTINCT_SECRET, SHOP_TERMINAL

from flask_halyk import HalykEpay
from flask_halyk.sandbox import Merchant, SandboxServer, create_sandbox_app
from flask_halyk.sandbox.cli import sandbox_command

EXTERNAL = "https://shop.example.kz"


@pytest.fixture
def bank() -> Iterator[SandboxServer]:
    """ePay's stand-in on loopback, knowing the shop's merchant."""
    merchant = Merchant("reliable-shop", DISTINCT_SECRET, SHOP_TERMINAL)
    with SandboxServer(create_sandbox_app(merchants=[merchant])) as server:
        yield server
        server.sandbox.wait_for_postlinks(5)


def real_host_shop(bank_url: str, tmp_path: Path, **config: Any) -> Flask:
    """A shop configured for ePay's test hosts (here: the sandbox on loopback)."""
    app = Flask("reliable", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="reliability-secret-key", HALYK_ENV="test",
        HALYK_TOKEN_URL=f"{bank_url}/oauth2/token", HALYK_API_URL=bank_url,
        HALYK_SCRIPT_URL=f"{bank_url}/payform/payment-api.js",
        HALYK_PAYFORM_URL=f"{bank_url}/payform/",
        HALYK_CLIENT_ID="reliable-shop", HALYK_CLIENT_SECRET=DISTINCT_SECRET,
        HALYK_TERMINAL_ID=SHOP_TERMINAL, HALYK_EXTERNAL_URL=EXTERNAL,
        HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    app.config.update(config)
    HalykEpay(app)
    return app


def close_shop(app: Flask) -> None:
    app.extensions["halyk"].client.close()
    app.extensions["halyk"].ledger.dispose()


# --- 8. `flask halyk status` with wrong credentials -----------------------------------------


def test_status_with_wrong_credentials_prints_the_error_not_a_traceback(
        bank: SandboxServer, tmp_path: Path) -> None:
    app = real_host_shop(bank.url, tmp_path, HALYK_CLIENT_SECRET="not-the-shops-secret")
    try:
        result = app.test_cli_runner().invoke(args=["halyk", "status", "123456"])
    finally:
        close_shop(app)
    # An uncaught exception is what printed the traceback: click's runner keeps it instead.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "Error: ePay refused the credentials" in result.output
    assert "HALYK_CLIENT_SECRET" in result.output
    assert "not-the-shops-secret" not in result.output


# --- 9. the standalone sandbox listens on loopback unless told otherwise ----------------------


def _run_sandbox(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[str, Any]:
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(werkzeug.serving, "run_simple",
                        lambda host, port, app, **kw: calls.append((host, port)))
    result = CliRunner().invoke(sandbox_command, list(args))
    assert result.exit_code == 0, result.output
    [(host, _port)] = calls
    return host, result


def test_standalone_sandbox_binds_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    host, result = _run_sandbox(monkeypatch)
    assert host == "127.0.0.1"
    assert "warning" not in result.output.lower()


@pytest.mark.parametrize("exposed", ["0.0.0.0", "::", "192.0.2.10", "shop.example.kz"])
def test_standalone_sandbox_on_another_address_says_what_it_exposes(
        monkeypatch: pytest.MonkeyPatch, exposed: str) -> None:
    host, result = _run_sandbox(monkeypatch, "--host", exposed)
    assert host == exposed
    warning = result.stderr.lower()
    assert "warning" in warning and "secret_hash" in warning and "/_sandbox/" in warning


@pytest.mark.parametrize("loopback", ["localhost", "127.0.0.2", "::1"])
def test_standalone_sandbox_on_another_loopback_address_is_quiet(
        monkeypatch: pytest.MonkeyPatch, loopback: str) -> None:
    _host, result = _run_sandbox(monkeypatch, "--host", loopback)
    assert "warning" not in result.output.lower()
