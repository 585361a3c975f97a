from __future__ import annotations

import werkzeug.serving
from click.testing import CliRunner

from flask_halyk.sandbox.cli import sandbox_command


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
