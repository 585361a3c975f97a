"""The sandbox's state under concurrent requests: one invoice is paid once, refunds never add up to
more than was charged, and every postLink sent is waited for."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests
from sandbox_helpers import (
    checkout_id,
    full_payment,
    get_token,
    open_page,
    payment_object,
    service_token,
)

THREADS = 12


def test_one_invoice_is_paid_once_however_many_submit_at_once(sandbox):
    auth = get_token(sandbox.url).json()
    page = open_page(sandbox.url, payment_object(auth))
    form = {"checkout": checkout_id(page.text), "pan": "4405639704015096", "expiry": "12/39",
            "cvc": "123", "holder": "ARMAN ALI"}

    def submit(_: int) -> str:
        return requests.post(f"{sandbox.url}/payform/pay", data=form, timeout=30).text

    with ThreadPoolExecutor(THREADS) as pool:
        pages = list(pool.map(submit, range(THREADS)))
    assert sum('data-success="true"' in p for p in pages) == 1
    assert sum("already paid" in p for p in pages) == THREADS - 1
    assert [t.status for t in sandbox.transactions] == ["CHARGE"]


def test_concurrent_refunds_never_exceed_the_charge(sandbox):
    full_payment(sandbox.url, amount=100)
    tid = sandbox.transactions[-1].id
    token = service_token(sandbox.url)

    def refund(_: int) -> int:
        return requests.post(f"{sandbox.url}/operation/{tid}/refund", params={"amount": "10"},
                             headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        codes = list(pool.map(refund, range(THREADS + 3)))
    assert codes.count(200) == 10 and codes.count(400) == THREADS + 3 - 10
    [t] = sandbox.transactions
    assert (t.refunded, t.status) == (Decimal(100), "REFUND")


def test_wait_for_postlinks_sees_every_concurrent_delivery(sandbox, receiver):
    def pay(n: int) -> None:
        full_payment(sandbox.url, invoice_id=f"{700000 + n}", postLink=f"{receiver.url}/ok")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(pay, range(THREADS)))
    sandbox.sandbox.wait_for_postlinks(30)
    assert len(sandbox.deliveries) == THREADS
    assert sorted(b["invoiceId"] for _, b, _ in receiver.bodies) == [
        f"{700000 + n}" for n in range(THREADS)]
