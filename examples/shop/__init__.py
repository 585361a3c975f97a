"""An example shop selling with flask-halyk: catalogue, checkout, the payment widget or redirect,
order status from the ledger, and an admin page for refunds.

Run it (embedded ePay sandbox, no configuration needed)::

    flask --app examples.shop run

or ``python -m examples.shop``.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
