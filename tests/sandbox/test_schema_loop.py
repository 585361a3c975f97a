"""The closed loop: every kind of answer the sandbox gives is read by the client's own incoming
schemas (flask_halyk.schemas), and names no field those schemas do not know. A field added on
one side only fails here, so the sandbox and the client cannot drift apart."""

from __future__ import annotations

import requests
from sandbox_helpers import full_payment, get_token, open_page, pay, payment_object, service_token

from flask_halyk.config import TEST_CLIENT_SECRET
from flask_halyk.sandbox import SandboxServer, create_sandbox_app
from flask_halyk.schemas import (
    OperationErrorSchema,
    PostLinkSchema,
    StatusResponseSchema,
    TokenResponseSchema,
    TransactionSchema,
    is_success,
)


def _known(schema, body):
    unknown = set(body) - set(schema.fields)
    assert not unknown, f"{type(schema).__name__} does not know {sorted(unknown)}"


def _api(url, method, path, token, **kwargs):
    return requests.request(method, url + path, timeout=10,
                            headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_every_answer_of_the_sandbox_reads_with_the_client_schemas(receiver):
    tokens, statuses, errors, postlinks = [], [], [], []
    with SandboxServer(create_sandbox_app(two_stage=True)) as two, SandboxServer() as one:
        for server, as_text in ((one, True), (two, False)):
            server.sandbox.options.expires_in_as_text = as_text
            tokens.append(get_token(server.url).json())
            tokens.append(get_token(server.url, None, None).json())
        link = {"postLink": f"{receiver.url}/ok", "failurePostLink": f"{receiver.url}/fail"}
        token = service_token(one.url)
        # One-stage: paid, partly refunded, refunded, declined; a verification; no secret_hash.
        full_payment(one.url, invoice_id="400001", amount=150, **link)
        full_payment(one.url, "4003032704547597", "400002", **link)
        one.sandbox.options.postlink_secret_hash = False
        full_payment(one.url, invoice_id="400003", **link)
        auth = get_token(one.url, "400004", "0", currency="USD", **link).json()
        pay(one.url, open_page(one.url, payment_object(auth, "400004", 0, currency="USD")).text,
            "4405639704015096")
        paid = one.transactions[0].id
        _api(one.url, "POST", f"/operation/{paid}/refund", token, params={"amount": "50"})
        for invoice in ("400001", "400002", "400003", "400004", "999999"):
            statuses.append(_api(one.url, "GET", f"/check-status/payment/transaction/{invoice}",
                                 token).json())
        _api(one.url, "POST", f"/operation/{paid}/refund", token)
        statuses.append(_api(one.url, "GET", "/check-status/payment/transaction/400001",
                             token).json())
        no_terminal = requests.post(f"{one.url}/oauth2/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": "test",
            "client_secret": TEST_CLIENT_SECRET}).json()["access_token"]
        statuses.append(_api(one.url, "GET", "/check-status/payment/transaction/400001",
                             no_terminal).json())
        for args in (("POST", f"/operation/{paid}/charge"), ("POST", "/operation/nope/cancel"),
                     ("POST", f"/operation/{paid}/refund?amount=abc"), ("GET", "/nowhere"),
                     ("POST", f"/operation/{paid}/refund?amount=10", {"json": {"amount": 11}})):
            answer = _api(one.url, args[0], args[1], token, **(args[2] if len(args) > 2 else {}))
            assert answer.status_code >= 400
            errors.append(answer.json())
        # Two-stage: authorised, charged in part, cancelled.
        two_token = service_token(two.url)
        full_payment(two.url, invoice_id="400011", amount=300, **link)
        full_payment(two.url, invoice_id="400012", amount=300, **link)
        statuses.append(_api(two.url, "GET", "/check-status/payment/transaction/400011",
                             two_token).json())
        first, second = two.transactions[0].id, two.transactions[1].id
        _api(two.url, "POST", f"/operation/{first}/charge", two_token, data={"amount": "200"})
        _api(two.url, "POST", f"/operation/{second}/cancel", two_token)
        for invoice in ("400011", "400012"):
            statuses.append(_api(two.url, "GET", f"/check-status/payment/transaction/{invoice}",
                                 two_token).json())
        one.sandbox.wait_for_postlinks(5)
        two.sandbox.wait_for_postlinks(5)
        postlinks = [body for _, body, _ in receiver.wait(6)]

    for body in tokens:
        _known(TokenResponseSchema(), body)
        TokenResponseSchema().load(body)
    names = set()
    for body in statuses:
        _known(StatusResponseSchema(), body)
        loaded = StatusResponseSchema().load(body)
        if body.get("transaction"):
            _known(TransactionSchema(), body["transaction"])
            names.add(loaded["transaction"]["statusName"])
    assert names == {"CHARGE", "REJECT", "VERIFIED", "REFUND", "AUTH", "CANCEL"}
    assert {b["resultCode"] for b in statuses} == {"100", "101", "102", "104"}
    for body in errors:
        _known(OperationErrorSchema(), body)
        assert OperationErrorSchema().load(body)["code"] == 100
    assert len(postlinks) == 6
    for body in postlinks:
        _known(PostLinkSchema(), body)
        PostLinkSchema().load(body)
    outcomes = sorted((is_success(PostLinkSchema().load(b)), "secret_hash" in b)
                      for b in postlinks)
    assert outcomes == [(False, True), (True, False), (True, False), (True, True),
                        (True, True), (True, True)]
