from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sandbox_helpers import bank_params

from flask_halyk.sandbox.handover import decode_params

keys = st.from_regex(r"[a-zA-Z][a-zA-Z0-9]{0,12}", fullmatch=True).filter(
    lambda k: k not in ("auth", "access_token", "expires_in", "refresh_token", "scope",
                        "token_type"))


@settings(max_examples=150, deadline=None)
@given(fields=st.dictionaries(keys, st.text(max_size=40), max_size=8),
       token=st.text(min_size=1, max_size=30))
def test_bank_params_round_trip_any_unicode(fields, token):
    obj = dict(fields, auth={"access_token": token, "expires_in": "7200"})
    decoded = decode_params(bank_params(obj))
    assert decoded["auth"] == {"access_token": token, "expires_in": "7200"}
    assert {k: v for k, v in decoded.items() if k != "auth"} == fields


nested = st.recursive(st.text(max_size=20),
                      lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=3),
                      max_leaves=6)


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(keys, nested, max_size=5), token=st.text(min_size=1, max_size=30))
def test_bank_params_round_trip_nested_objects(fields, token):
    obj = dict(fields, auth={"access_token": token, "expires_in": "7200"})
    decoded = decode_params(bank_params(obj))
    assert decoded.pop("auth") == {"access_token": token, "expires_in": "7200"}
    assert decoded == fields
