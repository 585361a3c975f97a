"""Fault switches of one sandbox instance, for tests of how a shop copes with a bad bank."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Faults:
    """Switches read on every request; change them any time (``sandbox.faults.x = ...``, or
    ``POST /_sandbox/faults`` with a JSON object of the same names).

    ``*_delay`` sleep that many seconds before answering; ``*_error`` answer that HTTP status
    (e.g. 503) with an HTML body; ``*_garbage`` answer 200 with a body that is not JSON.
    ``token_*`` act on ``/oauth2/token``, ``status_*`` on the status call, ``operation_*`` on
    charge/cancel/refund, ``cards_*`` on the saved-card calls (``/cards/<accountId>``,
    ``/card/deactivate/<cardId>``, ``/payments/cards/auth``, ``/recurrent/subscribe``: the
    bank's card service down).
    ``card_decline`` declines every payment by cardId with that reason code.
    """

    #: Never send the postLink (the bank's delivery was lost).
    drop_postlink: bool = False
    #: Send every postLink twice.
    duplicate_postlink: bool = False
    #: Wait this many seconds before sending a postLink.
    postlink_delay: float = 0.0
    token_delay: float = 0.0
    token_error: int | None = None
    token_garbage: bool = False
    status_delay: float = 0.0
    status_error: int | None = None
    status_garbage: bool = False
    operation_delay: float = 0.0
    operation_error: int | None = None
    operation_garbage: bool = False
    cards_delay: float = 0.0
    cards_error: int | None = None
    cards_garbage: bool = False
    #: Decline every payment by cardId (a renewal, a one-click order) with this reason code,
    #: as the card's own decline (HTTP 200, ``status`` REJECT, the failure postLink); ``None``:
    #: the card decides.
    card_decline: int | None = None

    def update(self, values: dict[str, Any]) -> None:
        """Set the switches named in ``values``; unknown names or wrong types raise ValueError."""
        known = {f.name: f for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault switch {name!r}")
            if name.endswith("_delay"):
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{name} takes seconds (a non-negative number)")
                value = float(value)
            elif name == "card_decline":
                if value is not None and (
                    not isinstance(value, int) or isinstance(value, bool)
                    or not 1 <= value <= 9999
                ):
                    raise ValueError(f"{name} takes a reason code (a positive number) or null")
            elif name.endswith("_error"):
                if value is not None and (
                    not isinstance(value, int) or isinstance(value, bool)
                    or not 400 <= value <= 599
                ):
                    raise ValueError(f"{name} takes an HTTP error status or null")
            elif not isinstance(value, bool):
                raise ValueError(f"{name} takes true or false")
            setattr(self, name, value)

    def reset(self) -> None:
        """Turn every switch off."""
        self.update(asdict(Faults()))

    def as_dict(self) -> dict[str, Any]:
        """The switches as a JSON-ready dict."""
        return asdict(self)


def inject(faults: Faults, kind: str) -> tuple[str, int, dict[str, str]] | None:
    """Apply the ``kind`` (token/status/operation/cards) switches: sleep, then maybe an answer
    to send instead of the real one."""
    delay: float = getattr(faults, f"{kind}_delay")
    if delay:
        time.sleep(delay)
    error: int | None = getattr(faults, f"{kind}_error")
    if error:
        page = f"<html><body><h1>{error}</h1><p>Sandbox fault: {kind}</p></body></html>"
        return page, error, {"Content-Type": "text/html"}
    if getattr(faults, f"{kind}_garbage"):
        return "<html><body>Service temporarily unavailable", 200, {"Content-Type": "text/html"}
    return None
