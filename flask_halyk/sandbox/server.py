"""Running a sandbox on a loopback port in a background thread."""

from __future__ import annotations

import threading
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from .app import create_sandbox_app
from .faults import Faults
from .instance import Sandbox
from .state import Delivery, Transaction


class SandboxServer:
    """A sandbox served by werkzeug (threaded) while the ``with`` block runs.

    ``url`` is its origin (``http://127.0.0.1:PORT``); ``port=0`` picks a free port.
    """

    def __init__(self, app: Flask | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app or create_sandbox_app()
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def sandbox(self) -> Sandbox:
        """The app's :class:`Sandbox`."""
        sandbox: Sandbox = self.app.extensions["halyk_sandbox"]
        return sandbox

    @property
    def faults(self) -> Faults:
        return self.sandbox.faults

    @property
    def transactions(self) -> list[Transaction]:
        return self.sandbox.transactions

    @property
    def deliveries(self) -> list[Delivery]:
        return self.sandbox.deliveries

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox server is not running")
        return f"http://{self.host}:{self._server.server_port}"

    def start(self) -> SandboxServer:
        """Start serving (idempotent)."""
        if self._server is None:
            self._server = make_server(self.host, self.port, self.app, threaded=True)
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            name="halyk-sandbox", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(5)
            self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
