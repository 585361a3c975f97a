"""The hand-over of the payment object, as the bank's payment-api.js writes it (PROTOCOL.md 2):
the worked example, the npm lz-string 1.4.4 vectors, and round trips of any object through two
encoders written apart (tests/page_helpers.py and flask_halyk.sandbox.handover)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from page_helpers import bank_flatten, bank_params

from flask_halyk.sandbox.handover import (
    HandoverError,
    decode_params,
    decode_uri_component,
    encode_params,
    encode_value,
    js_number_text,
    read_pairs,
)
from flask_halyk.sandbox.lzstring import compress_to_encoded_uri_component

#: Objects with the bank script's encoding of each, from node and the npm lz-string 1.4.4
#: package (tests/sandbox/data/README.md says how they were made).
VECTORS = json.loads((Path(__file__).parent / "data" / "handover_vectors.json").read_text(
    encoding="utf-8"))


def test_the_worked_example_of_protocol_md():
    obj = {"invoiceId": "000001", "auth": {"access_token": "AB_C", "expires_in": 7200}}
    flat = "invoiceId=000001&auth=access_token%3DAB_C%26expires_in%3D7200"
    assert bank_flatten(obj) == encode_value(obj) == flat
    decoded = decode_params(bank_params(obj))
    assert decoded == {"invoiceId": "000001",
                       "auth": {"access_token": "AB_C", "expires_in": "7200"}}


@pytest.mark.parametrize("vector", VECTORS, ids=range(len(VECTORS)))
def test_the_sandbox_encodes_as_the_npm_package(vector):
    assert encode_value(vector["object"]) == vector["flat"]
    assert encode_params(vector["object"]) == vector["params"]


# The test encoder spells only the numbers payment objects hold (not 1e21 or 1.5e-7).
@pytest.mark.parametrize("vector", VECTORS[:2], ids=range(2))
def test_the_test_encoder_encodes_as_the_npm_package(vector):
    assert bank_flatten(vector["object"]) == vector["flat"]
    assert bank_params(vector["object"]) == vector["params"]


def test_nested_values_read_back_at_any_depth():
    vector = VECTORS[2]
    decoded = decode_params(vector["params"])
    assert decoded["description"] == "a&b=c%d+e f"
    assert decoded["emoji"] == "😀 Қазақстан 🎉"
    assert (decoded["flag"], decoded["off"], decoded["none"]) == ("true", "false", "")
    assert (decoded["amount"], decoded["big"], decoded["tiny"]) == ("12.5", "1e+21", "1.5e-7")
    assert decoded["auth"] == {"access_token": "T&=%+", "expires_in": "7200"}
    # data was an object: the page got its text; each level reads with read_pairs again.
    statement = read_pairs(read_pairs(decoded["data"])["statement"])
    assert statement["name"] == "Arman Ali"
    assert read_pairs(statement["nested"]) == {"deeper": "x=y&z"}


def test_no_other_spelling_of_a_nested_key_is_read():
    # The bank's script never writes these; the page must not rebuild auth from them.
    for flat in ("invoiceId=1&auth.access_token=T1&auth.expires_in=7200",
                 "invoiceId=1&access_token=T1&expires_in=7200",
                 "invoiceId=1&auth%5Baccess_token%5D=T1&auth%5Bexpires_in%5D=7200",
                 "invoiceId=1&auth=" + encode_value(json.dumps({"access_token": "T1"}))):
        decoded = decode_params(compress_to_encoded_uri_component(flat))
        assert "access_token" not in decoded.get("auth", {}), flat


def test_js_number_text_spells_numbers_as_javascript():
    cases = {0: "0", 1500: "1500", -7: "-7", 12.5: "12.5", 100.0: "100", 0.1: "0.1",
             1e21: "1e+21", 1e20: "100000000000000000000", 1.5e-7: "1.5e-7",
             0.000001: "0.000001", 123456789.125: "123456789.125",
             10**21: "1e+21", 2.5e-10: "2.5e-10", 1.7976931348623157e308: "1.7976931348623157e+308"}
    for value, text in cases.items():
        assert js_number_text(value) == text, value
    assert js_number_text(-0.0) == "0"


def test_malformed_escapes_are_refused_as_decodeuricomponent_does():
    for bad in ("%", "%E0%A4%A", "%ZZ", "%C3%28"):
        with pytest.raises(HandoverError):
            decode_uri_component(bad)
    assert decode_uri_component("a+b%20c") == "a+b c"  # + stays +, as in JavaScript


# --- properties ----------------------------------------------------------------------------

keys = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,12}", fullmatch=True).filter(
    lambda k: k != "auth")
# Text with everything the encoding must survive: Cyrillic, &, =, %, +, spaces, emoji.
texts = st.text(alphabet=st.sampled_from([*"aZ09 &=%+?#/[].-_~'Ққ", "ё", "Ж", "😀", "🎉"])
                | st.characters(exclude_categories=("Cs",)), max_size=30)
scalars = st.one_of(texts, st.booleans(), st.integers(-10**12, 10**12),
                    st.decimals(min_value=-10**9, max_value=10**9, places=2,
                                allow_nan=False).map(float), st.none())
token_values = st.one_of(texts, st.integers(0, 10**6))
tokens = st.fixed_dictionaries(
    {"access_token": texts.filter(bool), "expires_in": st.one_of(st.just(7200), st.just("7200"))},
    optional={"refresh_token": token_values, "scope": texts, "token_type": texts})
nested = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, min_size=1,
                                                             max_size=3), max_leaves=8)


def expected(value: Any, received: str) -> Any:
    """What the page holds for ``value`` after one read: its text; an object read again, at
    any depth, gives back each leaf's text."""
    if isinstance(value, dict):
        return {k: expected(v, read_pairs(received)[k]) for k, v in value.items()}
    return received


def leaves(value: Any) -> Any:
    return {k: leaves(v) for k, v in value.items()} if isinstance(value, dict) \
        else bank_flatten(value)


@settings(max_examples=200, deadline=None)
@given(fields=st.dictionaries(keys, nested, max_size=8), auth=tokens,
       data=st.one_of(texts, st.dictionaries(keys, nested, min_size=1, max_size=3)))
def test_any_object_round_trips(fields, auth, data):
    obj = dict(fields, data=data, auth=auth)
    assert bank_flatten(obj) == encode_value(obj)  # two encoders written apart agree
    decoded = decode_params(bank_params(obj))
    assert decoded["auth"] == {k: bank_flatten(v) for k, v in auth.items()}
    for key, value in dict(fields, data=data).items():
        assert expected(value, decoded[key]) == leaves(value), key


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=60))
def test_top_level_text_round_trips_whatever_it_holds(text):
    # Lone surrogates aside (encodeURIComponent throws on them), any text comes back as it went.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(ValueError):
            encode_value({"description": text})
        return
    obj = {"description": text, "auth": {"access_token": "T", "expires_in": "7200"}}
    assert decode_params(encode_params(obj))["description"] == text
