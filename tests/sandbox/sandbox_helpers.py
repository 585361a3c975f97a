from __future__ import annotations

import json
import re
import threading
from typing import Any

import requests
from flask import Flask, request
from page_helpers import bank_params
from werkzeug.serving import make_server

from flask_halyk.config import TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TERMINAL_ID


class Receiver:
    """A real Flask app on loopback recording postLinks (in this process's memory, where the
    test reads them: pytest-flask's ``live_server`` would serve a forked copy, and it serves the
    `app` fixture, which is the shop, not this receiver)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any], str]] = []
        self.event = threading.Event()
        app = Flask("receiver")

        @app.post("/<path:path>")
        def hook(path: str) -> str:
            self.bodies.append((path, json.loads(request.get_data()), request.content_type or ""))
            self.event.set()
            return "ok"

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def wait(self, count: int = 1, timeout: float = 10) -> list[tuple[str, dict[str, Any], str]]:
        import time
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.bodies


def get_token(url: str, invoice_id: str | None = "100001", amount: str | None = "100",
              **extra: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "scope": "payment", "client_id": TEST_CLIENT_ID,
            "client_secret": TEST_CLIENT_SECRET, "terminal": TEST_TERMINAL_ID,
            "currency": "KZT", "secret_hash": "SECRETHASH123"}
    if invoice_id is not None:
        data["invoiceID"] = invoice_id
    if amount is not None:
        data["amount"] = amount
    data.update(extra)
    return requests.post(f"{url}/oauth2/token", data=data, timeout=10)


def service_token(url: str) -> str:
    return str(get_token(url, None, None).json()["access_token"])


def payment_object(auth: dict[str, Any], invoice_id: str = "100001", amount: int = 100,
                   **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "invoiceId": invoice_id, "invoiceIdAlt": "000001", "backLink": "https://shop.kz/ok",
        "failureBackLink": "https://shop.kz/fail", "postLink": "", "failurePostLink": "",
        "language": "RUS", "description": "Оплата в интернет магазине", "accountId": "testuser1",
        "terminal": TEST_TERMINAL_ID, "amount": amount, "name": "Arman Ali", "currency": "KZT",
        "data": '{"statement":{"name":"Arman Ali","invoiceID":"80000016"}}',
    }
    obj.update(extra)
    obj["auth"] = auth
    return obj


def open_page(url: str, obj: dict[str, Any], short: bool = True) -> requests.Response:
    params = {"params": bank_params(obj)}
    if short:
        params["isShortForm"] = "true"
    return requests.get(f"{url}/payform/", params=params, timeout=10)


def checkout_id(html: str) -> str:
    match = re.search(r'name="checkout" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def pay(url: str, page_html: str, pan: str, expiry: str = "12/39", cvc: str = "123",
        holder: str = "ARMAN ALI", save_card: bool = False) -> requests.Response:
    data = {"checkout": checkout_id(page_html), "pan": pan, "expiry": expiry, "cvc": cvc,
            "holder": holder}
    if save_card:
        data["save_card"] = "1"
    return requests.post(f"{url}/payform/pay", data=data, timeout=10)


def full_payment(url: str, pan: str = "4405639704015096", invoice_id: str = "100001",
                 amount: int = 100, **extra: Any) -> requests.Response:
    auth = get_token(url, invoice_id, str(amount), **{
        k: v for k, v in extra.items() if k in ("postLink", "failurePostLink")}).json()
    page = open_page(url, payment_object(auth, invoice_id, amount, **extra))
    assert page.status_code == 200, page.text
    return pay(url, page.text, pan)
