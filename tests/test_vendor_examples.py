"""Every JSON example of the vendor's pages (tests/vendor_examples.py) is read by the client's
own schemas without loss: every key kept, every value the same (numbers as Decimal or int, the
spellings the schemas normalise read as the same word)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import vendor_examples as vendor

from flask_halyk.epay.results import ResultCode, StatusName
from flask_halyk.schemas import (
    LANGUAGE_ALIASES,
    OperationErrorSchema,
    PostLinkSchema,
    SavedCardSchema,
    StatusResponseSchema,
    TokenResponseSchema,
    TransactionSchema,
    is_success,
)


def same(sent: Any, loaded: Any) -> bool:
    """Whether ``loaded`` says what ``sent`` said."""
    if isinstance(sent, dict):
        return isinstance(loaded, dict) and set(sent) == set(loaded) and all(
            same(sent[k], loaded[k]) for k in sent)
    if isinstance(loaded, Decimal) and not isinstance(sent, bool):
        return Decimal(str(sent)) == loaded
    if isinstance(loaded, int) and not isinstance(loaded, bool) and isinstance(sent, str):
        return int(sent) == loaded
    if isinstance(sent, str) and isinstance(loaded, str) and sent != loaded:
        word = sent.strip().lower()
        return LANGUAGE_ALIASES.get(word) == loaded or word == loaded.lower()  # code, status
    return bool(sent == loaded)


def test_postlinks_success_and_failure():
    success = PostLinkSchema().load(vendor.load(vendor.POSTLINK_SUCCESS))
    failure = PostLinkSchema().load(vendor.load(vendor.POSTLINK_FAILURE))
    assert same(vendor.load(vendor.POSTLINK_SUCCESS), success) and is_success(success)
    assert same(vendor.load(vendor.POSTLINK_FAILURE), failure) and not is_success(failure)
    assert "secret_hash" not in success and "secret_hash" not in failure  # as printed


@pytest.mark.parametrize("text", [vendor.STATUS_NEW], ids=["new"])
def test_status_answer(text):
    body = vendor.load(text)
    loaded = StatusResponseSchema().load(body)
    assert same(body, loaded)
    assert ResultCode(loaded["resultCode"]) == ResultCode.SUCCESS
    assert StatusName(loaded["transaction"]["statusName"]) == StatusName.CHARGE


def test_old_status_answer_reads_as_a_transaction():
    body = vendor.load(vendor.STATUS_OLD)
    loaded = TransactionSchema().load(body)
    assert same(body, loaded) and loaded["code"] == "CHARGE"


@pytest.mark.parametrize("name", list(vendor.TOKENS))
def test_token_answers(name):
    body = vendor.load(vendor.TOKENS[name])
    loaded = TokenResponseSchema().load(body)
    assert same(body, loaded) and isinstance(loaded["expires_in"], int)


def test_saved_card_list():
    body = vendor.load(vendor.SAVED_CARDS)
    loaded = SavedCardSchema(many=True).load(body)
    assert len(loaded) == len(body) and all(same(b, c) for b, c in zip(body, loaded,
                                                                         strict=True))


@pytest.mark.parametrize("text", vendor.OPERATION_ERRORS)
def test_operation_errors(text):
    body = vendor.load(text)
    assert same(body, OperationErrorSchema().load(body))


@pytest.mark.parametrize("code", vendor.REASON_CODES)
def test_every_reason_code_is_a_failure(code):
    body = vendor.load(vendor.POSTLINK_FAILURE)
    for value in (code, str(code)):
        loaded = PostLinkSchema().load({**body, "reasonCode": value, "code": "ok"})
        assert loaded["reasonCode"] == code and not is_success(loaded)
