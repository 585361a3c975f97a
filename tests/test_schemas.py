"""Example-based tests of flask_halyk.schemas: the vendor's examples, and every constraint with
one passing and one failing case."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import ValidationError

from flask_halyk.money import js_amount
from flask_halyk.schemas import (
    DESCRIPTION_MAX_BYTES,
    FailurePostLinkSchema,
    OperationErrorSchema,
    PaymentObjectSchema,
    PostLinkSchema,
    ServiceTokenRequestSchema,
    StatusResponseSchema,
    TokenRequestSchema,
    TokenResponseSchema,
    dump_for_js,
    is_success,
)

# --- the vendor page's examples, verbatim ------------------------------------------------------

VENDOR_SUCCESS_POSTLINK = """{ "accountId": "sad12eqsda", "amount": 100, "approvalCode": "157911", "cardId": "11f1111b-f151-6f11-e161-1111010a2111", "cardMask": "440043...2222", "cardType": "VISA", "code": "ok", "currency": "KZT", "dateTime": "2024-07-29T10:50:56.765674319+05:00", "description": "Arman Alimguzhinov", "email": "", "id": "1d1a11f1-1111-111c-1113b-e8340ce51111", "invoiceId": "191111111", "ip": "213.148.6.204", "ipCity": "", "ipCountry": "", "ipDistrict": "", "ipLatitude": 0, "ipLongitude": 0, "ipRegion": "", "issuer": "JSC KASPI BANK", "language": "RUS", "name": "STANDARD CARDHOLDER", "phone": "", "reason": "success", "reasonCode": 0, "reference": "411111111117", "secure": "no", "secureDetails":"F", "terminal": "67e34d63-102f-4bd1-898e-370781d0074d" }"""  # noqa: E501

VENDOR_FAILURE_POSTLINK = """{
"id": "ffffffff-0000-000f-f000-00f0000f000f",
"dateTime": "2020-01-01T00:00:00.00000+06:00",
"invoiceId": "10000000001",
"invoiceIdAlt":"8564546",
"amount": 100,
"currency": "KZT",
"terminal": "67e34d63-102f-4bd1-898e-370781d0074d",
"accountId": "1",
"description": "Оплата в интернет магазине",
"language": "RU",
"cardMask": "4444...4444",
"cardType": "",
"issuer": "Halyk bank",
"reference": "",
"secure": "no",
"secureDetails":"F",
"tokenRecipient": "",
"code": "error",
"reason": "описание ошибки",
"reasonCode": -498,
"name": "CARD HOLDER",
"email": "ch@example.kz",
"phone": "77777777777",
"ip": "5.188.155.135",
"ipCountry": "Kazakhstan",
"ipCity": "Almaty",
"ipRegion": "",
"ipDistrict": "",
"ipLongitude": 76.9293,
"ipLatitude": 43.2638
}"""

# The vendor page's token response, minus its stray quote after "scope" (not valid JSON as
# printed).
VENDOR_TOKEN_RESPONSE: dict[str, Any] = {
    "access_token": "DCEB8O_ZM5U7SO_T_U5EJQ",
    "expires_in": 7200,
    "refresh_token": "",
    "scope": "webapi usermanagement email_send verification statement statistics payment",
    "token_type": "Bearer",
}

# A status answer for a charged payment, as the bank would send it. The vendor page publishes
# none; this follows PROTOCOL.md section 4: the API's own spellings (invoiceID, accountID, cardID,
# terminalID), amounts as JSON numbers with decimals, resultCode 100 and statusName CHARGE.
STATUS_CHARGED: dict[str, Any] = {
    "resultCode": 100,
    "resultMessage": "SUCCESS",
    "transaction": {
        "id": "4b3f1c2e-7f0a-4c55-9d3e-2a6b8c1d9e01",
        "createdDate": "2024-07-29T10:50:56+05:00",
        "invoiceID": "191111111",
        "invoiceIdAlt": "",
        "amount": 12500.5,
        "amountBonus": 0,
        "payoutAmount": 12500.5,
        "orgAmount": 12500.5,
        "approvalCode": "157911",
        "data": '{"statement":{"name":"Arman Ali","invoiceID":"191111111"}}',
        "currency": "KZT",
        "terminal": "67e34d63-102f-4bd1-898e-370781d0074d",
        "terminalID": "67e34d63-102f-4bd1-898e-370781d0074d",
        "accountID": "testuser1",
        "description": "Оплата в интернет магазине",
        "language": "RU",
        "cardMask": "440563...5096",
        "cardType": "VISA",
        "issuer": "HALYK BANK",
        "reference": "421111111117",
        "reason": "success",
        "reasonCode": "0",
        "intReference": "A1B2C3D4E5F6",
        "secure": "yes",
        "secureDetails": "Card holder authenticated",
        "statusID": "3",
        "statusName": "CHARGE",
        "name": "ARMAN ALI",
        "email": "arman@example.kz",
        "phone": "+77001234567",
        "cardID": "11f1111b-f151-6f11-e161-1111010a2111",
        "xlsRRN": "421111111117",
        "ipCity": "Almaty",
        "ip": "213.148.6.204",
        "ipCountry": "Kazakhstan",
        "ipDistrict": "",
        "ipRegion": "",
        "ipLatitude": 43.2638,
        "ipLongitude": 76.9293,
    },
}

SECRET = "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG-not-really"


@pytest.fixture
def status_charged() -> dict[str, Any]:
    """A fresh deep copy of :data:`STATUS_CHARGED`, safe to mutate."""
    copy: dict[str, Any] = json.loads(json.dumps(STATUS_CHARGED))
    return copy


def token_request(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "grant_type": "client_credentials",
        "scope": "payment",
        "client_id": "test",
        "client_secret": SECRET,
        "invoiceID": "000123456",
        "secret_hash": "JDKCNDDGGDTPSKJD",
        "amount": 100,
        "currency": "KZT",
        "terminal": "67e34d63-102f-4bd1-898e-370781d0074d",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def payment_object(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "invoiceId": "000123456",
        "invoiceIdAlt": "000001",
        "backLink": "https://example.kz/success.html",
        "failureBackLink": "https://example.kz/failure.html",
        "postLink": "https://example.kz/",
        "failurePostLink": "https://example.kz/order/1123/fail",
        "language": "RUS",
        "description": "Оплата в интернет магазине",
        "accountId": "testuser1",
        "terminal": "67e34d63-102f-4bd1-898e-370781d0074d",
        "amount": 100,
        "name": "Arman Ali",
        "currency": "KZT",
        "data": '{"statement":{"name":"Arman Ali","invoiceID":"80000016"}}',
        "auth": dict(VENDOR_TOKEN_RESPONSE),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def postlink(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VENDOR_SUCCESS_POSTLINK)
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def errors_of(schema: Any, data: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as info:
        schema.load(data)
    messages = info.value.messages
    assert isinstance(messages, dict)
    return messages


# --- vendor examples ---------------------------------------------------------------------------


def test_vendor_success_postlink_loads() -> None:
    loaded = PostLinkSchema().load(json.loads(VENDOR_SUCCESS_POSTLINK))
    assert loaded["amount"] == Decimal("100") and isinstance(loaded["amount"], Decimal)
    assert loaded["invoiceId"] == "191111111"
    assert loaded["language"] == "rus"
    assert loaded["code"] == "ok"
    assert loaded["reasonCode"] == 0
    assert loaded["ipLatitude"] == Decimal(0)
    assert loaded["email"] == ""
    assert loaded["cardId"] == "11f1111b-f151-6f11-e161-1111010a2111"
    assert loaded["dateTime"] == "2024-07-29T10:50:56.765674319+05:00"
    assert is_success(loaded) is True


def test_vendor_failure_postlink_loads() -> None:
    loaded = FailurePostLinkSchema().load(json.loads(VENDOR_FAILURE_POSTLINK))
    assert loaded["language"] == "rus"  # sent as "RU"
    assert loaded["reasonCode"] == -498
    assert loaded["code"] == "error"
    assert loaded["invoiceIdAlt"] == "8564546"
    assert loaded["ipLatitude"] == Decimal("43.2638")
    assert loaded["ipLongitude"] == Decimal("76.9293")
    assert loaded["tokenRecipient"] == ""
    assert loaded["description"] == "Оплата в интернет магазине"
    assert is_success(loaded) is False


def test_vendor_postlinks_keep_every_key() -> None:
    for text in (VENDOR_SUCCESS_POSTLINK, VENDOR_FAILURE_POSTLINK):
        raw = json.loads(text)
        assert set(PostLinkSchema().load(raw)) == set(raw)


def test_vendor_token_response_loads() -> None:
    loaded = TokenResponseSchema().load(VENDOR_TOKEN_RESPONSE)
    assert loaded == VENDOR_TOKEN_RESPONSE


def test_status_example_loads() -> None:
    loaded = StatusResponseSchema().load(STATUS_CHARGED)
    tx = loaded["transaction"]
    assert loaded["resultCode"] == 100
    assert tx["statusName"] == "CHARGE"
    assert tx["amount"] == Decimal("12500.5")
    assert tx["reasonCode"] == 0
    assert tx["invoiceID"] == "191111111"
    assert tx["language"] == "rus"
    assert set(tx) == set(STATUS_CHARGED["transaction"])


# --- token request -----------------------------------------------------------------------------


def test_token_request_dumps_form_strings() -> None:
    schema = TokenRequestSchema()
    form = schema.dump(schema.load(token_request(postLink="https://shop.kz/halyk/postlink")))
    assert form["amount"] == "100"
    assert form["invoiceID"] == "000123456"
    assert form["currency"] == "KZT"
    assert "curency" not in form
    assert all(isinstance(v, str) for v in form.values())
    assert form["postLink"] == "https://shop.kz/halyk/postlink"


@pytest.mark.parametrize(
    ("amount", "form"),
    [(100, "100"), ("100.00", "100"), (Decimal("12.5"), "12.50"), (12.5, "12.50"),
     ("0.01", "0.01")],
)
def test_token_request_amount_form(amount: Any, form: str) -> None:
    schema = TokenRequestSchema()
    assert schema.dump(schema.load(token_request(amount=amount)))["amount"] == form


def test_token_request_rejects_unknown_and_typo() -> None:
    assert errors_of(TokenRequestSchema(), token_request(curency="KZT")) == {
        "curency": ["Unknown field."]
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("grant_type", "password"),
        ("client_secret", ""),
        ("invoiceID", "12345"),
        ("invoiceID", "1234567890123456"),
        ("invoiceID", "12345a"),
        ("amount", 0),
        ("amount", -5),
        ("amount", "1.234"),
        ("currency", "kzt"),
        ("postLink", "/relative"),
        ("terminal", ...),
        ("secret_hash", ...),
    ],
)
def test_token_request_rejects(field: str, value: Any) -> None:
    assert field in errors_of(TokenRequestSchema(), token_request(**{field: value}))


def test_service_token_request_has_no_invoice() -> None:
    base = {k: token_request()[k] for k in ("grant_type", "scope", "client_id", "client_secret")}
    schema = ServiceTokenRequestSchema()
    assert schema.dump(schema.load(base)) == base
    assert schema.load({**base, "terminal": "t1"})["terminal"] == "t1"
    assert "invoiceID" in errors_of(schema, {**base, "invoiceID": "123456"})
    assert "amount" in errors_of(schema, {**base, "amount": 100})


def test_secret_never_in_errors() -> None:
    bad = token_request(client_secret=SECRET, grant_type=SECRET, scope=12, amount=SECRET,
                        invoiceID=SECRET, currency=SECRET, postLink=SECRET, extra=SECRET)
    with pytest.raises(ValidationError) as info:
        TokenRequestSchema().load(bad)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert SECRET not in json.dumps(info.value.messages)


# --- token response ----------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [(7200, 7200), ("7200", 7200), (7200.0, 7200)])
def test_token_response_expires_in(given: Any, expected: int) -> None:
    loaded = TokenResponseSchema().load({**VENDOR_TOKEN_RESPONSE, "expires_in": given})
    assert loaded["expires_in"] == expected and type(loaded["expires_in"]) is int


@pytest.mark.parametrize(
    "patch",
    [
        {"access_token": ""},
        {"access_token": None},
        {"access_token": 5},
        {"expires_in": "soon"},
        {"expires_in": True},
        {"expires_in": 1.5},
        {"expires_in": -1},
    ],
)
def test_token_response_rejects(patch: dict[str, Any]) -> None:
    field = next(iter(patch))
    assert field in errors_of(TokenResponseSchema(), {**VENDOR_TOKEN_RESPONSE, **patch})


@pytest.mark.parametrize("missing", ["access_token", "expires_in"])
def test_token_response_required(missing: str) -> None:
    data = {k: v for k, v in VENDOR_TOKEN_RESPONSE.items() if k != missing}
    assert missing in errors_of(TokenResponseSchema(), data)


def test_token_response_optional_fields_tolerant() -> None:
    loaded = TokenResponseSchema().load(
        {"access_token": "a", "expires_in": 60, "refresh_token": None, "scope": 1}
    )
    assert loaded == {"access_token": "a", "expires_in": 60, "refresh_token": None, "scope": "1"}
    assert "token_type" in errors_of(
        TokenResponseSchema(), {"access_token": "a", "expires_in": 60, "token_type": ["Bearer"]}
    )


def test_token_response_keeps_unknown_on_load_and_dump() -> None:
    raw = {**VENDOR_TOKEN_RESPONSE, "jti": "abc", "nested": {"x": [1]}}
    schema = TokenResponseSchema()
    loaded = schema.load(raw)
    assert loaded["jti"] == "abc" and loaded["nested"] == {"x": [1]}
    assert schema.dump(loaded) == raw


# --- payment object ----------------------------------------------------------------------------


def test_vendor_payment_object_loads_and_dumps_for_js() -> None:
    loaded = PaymentObjectSchema().load(payment_object())
    assert loaded["language"] == "rus"
    assert loaded["amount"] == Decimal(100)
    js = dump_for_js(loaded)
    assert js["amount"] == 100 and type(js["amount"]) is int
    assert js["auth"] == VENDOR_TOKEN_RESPONSE
    assert json.loads(js["data"]) == {"statement": {"name": "Arman Ali", "invoiceID": "80000016"}}
    assert set(js) == set(payment_object())
    json.dumps(js)  # JSON-ready


def test_dump_for_js_fractional_amount_is_exact_float() -> None:
    js = dump_for_js(PaymentObjectSchema().load(payment_object(amount="12.10")))
    assert js["amount"] == 12.1 and type(js["amount"]) is float
    assert json.dumps(js["amount"]) == "12.1"
    assert js_amount(Decimal("9999999999999.99")) == 9999999999999.99
    assert repr(js_amount(Decimal("9999999999999.99"))) == "9999999999999.99"


def test_auth_keeps_unknown_keys_for_the_widget() -> None:
    auth = {**VENDOR_TOKEN_RESPONSE, "expires_in": "7200", "extra": "kept"}
    js = dump_for_js(PaymentObjectSchema().load(payment_object(auth=auth)))
    assert js["auth"]["extra"] == "kept"
    # Exactly as the bank sent it: the page gets the token response, not our reading of it.
    assert js["auth"] == auth and js["auth"]["expires_in"] == "7200"


@pytest.mark.parametrize("link", ["myapp://orders/5?paid=1", "kaspi-shop:done",
                                  "intent://pay#Intent;scheme=shop;end", "ftp://example.kz/"])
def test_back_links_may_be_app_deep_links(link: str) -> None:
    # The bank takes them (PROTOCOL.md: only javascript:, data:, vbscript: are dangerous).
    loaded = PaymentObjectSchema().load(payment_object(backLink=link, failureBackLink=link))
    assert loaded["backLink"] == loaded["failureBackLink"] == link


@pytest.mark.parametrize("language", ["rus", "RUS", "ru", "RU", "Ru"])
def test_language_russian_spellings(language: str) -> None:
    assert PaymentObjectSchema().load(payment_object(language=language))["language"] == "rus"


@pytest.mark.parametrize(
    ("language", "expected"), [("KZ", "kaz"), ("kaz", "kaz"), ("EN", "eng"), ("eNg", "eng")]
)
def test_language_other_spellings(language: str, expected: str) -> None:
    assert PaymentObjectSchema().load(payment_object(language=language))["language"] == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("invoiceId", "123456"),
        ("invoiceId", "123456789012345"),
        ("invoiceId", 123456),
        ("invoiceIdAlt", "000001"),
        ("invoiceIdAlt", ...),
        ("amount", "0.01"),
        ("amount", "12.5"),
        ("amount", Decimal("12.50")),
        ("amount", 12.25),
        ("postLink", "http://localhost:5000/halyk/postlink"),
        ("backLink", "https://shop.example.kz:8443/thanks?order=1#top"),
        ("failurePostLink", ...),
        ("failureBackLink", ...),
        ("description", "я" * (DESCRIPTION_MAX_BYTES // 2)),
        ("description", "a" * DESCRIPTION_MAX_BYTES),
        ("currency", "USD"),
        ("data", {"statement": {"name": "Арман"}}),
        ("data", [1, 2]),
        ("data", ...),
        ("email", "ch@example.kz"),
        ("email", None),
        ("phone", "+77001234567"),
        ("phone", "77777777777"),
        ("cardSave", True),
        ("recurrent", False),
        ("autoBackLink", True),
        ("accountId", ...),
        ("name", ...),
    ],
)
def test_payment_object_accepts(field: str, value: Any) -> None:
    PaymentObjectSchema().load(payment_object(**{field: value}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("invoiceId", "12345"),
        ("invoiceId", "1234567890123456"),
        ("invoiceId", "12345a"),
        ("invoiceId", "١٢٣٤٥٦"),  # Arabic-Indic digits: str.isdigit() but not ASCII
        ("invoiceId", " 123456"),
        ("invoiceId", -123456),
        ("invoiceId", True),
        ("invoiceIdAlt", "12345"),
        ("amount", 0),
        ("amount", -1),
        ("amount", "1.234"),
        ("amount", 1.005),
        ("amount", "NaN"),
        ("amount", float("inf")),
        ("amount", float("nan")),
        ("amount", "1e3"),
        ("amount", True),
        ("amount", "10000000000000"),
        ("backLink", "/success"),
        ("backLink", "example.kz/success"),
        ("backLink", "javascript:alert(1)"),
        ("backLink", "VBScript:msgbox(1)"),
        ("failureBackLink", "data:text/html,hi"),
        ("backLink", "myapp://paid now"),
        ("postLink", "https://"),
        ("postLink", "https://exa mple.kz/"),
        ("postLink", "https://example.kz:99999/"),
        ("failurePostLink", "data:text/html,hi"),
        ("language", "de"),
        ("language", ""),
        ("description", "я" * (DESCRIPTION_MAX_BYTES // 2 + 1)),  # 126 bytes, 63 letters
        ("description", "a" * (DESCRIPTION_MAX_BYTES + 1)),
        ("description", "   "),
        ("description", "\ud800"),
        ("currency", "kzt"),
        ("currency", "KZTT"),
        ("currency", 398),
        ("data", "{not json"),
        ("data", "NaN"),
        ("data", 5),
        ("data", {"x": float("nan")}),
        ("email", "not-an-email"),
        ("email", ""),
        ("phone", "+7 700 123"),
        ("phone", "phone"),
        ("cardSave", "true"),
        ("recurrent", 1),
        ("terminal", ""),
        ("terminal", ...),
        ("auth", "DCEB8O_ZM5U7SO_T_U5EJQ"),  # the string alone: the page says "expired"
        ("auth", {"expires_in": 7200}),
        ("auth", ...),
        ("description", ...),
        ("backLink", ...),
    ],
)
def test_payment_object_rejects(field: str, value: Any) -> None:
    assert field in errors_of(PaymentObjectSchema(), payment_object(**{field: value}))


def test_payment_object_rejects_unknown_keys() -> None:
    assert errors_of(PaymentObjectSchema(), payment_object(invoiceID="123456")) == {
        "invoiceID": ["Unknown field."]
    }


def test_payment_object_required_none_is_missing() -> None:
    assert "invoiceId" in errors_of(PaymentObjectSchema(), payment_object(invoiceId=None))


def test_description_cap_counts_bytes_not_letters() -> None:
    text = "Оплата заказа " * 5  # 70 letters, 130 bytes
    assert len(text) < DESCRIPTION_MAX_BYTES < len(text.encode())
    assert "description" in errors_of(PaymentObjectSchema(), payment_object(description=text))


# --- postLink ----------------------------------------------------------------------------------


def test_postlink_keeps_unknown_on_load_and_dump() -> None:
    raw = postlink(newBankField={"a": 1}, anotherOne=None)
    schema = PostLinkSchema()
    loaded = schema.load(raw)
    assert loaded["newBankField"] == {"a": 1} and loaded["anotherOne"] is None
    dumped = schema.dump(loaded)
    assert dumped["newBankField"] == {"a": 1}
    assert schema.load(dumped) == loaded


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("amount", "100.50", Decimal("100.50")),
        ("amount", 12.22, Decimal("12.22")),
        ("amount", 0, Decimal(0)),
        ("reasonCode", "-498", -498),
        ("reasonCode", "0", 0),
        ("reasonCode", 454, 454),
        ("invoiceId", 191111111, "191111111"),
        ("ipLatitude", "43.2638", Decimal("43.2638")),
        ("ipLatitude", "", None),
        ("ipLongitude", None, None),
        ("approvalCode", 157911, "157911"),
        ("language", "KAZ", "kaz"),
        ("language", "", ""),
        ("language", "uzb", "uzb"),
        ("code", "OK", "ok"),
        ("email", "", ""),
        ("invoiceIdAlt", "", ""),
        ("invoiceIdAlt", None, None),
    ],
)
def test_postlink_tolerant_types(field: str, value: Any, expected: Any) -> None:
    assert PostLinkSchema().load(postlink(**{field: value}))[field] == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", ...),
        ("id", ""),
        ("invoiceId", ...),
        ("invoiceId", "12345"),
        ("invoiceId", "abcdef"),
        ("amount", ...),
        ("amount", "lots"),
        ("amount", -1),
        ("amount", float("nan")),
        ("currency", ...),
        ("terminal", ...),
        ("terminal", ""),
        ("code", ...),
        ("code", "maybe"),
        ("reasonCode", ...),
        ("reasonCode", ""),
        ("reasonCode", "zero"),
        ("reasonCode", 0.5),
        ("ipLatitude", "north"),
        ("language", 7),
    ],
)
def test_postlink_rejects(field: str, value: Any) -> None:
    assert field in errors_of(PostLinkSchema(), postlink(**{field: value}))


def test_postlink_secret_hash_spellings() -> None:
    schema = PostLinkSchema()
    assert schema.load(postlink(secret_hash="abc"))["secret_hash"] == "abc"
    loaded = schema.load(postlink(secretHash="abc"))
    assert loaded["secret_hash"] == "abc" and "secretHash" not in loaded
    assert schema.load(postlink(secretHash="abc", secret_hash="abc"))["secret_hash"] == "abc"
    assert "secret_hash" in errors_of(schema, postlink(secretHash="abc", secret_hash="xyz"))


@pytest.mark.parametrize(
    ("code", "reason_code", "success"),
    [("ok", 0, True), ("OK", "0", True), ("ok", 454, False), ("ok", -498, False),
     ("error", 0, False), ("error", -498, False)],
)
def test_is_success(code: str, reason_code: Any, success: bool) -> None:
    loaded = PostLinkSchema().load(postlink(code=code, reasonCode=reason_code))
    assert is_success(loaded) is success


@pytest.mark.parametrize("body", [[], "text", 5, None])
def test_postlink_rejects_non_object(body: Any) -> None:
    with pytest.raises(ValidationError):
        PostLinkSchema().load(body)


# --- status ------------------------------------------------------------------------------------


def test_status_not_found_without_transaction() -> None:
    schema = StatusResponseSchema()
    assert schema.load({"resultCode": "102", "resultMessage": "NOT FOUND"})["resultCode"] == 102
    loaded = schema.load({"resultCode": 107, "resultMessage": "in progress", "transaction": None})
    assert loaded["transaction"] is None


def test_status_success_needs_a_transaction() -> None:
    schema = StatusResponseSchema()
    assert "transaction" in errors_of(schema, {"resultCode": 100})
    assert "transaction" in errors_of(schema, {"resultCode": 100, "transaction": {"id": "x"}})


def test_status_keeps_unknown_status_and_keys(status_charged: dict[str, Any]) -> None:
    raw = status_charged
    raw["transaction"]["statusName"] = " partial_refund "
    raw["transaction"]["newField"] = 1
    raw["extra"] = True
    loaded = StatusResponseSchema().load(raw)
    assert loaded["transaction"]["statusName"] == "PARTIAL_REFUND"
    assert loaded["transaction"]["newField"] == 1
    assert loaded["extra"] is True


@pytest.mark.parametrize(
    "patch",
    [{"resultCode": "success"}, {"resultCode": None}, {"transaction": "CHARGE"},
     {"transaction": {**STATUS_CHARGED["transaction"], "amount": "much"}}],
)
def test_status_rejects(patch: dict[str, Any]) -> None:
    assert next(iter(patch)) in errors_of(StatusResponseSchema(), {**STATUS_CHARGED, **patch})


def test_status_empty_reason_code_is_none(status_charged: dict[str, Any]) -> None:
    raw = status_charged
    raw["transaction"]["reasonCode"] = ""
    assert StatusResponseSchema().load(raw)["transaction"]["reasonCode"] is None


# --- operation error ---------------------------------------------------------------------------


def test_operation_error() -> None:
    schema = OperationErrorSchema()
    loaded = schema.load({"code": 100, "message": "Операция не может быть выполнена", "x": 1})
    assert loaded == {"code": 100, "message": "Операция не может быть выполнена", "x": 1}
    assert schema.load({"code": "100"}) == {"code": 100, "message": ""}
    assert "code" in errors_of(schema, {"message": "no code"})


@pytest.mark.parametrize("phone", ["12345abc", "+77771234567 <script>", "+7777123456\n"])
def test_phone_must_be_digits_to_the_end(phone):
    from flask_halyk.schemas import PaymentObjectSchema

    with pytest.raises(ValidationError) as err:
        PaymentObjectSchema().load({"phone": phone}, partial=True)
    assert "phone" in err.value.messages


def test_secret_hash_aliases_that_cannot_compare_are_a_validation_error():
    # Found by hypothesis: a signalling NaN made the comparison itself raise.
    from decimal import Decimal

    from flask_halyk.schemas import PostLinkSchema

    with pytest.raises(ValidationError) as err:
        PostLinkSchema().load({"secret_hash": False, "secretHash": Decimal("sNaN")})
    assert "secret_hash" in err.value.messages
