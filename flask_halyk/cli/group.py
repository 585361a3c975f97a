"""The ``flask halyk`` group and what its commands share: the typed-error wrapper and the
duration parameters."""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import click
from flask.cli import AppGroup

from ..errors import HalykError

__all__ = ["Duration", "OptionalDuration", "halyk_cli", "parse_duration", "typed_errors"]

#: Where ``flask halyk sandbox`` lives. Imported by name when the command is asked for (or
#: listed), not at import: a shop in production never loads the sandbox (about 20 modules).
SANDBOX_COMMAND_MODULE = "flask_halyk.sandbox.cli"


class HalykGroup(AppGroup):
    """``flask halyk``: its own commands, plus ``sandbox`` loaded only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "sandbox"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "sandbox" and cmd_name not in self.commands:
            # importlib rather than an import statement: the sandbox's twenty modules load
            # only for the one command that needs them (tests/test_layout.py forbids an
            # import statement inside a function; this is the deferral it allows).
            module = importlib.import_module(SANDBOX_COMMAND_MODULE)
            self.add_command(module.sandbox_command)
        return super().get_command(ctx, cmd_name)


halyk_cli = HalykGroup("halyk", help="Halyk ePay: ledger, reconciliation, sandbox.")

Command = TypeVar("Command", bound=Callable[..., Any])


def typed_errors(command: Command) -> Command:
    """Print a :class:`HalykError` as click's one-line error (exit status 1): its message says
    what to fix (wrong credentials, a bank out of reach, the ledger's database down), and a
    traceback would only bury it."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except HalykError as exc:
            raise click.ClickException(str(exc)) from None

    return run  # type: ignore[return-value]


_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``"10m"``, ``"90s"``, ``"2h"``, ``"1d"`` or plain seconds (``"0"``)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 90s, 10m, 2h or 1d")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return timedelta(**{_UNITS[unit]: number})


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A click parameter for :func:`parse_duration`."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class OptionalDuration(Duration):
    """A :class:`Duration`, or ``never`` (``off``, ``none``) for None."""

    name = "duration|never"

    def convert(  # type: ignore[override]
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta | None:
        if value is None or str(value).strip().lower() in ("never", "off", "none"):
            return None
        return super().convert(value, param, ctx)
