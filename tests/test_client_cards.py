"""EpayClient's saved-card calls against a fake ePay: the list (PascalCase, 1373 = none), the
deactivation, and the payment by cardId (its JSON body, never retried, typed refusals)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from client_fixtures import (
    API_PREFIX,
    INVOICE,
    SECRET,
    TOKEN_PATH,
    TokenIssuer,
    count,
    json_response,
    make_client,
    requests_to,
    sequence,
)
from pytest_httpserver import HTTPServer

from flask_halyk.errors import ApiError, EpayUnavailable, InvalidArgument, RecurringNotAllowed

CARD = "6845e5d5-35cc-428e-bd95-e85f78cb59d1"
PAY_PATH = f"{API_PREFIX}/payments/cards/auth"


def _listed(available: bool) -> dict[str, object]:
    return {"ID": CARD, "TransactionId": "a4b8c500-ddbf-4475-b512-60cd5a9189f7",
            "CardMask": "4405...2283", "PayerName": "TEST", "Terminal": "98458031",
            "CreatedDate": "2020-12-11T15:47:58.828909+06:00", "PaymentAvailable": available,
            "AccountID": "testuser1"}


def test_the_list_reads_pascal_case_and_1373_is_none(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    path = f"{API_PREFIX}/cards/testuser1"
    httpserver.expect_request(path).respond_with_handler(sequence(
        json_response([_listed(False)]),
        json_response({"code": 1373, "message": "cards not found"}, 400)))
    client = make_client(httpserver)
    [card] = client.cards("testuser1")
    assert (card.card_id, card.card_mask, card.payment_available, card.account_id) == (
        CARD, "4405...2283", False, "testuser1")
    assert client.cards("testuser1") == []


def test_a_deactivation_answers_its_status(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    httpserver.expect_request(f"{API_PREFIX}/card/deactivate/{CARD}", method="POST"
                              ).respond_with_response(
        json_response({"status": "card successfully deactivated"}))
    client = make_client(httpserver)
    assert client.deactivate_card(CARD) == {"status": "card successfully deactivated"}
    with pytest.raises(InvalidArgument):
        client.deactivate_card("../operation/x")


def _token(client, server: HTTPServer):  # type: ignore[no-untyped-def]
    server.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    return client.payment_token(INVOICE, 100, secret_hash="H" * 32)


def test_the_payment_by_card_id_sends_the_integrations_body(httpserver: HTTPServer) -> None:
    client = make_client(httpserver)
    token = _token(client, httpserver)
    httpserver.expect_request(PAY_PATH, method="POST").respond_with_response(json_response({
        "id": "75890cc5-157a-4cce-9624-16b227c2b9ec", "invoiceID": INVOICE, "amount": 100,
        "reference": "099467918563", "secure3D": None, "cardID": CARD, "code": 0,
        "status": "CHARGE"}))
    result = client.card_payment(token, card_id=CARD, account_id="testuser1",
                                 amount=Decimal(100), description="renewal", recurrent=True)
    assert result.approved and result.status == "CHARGE" and result.card_id == CARD
    [sent] = requests_to(httpserver, PAY_PATH)
    assert sent.headers["Authorization"] == f"Bearer {token.access_token}"
    body = json.loads(sent.get_data())
    assert body["paymentType"] == "cardId" and body["cardId"] == {"id": CARD}
    assert (body["invoiceId"], body["amount"], body["accountId"], body["recurrent"]) == (
        INVOICE, 100, "testuser1", True)
    assert SECRET not in sent.get_data(as_text=True)


@pytest.mark.parametrize("status", [500, 503])
def test_the_payment_by_card_id_is_never_retried(httpserver: HTTPServer, status: int) -> None:
    client = make_client(httpserver, retries=5)
    token = _token(client, httpserver)
    httpserver.expect_request(PAY_PATH, method="POST").respond_with_data("down", status=status)
    with pytest.raises(EpayUnavailable) as info:
        client.card_payment(token, card_id=CARD, account_id="a", amount=100, description="x")
    assert count(httpserver, PAY_PATH) == 1 and "never retried" in str(info.value)


@pytest.mark.parametrize(("code", "error"), [(464, RecurringNotAllowed), (100, ApiError)])
def test_the_banks_refusals_are_typed(httpserver: HTTPServer, code: int,
                                      error: type[Exception]) -> None:
    client = make_client(httpserver)
    token = _token(client, httpserver)
    httpserver.expect_request(PAY_PATH, method="POST").respond_with_response(
        json_response({"code": code, "message": "refused"}, 400))
    with pytest.raises(error) as info:
        client.card_payment(token, card_id=CARD, account_id="a", amount=100, description="x")
    assert isinstance(info.value, ApiError) and info.value.code == code
    assert (code == 464) == isinstance(info.value, RecurringNotAllowed)


SUBSCRIBE_PATH = f"{API_PREFIX}/recurrent/subscribe"


def test_the_banks_recurrent_schedule_is_asked_once_with_the_sdks_body(
        httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    httpserver.expect_request(SUBSCRIBE_PATH, method="POST").respond_with_handler(sequence(
        json_response({"createdDate": "2026-12-01T10:00:00.0000000+0500",
                       "paymentFrequency": "MONTHLY",
                       "lastPaymentDate": "2026-12-01T09:59:00.0000000+0500",
                       "clientId": "test", "invoiceId": INVOICE, "amount": 4900,
                       "currency": "KZT", "reference": "099467918563"}),
        json_response({"code": 100, "message": "transaction not found"}, 400)))
    client = make_client(httpserver, retries=5)
    schedule = client.recurrent_subscribe("a4b8c500-ddbf", "MONTHLY")
    assert (schedule.payment_frequency, schedule.invoice_id, schedule.amount,
            schedule.reference) == ("MONTHLY", INVOICE, Decimal(4900), "099467918563")
    [sent] = requests_to(httpserver, SUBSCRIBE_PATH)
    assert json.loads(sent.get_data()) == {"transactionId": "a4b8c500-ddbf",
                                           "paymentFrequency": "MONTHLY"}
    with pytest.raises(ApiError) as refused:
        client.recurrent_subscribe("unknown", "WEEKLY")
    assert refused.value.code == 100
    with pytest.raises(InvalidArgument):
        client.recurrent_subscribe("a4b8c500-ddbf", "DAILY")
    assert count(httpserver, SUBSCRIBE_PATH) == 2


def test_the_banks_recurrent_schedule_is_never_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    httpserver.expect_request(SUBSCRIBE_PATH, method="POST").respond_with_data("down",
                                                                               status=503)
    client = make_client(httpserver, retries=5)
    with pytest.raises(EpayUnavailable) as info:
        client.recurrent_subscribe("a4b8c500-ddbf", "QUARTERLY")
    assert count(httpserver, SUBSCRIBE_PATH) == 1 and "never retried" in str(info.value)
