"""docs/links-and-qr.md's code run as written against the embedded sandbox: a payment link, a
QR payment shown with the macro, polled, and the CLI line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from flask import Flask, render_template_string
from ledger_support import backend_shop, ledger_of, sandbox_of

from flask_halyk import PaymentStatus

DOC = (Path(__file__).resolve().parent.parent / "docs" / "links-and-qr.md").read_text(
    encoding="utf-8")
PYTHON = re.findall(r"^```python\n(.*?)^```$", DOC, re.M | re.S)
JINJA = re.findall(r"^```jinja\n(.*?)^```$", DOC, re.M | re.S)
CONSOLE = re.findall(r"^```console\n(.*?)^```$", DOC, re.M | re.S)


def run(app: Flask, code: str, namespace: dict[str, Any]) -> None:
    with app.test_request_context("/"):
        exec(compile(code, "links-and-qr.md", "exec"), namespace)


def test_the_pages_code_runs(tmp_path: Path, capsys: Any) -> None:
    assert len(PYTHON) == 3 and len(JINJA) == 1 and len(CONSOLE) == 1
    with backend_shop("sqlite", tmp_path) as app:
        app.add_url_rule("/orders/<invoice_id>/status", "order_status", lambda invoice_id: "")
        namespace: dict[str, Any] = {"halyk": app.extensions["halyk"].extension}
        run(app, PYTHON[0], namespace)
        link = namespace["link"]
        assert link.invoice_url in capsys.readouterr().out
        assert ledger_of(app).get(link.invoice_id).phone == "+77011234567"
        run(app, PYTHON[1], namespace)
        qr = namespace["qr"]
        with app.test_request_context("/"):
            html = render_template_string(JINJA[0], qr=qr)
        assert 'class="segno"' in html and f"/orders/{qr.invoice_id}/status" in html
        client = app.test_client()
        client.get(qr.homebank_link)
        client.post(qr.homebank_link, data={"action": "pay"})
        sandbox_of(app).sender.join()
        run(app, PYTHON[2], namespace)
        assert namespace["state"].qr_status == "PAID"
        assert namespace["state"].payment_status == PaymentStatus.PAID
        (line,) = [x for x in CONSOLE[0].splitlines() if x.startswith("$ ")]
        args = shlex.split(line[2:])
        assert args[:2] == ["flask", "halyk"]
        done = app.test_cli_runner().invoke(args=args[1:])
        assert done.exit_code == 0, done.output
        assert "sent to aigerim@example.kz: http" in done.output
