"""Why the bank declined a payment, in the customer's words.

The postLink's ``reason`` is the bank's own English text ("card blocked"): shown as is, it would
be the only English on a Russian or Kazakh page. The ``reasonCode`` is what the shop reads
instead; a code it does not know gets no detail rather than the bank's English.
"""

from __future__ import annotations

# Reason codes of the ePay protocol (PROTOCOL.md, section 5), grouped by what the customer can
# do about them. Codes not listed (464 invalid merchant, 470 zero amount, 498 bonuses, negative
# codes...) are the shop's or the bank's business, not the customer's.
_REASONS: dict[int, str] = {
    455: "reason_card_number",
    459: "reason_card_number",
    457: "reason_expiry",
    462: "reason_issuer",
    463: "reason_issuer",
    466: "reason_issuer",
    465: "reason_card_blocked",
    473: "reason_secure_code",
    499: "reason_secure_code",
    476: "reason_retry_later",
    478: "reason_card_expired",
    485: "reason_card_expired",
    484: "reason_insufficient_funds",
    486: "reason_online_disabled",
    488: "reason_over_limit",
    503: "reason_secure_required",
}


def reason_label(reason_code: int | None) -> str | None:
    """The label key (in ``i18n``) saying why ``reason_code`` failed, or None when the customer
    gains nothing from a detail."""
    return _REASONS.get(reason_code) if reason_code is not None else None
