"""``flask halyk config`` and the commands' care with the embedded sandbox."""

from __future__ import annotations

import json

from ledger_support import new_payment
from page_helpers import DISTINCT_SECRET, SHOP_TERMINAL, close, make_app


def test_config_shows_every_resolved_setting_and_no_secret(tmp_path):
    app = make_app(tmp_path, HALYK_ENV="test", HALYK_EXTERNAL_URL="https://shop.example.kz",
                   HALYK_CLIENT_ID="shop",
                   HALYK_CLIENT_SECRET=DISTINCT_SECRET, HALYK_TERMINAL_ID=SHOP_TERMINAL,
                   HALYK_TWO_STAGE=True, HALYK_POSTLINK_SECRET="postlink-" + DISTINCT_SECRET)
    try:
        result = app.test_cli_runner().invoke(args=["halyk", "config"])
        assert result.exit_code == 0, result.output
        shown = json.loads(result.output)
        assert shown["env"] == "test" and shown["two_stage"] is True
        assert shown["verify_with_status"] is True  # on by default with ePay's hosts
        assert shown["timeout"] == [5.0, 30.0] and shown["retries"] == 2
        assert shown["client_secret"] == shown["postlink_secret"] == "***"
        assert DISTINCT_SECRET not in result.output
    finally:
        close(app)


def test_reconcile_refuses_to_ask_a_sandbox_that_never_saw_the_payments(tmp_path):
    # The shop's payments were made through the sandbox of the web process; this (CLI) process
    # has its own, empty one: its "not found" must not expire anything.
    app = make_app(tmp_path)
    try:
        invoice = new_payment(app)
        result = app.test_cli_runner().invoke(
            args=["halyk", "reconcile", "--older-than", "0s", "--expire-after", "0s"])
        assert result.exit_code != 0
        assert "HALYK_SANDBOX_URL" in result.output
        assert app.extensions["halyk"].ledger.get(invoice).status == "new"
        status = app.test_cli_runner().invoke(args=["halyk", "status", invoice])
        assert status.exit_code == 0
        # Click 8.2 keeps stderr apart from stdout.
        assert "warning" in status.stderr and "flask halyk sandbox" in status.stderr
        assert "warning" not in status.stdout
    finally:
        close(app)


def test_reconcile_asks_its_own_sandbox_when_it_made_the_payments(tmp_path):
    app = make_app(tmp_path)
    try:
        halyk = app.extensions["halyk"].extension
        with app.test_request_context("/"):
            payment = halyk.create_payment(100, description="order")
        result = app.test_cli_runner().invoke(args=["halyk", "reconcile", "--older-than", "0s"])
        assert result.exit_code == 0, result.output
        assert payment.invoice_id in result.output
    finally:
        close(app)
