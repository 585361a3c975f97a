"""docs/dashboard.md's code run as written (mounting with access rules, the ledger's reads), and
docs/usage.md's operator transcript replayed command by command against the embedded sandbox."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from ledger_support import close_shop, make_shop, sandbox_of

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PYTHON = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)
CONSOLE = re.compile(r"^```console\n(.*?)^```$", re.M | re.S)


def blocks(page: str, pattern: re.Pattern[str]) -> list[str]:
    return pattern.findall((DOCS / page).read_text(encoding="utf-8"))


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Flask]:
    app = make_shop(f"sqlite:///{tmp_path / 'db' / 'halyk.sqlite3'}", tmp_path)
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


def pay(app: Flask, amount: int, **kwargs: Any) -> str:
    halyk = app.extensions["halyk"].extension
    with app.test_request_context("/"):
        payment = halyk.create_payment(amount, description="order", **kwargs)
    sandbox_of(app).pay(payment.to_js())
    sandbox_of(app).wait_for_postlinks(10)
    return str(payment.invoice_id)


def test_the_mounting_recipe_gives_each_role_its_pages(shop: Flask) -> None:
    mounting = next(b for b in blocks("dashboard.md", PYTHON) if "Dashboard(app" in b)
    exec(compile(mounting, "dashboard.md", "exec"), {"app": shop})
    invoice = pay(shop, 5000)
    client = shop.test_client()
    page = f"/halyk-admin/payments/{invoice}"
    assert client.get(page).status_code == 403
    for role, acts in (("staff", False), ("admin", True)):
        with client.session_transaction() as session:
            session["role"] = role
        html = client.get(page).get_data(as_text=True)
        assert ("Refund…" in html) is acts, role
        assert client.get(page + "/refund").status_code == (200 if acts else 403)


def test_the_reads_recipe_runs(shop: Flask) -> None:
    reads = next(b for b in blocks("dashboard.md", PYTHON) if "list_payments" in b)
    paid = pay(shop, 5000, account_id="client-7")
    pay(shop, 700, account_id="client-7")
    halyk = shop.extensions["halyk"].extension
    namespace: dict[str, Any] = {"halyk": halyk}
    with shop.app_context():
        exec(compile(reads, "dashboard.md", "exec"), namespace)
        # Page by page, one payment at a time.
        page = namespace["ledger"].list_payments(namespace["wanted"], limit=1)
        assert page.next_cursor is not None
    assert len(namespace["page"].payments) == 2
    assert namespace["story"].payment.account_id == "client-7"
    csv_text = "".join(namespace["lines"])
    assert paid in csv_text and csv_text.startswith("invoice_id,")


def test_the_operator_transcript_is_what_the_commands_print(shop: Flask) -> None:
    (transcript,) = [b for b in blocks("usage.md", CONSOLE) if "flask halyk refund" in b]
    invoice = "100483920"
    halyk = shop.extensions["halyk"].extension
    with shop.test_request_context("/"):
        payment = halyk.create_payment(5000, invoice_id=invoice, description="order")
    sandbox_of(shop).pay(payment.to_js())
    sandbox_of(shop).wait_for_postlinks(10)
    steps: list[tuple[str, list[str]]] = []
    for line in transcript.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    runner = shop.test_cli_runner()
    result = None
    ran = 0
    for command, expected in steps:
        if command == "echo $?":
            assert result is not None and [str(result.exit_code)] == expected
            continue
        words = shlex.split(command)
        assert words[:2] == ["flask", "halyk"], command
        answer = "y\n" if any(e.endswith("[y/N]: y") for e in expected) else None
        result = runner.invoke(args=words[1:], input=answer)
        ran += 1
        shown = result.output.splitlines()
        for line in expected:
            if line.endswith("..."):
                assert any(s.startswith(line[:-3]) for s in shown), (command, line, shown)
            else:
                assert line in shown, (command, line, shown)
    assert ran == 4
    assert shop.extensions["halyk"].ledger.get(invoice).refunded_amount == 200
