"""Every ``HALYK_*`` setting, its default, and the checks that turn app config into settings.

Defaults live in :data:`DEFAULTS` and nowhere else; docs/configuration.md is the same table.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .redaction import safe_url
from .schemas.fields import LANGUAGE_ALIASES

#: The vendor's published test merchant. Public on the vendor's pages; not a secret.
TEST_CLIENT_ID = "test"
TEST_CLIENT_SECRET = "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG"  # noqa: S105 - published test merchant
TEST_TERMINAL_ID = "67e34d63-102f-4bd1-898e-370781d0074d"

#: The sandbox's merchant cabinet login (the password grant of payment links): the vendor's
#: published test cabinet. Public on the vendor's pages; not a secret.
TEST_CABINET_USERNAME = "epay@halykbank.kz"
TEST_CABINET_PASSWORD = "XZG1E@Mm"  # noqa: S105 - published test cabinet
#: The sandbox's shop id (``shop_id`` of ``/invoice``): the vendor publishes none for the test
#: merchant ``test``, so the sandbox's own.
SANDBOX_SHOP_ID = "2d4e8a0c-6f3b-4c1d-9e5a-7b8c9d0e1f2a"

LONG_SCOPE = "webapi usermanagement email_send verification statement statistics payment"

#: Where the embedded sandbox answers server-to-server calls. Never resolved over DNS: the
#: extension routes this origin in-process to the sandbox app.
SANDBOX_INTERNAL_ORIGIN = "http://halyk-sandbox.internal"

#: Where the embedded sandbox posts the shop's postLinks when the shop names no origin of its
#: own (``HALYK_EXTERNAL_URL``, ``SERVER_NAME``). Never resolved over DNS either: the sandbox
#: delivers to it in-process. A request's Host never names where a postLink goes.
SHOP_INTERNAL_ORIGIN = "http://shop.halyk-sandbox.internal"

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
    # Seconds one bank call may take in all (every attempt and backoff sleep): inside the 30 s
    # of gunicorn's default worker timeout, which the timeouts and retries alone (5 + 30 s per
    # attempt, 3 attempts: about 91 s) are not.
    "HALYK_DEADLINE": 25.0,
    # The status re-check of a success postLink, tighter: the bank is waiting for the answer,
    # and a re-check that runs out answers 503 (deferred) instead of holding the worker.
    "HALYK_POSTLINK_STATUS_DEADLINE": 10.0,
    # Seconds a claim on an event's receivers holds unless renewed (renewed every third of it
    # while they run): how soon after a worker died mid-receiver its receivers may be finished
    # by a re-delivered postLink, reconcile or reprocess.
    "HALYK_DISPATCH_LEASE": 10.0,
    # Where an invoice id's last six digits are unique: "terminal" (each terminal has its
    # own 10**6 suffixes: the bank keeps orders per terminal) or "ledger" (the strict reading:
    # 10**6 for the whole ledger). docs/ledger.md, "Invoice ids".
    "HALYK_INVOICE_SUFFIX_SCOPE": "terminal",
    "HALYK_POSTLINK_SECRET": None,
    "HALYK_URL_PREFIX": "/halyk",
    "HALYK_EXTERNAL_URL": None,
    "HALYK_POSTLINK_ALLOWED_IPS": None,
    # None: on with ePay's hosts (test, prod), off in the sandbox. A success postLink is not
    # enough alone: its secret_hash also arrives in the invoice's failure postLink, which the
    # customer can have delivered to themselves (postLink is in the payment object they hold).
    "HALYK_VERIFY_WITH_STATUS": None,
    "HALYK_TWO_STAGE": False,  # the terminal authorises, the shop charges (or cancels) later
    "HALYK_MAX_POSTLINK_BYTES": 64 * 1024,
    "HALYK_DATABASE_URL": None,  # None: SQLite file halyk.sqlite3 in the app's instance folder
    # Payment links (the bank's /invoice) take a password-grant token: the merchant cabinet's
    # login. None: payment links are off (the sandbox has its test cabinet's).
    "HALYK_CABINET_USERNAME": None,
    "HALYK_CABINET_PASSWORD": None,
    "HALYK_SHOP_ID": None,  # the shop id /invoice names (the cabinet's; a UUID)
    # Subscriptions (docs/subscriptions.md): days after a declined renewal that it is tried
    # again, one entry per retry; after the last, the subscription is cancelled. A list of
    # numbers, or text such as "1,3,5" from an environment variable.
    "HALYK_DUNNING_SCHEDULE": (1, 3, 5),
    # Further named merchants (docs/merchants.md): {"usd": {"CLIENT_ID": ..., "CLIENT_SECRET":
    # ..., "TERMINAL_ID": ..., "CURRENCY": "USD", "TWO_STAGE": False}}. The settings above are
    # the merchant named "default".
    "HALYK_MERCHANTS": None,
}

#: The name of the merchant of ``HALYK_CLIENT_ID`` / ``HALYK_TERMINAL_ID`` and their kin.
DEFAULT_MERCHANT = "default"

#: The keys one entry of ``HALYK_MERCHANTS`` may (first three: must) set. Hosts, timeouts and
#: the rest are the app's: ``HALYK_ENV`` names one bank for all of a shop's merchants.
MERCHANT_KEYS = ("CLIENT_ID", "CLIENT_SECRET", "TERMINAL_ID", "CURRENCY", "TWO_STAGE")

#: Settings that were renamed: the old name is refused with the new one, never ignored (a
#: two-stage shop silently back to one-stage would record held money as paid).
RENAMED = {"HALYK_SANDBOX_TWO_STAGE": "HALYK_TWO_STAGE"}

LANGUAGES = ("rus", "kaz", "eng")

#: An entry of ``HALYK_POSTLINK_ALLOWED_IPS``, read once by :func:`resolve`.
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, repr=False)
class MerchantConfig:
    """One merchant of the shop: its credentials, terminal, currency and mode. ``repr`` hides
    the client secret."""

    name: str
    client_id: str
    client_secret: str
    terminal_id: str
    currency: str
    two_stage: bool

    def __repr__(self) -> str:
        return (f"MerchantConfig(name={self.name!r}, client_id={self.client_id!r}, "
                f"terminal_id={self.terminal_id!r}, currency={self.currency!r}, "
                f"two_stage={self.two_stage!r}, client_secret='***')")


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
    deadline: float
    postlink_status_deadline: float
    dispatch_lease: float
    postlink_secret: bytes
    url_prefix: str
    external_url: str | None
    postlink_allowed_ips: tuple[Network, ...] | None
    verify_with_status: bool
    two_stage: bool
    max_postlink_bytes: int
    database_url: str | None
    #: The cabinet login of the password grant (payment links); None: links are off.
    cabinet_username: str | None = None
    cabinet_password: str | None = None
    shop_id: str | None = None
    #: Subscriptions: the delays after a declined renewal before each retry.
    dunning_schedule: tuple[timedelta, ...] = (timedelta(days=1), timedelta(days=3),
                                               timedelta(days=5))
    #: Where invoice suffixes are unique: "terminal" or "ledger".
    invoice_suffix_scope: str = "terminal"
    #: Every merchant, the default one (the fields above) first. Empty when built by hand:
    #: filled with the default one.
    merchants: tuple[MerchantConfig, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.merchants:
            object.__setattr__(self, "merchants", (MerchantConfig(
                DEFAULT_MERCHANT, self.client_id, self.client_secret, self.terminal_id,
                self.currency, self.two_stage),))

    def merchant(self, name: str) -> MerchantConfig:
        """The merchant called ``name``; an unknown name is a :class:`ConfigurationError`."""
        for merchant in self.merchants:
            if merchant.name == name:
                return merchant
        known = ", ".join(repr(m.name) for m in self.merchants)
        raise ConfigurationError("HALYK_MERCHANTS", f"no merchant is called {name!r}; the "
                                 f"configured ones are {known}.")

    def merchant_of_terminal(self, terminal: str | None) -> MerchantConfig | None:
        """The merchant whose terminal is ``terminal`` (compared as the postLink check
        compares: case and spaces aside), or None."""
        wanted = (terminal or "").strip().lower()
        for merchant in self.merchants:
            if merchant.terminal_id.strip().lower() == wanted:
                return merchant
        return None

    def merchant_of_currency(self, currency: str) -> MerchantConfig:
        """The one merchant that takes ``currency``; none or several is a
        :class:`ConfigurationError` that names them."""
        code = currency.strip().upper()
        found = [m for m in self.merchants if m.currency == code]
        if len(found) == 1:
            return found[0]
        if not found:
            known = ", ".join(f"{m.name!r} ({m.currency})" for m in self.merchants)
            raise ConfigurationError("HALYK_MERCHANTS", f"no merchant takes {code}: the "
                                     f"configured ones are {known}.")
        names = ", ".join(repr(m.name) for m in found)
        raise ConfigurationError("HALYK_MERCHANTS", f"several merchants take {code} ({names}): "
                                 "name one with merchant=...")

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
        # safe_url: a proxy's user:password@ in the value stays out of the message.
        raise ConfigurationError(key, f"{safe_url(value)!r} is not an absolute http(s) URL.")
    if parts.username is not None or parts.password is not None:
        # requests would turn them into a Basic Authorization header that replaces the bearer
        # token (every API call then fails with 401), and a browser-facing URL would show them.
        raise ConfigurationError(
            key, f"{safe_url(value)!r} carries credentials (user:password@): remove them; a "
                 "proxy's belong in HTTPS_PROXY, which requests reads from the environment.")
    if env == "prod" and parts.scheme != "https":
        raise ConfigurationError(key, "production ePay hosts must use https.")
    return value


def _timeout(value: Any) -> tuple[float, float]:
    problem = f"{value!r} is neither seconds nor a (connect, read) pair."
    try:
        if isinstance(value, bool):
            raise TypeError(value)
        if isinstance(value, int | float):
            connect = read = float(value)
        elif isinstance(value, str | bytes):
            # A string is iterable: "5" would read as one second per character.
            raise TypeError(value)
        else:
            pair = list(value)
            if any(isinstance(v, bool | str | bytes) for v in pair):
                raise TypeError(value)
            connect, read = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ConfigurationError("HALYK_TIMEOUT", problem) from None
    # NaN passes "<= 0" and infinity means no timeout at all: neither bounds a call.
    if not (math.isfinite(connect) and math.isfinite(read)) or connect <= 0 or read <= 0:
        raise ConfigurationError("HALYK_TIMEOUT", "timeouts must be positive, finite seconds.")
    return connect, read


def _seconds(config: Mapping[str, Any], key: str) -> float:
    """A duration in seconds: a positive, finite number (digits from an environment variable
    too, such as ``"25"`` or ``"12.5"``)."""
    value = _setting(config, key)
    number: float | None = None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number or (isinstance(value, str) and re.fullmatch(r"\s*[0-9]+(\.[0-9]+)?\s*", value)):
        number = float(value)
    # NaN passes "<= 0" and infinity means no deadline at all: neither bounds a call.
    if number is None or not math.isfinite(number) or number <= 0:
        raise ConfigurationError(key, f"{value!r} is not a positive, finite number of seconds.")
    return number


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _flag(config: Mapping[str, Any], key: str) -> bool:
    """A boolean setting. Strings from environment variables are read as their words: a plain
    ``bool("false")`` would switch the setting on."""
    return _flag_value(key, _setting(config, key))


def _flag_value(key: str, value: Any) -> bool:
    """:func:`_flag` of a value at hand."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ConfigurationError(key, f"{value!r} is not True or False.")


def _integer(config: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = _setting(config, key)
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(key, f"{value!r} is not a whole number from {low} to {high}.")
    return value


def _dunning(config: Mapping[str, Any]) -> tuple[timedelta, ...]:
    """``HALYK_DUNNING_SCHEDULE``: days (whole or decimal, each more than 0 and at most 365),
    as a list or as comma-separated text; empty: a declined renewal cancels at once."""
    value = _setting(config, "HALYK_DUNNING_SCHEDULE")
    items: list[Any]
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [None]
    days: list[timedelta] = []
    for item in items:
        number: float | None = None
        is_number = isinstance(item, int | float) and not isinstance(item, bool)
        if is_number or (isinstance(item, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", item)):
            number = float(item)
        if number is None or not math.isfinite(number) or not 0 < number <= 365:
            raise ConfigurationError("HALYK_DUNNING_SCHEDULE", f"{value!r} is not a list of "
                                     "days (each more than 0 and at most 365), such as "
                                     "[1, 3, 5].")
        days.append(timedelta(days=number))
    return tuple(days)


def _text(key: str, value: Any) -> str | None:
    """A credential as text (``None`` or empty: not set). A number is read as its digits, as
    when a JSON-decoded environment variable turns ``"12345"`` into ``12345``."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(key, "must be text, as shown in the ePay merchant cabinet.")
    return value.strip()


def _allowed_ips(value: Any) -> tuple[Network, ...] | None:
    """The postLink allow-list, each entry read now: a typo must fail at ``init_app``, not
    turn away the bank's first postLink."""
    if value is None:
        return None
    entries = value.split(",") if isinstance(value, str) else value
    if isinstance(entries, bytes) or not isinstance(entries, list | tuple | set | frozenset):
        raise ConfigurationError(
            "HALYK_POSTLINK_ALLOWED_IPS", "a list of addresses or networks, or one string of "
            "them separated by commas."
        )
    checked: list[Network] = []
    for entry in entries:
        text = entry.strip() if isinstance(entry, str) else entry
        if text == "":
            continue
        try:
            checked.append(ipaddress.ip_network(text, strict=False))
        except (TypeError, ValueError):
            raise ConfigurationError(
                "HALYK_POSTLINK_ALLOWED_IPS", f"{entry!r} is not an IP address or CIDR network."
            ) from None
    return tuple(checked) or None


def _postlink_secret(config: Mapping[str, Any]) -> bytes:
    secret = config.get("HALYK_POSTLINK_SECRET")
    if secret:
        if isinstance(secret, str):
            return secret.encode()
        if isinstance(secret, bytes):
            return secret
        # bytes(12345) would be 12345 zero bytes: a key anyone can guess.
        raise ConfigurationError("HALYK_POSTLINK_SECRET", "must be a string or bytes.")
    key = config.get("SECRET_KEY")
    if not key:
        raise ConfigurationError(
            "HALYK_POSTLINK_SECRET",
            "set it (or Flask's SECRET_KEY) to a long random string: it signs the secret_hash "
            "that proves a postLink genuine.",
        )
    if not isinstance(key, str | bytes):
        raise ConfigurationError(
            "HALYK_POSTLINK_SECRET", "SECRET_KEY is neither a string nor bytes: set "
            "HALYK_POSTLINK_SECRET to a long random string."
        )
    raw = key.encode() if isinstance(key, str) else key
    # A derived key, so that the value sent to the bank says nothing about SECRET_KEY.
    return hmac.new(raw, b"flask-halyk postlink secret", hashlib.sha256).digest()


def sandbox_admin_key(config: HalykConfig) -> str:
    """The key the embedded sandbox's ``POST /_sandbox/pay`` requires: derived from the
    shop's postLink secret, so the shop's processes (``flask halyk send-postlink``) know it and
    whoever merely reaches the shop's pages does not."""
    return hmac.new(config.postlink_secret, b"flask-halyk sandbox admin",
                    hashlib.sha256).hexdigest()


def resolve(config: Mapping[str, Any]) -> HalykConfig:
    """Turn an app's config into :class:`HalykConfig`, or raise :class:`ConfigurationError`."""
    for old, new in RENAMED.items():
        if config.get(old) is not None:
            raise ConfigurationError(
                old, f"renamed {new}; it now also tells the ledger that a successful payment "
                "is only authorised (it records 'authorized', not 'paid')."
            )
    creds = {k: _text(k, config.get(k)) for k in ("HALYK_CLIENT_ID", "HALYK_CLIENT_SECRET",
                                                  "HALYK_TERMINAL_ID")}
    env = config.get("HALYK_ENV")
    if env is None:
        if any(creds.values()) or config.get("HALYK_MERCHANTS"):
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
        if config.get("HALYK_SANDBOX_URL"):
            # Ignoring it would send a shop that meant the sandbox to the bank's hosts.
            raise ConfigurationError(
                "HALYK_SANDBOX_URL",
                f"only applies with HALYK_ENV='sandbox', not {env!r}: remove it, or set "
                "HALYK_ENV='sandbox'.",
            )
        presets = HOSTS[env]
    hosts = {}
    for key, preset in presets.items():
        value = config.get(key) or preset
        # The embedded sandbox's browser-facing URLs are paths in the shop itself.
        hosts[key] = _check_url(key, value, env, relative_ok=embedded)

    language_setting = _setting(config, "HALYK_LANGUAGE")
    language = LANGUAGE_ALIASES.get(str(language_setting).strip().lower())
    if language is None:
        raise ConfigurationError(
            "HALYK_LANGUAGE", f"{language_setting!r} is not one of rus, kaz, eng."
        )
    currency = str(_setting(config, "HALYK_CURRENCY")).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ConfigurationError(
            "HALYK_CURRENCY", f"{currency!r} is not a three-letter currency code such as KZT."
        )
    scope = _setting(config, "HALYK_SCOPE")
    if not isinstance(scope, str) or not scope.strip():
        raise ConfigurationError(
            "HALYK_SCOPE", f"must be the OAuth scope text; leave it unset for {LONG_SCOPE!r}."
        )
    retries = _integer(config, "HALYK_RETRIES", 0, 10)
    max_postlink_bytes = _integer(config, "HALYK_MAX_POSTLINK_BYTES", 1, 2**31 - 1)
    ips = _allowed_ips(config.get("HALYK_POSTLINK_ALLOWED_IPS"))
    external = config.get("HALYK_EXTERNAL_URL")
    if external:
        # On prod the bank posts secret_hash there and sends customers back: https only.
        external = _check_url("HALYK_EXTERNAL_URL", external.rstrip("/"), env)
    elif env != "sandbox" and not config.get("SERVER_NAME"):
        raise ConfigurationError(
            "HALYK_EXTERNAL_URL",
            f"required with HALYK_ENV={env!r}: the postLink and failurePostLink ePay calls, and "
            "the default back links, are built from it, never from a request's Host header, "
            "which whoever sends the request chooses (a checkout sent with 'Host: attacker' "
            "would have ePay post the payment's postLink, secret_hash included, to the "
            "attacker). Set it to the shop's public origin, e.g. 'https://shop.example.kz', "
            "or set Flask's SERVER_NAME (with PREFERRED_URL_SCHEME='https').",
        )

    suffix_scope = str(_setting(config, "HALYK_INVOICE_SUFFIX_SCOPE")).strip().lower()
    if suffix_scope not in ("terminal", "ledger"):
        raise ConfigurationError(
            "HALYK_INVOICE_SUFFIX_SCOPE", f"{suffix_scope!r} is not 'terminal' (the last six "
            "digits of an invoice id unique per terminal) or 'ledger' (across the ledger).")
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
        scope=scope.strip(),
        currency=currency,
        language=language,
        timeout=_timeout(_setting(config, "HALYK_TIMEOUT")),
        retries=retries,
        deadline=_seconds(config, "HALYK_DEADLINE"),
        postlink_status_deadline=_seconds(config, "HALYK_POSTLINK_STATUS_DEADLINE"),
        dispatch_lease=_seconds(config, "HALYK_DISPATCH_LEASE"),
        postlink_secret=_postlink_secret(config),
        url_prefix=url_prefix,
        external_url=external or None,
        postlink_allowed_ips=ips,
        verify_with_status=(env != "sandbox" if config.get("HALYK_VERIFY_WITH_STATUS") is None
                            else _flag(config, "HALYK_VERIFY_WITH_STATUS")),
        two_stage=_flag(config, "HALYK_TWO_STAGE"),
        max_postlink_bytes=max_postlink_bytes,
        database_url=config.get("HALYK_DATABASE_URL") or None,
        dunning_schedule=_dunning(config),
        **_cabinet(config, env),
        invoice_suffix_scope=suffix_scope,
        merchants=_merchants(config, env, MerchantConfig(
            DEFAULT_MERCHANT, client_id, client_secret, terminal_id, currency,
            _flag(config, "HALYK_TWO_STAGE"))),
    )


def _currency(key: str, value: Any) -> str:
    currency = str(value).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ConfigurationError(key, f"{currency!r} is not a three-letter currency code such "
                                 "as KZT.")
    return currency


def _merchants(config: Mapping[str, Any], env: str,
               default: MerchantConfig) -> tuple[MerchantConfig, ...]:
    """The default merchant and those of ``HALYK_MERCHANTS``, each checked; no two share a
    terminal (a postLink or ledger row names its merchant by terminal). Error messages name
    keys, never a secret's value."""
    given = config.get("HALYK_MERCHANTS")
    if given is None or given == {}:
        return (default,)
    if not isinstance(given, Mapping):
        raise ConfigurationError("HALYK_MERCHANTS", "must be a dict of merchant name to its "
                                 "settings, such as {'usd': {'CLIENT_ID': ..., ...}}.")
    merchants = [default]
    for name, entry in given.items():
        where = f"HALYK_MERCHANTS[{name!r}]"
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", name):
            raise ConfigurationError("HALYK_MERCHANTS", f"{name!r} is not a merchant name: "
                                     "lower-case letters, digits, '-' and '_', at most 32, "
                                     "starting with a letter.")
        if name == DEFAULT_MERCHANT:
            raise ConfigurationError(where, "'default' is the merchant of HALYK_CLIENT_ID, "
                                     "HALYK_TERMINAL_ID and their kin: give this one another "
                                     "name.")
        if not isinstance(entry, Mapping):
            raise ConfigurationError(where, f"must be a dict with {', '.join(MERCHANT_KEYS)}.")
        unknown = sorted(str(k) for k in entry if k not in MERCHANT_KEYS)
        if unknown:
            raise ConfigurationError(where, f"unknown key(s) {', '.join(unknown)}: a merchant "
                                     f"sets {', '.join(MERCHANT_KEYS)} (hosts and the rest are "
                                     "the app's, from HALYK_ENV).")
        creds: dict[str, str] = {}
        for key in MERCHANT_KEYS[:3]:
            value = _text(f"{where}[{key!r}]", entry.get(key))
            if not value:
                raise ConfigurationError(f"{where}[{key!r}]", "required for every named "
                                         "merchant; copy it from the ePay merchant cabinet.")
            creds[key] = value
        if env == "prod" and creds["CLIENT_SECRET"] == TEST_CLIENT_SECRET:
            raise ConfigurationError(f"{where}['CLIENT_SECRET']", "this is the vendor's "
                                     "published test secret; production needs your own.")
        currency = _currency(f"{where}['CURRENCY']", entry.get("CURRENCY", default.currency))
        raw_two_stage = entry.get("TWO_STAGE")
        two_stage = False if raw_two_stage is None else \
            _flag_value(f"{where}['TWO_STAGE']", raw_two_stage)
        merchants.append(MerchantConfig(name, creds["CLIENT_ID"], creds["CLIENT_SECRET"],
                                        creds["TERMINAL_ID"], currency, two_stage))
    seen: dict[str, str] = {}
    for merchant in merchants:
        terminal = merchant.terminal_id.strip().lower()
        if terminal in seen:
            raise ConfigurationError("HALYK_MERCHANTS", f"merchants {seen[terminal]!r} and "
                                     f"{merchant.name!r} share the terminal "
                                     f"{merchant.terminal_id!r}: each merchant needs its own "
                                     "(a payment's terminal names its merchant).")
        seen[terminal] = merchant.name
    return tuple(merchants)



def _cabinet(config: Mapping[str, Any], env: str) -> dict[str, str | None]:
    """The cabinet login and shop id of payment links: all three or none (the sandbox's test
    cabinet by default)."""
    keys = ("HALYK_CABINET_USERNAME", "HALYK_CABINET_PASSWORD", "HALYK_SHOP_ID")
    given = {k: _text(k, config.get(k)) for k in keys}
    raw_password = config.get("HALYK_CABINET_PASSWORD")
    if isinstance(raw_password, str) and raw_password.strip():
        # A password is taken as written: spaces around it may be part of it.
        given["HALYK_CABINET_PASSWORD"] = raw_password
    if env == "sandbox":
        given = {
            "HALYK_CABINET_USERNAME": given["HALYK_CABINET_USERNAME"] or TEST_CABINET_USERNAME,
            "HALYK_CABINET_PASSWORD": given["HALYK_CABINET_PASSWORD"] or TEST_CABINET_PASSWORD,
            "HALYK_SHOP_ID": given["HALYK_SHOP_ID"] or SANDBOX_SHOP_ID,
        }
    missing = [k for k, v in given.items() if not v]
    if missing and len(missing) < len(keys):
        raise ConfigurationError(
            missing[0], "payment links need the cabinet's login (HALYK_CABINET_USERNAME, "
            "HALYK_CABINET_PASSWORD) and HALYK_SHOP_ID together; set all three, or none.")
    return {"cabinet_username": given["HALYK_CABINET_USERNAME"] or None,
            "cabinet_password": given["HALYK_CABINET_PASSWORD"] or None,
            "shop_id": given["HALYK_SHOP_ID"] or None}


def _sandbox_hosts(server_origin: str, browser_base: str) -> dict[str, str]:
    """The four hosts of a sandbox: server calls go to ``server_origin``, the browser loads the
    script and payment page from ``browser_base`` (a path when the sandbox is embedded)."""
    return {
        "HALYK_TOKEN_URL": f"{server_origin}/oauth2/token",
        "HALYK_API_URL": server_origin,
        "HALYK_SCRIPT_URL": f"{browser_base}/payform/payment-api.js",
        "HALYK_PAYFORM_URL": f"{browser_base}/payform/",
    }
