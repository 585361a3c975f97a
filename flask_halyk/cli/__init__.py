"""``flask halyk ...``: the commands a shop runs by hand or from cron
(:mod:`.maintenance`: config, status, capacity, init-db, reconcile, reprocess, charge-due,
copy-ledger; ``sandbox`` comes from :mod:`flask_halyk.sandbox`), an operator's
(:mod:`.back_office`: show, payments, refund, charge, cancel, link) and the sandbox's postLink
on demand (:mod:`.trigger`: send-postlink). Importing the package registers them all on
:data:`halyk_cli`."""

from __future__ import annotations

from . import maintenance, trigger  # noqa: F401 - their commands join the group on import
from .back_office import (
    EXIT_BANK_REFUSED,
    EXIT_DONE,
    EXIT_ERROR,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from .group import halyk_cli, parse_duration
from .trigger import sandbox_pay_url

__all__ = [
    "EXIT_BANK_REFUSED",
    "EXIT_DONE",
    "EXIT_ERROR",
    "EXIT_REFUSED",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "halyk_cli",
    "parse_duration",
    "sandbox_pay_url",
]
