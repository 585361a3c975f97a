"""An operator's commands: show, payments, refund, charge, cancel, link; their exit statuses
are for scripts."""

from __future__ import annotations

import dataclasses
import functools
import json
from decimal import Decimal
from typing import Any

import click
from flask.cli import with_appcontext

from ..epay import OperationResult
from ..errors import (
    ApiError,
    HalykError,
    InvalidArgument,
    PaymentNotFound,
    PaymentStateError,
    TransportError,
)
from ..ledger import PaymentFilter, PaymentRecord, PaymentStatus, TimelineEntry
from ..ledger.listing import MAX_PAGE, FilterError
from ..links import create_payment_link
from ..money import parse_amount
from ..operations import cancel, charge, refund
from ..state import SANDBOX_ELSEWHERE, get_state, sandbox_is_elsewhere
from .group import Command, halyk_cli

# Exit statuses of the operator commands (show, refund, charge, cancel, payments), for scripts.
#: Done.
EXIT_DONE = 0
#: Aborted at the confirmation prompt, or another error (the ledger's database down...).
EXIT_ERROR = 1
#: A usage error (click's own): an unknown option, an amount or date that cannot be read.
EXIT_USAGE = 2
#: The ledger refused: no such payment, or its state does not allow it (the reason printed).
EXIT_REFUSED = 3
#: ePay refused (its code and message printed): nothing was recorded.
EXIT_BANK_REFUSED = 4
#: ePay could not be reached or did not answer: nothing was recorded, but a refund may have
#: happened at the bank; ask ``flask halyk status INVOICE`` before repeating one.
EXIT_UNREACHABLE = 5


class Refused(click.ClickException):
    """The ledger refused the operation (:data:`EXIT_REFUSED`)."""

    exit_code = EXIT_REFUSED


class BankRefused(click.ClickException):
    """ePay refused the operation (:data:`EXIT_BANK_REFUSED`)."""

    exit_code = EXIT_BANK_REFUSED


class Unreachable(click.ClickException):
    """ePay did not answer (:data:`EXIT_UNREACHABLE`)."""

    exit_code = EXIT_UNREACHABLE


def operator_errors(command: Command) -> Command:
    """Turn the errors of an operation into a line a person reads and an exit status a script
    relies on (:data:`EXIT_REFUSED`, :data:`EXIT_BANK_REFUSED`, :data:`EXIT_UNREACHABLE`,
    :data:`EXIT_ERROR`)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (PaymentNotFound, PaymentStateError) as exc:
            raise Refused(f"refused: {exc}") from None
        except InvalidArgument as exc:
            raise click.UsageError(str(exc)) from None
        except ApiError as exc:
            said = exc.bank_message or str(exc)
            code = f" (code {exc.code})" if exc.code is not None else ""
            raise BankRefused(f"refused by ePay{code}: {said}") from None
        except TransportError as exc:
            raise Unreachable(
                f"ePay did not answer: {exc}. Nothing was recorded; ask `flask halyk status` "
                "before repeating it.") from None
        except HalykError as exc:
            raise click.ClickException(str(exc)) from None

    return run  # type: ignore[return-value]


def _money(value: Decimal | None, currency: str) -> str:
    return "-" if value is None else f"{value:.2f} {currency}"


def _offers(payment: PaymentRecord) -> str:
    offered = []
    if payment.can_refund:
        offered.append(f"refund (up to {_money(payment.refundable_amount, payment.currency)})")
    if payment.can_charge:
        offered.append(f"charge (up to {_money(payment.amount, payment.currency)})")
    if payment.can_cancel:
        offered.append("cancel")
    return ", ".join(offered) or "nothing"


def _summary(payment: PaymentRecord) -> list[str]:
    p = payment
    lines = [
        f"payment {p.invoice_id}: {p.status}"
        + (f" (ePay: {p.bank_status})" if p.bank_status else ""),
        f"  amount      {_money(p.amount, p.currency)}",
    ]
    if p.charged_amount is not None:
        lines.append(f"  charged     {_money(p.charged_amount, p.currency)}")
    if p.refunded_amount:
        lines.append(f"  refunded    {_money(p.refunded_amount, p.currency)}")
    for label, value in (("created", p.created_at.isoformat(timespec="seconds")),
                         ("paid", p.paid_at.isoformat(timespec="seconds") if p.paid_at else None),
                         ("description", p.description or None), ("account", p.account_id),
                         ("card", " ".join(x for x in (p.card_mask, p.card_type, p.issuer) if x)
                          or None),
                         ("transaction", p.transaction_id), ("reference", p.reference),
                         ("reason", f"{p.reason} ({p.reason_code})" if p.reason else None)):
        if value:
            lines.append(f"  {label:<11} {value}")
    lines.append(f"  offers      {_offers(p)}")
    return lines


def _entry_line(entry: TimelineEntry) -> str:
    parts = [entry.at.isoformat(timespec="seconds"), entry.kind]
    if entry.event_id is not None:
        parts.append(f"#{entry.event_id}")
    if entry.verdict is not None:
        parts.append(str(entry.verdict))
    if entry.outcome is not None:
        parts.append(f"-> {entry.outcome}")
    if entry.result is not None and entry.kind in ("refund", "charge", "cancel"):
        parts.append(("all" if entry.amount is None else f"{entry.amount:.2f}") + "  "
                     + entry.result)
    elif entry.result is not None:
        parts.append(entry.result)
    if entry.reason:
        parts.append(f"({entry.reason})")
    return "  ".join(parts)


def _entry_json(entry: TimelineEntry) -> dict[str, Any]:
    return {"at": entry.at.isoformat(), "kind": entry.kind, "event_id": entry.event_id,
            "verdict": entry.verdict, "outcome": entry.outcome, "reason": entry.reason,
            "remote_addr": entry.remote_addr, "headers": entry.headers, "body": entry.body,
            "amount": entry.amount, "result": entry.result}


def _payment_json(payment: PaymentRecord) -> dict[str, Any]:
    found = dataclasses.asdict(payment)
    found.update(can_refund=payment.can_refund, can_charge=payment.can_charge,
                 can_cancel=payment.can_cancel, refundable_amount=payment.refundable_amount)
    return found


@halyk_cli.command("show")
@click.argument("invoice_id")
@click.option("--bodies", is_flag=True, help="Also print each event's stored body (secrets "
                                             "redacted).")
@click.option("--json", "as_json", is_flag=True, help="Print the payment and its timeline as "
                                                      "JSON.")
@with_appcontext
@operator_errors
def show_command(invoice_id: str, bodies: bool, as_json: bool) -> None:
    """Show a payment as the ledger knows it, and its timeline: every postLink with its
    verdict, every status answer that changed it (secrets redacted)."""
    timeline = get_state().ledger.timeline(invoice_id)
    if as_json:
        click.echo(json.dumps({"payment": _payment_json(timeline.payment),
                               "timeline": [_entry_json(e) for e in timeline.entries]},
                              indent=2, ensure_ascii=False, default=str))
        return
    for line in _summary(timeline.payment):
        click.echo(line)
    click.echo("timeline:")
    for entry in timeline.entries:
        click.echo("  " + _entry_line(entry))
        if bodies and entry.body:
            for line in entry.body.splitlines():
                click.echo("      " + line)


def _amount_option(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_amount(value)
    except InvalidArgument as exc:
        raise click.BadParameter(str(exc), param_hint="--amount") from None


def _confirm(yes: bool, question: str) -> None:
    if not yes:
        click.confirm(question, abort=True)


def _done(operation: str, result: OperationResult, payment: PaymentRecord) -> None:
    amount = f" {_money(result.amount, payment.currency)} of" if result.amount else ""
    click.echo(f"{operation}{amount} payment {payment.invoice_id}: ePay accepted it; the "
               f"payment is {payment.status} now.")
    for line in _summary(payment)[1:]:
        click.echo(line)


def _warn_if_elsewhere() -> None:
    if sandbox_is_elsewhere(get_state()):
        click.echo(f"warning: {SANDBOX_ELSEWHERE}", err=True)


@halyk_cli.command("refund")
@click.argument("invoice_id")
@click.option("--amount", help="Refund this much of it (default: all that is left).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@operator_errors
def refund_command(invoice_id: str, amount: str | None, yes: bool) -> None:
    """Refund a paid payment, in full (what is left of it) or --amount of it."""
    value = _amount_option(amount)
    ledger = get_state().ledger
    payment = ledger.require(invoice_id)
    _warn_if_elsewhere()
    left = _money(payment.refundable_amount, payment.currency)
    what = _money(value, payment.currency) if value is not None else f"all that is left ({left})"
    _confirm(yes, f"Refund {what} of payment {invoice_id} ({payment.status}, {left} left)?")
    result = refund(get_state(), invoice_id, value)
    _done("refunded", result, ledger.require(invoice_id))


@halyk_cli.command("charge")
@click.argument("invoice_id")
@click.option("--amount", help="Charge this much of it (default: all that was authorised).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@operator_errors
def charge_command(invoice_id: str, amount: str | None, yes: bool) -> None:
    """Charge (capture) an authorised payment, in full or --amount of it."""
    value = _amount_option(amount)
    ledger = get_state().ledger
    payment = ledger.require(invoice_id)
    _warn_if_elsewhere()
    what = _money(value if value is not None else payment.amount, payment.currency)
    _confirm(yes, f"Charge {what} of payment {invoice_id} ({payment.status}, "
                  f"{_money(payment.amount, payment.currency)} authorised)?")
    result = charge(get_state(), invoice_id, value)
    _done("charged", result, ledger.require(invoice_id))


@halyk_cli.command("cancel")
@click.argument("invoice_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@operator_errors
def cancel_command(invoice_id: str, yes: bool) -> None:
    """Cancel (void) an authorised payment that is not charged yet."""
    ledger = get_state().ledger
    payment = ledger.require(invoice_id)
    _warn_if_elsewhere()
    _confirm(yes, f"Cancel payment {invoice_id} ({payment.status}, "
                  f"{_money(payment.amount, payment.currency)} held)?")
    result = cancel(get_state(), invoice_id)
    _done("cancelled", result, ledger.require(invoice_id))


@halyk_cli.command("link")
@click.argument("amount")
@click.option("--email", help="The customer's e-mail: ePay sends the link there.")
@click.option("--phone", help="The customer's phone (+77011234567): ePay sends the link by SMS.")
@click.option("--expire", "expire_period", default="1d", show_default=True,
              help="How long the link may be paid: days, such as 1d or 3d.")
@click.option("--description", default=None, help="What the customer pays for (default: "
                                                   "'Payment by link').")
@click.option("--json", "as_json", is_flag=True, help="Print the link as JSON.")
@with_appcontext
@operator_errors
def link_command(amount: str, email: str | None, phone: str | None, expire_period: str,
                 description: str | None, as_json: bool) -> None:
    """Bill a customer: record a payment of AMOUNT and have ePay send them its payment link by
    e-mail (--email) and/or SMS (--phone). The payment reaches the ledger when they pay."""
    if not email and not phone:
        raise click.UsageError("give the customer's --email or --phone (or both)")
    _warn_if_elsewhere()
    link = create_payment_link(
        get_state(), amount, recipient_email=email,
        recipient_phone=phone, expire_period=expire_period,
        description=description or "Payment by link")
    expires = link.expires_at.isoformat(timespec="seconds") if link.expires_at else None
    if as_json:
        click.echo(json.dumps({"invoice_id": link.invoice_id, "id": link.id,
                               "invoice_url": link.invoice_url, "expires_at": expires,
                               "amount": str(link.amount), "currency": link.currency},
                              indent=2))
        return
    to = " and ".join(x for x in (email, phone) if x)
    click.echo(f"payment link for invoice {link.invoice_id} "
               f"({_money(link.amount, link.currency)}) sent to {to}: {link.invoice_url}")
    click.echo(f"expires: {expires or 'not said by ePay'}")


@halyk_cli.command("payments")
@click.option("--status", multiple=True, type=click.Choice([s.value for s in PaymentStatus]),
              help="Only payments in this status (repeat for several).")
@click.option("--from", "created_from", help="Created on or after this day (YYYY-MM-DD, UTC).")
@click.option("--to", "created_to", help="Created on or before this day (YYYY-MM-DD, UTC).")
@click.option("--min-amount", help="Amount at least this.")
@click.option("--max-amount", help="Amount at most this.")
@click.option("--invoice", help="Invoice id, or its first digits.")
@click.option("--account", help="The shop's account id (accountId) of the payer.")
@click.option("--card", help="The card's mask, or its last four digits.")
@click.option("--limit", type=click.IntRange(1, MAX_PAGE), default=50, show_default=True,
              help="Payments per page.")
@click.option("--after", help="The cursor printed at the end of the previous page.")
@click.option("--csv", "as_csv", is_flag=True, help="Every matching payment as CSV (no "
                                                    "paging; streamed).")
@with_appcontext
@operator_errors
def payments_command(status: tuple[str, ...], created_from: str | None, created_to: str | None,
                     min_amount: str | None, max_amount: str | None, invoice: str | None,
                     account: str | None, card: str | None, limit: int, after: str | None,
                     as_csv: bool) -> None:
    """List payments, newest first, with the dashboard's filters; --csv for all of them."""
    try:
        wanted = PaymentFilter.parse(status=status, created_from=created_from,
                                     created_to=created_to, amount_min=min_amount,
                                     amount_max=max_amount, invoice=invoice,
                                     account_id=account, card=card)
    except FilterError as exc:
        raise click.BadParameter(exc.problem, param_hint=f"--{_OPTION[exc.field]}") from None
    ledger = get_state().ledger
    if as_csv:
        for chunk in ledger.export_csv(wanted):
            click.echo(chunk, nl=False)
        return
    try:
        page = ledger.list_payments(wanted, after=after, limit=limit)
    except ValueError:
        raise click.BadParameter("not a cursor this command printed", param_hint="--after"
                                 ) from None
    for p in page.payments:
        click.echo(f"{p.invoice_id}  {p.created_at.isoformat(timespec='seconds')}  "
                   f"{_money(p.amount, p.currency):>16}  {p.status:<18}  {p.card_mask or '-'}")
    if not page.payments:
        click.echo("no payments")
    if page.next_cursor:
        click.echo(f"more: --after {page.next_cursor}")


_OPTION = {"created_from": "from", "created_to": "to", "amount_min": "min-amount",
           "amount_max": "max-amount", "invoice": "invoice", "status": "status"}
