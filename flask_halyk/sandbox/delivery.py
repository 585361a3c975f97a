"""Sending postLinks from a background thread, as the bank does after a payment."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.test import Client

from ..config import SHOP_INTERNAL_ORIGIN
from .faults import Faults
from .links import http_url
from .state import Delivery, Store

log = logging.getLogger(__name__)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class PostLinkSender:
    """Delivers postLink bodies over a :class:`requests.Session`, or in-process to
    ``local_app`` when the URL's origin is one of ``local_origins()`` (the embedded sandbox:
    the shop's own origins, fixed by its settings, never by a request; the shop may be behind
    NAT or single-threaded). ``local_origins`` defaults to
    :data:`~flask_halyk.config.SHOP_INTERNAL_ORIGIN` alone."""

    def __init__(self, store: Store, faults: Faults, *, local_app: Flask | None = None,
                 local_origins: Callable[[], Iterable[str]] | None = None,
                 timeout: float = 10) -> None:
        self.store = store
        self.faults = faults
        self.local_app = local_app
        self.local_origins = local_origins or (lambda: (SHOP_INTERNAL_ORIGIN,))
        self.timeout = timeout
        self.session = requests.Session()
        #: Origin the bank was given -> origin the postLink is actually sent to, as a hosts
        #: file would have it (see :meth:`Sandbox.route_postlinks`).
        self.routes: dict[str, str] = {}
        self._threads: list[threading.Thread] = []
        # Payments finish on several request threads at once; join() must see every sender.
        self._threads_lock = threading.Lock()

    def send(self, url: str, body: dict[str, Any]) -> None:
        """Schedule delivery of ``body`` to ``url`` (honouring the fault switches)."""
        if not url:
            return
        if not http_url(url):
            # A link only a payment object can carry (the token endpoint takes http(s) only):
            # nothing the bank could POST to.
            self.store.record(Delivery(url, body, error="not an http(s) URL: not sent"))
            return
        if self.faults.drop_postlink:
            self.store.record(Delivery(url, body, error="dropped by fault switch"))
            return
        copies = 2 if self.faults.duplicate_postlink else 1
        delay = self.faults.postlink_delay
        local = self.local_app is not None and _origin(url) in {
            _origin(origin) for origin in self.local_origins()}
        thread = threading.Thread(target=self._run, args=(url, body, copies, delay, local),
                                  name="halyk-sandbox-postlink", daemon=True)
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def join(self, timeout: float = 10) -> None:
        """Wait for deliveries in flight (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, url: str, body: dict[str, Any], copies: int, delay: float,
             local: bool) -> None:
        if delay:
            time.sleep(delay)
        for _ in range(copies):
            delivery = Delivery(url, body, in_process=local)
            try:
                delivery.status = self._local(url, body) if local else self._http(url, body)
            except Exception as exc:  # a postLink failure must never kill the sandbox
                delivery.error = f"{type(exc).__name__}: {exc}"
                log.warning("sandbox postLink to %s failed: %s", url, delivery.error)
            self.store.record(delivery)

    def route(self, url: str) -> str:
        """Where a postLink for ``url`` is sent: ``url`` itself unless its origin is routed."""
        parts = urlsplit(url)
        to = self.routes.get(_origin(url))
        if to is None:
            return url
        return to.rstrip("/") + urlunsplit(("", "", parts.path or "/", parts.query, ""))

    def _http(self, url: str, body: dict[str, Any]) -> int:
        # Never followed: a 307/308 keeps the body, and with it the secret_hash, for whatever
        # host the answer names.
        response = self.session.post(self.route(url), json=body, timeout=self.timeout,
                                     allow_redirects=False)
        return response.status_code

    def _local(self, url: str, body: dict[str, Any]) -> int:
        assert self.local_app is not None
        parts = urlsplit(url)
        root, path = mount_point(self.local_app, parts.path or "/")
        client = Client(self.local_app)
        response = client.post(
            path, query_string=parts.query,
            base_url=f"{parts.scheme}://{parts.netloc}{root}",
            data=json.dumps(body), content_type="application/json",
        )
        status = response.status_code
        response.close()
        return status


def mount_point(app: Flask, path: str) -> tuple[str, str]:
    """``path`` split into the script root the shop is mounted at and the path inside it.

    A shop served under a prefix (``DispatcherMiddleware``, a proxy's ``SCRIPT_NAME``) names its
    postLink with that prefix, which the app's own routes do not carry: the shortest prefix
    whose rest is a POST route of ``app`` is taken as its root ("" when the path is one as is).
    """
    adapter = app.url_map.bind("localhost")
    segments = path.split("/")
    for cut in range(1, len(segments)):
        rest = "/" + "/".join(segments[cut:])
        try:
            adapter.match(rest, method="POST")
        except HTTPException:  # no such route here (or a redirect to one): a longer prefix
            continue
        return "/".join(segments[:cut]), rest
    return "", path
