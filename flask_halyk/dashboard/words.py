"""What the dashboard writes: statuses and verdicts as words in the reader's language, amounts
one way (``45 000 ₸``: thousands apart with a no-break space, tiyn only when there are some, a
decimal comma in Russian and Kazakh), times in the dashboard's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any

from ..i18n import gettext as _
from ..i18n import lazy_gettext, locale
from ..ledger import EventVerdict, PaymentStatus

__all__ = ["STATUS_WORDS", "VERDICT_WORDS", "kind_word", "language", "money", "result_word",
           "when"]

S = PaymentStatus
V = EventVerdict

#: A payment's status as a word (never the bank's code).
STATUS_WORDS: dict[PaymentStatus, Any] = {
    S.NEW: lazy_gettext("Awaiting payment"),
    S.AUTHORIZED: lazy_gettext("Authorised (money held)"),
    S.PAID: lazy_gettext("Paid"),
    S.FAILED: lazy_gettext("Declined"),
    S.CANCELLED: lazy_gettext("Cancelled"),
    S.PARTIALLY_REFUNDED: lazy_gettext("Partly refunded"),
    S.REFUNDED: lazy_gettext("Refunded"),
    S.EXPIRED: lazy_gettext("Expired"),
}

#: What became of a postLink, as a word.
VERDICT_WORDS: dict[EventVerdict, Any] = {
    V.RECEIVED: lazy_gettext("Received, not judged"),
    V.MALFORMED: lazy_gettext("Malformed"),
    V.REJECTED: lazy_gettext("Refused"),
    V.DEFERRED: lazy_gettext("Deferred"),
    V.DUPLICATE: lazy_gettext("Duplicate"),
    V.STALE: lazy_gettext("Late, ignored"),
    V.DISPATCHING: lazy_gettext("Applied, receivers running"),
    V.APPLIED: lazy_gettext("Applied"),
    V.FAILED: lazy_gettext("Applied, a receiver failed"),
}


def kind_word(kind: str) -> str:
    """A timeline entry's kind as words."""
    words = {
        "created": _("Payment created"),
        "succeeded": _("Payment succeeded"),
        "updated": _("Last change in the ledger"),
        "postlink": _("postLink from ePay"),
        "failure_postlink": _("Failure postLink from ePay"),
        "status": _("Status answer from ePay"),
        "refund": _("Refund sent to ePay"),
        "charge": _("Charge sent to ePay"),
        "cancel": _("Cancel sent to ePay"),
        "check": _("Status asked of ePay"),
        "link": _("Payment link sent"),
        "qr": _("QR code made"),
    }
    return words.get(kind, kind)


def result_word(result: str) -> str:
    """What became of an operation sent to ePay, as words."""
    words = {
        "accepted": _("accepted"),
        "refused": _("refused by ePay"),
        "unanswered": _("no answer from ePay"),
        "pending": _("still in progress, nothing changed"),
        "not_found": _("not known to ePay yet, nothing changed"),
        "sent": _("sent to the customer"),
        "made": _("shown to the customer"),
    }
    return words.get(result, result)


def language() -> str:
    """The reader's language (``ru``, ``kk``, ``en``...): the locale the shop's Flask-Babel
    selected, English without one."""
    chosen = locale()
    return str(getattr(chosen, "language", None) or "en")


def money(amount: Decimal | None, currency: str = "KZT") -> str:
    """``45 000 ₸``, ``1 234,50 ₸`` (``1 234.50 ₸`` in English); an empty string for None."""
    if amount is None:
        return ""
    whole = amount == amount.to_integral_value()
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    text = text.replace(",", "\u00a0")
    if language() != "en":
        text = text.replace(".", ",")
    return f"{text}\u00a0{'₸' if currency == 'KZT' else currency}"


def when(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """``2026-03-01 09:00:05 UTC`` (``14:00:05 +05`` in Asia/Almaty); empty for None."""
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
