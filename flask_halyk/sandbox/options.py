"""Behaviour switches of one sandbox: where the bank's pages, script and SDK do not say what the
bank does, the sandbox picks the likeliest answer and lets a shop's tests try the others.

Every switch is a row of the "fidelity" table in docs/sandbox.md, with its source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

#: What a refund with an ``externalID`` already used on the transaction does.
REFUND_EXTERNAL_ID_MODES = ("repeat", "refuse", "idempotent")


@dataclass
class Options:
    """Switches read on every request; change them any time (``sandbox.options.x = ...``, or
    ``POST /_sandbox/options`` with a JSON object of the same names on a standalone sandbox)."""

    #: The terminal authorises (AUTH) and waits for charge or cancel. Terminals are one-stage
    #: unless the merchant asks (vendor process-scheme page); whether the public test terminal
    #: is, is not published.
    two_stage: bool = False
    #: postLinks carry the ``secret_hash`` of the token request. The vendor's page says it
    #: "will be returned to Postlink", but neither of its two postLink examples has it.
    postlink_secret_hash: bool = True
    #: The token answer's ``expires_in`` as text (``"7200"``, as the bank's own SDK decodes it
    #: and two vendor pages show) rather than a number (``7200``, the widget page's example).
    expires_in_as_text: bool = True
    #: A refund naming an ``externalID`` already used on the transaction: ``"repeat"`` refunds
    #: again (nothing published says otherwise; a real plugin sends one id per order),
    #: ``"refuse"`` answers HTTP 400, ``"idempotent"`` answers 200 and refunds nothing more.
    refund_external_id: str = "repeat"
    #: The status answer's ``amount`` is what is left after refunds (``orgAmount`` stays the
    #: original, ``payoutAmount`` the refunded sum), as the vendor's status example reads
    #: (12.22 = 22.22 - 10); off, ``amount`` stays the transaction's own amount.
    status_amount_after_refunds: bool = False
    #: Also read the sandbox script's old ``?object=`` hand-over (base64url JSON). Off: the page
    #: reads only the bank's ``?params=``, so no test can pass on an encoding the bank lacks.
    legacy_object_handover: bool = False
    #: A card paid with on the page gets a cardId (in the postLink and status) even when it was
    #: not saved. Off: only a saved card has one, as the vendor's saved-card page reads ("the
    #: card is saved if you ... passed cardsave: true, the payment was successful and you
    #: received CardID").
    card_id_without_save: bool = False
    #: The terminal requires 3-D Secure on payments with a saved card: ``/payments/cards/auth``
    #: answers a ``secure3D`` step instead of paying (vendor: "3DS check is per terminal").
    card_payment_three_ds: bool = False
    #: The terminal may pay with saved cards (cardId) without the customer. Off:
    #: ``/payments/cards/auth`` answers HTTP 400 ``{"code": 464}`` (the bank's code is not
    #: published; 464 "Invalid merchant" from its reason-code table).
    card_payments_allowed: bool = True
    #: ``POST /invoice`` also takes a client-credentials (service) token. The vendor's page
    #: asks for the password grant; some integrations send a client-credentials token with
    #: scope ``payment``, whether the bank takes it is unverified.
    invoice_client_credentials: bool = False
    #: Seconds a payment link lives whatever its ``expire_period`` says (None: as it says):
    #: for tests of expiry that cannot wait a day.
    invoice_expiry_seconds: int | None = None
    #: Seconds a QR may be paid before it is REJECTED: the vendor's 20 minutes; shorter for
    #: tests of expiry.
    qr_lifetime_seconds: int = 1200

    def update(self, values: dict[str, Any]) -> None:
        """Set the switches named in ``values``; unknown names or wrong values raise
        ValueError."""
        known = {f.name for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown sandbox option {name!r}")
            if name == "refund_external_id":
                if value not in REFUND_EXTERNAL_ID_MODES:
                    raise ValueError(f"{name} takes one of {', '.join(REFUND_EXTERNAL_ID_MODES)}")
            elif name == "qr_lifetime_seconds":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{name} takes a whole number of seconds")
            elif name == "invoice_expiry_seconds":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                          or value < 0):
                    raise ValueError(f"{name} takes null or a whole number of seconds")
            elif not isinstance(value, bool):
                raise ValueError(f"{name} takes true or false")
            setattr(self, name, value)

    def reset(self) -> None:
        """Every switch back to its default."""
        self.update(asdict(Options()))

    def as_dict(self) -> dict[str, Any]:
        """The switches as a JSON-ready dict."""
        return asdict(self)


__all__ = ["REFUND_EXTERNAL_ID_MODES", "Options"]
