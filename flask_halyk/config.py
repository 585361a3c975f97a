"""Every ``HALYK_*`` setting, its default, and the checks that turn app config into settings.

Defaults live in :data:`DEFAULTS` and nowhere else; docs/configuration.md is the same table.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

#: The vendor's published test merchant. Public on the vendor's pages; not a secret.
TEST_CLIENT_ID = "test"
TEST_CLIENT_SECRET = "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG"  # noqa: S105 - published test merchant
TEST_TERMINAL_ID = "67e34d63-102f-4bd1-898e-370781d0074d"

LONG_SCOPE = "webapi usermanagement email_send verification statement statistics payment"

#: Where the embedded sandbox answers server-to-server calls. Never resolved over DNS: the
#: extension routes this origin in-process to the sandbox app.
SANDBOX_INTERNAL_ORIGIN = "http://halyk-sandbox.internal"

HOSTS: dict[str, dict[str, str]] = {
    "prod": {
        "HALYK_TOKEN_URL": "https://epay-oauth.homebank.kz/oauth2/token",
        "HALYK_API_URL": "https://epay-api.homebank.kz",
        "HALYK_SCRIPT_URL": "https://epay.homebank.kz/payform/payment-api.js",
        "HALYK_PAYFORM_URL": "https://epay.homebank.kz/payform/",
    },
    # The newer vendor pages; the older testoauth.homebank.kz hosts can be set key by key.
    "test": {
        "HALYK_TOKEN_URL": "https://test-epay-oauth.epayment.kz/oauth2/token",
        "HALYK_API_URL": "https://test-epay-api.epayment.kz",
        "HALYK_SCRIPT_URL": "https://test-epay.epayment.kz/payform/payment-api.js",
        "HALYK_PAYFORM_URL": "https://test-epay.epayment.kz/payform/",
    },
}

ENVIRONMENTS = ("sandbox", "test", "prod")

DEFAULTS: dict[str, Any] = {
    "HALYK_ENV": None,  # None: "sandbox" when no credentials are configured, else an error
    "HALYK_CLIENT_ID": None,
    "HALYK_CLIENT_SECRET": None,
    "HALYK_TERMINAL_ID": None,
    "HALYK_TOKEN_URL": None,
    "HALYK_API_URL": None,
    "HALYK_SCRIPT_URL": None,
    "HALYK_PAYFORM_URL": None,
    "HALYK_SANDBOX_URL": None,  # an external sandbox (``flask halyk sandbox``); None embeds one
    "HALYK_SANDBOX_PREFIX": "/halyk-sandbox",
    "HALYK_SCOPE": LONG_SCOPE,
    "HALYK_CURRENCY": "KZT",
    "HALYK_LANGUAGE": "rus",
    "HALYK_TIMEOUT": (5.0, 30.0),
    "HALYK_RETRIES": 2,
    "HALYK_POSTLINK_SECRET": None,
    "HALYK_URL_PREFIX": "/halyk",
    "HALYK_EXTERNAL_URL": None,
    "HALYK_POSTLINK_ALLOWED_IPS": None,
    "HALYK_VERIFY_WITH_STATUS": False,
    "HALYK_TWO_STAGE": False,  # the terminal authorises, the shop charges (or cancels) later
    "HALYK_MAX_POSTLINK_BYTES": 64 * 1024,
    "HALYK_DATABASE_URL": None,  # None: SQLite file halyk.sqlite3 in the app's instance folder
}

#: Settings that were renamed: the old name is refused with the new one, never ignored (a
#: two-stage shop silently back to one-stage would record held money as paid).
RENAMED = {"HALYK_SANDBOX_TWO_STAGE": "HALYK_TWO_STAGE"}

LANGUAGES = ("rus", "kaz", "eng")


@dataclass(frozen=True, repr=False)
class HalykConfig:
    """The resolved settings of one app. ``repr`` hides the client secret."""

    env: str
    client_id: str
    client_secret: str
    terminal_id: str
    token_url: str
    api_url: str
    script_url: str
    payform_url: str
    embedded_sandbox: bool
    sandbox_prefix: str
    scope: str
    currency: str
    language: str
    timeout: tuple[float, float]
    retries: int
    postlink_secret: bytes
    url_prefix: str
    external_url: str | None
    postlink_allowed_ips: tuple[str, ...] | None
    verify_with_status: bool
    two_stage: bool
    max_postlink_bytes: int
    database_url: str | None

    def __repr__(self) -> str:
        return (
            f"HalykConfig(env={self.env!r}, client_id={self.client_id!r}, "
            f"terminal_id={self.terminal_id!r}, token_url={self.token_url!r}, "
            f"api_url={self.api_url!r}, client_secret='***')"
        )


def _setting(config: Mapping[str, Any], key: str) -> Any:
    value = config.get(key)
    return DEFAULTS[key] if value is None else value


def _check_url(key: str, value: str, env: str, relative_ok: bool = False) -> str:
    parts = urlsplit(value)
    if relative_ok and not parts.scheme and value.startswith("/"):
        return value
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(key, f"{value!r} is not an absolute http(s) URL.")
    if env == "prod" and parts.scheme != "https":
        raise ConfigurationError(key, "production ePay hosts must use https.")
    return value


def _timeout(value: Any) -> tuple[float, float]:
    try:
        if isinstance(value, int | float):
            connect = read = float(value)
        else:
            connect, read = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            "HALYK_TIMEOUT", f"{value!r} is neither seconds nor a (connect, read) pair."
        ) from None
    if connect <= 0 or read <= 0:
        raise ConfigurationError("HALYK_TIMEOUT", "timeouts must be positive seconds.")
    return connect, read


def _postlink_secret(config: Mapping[str, Any]) -> bytes:
    secret = config.get("HALYK_POSTLINK_SECRET")
    if secret:
        return secret.encode() if isinstance(secret, str) else bytes(secret)
    key = config.get("SECRET_KEY")
    if not key:
        raise ConfigurationError(
            "HALYK_POSTLINK_SECRET",
            "set it (or Flask's SECRET_KEY) to a long random string: it signs the secret_hash "
            "that proves a postLink genuine.",
        )
    raw = key.encode() if isinstance(key, str) else bytes(key)
    # A derived key, so that the value sent to the bank says nothing about SECRET_KEY.
    return hmac.new(raw, b"flask-halyk postlink secret", hashlib.sha256).digest()


def resolve(config: Mapping[str, Any]) -> HalykConfig:
    """Turn an app's config into :class:`HalykConfig`, or raise :class:`ConfigurationError`."""
    for old, new in RENAMED.items():
        if config.get(old) is not None:
            raise ConfigurationError(
                old, f"renamed {new}; it now also tells the ledger that a successful payment "
                "is only authorised (it records 'authorized', not 'paid')."
            )
    creds = {k: config.get(k) for k in ("HALYK_CLIENT_ID", "HALYK_CLIENT_SECRET",
                                        "HALYK_TERMINAL_ID")}
    env = config.get("HALYK_ENV")
    if env is None:
        if any(creds.values()):
            raise ConfigurationError(
                "HALYK_ENV",
                "credentials are configured but the environment is not: set HALYK_ENV to "
                "'prod' for real payments or 'test' for ePay's test hosts. flask-halyk never "
                "guesses where a shop's payments go.",
            )
        env = "sandbox"
    if env not in ENVIRONMENTS:
        raise ConfigurationError("HALYK_ENV", f"{env!r} is not one of {', '.join(ENVIRONMENTS)}.")

    if env == "prod":
        for key, value in creds.items():
            if not value:
                raise ConfigurationError(
                    key, "required with HALYK_ENV='prod'; copy it from the ePay merchant cabinet."
                )
        if creds["HALYK_CLIENT_SECRET"] == TEST_CLIENT_SECRET:
            raise ConfigurationError(
                "HALYK_CLIENT_SECRET",
                "this is the vendor's published test secret; production needs your own.",
            )
    client_id = creds["HALYK_CLIENT_ID"] or TEST_CLIENT_ID
    client_secret = creds["HALYK_CLIENT_SECRET"] or TEST_CLIENT_SECRET
    terminal_id = creds["HALYK_TERMINAL_ID"] or TEST_TERMINAL_ID

    embedded = False
    if env == "sandbox":
        sandbox_url = config.get("HALYK_SANDBOX_URL")
        prefix = "/" + str(_setting(config, "HALYK_SANDBOX_PREFIX")).strip("/")
        if sandbox_url:
            origin = _check_url("HALYK_SANDBOX_URL", sandbox_url.rstrip("/"), env)
            presets = _sandbox_hosts(origin, origin)
        else:
            embedded = True
            presets = _sandbox_hosts(SANDBOX_INTERNAL_ORIGIN, prefix)
    else:
        presets = HOSTS[env]
    hosts = {}
    for key, preset in presets.items():
        value = config.get(key) or preset
        # The embedded sandbox's browser-facing URLs are paths in the shop itself.
        hosts[key] = _check_url(key, value, env, relative_ok=embedded)

    language = str(_setting(config, "HALYK_LANGUAGE")).lower()
    if language not in LANGUAGES:
        raise ConfigurationError("HALYK_LANGUAGE", f"{language!r} is not one of rus, kaz, eng.")
    retries = int(_setting(config, "HALYK_RETRIES"))
    if not 0 <= retries <= 10:
        raise ConfigurationError("HALYK_RETRIES", "must be between 0 and 10.")
    ips = config.get("HALYK_POSTLINK_ALLOWED_IPS")
    if isinstance(ips, str):
        ips = [ip.strip() for ip in ips.split(",") if ip.strip()]
    external = config.get("HALYK_EXTERNAL_URL")
    if external:
        external = _check_url("HALYK_EXTERNAL_URL", external.rstrip("/"), "test")

    url_prefix = "/" + str(_setting(config, "HALYK_URL_PREFIX")).strip("/")
    sandbox_prefix = "/" + str(_setting(config, "HALYK_SANDBOX_PREFIX")).strip("/")
    if embedded and sandbox_prefix in ("/", url_prefix):
        raise ConfigurationError(
            "HALYK_SANDBOX_PREFIX", "must be a path such as /halyk-sandbox, apart from "
            "HALYK_URL_PREFIX and the site root."
        )

    return HalykConfig(
        env=env,
        client_id=client_id,
        client_secret=client_secret,
        terminal_id=terminal_id,
        token_url=hosts["HALYK_TOKEN_URL"],
        api_url=hosts["HALYK_API_URL"].rstrip("/"),
        script_url=hosts["HALYK_SCRIPT_URL"],
        payform_url=hosts["HALYK_PAYFORM_URL"],
        embedded_sandbox=embedded,
        sandbox_prefix=sandbox_prefix,
        scope=str(_setting(config, "HALYK_SCOPE")),
        currency=str(_setting(config, "HALYK_CURRENCY")).upper(),
        language=language,
        timeout=_timeout(_setting(config, "HALYK_TIMEOUT")),
        retries=retries,
        postlink_secret=_postlink_secret(config),
        url_prefix=url_prefix,
        external_url=external or None,
        postlink_allowed_ips=tuple(ips) if ips else None,
        verify_with_status=bool(_setting(config, "HALYK_VERIFY_WITH_STATUS")),
        two_stage=bool(_setting(config, "HALYK_TWO_STAGE")),
        max_postlink_bytes=int(_setting(config, "HALYK_MAX_POSTLINK_BYTES")),
        database_url=config.get("HALYK_DATABASE_URL") or None,
    )


def _sandbox_hosts(server_origin: str, browser_base: str) -> dict[str, str]:
    """The four hosts of a sandbox: server calls go to ``server_origin``, the browser loads the
    script and payment page from ``browser_base`` (a path when the sandbox is embedded)."""
    return {
        "HALYK_TOKEN_URL": f"{server_origin}/oauth2/token",
        "HALYK_API_URL": server_origin,
        "HALYK_SCRIPT_URL": f"{browser_base}/payform/payment-api.js",
        "HALYK_PAYFORM_URL": f"{browser_base}/payform/",
    }
