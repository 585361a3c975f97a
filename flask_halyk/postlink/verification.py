"""The ``secret_hash`` a shop sends with each payment token, and the verdict on a postLink.

ePay does not sign postLinks. The only value the shop controls that comes back in one is the
``secret_hash`` it sent in the token request, so that value is made to *mean* something: it is
an HMAC-SHA256, keyed with ``HALYK_POSTLINK_SECRET``, over the invoice id, amount, currency and
terminal. A postLink is then checked without any storage: recompute the HMAC from the postLink's
own fields and compare. Forging one needs the key; replaying one hash for another invoice or
another amount fails because those fields are inside the MAC.

Format of the value: 32 upper-case hexadecimal characters (the first 128 bits of the MAC). The
bank stores and echoes the value, and its own example is a 16-letter upper-case string, so a plain
alphanumeric string of modest length is the safe shape; 128 bits is far beyond what an attacker
could guess online, where every attempt is a POST to the shop.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..config import HalykConfig
from ..money import canonical, same_amount

__all__ = [
    "SECRET_HASH_LENGTH",
    "check_secret_hash",
    "has_secret_hash",
    "ip_allowed",
    "make_secret_hash",
    "order_mismatch",
    "verify_postlink",
]

#: Length, in characters, of the secret_hash values this module issues.
SECRET_HASH_LENGTH = 32

# Bumped if the message layout ever changes, so old and new hashes can never collide.
_VERSION = b"flask-halyk/secret_hash/v1"
# Unit separator: cannot occur in any of the canonicalised fields.
_SEP = b"\x1f"


def _message(invoice_id: str, amount: Decimal | int | float | str, currency: str,
             terminal: str) -> bytes:
    parts = (
        str(invoice_id).strip(),
        canonical(amount),
        _ascii_upper(str(currency).strip()),
        # Terminal ids are UUIDs; their letter case carries no meaning.
        str(terminal).strip().lower(),
    )
    return _SEP.join((_VERSION, *(p.encode() for p in parts)))


def _ascii_upper(text: str) -> str:
    # Unicode case mapping would make U+017F (long s) an "S": only ASCII letters are folded.
    return text.upper() if text.isascii() else text


def make_secret_hash(secret: bytes, invoice_id: str, amount: Decimal | int | float | str,
                     currency: str, terminal: str) -> str:
    """The ``secret_hash`` to send in the token request of this payment.

    ``secret`` is ``HalykConfig.postlink_secret``. The result is :data:`SECRET_HASH_LENGTH`
    upper-case hex characters. Raises :class:`ValueError` if ``amount`` is not a number.
    """
    mac = hmac.new(secret, _message(invoice_id, amount, currency, terminal), hashlib.sha256)
    return mac.hexdigest()[:SECRET_HASH_LENGTH].upper()


def _received_hash(postlink: Mapping[str, Any]) -> str | None:
    value = postlink.get("secret_hash")
    if value is None:
        value = postlink.get("secretHash")
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def has_secret_hash(postlink: Mapping[str, Any]) -> bool:
    """Whether the postLink carries a ``secret_hash`` (or ``secretHash``) at all. The vendor's
    two postLink examples carry none, though its page says the value is returned: a postLink
    without one is believed only when the status API confirms it
    (:func:`flask_halyk.postlink.confirmation.confirm_unhashed`)."""
    return _received_hash(postlink) is not None


def check_secret_hash(secret: bytes, postlink: Mapping[str, Any]) -> bool:
    """Whether the postLink's ``secret_hash`` is the one issued for its own invoice id, amount,
    currency and terminal. Compared in constant time; any missing or malformed field is False."""
    received = _received_hash(postlink)
    if received is None:
        return False
    try:
        expected = make_secret_hash(
            secret,
            _field(postlink, "invoiceId"),
            postlink["amount"],
            _field(postlink, "currency"),
            _field(postlink, "terminal"),
        )
    except (KeyError, ValueError, TypeError):
        return False
    # Hex has no meaningful case; the bank could conceivably echo it in either.
    return hmac.compare_digest(expected.encode(), received.upper().encode("utf-8", "replace"))


def _field(postlink: Mapping[str, Any], key: str) -> str:
    value = postlink[key]
    if value is None or isinstance(value, Mapping | list):
        raise ValueError(f"{key} is not a scalar")
    return str(value)


def verify_postlink(config: HalykConfig, postlink: Mapping[str, Any],
                    payment: Any | None = None, *, require_secret_hash: bool = True) -> str | None:
    """The verdict on a (parsed) postLink body: ``None`` when genuine, else a short reason.

    Checks, in order: a ``secret_hash`` is present; the terminal is one of this shop's
    merchants'; the hash matches
    the postLink's invoice id, amount, currency and terminal. When ``payment`` (the ledger's
    record: ``amount``, ``currency``, ``terminal``, optionally ``invoice_id``) is given, the
    postLink must also agree with it. Reasons are safe to log and to return to the sender: they
    never contain the expected hash.

    ``require_secret_hash=False`` lets a postLink *without* a hash through these checks (the
    caller must then confirm it with the status API); one with a wrong hash is refused all the
    same.
    """
    hashed = _received_hash(postlink) is not None
    if not hashed and require_secret_hash:
        return "secret_hash missing"
    terminal = postlink.get("terminal")
    if not isinstance(terminal, str) or not terminal.strip():
        return "terminal missing"
    # One of the shop's merchants' terminals; with ``payment`` also the payment's own (below:
    # a postLink naming another merchant's terminal for this invoice is refused).
    if config.merchant_of_terminal(terminal) is None:
        return "terminal is not this shop's terminal"
    for key in ("invoiceId", "amount", "currency"):
        if postlink.get(key) in (None, ""):
            return f"{key} missing"
    if hashed and not check_secret_hash(config.postlink_secret, postlink):
        return "secret_hash does not match invoice, amount, currency and terminal"
    if payment is not None:
        return order_mismatch(postlink, payment)
    return None


def order_mismatch(postlink: Mapping[str, Any], payment: Any) -> str | None:
    """How a postLink that passed :func:`verify_postlink` (without ``payment``) differs from
    the ledger's record of its order (``amount``, ``currency``, ``terminal``, optionally
    ``invoice_id``), or None when it agrees. The second half of :func:`verify_postlink`, for
    a caller that checked the body first and reads the order later (under its row lock)."""
    recorded_invoice = getattr(payment, "invoice_id", None)
    if recorded_invoice is not None and str(recorded_invoice) != str(postlink["invoiceId"]):
        return "invoiceId differs from the payment's"
    if not same_amount(postlink["amount"], payment.amount):
        return "amount differs from the payment's"
    if str(postlink["currency"]).strip().upper() != str(payment.currency).strip().upper():
        return "currency differs from the payment's"
    terminal = str(postlink["terminal"])
    if terminal.strip().lower() != str(payment.terminal).strip().lower():
        return "terminal differs from the payment's"
    return None


def ip_allowed(config: HalykConfig, remote_addr: str | None) -> bool:
    """Whether a postLink from ``remote_addr`` may be accepted under
    ``HALYK_POSTLINK_ALLOWED_IPS`` (the networks :func:`~flask_halyk.config.resolve` read). No
    list: every address is allowed (ePay publishes none). An unknown or unparsable address is
    refused when a list is set."""
    networks = config.postlink_allowed_ips
    if networks is None:
        return True
    if not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr.strip().split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
        address = address.ipv4_mapped
    return any(address in network for network in networks)
