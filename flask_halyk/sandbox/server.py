"""Running a sandbox on a loopback port in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from .app import create_sandbox_app
from .cards import APPROVED_CARD
from .faults import Faults
from .instance import Sandbox
from .options import Options
from .payer import PaymentResult
from .state import Delivery, Transaction

#: How often the serving thread looks whether :meth:`SandboxServer.stop` was called.
STOP_POLL_SECONDS = 0.02


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
    def options(self) -> Options:
        """The behaviour switches where the bank's material is silent (docs/sandbox.md)."""
        return self.sandbox.options

    @property
    def transactions(self) -> list[Transaction]:
        return self.sandbox.transactions

    @property
    def deliveries(self) -> list[Delivery]:
        return self.sandbox.deliveries

    def pay(self, payment_object: Mapping[str, Any], pan: str = APPROVED_CARD, *,
            expiry: str = "12/39", cvc: str = "123", holder: str = "TEST CARDHOLDER",
            secure_code: str | None = None, base_url: str | None = None,
            wait: float = 10) -> PaymentResult:
        """Pay ``payment_object`` on this sandbox's payment page without a browser: see
        :meth:`Sandbox.pay`. The postLink goes over HTTP to the shop's links."""
        return self.sandbox.pay(payment_object, pan, expiry=expiry, cvc=cvc, holder=holder,
                                secure_code=secure_code, base_url=base_url, wait=wait)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox server is not running")
        return f"http://{self.host}:{self._server.server_port}"

    def start(self) -> SandboxServer:
        """Start serving (idempotent)."""
        if self._server is None:
            self._server = make_server(self.host, self.port, self.app, threaded=True)
            # A short poll: stop() waits for the loop to look at its flag, which socketserver's
            # default (0.5 s) made cost every test with a sandbox of its own half a second.
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            args=(STOP_POLL_SECONDS,), name="halyk-sandbox",
                                            daemon=True)
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
