"""When a checkout that was never paid may be declared ``expired``.

A payment can only be paid with its token (one per invoice; flask-halyk never asks for a second
one), and the token dies ``expires_in`` seconds after ePay issued it (7200 in the bank's
answers). Once it is dead, and a grace period has passed on top, and ePay answers "not found"
(resultCode 102) for the invoice, nothing can pay it any more:
:func:`flask_halyk.recovery.reconcile` records it ``expired`` and stops asking the bank about it.

The decision is deliberately narrow: a transport error, a 5xx, an in-progress answer (107),
any other resultCode, or an answer with a transaction never expire a payment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..errors import InvalidArgument
from .models import PaymentRecord
from .states import PaymentStatus

#: The token lifetime assumed when the ledger holds none for a payment (the token request
#: failed or timed out, so ePay may have issued one unseen; or the payment predates schema 2):
#: the ``expires_in`` of ePay's answers, counted from the payment's creation, which precedes
#: the token request.
ASSUMED_TOKEN_LIFETIME = timedelta(seconds=7200)

#: The default grace beyond the token's expiry. Long enough that no payment still being
#: processed (3-D Secure, a slow issuer, a bank-side delay in showing the transaction) or
#: briefly invisible to the status API is declared expired; short enough that abandoned
#: checkouts leave the reconcile run the next day. A wrong expiry is not fatal either way: a
#: later success still moves the payment to ``paid``.
DEFAULT_EXPIRE_AFTER = timedelta(hours=24)


def token_expiry(payment: PaymentRecord) -> datetime:
    """When the payment's token expires (or is assumed to, see
    :data:`ASSUMED_TOKEN_LIFETIME`)."""
    if payment.token_expires_at is not None:
        return payment.token_expires_at
    return payment.created_at + ASSUMED_TOKEN_LIFETIME


def expiry_deadline(payment: PaymentRecord, expire_after: timedelta) -> datetime:
    """The moment from which ``payment`` may be declared expired: its token's expiry plus
    ``expire_after``."""
    return token_expiry(payment) + expire_after


def check_expire_after(expire_after: timedelta | None) -> timedelta | None:
    """``expire_after`` if usable (None turns expiry off); a negative one is refused."""
    if expire_after is None:
        return None
    if not isinstance(expire_after, timedelta):
        raise InvalidArgument(f"expire_after must be a timedelta or None, not {expire_after!r}")
    if expire_after < timedelta(0):
        raise InvalidArgument(f"expire_after must not be negative ({expire_after})")
    return expire_after


def may_expire(payment: PaymentRecord, now: datetime, expire_after: timedelta | None) -> bool:
    """Whether ``payment`` is old enough to be declared expired at ``now`` if ePay does not know
    its invoice. Only a ``new`` payment ever expires; ``expire_after=None``: never."""
    if expire_after is None or payment.status is not PaymentStatus.NEW:
        return False
    return now >= expiry_deadline(payment, expire_after)


__all__ = [
    "ASSUMED_TOKEN_LIFETIME",
    "DEFAULT_EXPIRE_AFTER",
    "check_expire_after",
    "expiry_deadline",
    "may_expire",
    "token_expiry",
]
