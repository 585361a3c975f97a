"""Helpers for the EpayClient tests: a fake ePay built from pytest-httpserver handlers."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from flask_halyk.epay import EpayClient

SECRET = "Cl13nt-S3cret-Never-Shown-0xBADC0DE"
CLIENT_ID = "shop-client"
TERMINAL = "67e34d63-102f-4bd1-898e-370781d0074d"
INVOICE = "000123456"
TX_ID = "5a1c7f2e-9b3d-4e8a-a1f0-3c2b1d0e9f87"
TOKEN_PATH = "/oauth2/token"
API_PREFIX = "/api"
STATUS_PATH = f"{API_PREFIX}/check-status/payment/transaction/{INVOICE}"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class TokenIssuer:
    """The OAuth endpoint: a new access token per call, every form it received kept."""

    def __init__(self, expires_in: Any = 7200, delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.delay = delay
        self.forms: list[dict[str, str]] = []
        self.content_types: list[str] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        if self.delay:
            threading.Event().wait(self.delay)
        with self._lock:
            self.forms.append(request.form.to_dict())
            self.content_types.append(request.content_type or "")
            n = next(self._counter)
        return json_response(
            {
                "access_token": f"TOKEN-{n}",
                "expires_in": self.expires_in,
                "refresh_token": "",
                "scope": "payment",
                "token_type": "Bearer",
                "extra_unknown": {"kept": True},
            }
        )

    @property
    def count(self) -> int:
        return len(self.forms)


def status_body(
    status_name: str | None = "CHARGE", result_code: Any = 100, message: str = "SUCCESS"
) -> dict[str, Any]:
    body: dict[str, Any] = {"resultCode": result_code, "resultMessage": message}
    if status_name is not None:
        body["transaction"] = {
            "id": TX_ID,
            "createdDate": "2024-07-29T10:50:56+05:00",
            "invoiceID": INVOICE,
            "amount": 12.5,
            "currency": "KZT",
            "terminalID": TERMINAL,
            "cardMask": "440564...5096",
            "reason": "",
            "reasonCode": "",
            "approvalCode": "157911",
            "reference": "411111111117",
            "statusName": status_name,
            "brandNew": "kept",
        }
    return body


def sequence(*responses: Response | Callable[[Request], Response]) -> Callable[[Request], Response]:
    """A handler answering each call with the next response; the last one repeats."""
    items = list(responses)
    lock = threading.Lock()
    calls = itertools.count()

    def handler(request: Request) -> Response:
        with lock:
            i = min(next(calls), len(items) - 1)
        item = items[i]
        return item if isinstance(item, Response) else item(request)

    return handler


def count(server: HTTPServer, path: str) -> int:
    """How many requests the server received for ``path``."""
    return sum(1 for request, _ in server.log if request.path == path)


def requests_to(server: HTTPServer, path: str) -> list[Request]:
    return [request for request, _ in server.log if request.path == path]


def make_client(server: HTTPServer, **kwargs: Any) -> EpayClient:
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "terminal_id": TERMINAL,
        "token_url": server.url_for(TOKEN_PATH),
        "api_url": server.url_for(API_PREFIX),
        "timeout": (2.0, 5.0),
        "retries": 2,
        "backoff": 0.01,
    }
    options.update(kwargs)
    return EpayClient(**options)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def threaded_server() -> Iterator[HTTPServer]:
    """A threaded HTTPServer (for handlers that sleep while others are served)."""
    server = HTTPServer(threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()
