"""flask_halyk.sandbox.lzstring: LZ-String 1.4.4's compressToEncodedURIComponent and its inverse.

Decision for bad input: ``decompress_from_encoded_uri_component`` raises ``ValueError`` for
anything malformed (where the JavaScript library answers ``null``, ``""`` or throws) and past its
output cap; handover.decode_params turns that into HandoverError.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_halyk.sandbox import create_sandbox_app
from flask_halyk.sandbox.handover import HandoverError, decode_params
from flask_halyk.sandbox.lzstring import (
    ALPHABET,
    MAX_DECOMPRESSED_LENGTH,
    compress_to_encoded_uri_component,
    decompress_from_encoded_uri_component,
)


def payment_query() -> str:
    """A 2,000-character payment object flattened and percent-encoded as payment-api.js does."""
    fields = [
        ("invoiceId", "000000123456"),
        ("backLink", "https://shop.example.kz/orders/123456/paid"),
        ("failureBackLink", "https://shop.example.kz/orders/123456/failed"),
        ("postLink", "https://shop.example.kz/halyk/postlink"),
        ("failurePostLink", "https://shop.example.kz/halyk/postlink/failure"),
        ("language", "RUS"),
        ("description", "Оплата заказа №123456 в магазине «Пример»"),
        ("accountId", "customer-42"),
        ("terminal", "67e34d63-102f-4bd1-898e-370781d0074d"),
        ("amount", "15990.50"),
        ("currency", "KZT"),
        ("name", "Иван Петров"),
        ("email", "ivan@example.kz"),
        ("phone", "+77001234567"),
        ("auth[access_token]", "DCEB8O_ZM5U7SO_T_U5EJQ"),
        ("auth[expires_in]", "7200"),
        ("auth[refresh_token]", ""),
        ("auth[scope]", "payment"),
        ("auth[token_type]", "Bearer"),
    ]
    items = [{"sku": f"SKU-{n:04d}", "qty": n % 3 + 1, "name": f"Товар {n}"} for n in range(40)]
    fields.append(("data", json.dumps({"statement": {"items": items}}, ensure_ascii=False)))
    query = "&".join(key + "=" + quote(value, safe="!*'()") for key, value in fields)
    return query[:2000]


# The expected outputs below came from the real library: lz-string 1.4.4 from the npm registry,
# LZString.compressToEncodedURIComponent(input) run under node 20 (and decompressed back there).
PAYMENT_QUERY_COMPRESSED = (
    "JYOwbg9sDGCmCSATAvABnRgjAJgMwBYBWANgDIAjAQ2gGsAZUG5ACwBdWAHAZwFJcBBHtgBiQ4V2YQOAOlgAPSgF"
    "sOAG1jSaALzEQAToli7eInARJiOlYIlIAzKyoCuu2ACFq9Ri3bc+gkWISUrIKymoa2iJ6BkZipkTEYvbAajYcEFy"
    "sDCBMbJy8AmKBkjLySqrqWmLMlCoAnjQWGawqjHYOzrAACs3ZuT4F-qIiQaWhFRHVtQ1Nma05SR0upCqUIADmjpT"
    "rsMgASgCqAMqkBlzQusAcrMAQIMg8ACKoPACcAKJPL66izzyuri+-xej0wPAAHNgga4XtgQd8AOzQ+H-QR-GHQpH"
    "o2Evd5Q8H4N7EeLmOHQqFk9EAYWR0NwtPRWO+4Ohj2hhCELypUP4gL+r1+YPBKNcLOp7KeQq5UIBpGo0AgjhArCQ"
    "yGgjkyEEUhgAtPhsKRWIZFKBashiAjYAREMRcDrMKhsLY9eREJgdeDXuDYDrcAjUAjwZhEOgEfgbEpFcrkJhCK9X"
    "qhpIRUKR1boXCBoHVkABpABaABVSCAlLsgV7yQzvmzKS8BRLQRCoY3hdDPuiDbBFA5kMAwGsePhUGUwpVNKQOJIQ"
    "GXsK4Ef7UCSLXLHKxmABteWwLhcAD6rAgNFgIAAushHlT3qKAPK7vMAWUIBwRR1vBd3B0I7wAUgBFFdruu8gcMAL"
    "h7qAZ4InCKaUKuG4uLYYHMPuh7HmeAEbucUiwGelh1NqyoYeuB5HiA+51BwOHIK4sCUC4uinJQrCUA8CKAtg2CZE"
    "xXbHqwQhQoUZJsfxwBGooxgCf4LyEICwkcVwNCOPxficvxRw5gcOoYLCFI0mSHEAI6sHUymCYuQh6TpJbaqZUnKX"
    "8-DNt87bfE5wKShCOI6TwCI1pZPnsZxim2apHHqZpWDKdg-mGcZIVwrpoXYNZsDxd5Dlua4Ln-JlIJSpyYIcT5fm"
    "qXJQVKUVZlqRpWnoBSiX6dgRkmZVUn0tFSUpWl9kvI5baVtiHmtglym+RZpWBQpFWSUl4W1ag7UNTpzVpYVMXJaW"
    "3VFRl-Udgy+VwotxXjUJk3Ba1s01RghJFR1jUrRdI13VZm2PelvWZdlri5UNOI3VCY3PQF-FTVt2BzRgHK3etD0z"
    "YdJ0vTZb09TwfXol9P0tjiUMAyVp0g+dcM6RD6CJNDSWwypcJrZ1r1EyjaPOQN3x5Z5nJk7jCPA-JhNU8TV2hlFM"
    "NxW9S38V1yPbR9u2uftbNwkiRWA-5ZWg5L4MC6gLLk-dItE+160S-TUuo9gQA"
)

VECTORS = [
    ("", "Q"),
    ("a", "IZA"),
    ("hello world", "BYUwNmD2AEDukCcwBMg"),
    (
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "oQgikQSsIIEiCDIgAEhsIGGZCSIIRRAaFkQQQiCA4QQoiAyA8IIPIggzCCBcIPjICIggAiCAMIILwggYiCDC"
        "IIOwgggiCUGCMIK4G4QQHwg5ADQxALCD0YgJhBA0iCB+EDCBOEBiBxEHqA5EAB0QA",
    ),
    (
        "Оплата 💳 принята 👍 thanks! 🎉",
        "nggn4QTcIIDCCEIgEASLwbhmndiQAiCA4QQvCCHkQGDCyO7AC4AWAhgHYDWAzgISyA8G4JH7QA",
    ),
]


@pytest.mark.parametrize(("text", "compressed"), VECTORS)
def test_matches_the_javascript_library(text, compressed):
    assert compress_to_encoded_uri_component(text) == compressed
    assert decompress_from_encoded_uri_component(compressed) == text


def test_matches_the_javascript_library_on_a_payment_object():
    query = payment_query()
    assert len(query) == 2000
    assert compress_to_encoded_uri_component(query) == PAYMENT_QUERY_COMPRESSED
    assert decompress_from_encoded_uri_component(PAYMENT_QUERY_COMPRESSED) == query


def test_astral_characters_are_compressed_as_surrogate_pairs():
    # A JavaScript string holds U+1F4B3 as the two code units D83D DCB3: same compressed text.
    pair = "\ud83d\udcb3"
    assert compress_to_encoded_uri_component("💳") == compress_to_encoded_uri_component(pair)
    assert decompress_from_encoded_uri_component(compress_to_encoded_uri_component(pair)) == "💳"


@settings(max_examples=300, deadline=None)
@given(st.text())  # any code point but lone surrogates, astral ones included
def test_round_trip_any_text(text):
    compressed = compress_to_encoded_uri_component(text)
    assert set(compressed) <= set(ALPHABET)
    assert decompress_from_encoded_uri_component(compressed) == text


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(min_codepoint=0x10000) | st.sampled_from("aж€ 1"), max_size=300))
def test_round_trip_astral_text(text):
    assert decompress_from_encoded_uri_component(compress_to_encoded_uri_component(text)) == text


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_spaces_are_read_as_plus(text):
    # A form decoder turns "+" into a space; the library reads spaces back as "+".
    compressed = compress_to_encoded_uri_component(text).replace("+", " ")
    assert decompress_from_encoded_uri_component(compressed) == text


@settings(max_examples=500, deadline=None)
@given(st.text(ALPHABET, max_size=60) | st.text(max_size=60))
def test_garbage_decodes_or_raises_value_error(garbage):
    # Never another exception (the sandbox decodes what a browser sent).
    try:
        result = decompress_from_encoded_uri_component(garbage)
    except ValueError:
        return
    assert isinstance(result, str)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=100), st.data())
def test_truncated_data_decodes_or_raises_value_error(text, data):
    compressed = compress_to_encoded_uri_component(text)
    cut = data.draw(st.integers(min_value=1, max_value=len(compressed)))
    try:
        result = decompress_from_encoded_uri_component(compressed[:-cut])
    except ValueError:
        return
    assert isinstance(result, str)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "empty"),  # the library: null
        ("A", "end marker"),  # a character, then the data stops (the library: "")
        ("N4Ig", "end marker"),
        ("!!!!", "'!'"),  # not in the alphabet (the library reads it as zero bits)
        ("IZ/A", "'/' at 2"),
        ("4Y", "does not start"),  # first code 3 (the library: "")
        ("Ibo", "code 7"),  # a code not yet in the dictionary (the library: null)
    ],
)
def test_malformed_data_is_a_value_error(data, message):
    with pytest.raises(ValueError, match=message):
        decompress_from_encoded_uri_component(data)


def test_characters_after_the_end_marker_are_ignored():
    # As by the library ("IZA" is "a"; lz-string 1.4.4 under node also reads "IZA/" as "a").
    assert decompress_from_encoded_uri_component("IZA/") == "a"


def test_output_is_capped():
    text = "a" * 1000
    compressed = compress_to_encoded_uri_component(text)
    assert decompress_from_encoded_uri_component(compressed, max_length=1000) == text
    with pytest.raises(ValueError, match="more than 999 code units"):
        decompress_from_encoded_uri_component(compressed, max_length=999)


def test_a_small_input_cannot_ask_for_unbounded_output():
    # LZW output grows with the square of its input: about 2,000 characters ask for a million
    # units; the default cap refuses it (the sandbox decodes what a browser sent).
    compressed = compress_to_encoded_uri_component("a" * (MAX_DECOMPRESSED_LENGTH + 1))
    assert len(compressed) < 3000
    with pytest.raises(ValueError, match="more than"):
        decompress_from_encoded_uri_component(compressed)


@pytest.mark.parametrize("params", ["!!!!", "Ibo", "A", ""])
def test_handover_maps_malformed_params_to_handover_error(params):
    with pytest.raises(HandoverError):
        decode_params(params)


def test_lone_surrogates_are_kept_as_javascript_holds_them():
    for text in ("\ud800", "a\udfffb", "\udc00\ud800"):  # not pairs: kept as they are
        compressed = compress_to_encoded_uri_component(text)
        assert decompress_from_encoded_uri_component(compressed) == text


def test_handover_refuses_a_lone_surrogate():
    # It is no text: the payment page could not be written in UTF-8 (it was a 500).
    flat = "invoiceId=100001&amount=100&auth[access_token]=T&description=\ud800"
    params = compress_to_encoded_uri_component(flat)
    with pytest.raises(HandoverError, match="surrogate"):
        decode_params(params)
    page = create_sandbox_app().test_client().get("/payform/", query_string={"params": params})
    assert page.status_code == 400


def test_handover_refuses_params_past_the_cap():
    flat = "invoiceId=1&description=" + "a" * MAX_DECOMPRESSED_LENGTH
    with pytest.raises(HandoverError):
        decode_params(compress_to_encoded_uri_component(flat))
