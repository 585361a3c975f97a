"""A requests adapter that answers a URL prefix from a WSGI app in the same process.

The embedded sandbox is a WSGI app living inside the shop's process. Mounting
:class:`WSGIAdapter` on the client's session (``session.mount("http://halyk-sandbox.internal",
WSGIAdapter(sandbox_app))``) lets :class:`~flask_halyk.epay.EpayClient` reach it through the
very same code path as the real bank, without a socket: no port to pick, and no deadlock when the
shop runs a single-threaded development server.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict
from urllib3.response import HTTPResponse
from werkzeug.test import EnvironBuilder, run_wsgi_app

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from requests import PreparedRequest

__all__ = ["WSGIAdapter"]

logger = logging.getLogger("flask_halyk.transport")

_Timeout = float | tuple[float | None, float | None] | None


class _Outcome:
    """What the worker thread hands back: the response parts, or the exception it met."""

    __slots__ = ("body", "error", "headers", "status")

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.error: BaseException | None = None


class WSGIAdapter(BaseAdapter):
    """Serve every request sent to the mounted prefix from ``app``, in-process.

    The adapter builds a WSGI environ from the prepared request (method, path, query string,
    headers, body), runs ``app`` and returns a real :class:`requests.Response`. It holds no
    per-request state, so one adapter serves many threads at once (the app itself must be
    thread-safe, as Flask apps are).

    The read timeout is honoured: the app runs in a worker thread, and a request that takes
    longer than the timeout raises :class:`requests.exceptions.ReadTimeout`, as a slow server
    would. An exception escaping the app becomes a ``500`` response, as a WSGI server answers.
    """

    def __init__(self, app: WSGIApplication, *, remote_addr: str = "127.0.0.1") -> None:
        super().__init__()
        self.app = app
        self.remote_addr = remote_addr

    def __repr__(self) -> str:
        return f"WSGIAdapter({self.app!r})"

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: _Timeout = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Run the app for ``request`` and return its answer as a :class:`requests.Response`."""
        environ = self._environ(request)
        outcome = _Outcome()
        worker = threading.Thread(
            target=self._run, args=(environ, outcome), name="halyk-wsgi-adapter", daemon=True
        )
        worker.start()
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        worker.join(read_timeout)
        if worker.is_alive():
            # The app keeps running to its end, as a server would after the client hung up.
            raise requests.exceptions.ReadTimeout(
                f"{request.method} {request.url}: the in-process app did not answer within "
                f"{read_timeout} s",
                request=request,
            )
        if outcome.error is not None:
            logger.error(
                "%s %s: the in-process app raised", request.method, request.url,
                exc_info=outcome.error,
            )
            outcome.status = "500 INTERNAL SERVER ERROR"
            outcome.headers = [("Content-Type", "text/plain; charset=utf-8")]
            outcome.body = b"Internal Server Error"
        return self._response(request, outcome)

    def close(self) -> None:
        """Nothing to release: the adapter holds no connections."""

    def _environ(self, request: PreparedRequest) -> dict[str, Any]:
        parts = urlsplit(request.url or "")
        builder = EnvironBuilder(
            path=parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method or "GET",
            # The body is whole by now: a chunked upload reaches the app with a length.
            headers=[
                (k, v) for k, v in request.headers.items() if k.lower() != "transfer-encoding"
            ],
            data=_body_bytes(request.body),
            environ_base={"REMOTE_ADDR": self.remote_addr},
            multithread=True,
        )
        try:
            return builder.get_environ()
        finally:
            builder.close()

    def _run(self, environ: dict[str, Any], outcome: _Outcome) -> None:
        # BaseException too: whatever escapes here would otherwise vanish with the thread.
        try:
            app_iter, status, headers = run_wsgi_app(self.app, environ, buffered=True)
            try:
                outcome.body = b"".join(app_iter)
            finally:
                close = getattr(app_iter, "close", None)
                if close is not None:
                    close()
            outcome.status = status
            outcome.headers = list(headers.items())
        except BaseException as exc:
            outcome.error = exc

    @staticmethod
    def _response(request: PreparedRequest, outcome: _Outcome) -> requests.Response:
        code_text, _, reason = outcome.status.partition(" ")
        status = int(code_text)
        if not reason:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = ""
        headers = HTTPHeaderDict()
        for name, value in outcome.headers:
            headers.add(name, value)
        raw = HTTPResponse(
            body=io.BytesIO(outcome.body),
            headers=headers,
            status=status,
            reason=reason,
            preload_content=False,
            decode_content=False,
            request_method=request.method,
            request_url=request.url,
        )
        response = requests.Response()
        response.status_code = status
        response.reason = reason
        response.headers = CaseInsensitiveDict(raw.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.url = request.url or ""
        response.request = request
        for name, value in outcome.headers:
            if name.lower() == "set-cookie":
                _store_cookie(response, value)
        return response


def _store_cookie(response: requests.Response, header: str) -> None:
    """Record a ``Set-Cookie`` value in ``response.cookies`` (name and value; the session's
    cookie policy is not emulated)."""
    pair = header.split(";", 1)[0]
    name, sep, value = pair.partition("=")
    if sep and name.strip():
        host = urlsplit(response.url).hostname or ""
        response.cookies.set(name.strip(), value.strip(), domain=host, path="/")


def _body_bytes(body: object) -> bytes:
    """The prepared body as bytes, whatever form requests left it in."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    read = cast(Callable[[], bytes | str] | None, getattr(body, "read", None))
    if read is not None:
        data = read()
        return data.encode("utf-8") if isinstance(data, str) else data
    chunks = cast(Iterable[bytes | str], body)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in chunks)
