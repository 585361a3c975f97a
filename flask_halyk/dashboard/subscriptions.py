"""The dashboard's subscriptions: the list (a status filter), a subscription's page with its
charges (each linking to its payment), and pause, resume and cancel at period end behind a
confirmation page (for those who may act)."""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from ..errors import HalykError
from ..i18n import gettext as _
from ..i18n import lazy_gettext
from ..ledger.subscriptions import ACTIVE, CANCELLED, PAST_DUE, PAUSED, Subscription
from ..state import get_state
from ..subscriptions import cancel, pause, resume
from .access import require_act

__all__ = ["SUBSCRIPTION_ACTIONS", "allowed_actions", "subscription", "subscription_action",
           "subscriptions"]

log = logging.getLogger("flask_halyk.dashboard")

#: A subscription's status as a word.
SUBSCRIPTION_WORDS: dict[str, Any] = {
    ACTIVE: lazy_gettext("Active"),
    PAST_DUE: lazy_gettext("Past due (retrying)"),
    PAUSED: lazy_gettext("Paused"),
    CANCELLED: lazy_gettext("Ended"),
}

#: What became of one charge of a subscription, as a word.
CHARGE_WORDS: dict[str, Any] = {
    "claimed": lazy_gettext("Being sent"),
    "sent": lazy_gettext("Sent, awaiting the bank"),
    "paid": lazy_gettext("Paid"),
    "failed": lazy_gettext("Declined"),
}

#: The actions a subscription's page offers, each behind a confirmation page.
SUBSCRIPTION_ACTIONS = ("pause", "resume", "cancel")


def subscription_word(status: str) -> str:
    return str(SUBSCRIPTION_WORDS.get(status, status))


def charge_word(status: str) -> str:
    return str(CHARGE_WORDS.get(status, status))


def allowed_actions(sub: Subscription) -> list[str]:
    """The actions its state allows: pause an active or past-due one, resume a paused one,
    cancel at period end one not ending already."""
    found = []
    if sub.status in (ACTIVE, PAST_DUE):
        found.append("pause")
    if sub.status == PAUSED:
        found.append("resume")
    if sub.status != CANCELLED and not sub.cancel_at_period_end:
        found.append("cancel")
    return found


def subscriptions() -> str:
    """The subscriptions, newest first, filtered by status."""
    wanted = [s for s in request.args.getlist("status") if s in SUBSCRIPTION_WORDS]
    account = request.args.get("account_id", "").strip() or None
    found = get_state().ledger.subscriptions(account, status=wanted)
    return render_template("halyk/dashboard/subscriptions.html", subs=found[::-1],
                           wanted=wanted, account=account or "", statuses=SUBSCRIPTION_WORDS,
                           subscription_word=subscription_word)


def _sub_or_404(sub_id: str) -> Subscription:
    found = get_state().ledger.subscription(sub_id)
    if found is None:
        abort(404)
    return found


def subscription(sub_id: str) -> str:
    """A subscription: its plan, card, state, what it allows, and every charge."""
    sub = _sub_or_404(sub_id)
    return render_template("halyk/dashboard/subscription.html", s=sub,
                           charges=get_state().ledger.charges(sub.id)[::-1],
                           actions=allowed_actions(sub), subscription_word=subscription_word,
                           charge_word=charge_word, period=_period(sub))


def _period(sub: Subscription) -> str:
    n = sub.period_count
    if sub.period_unit == "month":
        return _("every month") if n == 1 else _("every %(num)s months", num=n)
    if sub.period_unit == "week":
        return _("every week") if n == 1 else _("every %(num)s weeks", num=n)
    return _("every day") if n == 1 else _("every %(num)s days", num=n)


def subscription_action(sub_id: str, action: str) -> Any:
    """GET: the confirmation page. POST (the confirmation): do it, when its state still
    allows it; else the page again with the reason."""
    if action not in SUBSCRIPTION_ACTIONS:
        abort(404)
    sub = _sub_or_404(sub_id)
    if request.method == "GET":
        require_act()
        return render_template("halyk/dashboard/subscription_confirm.html", s=sub,
                               action=action, problem=None,
                               subscription_word=subscription_word)
    problem = None
    if action not in allowed_actions(sub):
        problem = _("The subscription is %(status)s: this is not possible now.",
                    status=subscription_word(sub.status).lower())
    else:
        try:
            {"pause": pause, "resume": resume, "cancel": cancel}[action](get_state(), sub)
        except HalykError as exc:
            log.warning("flask-halyk dashboard: %s of subscription %s refused: %s", action,
                        sub_id, exc)
            problem = _("The subscription changed meanwhile: look at it again.")
    if problem is None:
        flash({"pause": _("Paused: it is not charged until resumed."),
               "resume": _("Resumed: it is charged again."),
               "cancel": _("It ends at the end of the period paid.")}[action],
              "halyk-dashboard")
        return redirect(url_for(".subscription", sub_id=sub_id))
    sub = _sub_or_404(sub_id)
    return render_template("halyk/dashboard/subscription_confirm.html", s=sub, action=action,
                           problem=problem, subscription_word=subscription_word), 409
