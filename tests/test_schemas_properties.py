"""Property-based tests of flask_halyk.schemas: any input loads or raises ValidationError, never
anything else; valid bodies survive dump and reload unchanged."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from flask_halyk.schemas import (
    ACCOUNT_ID_MAX,
    DATA_MAX_BYTES,
    EMAIL_MAX,
    NAME_MAX,
    OperationErrorSchema,
    PaymentObjectSchema,
    PostLinkSchema,
    ServiceTokenRequestSchema,
    StatusResponseSchema,
    TokenRequestSchema,
    TokenResponseSchema,
    TransactionSchema,
    dump_for_js,
)

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Text including lone surrogates (json.loads can produce them) and any other code point.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
# What the outside world sends at its worst: lone surrogates, NULs, text far too long.
LONE_SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
hostile_text = st.one_of(
    st.builds(lambda a, s, b: a + s + b, any_text, LONE_SURROGATE, any_text),
    st.builds(lambda a, b: a + "\x00" + b, any_text, any_text),
    st.integers(200, 300_000).map(lambda n: "x" * n),
    st.integers(1, 2_000).map(lambda n: "Ә\ud800" * n),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    any_text,
    hostile_text,
    st.from_regex(r"\A[+-]?[0-9]{1,30}(\.[0-9]{0,5})?\Z"),
    st.sampled_from(["", " ", "0", "-498", "NaN", "Infinity", "1e999", "RU", "ok", "OK",
                     "https://example.kz/", "javascript:alert(1)", "{}", "[1", "١٢٣٤٥٦"]),
)
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(any_text, hostile_text), children, max_size=4),
    ),
    max_leaves=12,
)

SCHEMAS: list[type[Schema]] = [
    TokenRequestSchema,
    ServiceTokenRequestSchema,
    TokenResponseSchema,
    PaymentObjectSchema,
    PostLinkSchema,
    TransactionSchema,
    StatusResponseSchema,
    OperationErrorSchema,
]


def keyed_input(schema_cls: type[Schema]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts keyed mostly by the schema's own field names (and the aliases it reads), so that
    each field's coercion sees arbitrary values instead of only 'unknown field'."""
    names = [*sorted(schema_cls().fields), "secretHash", "unknownKey"]
    return st.dictionaries(st.sampled_from(names), json_like, max_size=len(names))


def storable(value: Any) -> bool:
    """Every text in ``value`` (keys too, at any depth) is one any database and HTTP body can
    carry: encodable as UTF-8, with no NUL."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(storable(v) for v in value)
    return True


def load_or_validation_error(schema_cls: type[Schema], data: Any) -> None:
    """Load must succeed or raise ValidationError (anything else propagates and fails the test);
    what loads must dump without error, with every loaded key present, and hold only text that
    can be stored and sent (a lone surrogate or a NUL is refused, never passed on)."""
    schema = schema_cls()
    try:
        loaded = schema.load(data)
    except ValidationError:
        return
    assert isinstance(loaded, dict)
    assert storable(loaded), loaded
    dumped = schema.dump(loaded)
    assert set(dumped) >= set(loaded)
    assert storable(dumped)


@pytest.mark.parametrize("schema_cls", SCHEMAS, ids=lambda c: c.__name__)
@SETTINGS
@given(data=json_like)
def test_any_json_like_input(schema_cls: type[Schema], data: Any) -> None:
    load_or_validation_error(schema_cls, data)


@pytest.mark.parametrize("schema_cls", SCHEMAS, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_any_values_under_the_schemas_keys(schema_cls: type[Schema], data: st.DataObject) -> None:
    load_or_validation_error(schema_cls, data.draw(keyed_input(schema_cls)))


VALID_TOKEN = {"access_token": "DCEB8O_ZM5U7SO_T_U5EJQ", "expires_in": 7200, "token_type": "Bearer"}


@SETTINGS
@given(key=st.sampled_from(sorted(PaymentObjectSchema().fields)), value=json_like)
def test_payment_object_one_field_arbitrary(key: str, value: Any) -> None:
    # One bad field in an otherwise valid object, so that the schema-level paths run too.
    body = {
        "invoiceId": "000123456", "backLink": "https://e.kz/ok", "postLink": "https://e.kz/pl",
        "language": "rus", "description": "Заказ", "terminal": "t", "amount": 100,
        "currency": "KZT", "auth": dict(VALID_TOKEN), key: value,
    }
    load_or_validation_error(PaymentObjectSchema, body)


@SETTINGS
@given(
    transaction=st.one_of(json_like, st.dictionaries(
        st.sampled_from(sorted(TransactionSchema().fields)), json_like)),
    result_code=json_like,
)
def test_status_nested_arbitrary(transaction: Any, result_code: Any) -> None:
    load_or_validation_error(
        StatusResponseSchema, {"resultCode": result_code, "transaction": transaction}
    )


# --- round trips -------------------------------------------------------------------------------


def wire_text(**kwargs: Any) -> st.SearchStrategy[str]:
    """Text a valid body may hold: anything UTF-8 can carry (no lone surrogate) but NUL."""
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00"), **kwargs)


finite_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6),
              st.floats(allow_nan=False, allow_infinity=False), wire_text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(wire_text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
cents = st.integers(min_value=0, max_value=10**12)
wire_amount = st.one_of(
    cents.map(lambda c: Decimal(c) / 100),
    cents.map(lambda c: f"{Decimal(c) / 100:f}"),
    st.integers(min_value=0, max_value=10**9),
)
optional_text = st.one_of(st.none(), st.just(""), wire_text(max_size=30))


@st.composite
def valid_postlinks(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": draw(st.uuids().map(str)),
        "invoiceId": draw(st.one_of(st.from_regex(r"\A[0-9]{6,15}\Z"),
                                    st.integers(min_value=100000, max_value=10**15 - 1))),
        "amount": draw(wire_amount),
        "currency": draw(st.sampled_from(["KZT", "USD"])),
        "terminal": draw(st.uuids().map(str)),
        "code": draw(st.sampled_from(["ok", "error", "OK", "Error"])),
        "reasonCode": draw(st.one_of(st.integers(-999, 999), st.integers(-999, 999).map(str))),
    }
    optional: dict[str, Any] = {
        "language": st.sampled_from(["RUS", "RU", "rus", "KZ", "kaz", "EN", "eng", "", "uzb"]),
        "secretHash": wire_text(min_size=1, max_size=40),
        "ipLatitude": st.one_of(st.just(""), st.floats(-90, 90), st.just("43.2638")),
        "invoiceIdAlt": st.one_of(st.just(""), st.from_regex(r"\A[0-9]{6,15}\Z")),
        "approvalCode": st.one_of(wire_text(max_size=8), st.integers(0, 999999)),
        "reason": optional_text,
        "cardMask": optional_text,
        "email": optional_text,
        "dateTime": optional_text,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            body[key] = draw(strategy)
    known = set(PostLinkSchema().fields) | {"secretHash"}
    extra = draw(st.dictionaries(
        wire_text(min_size=1, max_size=12).filter(lambda k: k not in known), finite_json,
        max_size=4))
    body.update(extra)
    return body


@SETTINGS
@given(body=valid_postlinks())
def test_postlink_load_dump_reload_is_stable(body: dict[str, Any]) -> None:
    schema = PostLinkSchema()
    loaded = schema.load(body)
    dumped = schema.dump(loaded)
    json.dumps(dumped)  # what a ledger stores must be JSON
    reloaded = schema.load(dumped)
    assert reloaded == loaded
    assert schema.dump(reloaded) == dumped
    # The JSON text itself round-trips too (what the ledger would hand back).
    assert schema.load(json.loads(json.dumps(dumped))) == loaded


@SETTINGS
@given(
    amount=st.integers(min_value=1, max_value=10**15 - 1).map(lambda c: Decimal(c) / 100),
    invoice=st.from_regex(r"\A[0-9]{6,15}\Z"),
    description=wire_text(min_size=1, max_size=40).filter(
        lambda t: t.strip() and len(t.encode()) <= 125),
    data=st.one_of(st.none(), st.dictionaries(wire_text(max_size=5), finite_json, max_size=3)),
    extra_auth=st.dictionaries(wire_text(min_size=1, max_size=8).filter(
        lambda k: k not in TokenResponseSchema().fields), finite_json, max_size=3),
)
def test_payment_object_js_round_trip(
    amount: Decimal, invoice: str, description: str, data: Any, extra_auth: dict[str, Any]
) -> None:
    body = {
        "invoiceId": invoice, "backLink": "https://e.kz/ok", "postLink": "https://e.kz/pl",
        "language": "KZ", "description": description, "terminal": "t", "amount": amount,
        "currency": "KZT", "auth": {**VALID_TOKEN, **extra_auth}, "data": data,
    }
    loaded = PaymentObjectSchema().load(body)
    js = json.loads(json.dumps(dump_for_js(loaded)))
    assert PaymentObjectSchema().load(js) == loaded
    assert Decimal(str(js["amount"])) == amount


# --- the free fields' limits -------------------------------------------------------------------

FREE_FIELDS = {"name": NAME_MAX, "accountId": ACCOUNT_ID_MAX, "email": EMAIL_MAX}


@SETTINGS
@given(key=st.sampled_from(sorted(FREE_FIELDS)), value=st.one_of(any_text, hostile_text))
def test_payment_object_free_fields_are_bounded_and_storable(key: str, value: str) -> None:
    body = {
        "invoiceId": "000123456", "backLink": "https://e.kz/ok", "postLink": "https://e.kz/pl",
        "language": "rus", "description": "Заказ", "terminal": "t", "amount": 100,
        "currency": "KZT", "auth": dict(VALID_TOKEN), key: value,
    }
    try:
        loaded = PaymentObjectSchema().load(body)
    except ValidationError as exc:
        assert key in exc.messages
        return
    assert len(loaded[key]) <= FREE_FIELDS[key]
    assert storable(loaded)


@SETTINGS
@given(data=st.one_of(json_like, hostile_text))
def test_payment_object_data_is_bounded_and_storable(data: Any) -> None:
    body = {
        "invoiceId": "000123456", "backLink": "https://e.kz/ok", "postLink": "https://e.kz/pl",
        "language": "rus", "description": "Заказ", "terminal": "t", "amount": 100,
        "currency": "KZT", "auth": dict(VALID_TOKEN), "data": data,
    }
    try:
        loaded = PaymentObjectSchema().load(body)
    except ValidationError:
        return
    if "data" in loaded:
        assert len(loaded["data"].encode("utf-8")) <= DATA_MAX_BYTES
        assert storable(json.loads(loaded["data"]))
