"""The postLink path: where ePay's server tells the shop how a payment ended.

:mod:`.views` (the blueprint and the flow of one delivery), :mod:`.intake` (reading, parsing and
validating the body), :mod:`.verification` (``secret_hash`` and the checks against the order),
:mod:`.confirmation` (the status re-check).
"""

from __future__ import annotations

from .views import create_blueprint

__all__ = ["create_blueprint"]
