from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest

from flask_halyk.config import TEST_TERMINAL_ID, resolve
from flask_halyk.errors import ConfigurationError
from flask_halyk.postlink.verification import (
    SECRET_HASH_LENGTH,
    check_secret_hash,
    ip_allowed,
    make_secret_hash,
    verify_postlink,
)

SECRET = b"shop-one-postlink-secret-0123456789"
OTHER_SECRET = b"shop-two-postlink-secret-9876543210"


@pytest.fixture
def config():
    return resolve({"HALYK_POSTLINK_SECRET": SECRET.decode()})


@dataclass
class Record:
    invoice_id: str
    amount: Decimal
    currency: str
    terminal: str


def genuine(secret=SECRET, invoice="000123456", amount=Decimal("1500"), currency="KZT",
            terminal=TEST_TERMINAL_ID, **extra):
    body = {
        "invoiceId": invoice,
        "amount": amount,
        "currency": currency,
        "terminal": terminal,
        "code": "ok",
        "reasonCode": 0,
        "secret_hash": make_secret_hash(secret, invoice, amount, currency, terminal),
    }
    body.update(extra)
    return body


def record(**kw):
    values = dict(invoice_id="000123456", amount=Decimal("1500.00"), currency="KZT",
                  terminal=TEST_TERMINAL_ID)
    values.update(kw)
    return Record(**values)


# --- make_secret_hash -------------------------------------------------------------------------

def test_hash_shape_is_plain_upper_alphanumeric():
    value = make_secret_hash(SECRET, "000123456", 100, "KZT", TEST_TERMINAL_ID)
    assert len(value) == SECRET_HASH_LENGTH == 32
    assert re.fullmatch(r"[0-9A-F]{32}", value)


@pytest.mark.parametrize("amount", [100, "100", 100.0, Decimal("100.00"), Decimal("1E+2"),
                                    " 100 ", "100.000"])
def test_amount_spellings_agree(amount):
    assert make_secret_hash(SECRET, "123456", amount, "KZT", "t") == make_secret_hash(
        SECRET, "123456", Decimal("100"), "KZT", "t"
    )


def test_every_bound_field_changes_the_hash():
    base = make_secret_hash(SECRET, "123456", 100, "KZT", "term-a")
    variants = [
        make_secret_hash(OTHER_SECRET, "123456", 100, "KZT", "term-a"),
        make_secret_hash(SECRET, "123457", 100, "KZT", "term-a"),
        make_secret_hash(SECRET, "123456", 101, "KZT", "term-a"),
        make_secret_hash(SECRET, "123456", "100.01", "KZT", "term-a"),
        make_secret_hash(SECRET, "123456", 100, "USD", "term-a"),
        make_secret_hash(SECRET, "123456", 100, "KZT", "term-b"),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


def test_field_boundaries_cannot_be_shifted():
    # "12" + "3456" must not collide with "123" + "456" in any layout.
    assert make_secret_hash(SECRET, "1234561", 0, "KZT", "t") != make_secret_hash(
        SECRET, "123456", 10, "KZT", "t"
    )


def test_currency_and_terminal_case_do_not_matter():
    assert make_secret_hash(SECRET, "123456", 1, "kzt", TEST_TERMINAL_ID.upper()) == (
        make_secret_hash(SECRET, "123456", 1, "KZT", TEST_TERMINAL_ID)
    )


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", "", True, Decimal("NaN")])
def test_non_amounts_are_refused(bad):
    with pytest.raises(ValueError):
        make_secret_hash(SECRET, "123456", bad, "KZT", "t")


# --- check_secret_hash / verify_postlink --------------------------------------------------------

def test_genuine_postlink_passes(config):
    body = genuine()
    assert check_secret_hash(SECRET, body)
    assert verify_postlink(config, body) is None
    assert verify_postlink(config, body, record()) is None


def test_genuine_postlink_with_wire_spellings_passes(config):
    # Raw JSON: amount a float or int, hash under the camelCase key, lower-case hex.
    body = genuine(amount=Decimal("1500"))
    body["amount"] = 1500.0
    body["secretHash"] = body.pop("secret_hash").lower()
    assert verify_postlink(config, body, record()) is None


def test_wrong_secret_hash_fails(config):
    body = genuine()
    body["secret_hash"] = "0" * 32
    reason = verify_postlink(config, body)
    assert reason and "secret_hash" in reason


@pytest.mark.parametrize("amount", [Decimal("1501"), Decimal("1499.99"), Decimal("15000"),
                                    Decimal("1")])
def test_amount_raised_or_lowered_fails(config, amount):
    body = genuine()
    body["amount"] = amount
    assert verify_postlink(config, body) is not None


def test_other_currency_fails(config):
    body = genuine()
    body["currency"] = "USD"
    assert verify_postlink(config, body) is not None


def test_other_terminal_fails(config):
    other = "11111111-2222-3333-4444-555555555555"
    # Even with a hash correctly made for that terminal under our key: it is not our terminal.
    body = genuine(terminal=other)
    assert verify_postlink(config, body) == "terminal is not this shop's terminal"
    body = genuine()
    body["terminal"] = other
    assert verify_postlink(config, body) is not None


def test_another_invoices_hash_fails(config):
    body = genuine(invoice="000123456")
    body["secret_hash"] = genuine(invoice="000999999")["secret_hash"]
    assert verify_postlink(config, body) is not None
    moved = genuine(invoice="000123456")
    moved["invoiceId"] = "000999999"
    assert verify_postlink(config, moved) is not None


@pytest.mark.parametrize("missing", ["secret_hash", "invoiceId", "amount", "currency",
                                     "terminal"])
def test_missing_fields_fail(config, missing):
    body = genuine()
    del body[missing]
    reason = verify_postlink(config, body)
    assert reason is not None and "missing" in reason


@pytest.mark.parametrize("value", ["", "   ", None, 12345, ["A" * 32]])
def test_blank_or_non_string_hash_fails(config, value):
    body = genuine()
    body["secret_hash"] = value
    assert verify_postlink(config, body) == "secret_hash missing"


def test_garbage_amount_fails_without_raising(config):
    body = genuine()
    body["amount"] = "lots"
    assert verify_postlink(config, body) is not None
    body["amount"] = {"nested": 1}
    assert not check_secret_hash(SECRET, body)


def test_record_mismatches_fail(config):
    body = genuine()
    assert verify_postlink(config, body, record(amount=Decimal("15.00"))) == (
        "amount differs from the payment's"
    )
    assert verify_postlink(config, body, record(currency="USD")) == (
        "currency differs from the payment's"
    )
    assert verify_postlink(config, body, record(terminal="other")) == (
        "terminal differs from the payment's"
    )
    assert verify_postlink(config, body, record(invoice_id="000654321")) == (
        "invoiceId differs from the payment's"
    )


def test_record_without_invoice_attribute_is_accepted(config):
    @dataclass
    class Bare:
        amount: Decimal
        currency: str
        terminal: str

    assert verify_postlink(config, genuine(), Bare(Decimal("1500"), "KZT",
                                                     TEST_TERMINAL_ID)) is None


def test_two_apps_reject_each_others_postlinks():
    one = resolve({"HALYK_POSTLINK_SECRET": SECRET.decode()})
    two = resolve({"HALYK_POSTLINK_SECRET": OTHER_SECRET.decode()})
    assert verify_postlink(one, genuine(secret=SECRET)) is None
    assert verify_postlink(two, genuine(secret=OTHER_SECRET)) is None
    assert verify_postlink(one, genuine(secret=OTHER_SECRET)) is not None
    assert verify_postlink(two, genuine(secret=SECRET)) is not None


def test_secret_key_derived_secrets_differ_between_apps():
    one = resolve({"SECRET_KEY": "first app key"})
    two = resolve({"SECRET_KEY": "second app key"})
    body = genuine(secret=one.postlink_secret)
    assert verify_postlink(one, body) is None
    assert verify_postlink(two, body) is not None


def test_reasons_never_contain_the_expected_hash(config):
    expected = genuine()["secret_hash"]
    for mutate in ({"amount": Decimal("1")}, {"currency": "USD"}, {"secret_hash": "X" * 32},
                   {"invoiceId": "000000001"}):
        body = genuine()
        body.update(mutate)
        reason = verify_postlink(config, body) or ""
        assert expected not in reason and expected.lower() not in reason
        assert SECRET.decode() not in reason


# --- ip_allowed --------------------------------------------------------------------------------

def test_no_list_allows_everyone(config):
    assert ip_allowed(config, "203.0.113.9")
    assert ip_allowed(config, None)


def test_addresses_and_networks():
    cfg = resolve({"SECRET_KEY": "k", "HALYK_POSTLINK_ALLOWED_IPS":
                   ["203.0.113.9", "198.51.100.0/24", "2001:db8::/32"]})
    assert ip_allowed(cfg, "203.0.113.9")
    assert not ip_allowed(cfg, "203.0.113.10")
    assert ip_allowed(cfg, "198.51.100.200")
    assert not ip_allowed(cfg, "198.51.101.1")
    assert ip_allowed(cfg, "2001:db8::1")
    assert ip_allowed(cfg, "::ffff:198.51.100.7")
    assert not ip_allowed(cfg, "2001:db9::1")
    assert not ip_allowed(cfg, None)
    assert not ip_allowed(cfg, "")
    assert not ip_allowed(cfg, "not-an-ip")


def test_list_from_comma_separated_config():
    cfg = resolve({"SECRET_KEY": "k", "HALYK_POSTLINK_ALLOWED_IPS": "10.0.0.0/8, 127.0.0.1"})
    assert ip_allowed(cfg, "10.1.2.3")
    assert ip_allowed(cfg, "127.0.0.1")
    assert not ip_allowed(cfg, "127.0.0.2")


def test_bad_list_entry_is_a_configuration_error_at_resolve():
    with pytest.raises(ConfigurationError) as info:
        resolve({"SECRET_KEY": "k", "HALYK_POSTLINK_ALLOWED_IPS": ["10.0.0.0/8", "epay.kz"]})
    assert info.value.key == "HALYK_POSTLINK_ALLOWED_IPS"
