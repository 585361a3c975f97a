from __future__ import annotations

from ipaddress import ip_network

import pytest

from flask_halyk.config import (
    DEFAULTS,
    SANDBOX_INTERNAL_ORIGIN,
    TEST_CLIENT_SECRET,
    TEST_TERMINAL_ID,
    resolve,
)
from flask_halyk.errors import ConfigurationError

BASE = {"SECRET_KEY": "k"}
# ePay's hosts need the shop's public origin (links are never built from a request's Host).
ORIGIN = {"HALYK_EXTERNAL_URL": "https://shop.example.kz"}
PROD = {
    **BASE,
    **ORIGIN,
    "HALYK_ENV": "prod",
    "HALYK_CLIENT_ID": "shop",
    "HALYK_CLIENT_SECRET": "real-secret-value",
    "HALYK_TERMINAL_ID": "11111111-2222-3333-4444-555555555555",
}


def test_no_credentials_means_embedded_sandbox():
    cfg = resolve(BASE)
    assert cfg.env == "sandbox"
    assert cfg.embedded_sandbox
    assert cfg.token_url == f"{SANDBOX_INTERNAL_ORIGIN}/oauth2/token"
    assert cfg.script_url == "/halyk-sandbox/payform/payment-api.js"
    assert cfg.terminal_id == TEST_TERMINAL_ID


def test_credentials_without_env_are_refused():
    with pytest.raises(ConfigurationError) as err:
        resolve({**BASE, "HALYK_CLIENT_ID": "shop", "HALYK_CLIENT_SECRET": "zz-secret-zz"})
    assert err.value.key == "HALYK_ENV"
    assert "'prod'" in str(err.value)
    assert "zz-secret-zz" not in str(err.value)


@pytest.mark.parametrize("key", ["HALYK_CLIENT_ID", "HALYK_CLIENT_SECRET", "HALYK_TERMINAL_ID"])
def test_prod_requires_every_credential(key):
    with pytest.raises(ConfigurationError) as err:
        resolve({**PROD, key: None})
    assert err.value.key == key


def test_prod_refuses_the_published_test_secret():
    with pytest.raises(ConfigurationError) as err:
        resolve({**PROD, "HALYK_CLIENT_SECRET": TEST_CLIENT_SECRET})
    assert err.value.key == "HALYK_CLIENT_SECRET"
    assert TEST_CLIENT_SECRET not in str(err.value)


def test_prod_hosts_and_override_one_by_one():
    cfg = resolve({**PROD, "HALYK_API_URL": "https://proxy.example.kz/epay/"})
    assert cfg.token_url == "https://epay-oauth.homebank.kz/oauth2/token"
    assert cfg.api_url == "https://proxy.example.kz/epay"
    assert not cfg.embedded_sandbox


def test_prod_refuses_plain_http_hosts():
    with pytest.raises(ConfigurationError) as err:
        resolve({**PROD, "HALYK_TOKEN_URL": "http://epay-oauth.homebank.kz/oauth2/token"})
    assert err.value.key == "HALYK_TOKEN_URL"


def test_test_env_presets_published_merchant():
    cfg = resolve({**BASE, **ORIGIN, "HALYK_ENV": "test"})
    assert cfg.client_id == "test"
    assert cfg.client_secret == TEST_CLIENT_SECRET
    assert "epayment.kz" in cfg.token_url


def test_external_sandbox_url_points_every_host_there():
    cfg = resolve({**BASE, "HALYK_SANDBOX_URL": "http://127.0.0.1:8765/"})
    assert not cfg.embedded_sandbox
    assert cfg.token_url == "http://127.0.0.1:8765/oauth2/token"
    assert cfg.api_url == "http://127.0.0.1:8765"
    assert cfg.script_url == "http://127.0.0.1:8765/payform/payment-api.js"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("HALYK_ENV", "production"),
        ("HALYK_LANGUAGE", "de"),
        ("HALYK_TIMEOUT", "soon"),
        ("HALYK_TIMEOUT", (0, 5)),
        ("HALYK_RETRIES", 50),
        ("HALYK_EXTERNAL_URL", "shop.kz"),
        ("HALYK_SANDBOX_PREFIX", "/halyk"),
    ],
)
def test_bad_values_name_their_key(key, value):
    with pytest.raises(ConfigurationError) as err:
        resolve({**BASE, key: value})
    assert err.value.key == key


def test_postlink_secret_needs_some_secret():
    with pytest.raises(ConfigurationError) as err:
        resolve({})
    assert err.value.key == "HALYK_POSTLINK_SECRET"


def test_postlink_secret_derived_from_secret_key_differs_per_key():
    a = resolve({"SECRET_KEY": "a"}).postlink_secret
    b = resolve({"SECRET_KEY": "b"}).postlink_secret
    assert a != b
    assert len(a) == 32
    assert resolve({"HALYK_POSTLINK_SECRET": "explicit"}).postlink_secret == b"explicit"


def test_repr_hides_the_secret():
    cfg = resolve(PROD)
    assert "real-secret-value" not in repr(cfg)
    assert "real-secret-value" not in str(cfg)


def test_timeout_forms():
    assert resolve({**BASE, "HALYK_TIMEOUT": 3}).timeout == (3.0, 3.0)
    assert resolve({**BASE, "HALYK_TIMEOUT": [2, 9]}).timeout == (2.0, 9.0)


def test_two_stage_is_off_by_default_and_set_by_its_key():
    assert resolve(BASE).two_stage is False
    assert resolve({**BASE, "HALYK_TWO_STAGE": True}).two_stage is True
    assert resolve({**PROD, "HALYK_TWO_STAGE": True}).two_stage is True
    assert "HALYK_TWO_STAGE" in DEFAULTS and "HALYK_SANDBOX_TWO_STAGE" not in DEFAULTS


@pytest.mark.parametrize("value", [True, False])
def test_the_old_two_stage_key_is_refused_with_the_new_name(value):
    with pytest.raises(ConfigurationError) as err:
        resolve({**BASE, "HALYK_SANDBOX_TWO_STAGE": value})
    assert err.value.key == "HALYK_SANDBOX_TWO_STAGE"
    assert "HALYK_TWO_STAGE" in str(err.value).replace("HALYK_SANDBOX_TWO_STAGE", "")


def test_every_default_key_is_documented():
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    for key in DEFAULTS:
        assert f"`{key}`" in doc, key


# --- every setting checked at resolve time, so that init_app fails, not the first payment ------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("HALYK_TIMEOUT", float("nan")),
        ("HALYK_TIMEOUT", float("inf")),
        ("HALYK_TIMEOUT", (5, float("inf"))),
        ("HALYK_TIMEOUT", (5, 30, 60)),
        ("HALYK_TIMEOUT", True),
        ("HALYK_TIMEOUT", "5"),
        ("HALYK_TIMEOUT", -1),
        ("HALYK_RETRIES", "many"),
        ("HALYK_RETRIES", -1),
        ("HALYK_RETRIES", 2.5),
        ("HALYK_RETRIES", True),
        ("HALYK_MAX_POSTLINK_BYTES", 0),
        ("HALYK_MAX_POSTLINK_BYTES", "64k"),
        ("HALYK_TWO_STAGE", "maybe"),
        ("HALYK_TWO_STAGE", 2),
        ("HALYK_VERIFY_WITH_STATUS", "sometimes"),
        ("HALYK_CURRENCY", "tenge"),
        ("HALYK_CURRENCY", "KZ"),
        ("HALYK_SCOPE", ""),
        ("HALYK_SCOPE", "   "),
        ("HALYK_SCOPE", ["payment"]),
        ("HALYK_POSTLINK_ALLOWED_IPS", "10.0.0.0/8, epay.kz"),
        ("HALYK_POSTLINK_ALLOWED_IPS", ["300.1.2.3"]),
        ("HALYK_POSTLINK_ALLOWED_IPS", 10),
        ("HALYK_POSTLINK_SECRET", 12345),
        ("HALYK_CLIENT_ID", ["shop"]),
    ],
)
def test_bad_values_fail_at_resolve_naming_their_key(key, value):
    config = {**BASE, key: value}
    if key == "HALYK_CLIENT_ID":
        config.update(ORIGIN, HALYK_ENV="test")
    with pytest.raises(ConfigurationError) as err:
        resolve(config)
    assert err.value.key == key
    assert key in str(err.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("False", False), ("1", True), ("0", False),
     ("on", True), ("off", False), (1, True), (0, False)],
)
def test_flags_read_environment_strings_as_words(value, expected):
    # bool("false") is True: a shop reading HALYK_TWO_STAGE=false from its environment would
    # otherwise record every payment as only authorised.
    assert resolve({**BASE, "HALYK_TWO_STAGE": value}).two_stage is expected
    assert resolve({**BASE, "HALYK_VERIFY_WITH_STATUS": value}).verify_with_status is expected


def test_numbers_from_environment_strings():
    cfg = resolve({**BASE, "HALYK_RETRIES": "3", "HALYK_MAX_POSTLINK_BYTES": "2048"})
    assert (cfg.retries, cfg.max_postlink_bytes) == (3, 2048)


@pytest.mark.parametrize(("value", "expected"),
                         [("RU", "rus"), ("rus", "rus"), ("KZ", "kaz"), ("Eng", "eng")])
def test_language_accepts_both_spellings(value, expected):
    assert resolve({**BASE, "HALYK_LANGUAGE": value}).language == expected


def test_currency_and_scope_are_normalised():
    cfg = resolve({**BASE, "HALYK_CURRENCY": " usd ", "HALYK_SCOPE": " payment "})
    assert (cfg.currency, cfg.scope) == ("USD", "payment")


def test_allowed_ips_are_checked_and_kept():
    cfg = resolve({**BASE, "HALYK_POSTLINK_ALLOWED_IPS": " 10.0.0.0/8 , 2001:db8::/32,"})
    assert cfg.postlink_allowed_ips == (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"))
    assert resolve({**BASE, "HALYK_POSTLINK_ALLOWED_IPS": ["127.0.0.1"]}).postlink_allowed_ips \
        == (ip_network("127.0.0.1"),)
    assert resolve({**BASE, "HALYK_POSTLINK_ALLOWED_IPS": ""}).postlink_allowed_ips is None


def test_numeric_credentials_from_json_environment_are_text():
    cfg = resolve({**PROD, "HALYK_CLIENT_ID": 12345})
    assert cfg.client_id == "12345"


def test_secret_in_a_bad_value_error_is_never_echoed():
    with pytest.raises(ConfigurationError) as err:
        resolve({**PROD, "HALYK_CLIENT_SECRET": ["real-secret-value"]})
    assert err.value.key == "HALYK_CLIENT_SECRET"
    assert "real-secret-value" not in str(err.value)


def _documented_defaults() -> dict[str, str]:
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`HALYK_"):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def test_the_documented_defaults_are_the_defaults():
    """docs/configuration.md's default column says what DEFAULTS holds, key for key."""
    rows = _documented_defaults()
    assert set(rows) == set(DEFAULTS)
    for key, default in DEFAULTS.items():
        cell = rows[key]
        if key in ("HALYK_TOKEN_URL", "HALYK_API_URL", "HALYK_SCRIPT_URL", "HALYK_PAYFORM_URL"):
            assert cell == "per env", key
            continue
        expected = "`None`" if default is None else f"`{default}`"
        if isinstance(default, bool | tuple):
            expected = f"`{default!r}`"
        assert cell == expected, (key, cell, expected)


def test_the_documented_host_presets_are_the_presets():
    from pathlib import Path

    from flask_halyk.config import HOSTS

    doc = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    for env_hosts in HOSTS.values():
        for key, url in env_hosts.items():
            assert f"`{url}`" in doc, (key, url)


@pytest.mark.parametrize("env", ["test", "prod"])
def test_a_sandbox_url_outside_the_sandbox_is_refused(env):
    settings = {**PROD, "HALYK_ENV": env, "HALYK_SANDBOX_URL": "http://127.0.0.1:8765"}
    with pytest.raises(ConfigurationError) as err:
        resolve(settings)
    assert err.value.key == "HALYK_SANDBOX_URL"


def test_a_bad_url_is_named_without_its_credentials():
    with pytest.raises(ConfigurationError) as err:
        resolve({**BASE, "HALYK_SANDBOX_URL": "ftp://user:pa55word@host/x"})
    assert "pa55word" not in str(err.value)


def test_currency_is_folded_as_ascii_only():
    from flask_halyk.postlink.verification import make_secret_hash

    genuine = make_secret_hash(b"k", "100001", 100, "KZT", TEST_TERMINAL_ID)
    assert make_secret_hash(b"k", "100001", 100, "kzt", TEST_TERMINAL_ID) == genuine
    # U+017F LATIN SMALL LETTER LONG S upper-cases to "S" under Unicode rules.
    assert make_secret_hash(b"k", "100001", 100, "\u017fos", TEST_TERMINAL_ID) != (
        make_secret_hash(b"k", "100001", 100, "SOS", TEST_TERMINAL_ID))


def test_production_links_are_https_only():
    # The bank posts each payment's secret_hash to that origin and sends customers back to it.
    with pytest.raises(ConfigurationError) as info:
        resolve({**PROD, "HALYK_EXTERNAL_URL": "http://shop.example.kz"})
    assert info.value.key == "HALYK_EXTERNAL_URL" and "https" in str(info.value)
    test_env = {**PROD, "HALYK_ENV": "test", "HALYK_EXTERNAL_URL": "http://127.0.0.1:5000"}
    test_env.pop("HALYK_CLIENT_SECRET")
    assert resolve(test_env).external_url == "http://127.0.0.1:5000"
