"""Who may see the dashboard and who may act on payments (the shop's own rules), its forms'
CSRF token, and its Content-Security-Policy."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo

from flask import abort, current_app, request, session
from werkzeug.wrappers import Response

from ..state import get_state

__all__ = ["CSP", "DashboardRules", "Rule", "check_csrf", "csrf_token", "rules"]

log = logging.getLogger("flask_halyk.dashboard")

#: A rule of the shop's: called with no argument in the request (read ``flask_login``'s
#: ``current_user``, ``g``, the session...), true when the person may do it.
Rule = Callable[[], bool]

#: The policy of the dashboard's pages when the app sends none of its own: nothing but its
#: stylesheet and forms posting back to it (no script at all, none inline).
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")

_SESSION_KEY = "_halyk_dashboard_csrf"


@dataclass(frozen=True)
class DashboardRules:
    """One app's dashboard settings (``app.extensions["halyk_dashboard"]``)."""

    can_view: Rule | None
    can_act: Rule | None
    url_prefix: str
    #: Where the dashboard's times are shown and its filter's days start.
    zone: tzinfo = UTC

    def may_view(self) -> bool:
        """The shop's ``can_view``; without one, open on the sandbox only."""
        if self.can_view is not None:
            return bool(self.can_view())
        return get_state().config.env == "sandbox"

    def may_act(self) -> bool:
        """``can_act`` (after ``can_view``); without it, nobody acts, except on the sandbox
        when the shop gave no rule at all."""
        if not self.may_view():
            return False
        if self.can_act is not None:
            return bool(self.can_act())
        return self.can_view is None and get_state().config.env == "sandbox"


def rules() -> DashboardRules:
    """The current app's dashboard rules."""
    found = current_app.extensions["halyk_dashboard"]
    assert isinstance(found, DashboardRules)
    return found


def require_view() -> None:
    """403 unless the shop's rule lets this request see the dashboard."""
    if not rules().may_view():
        abort(403)


def require_act() -> None:
    """403 unless the shop's rule lets this request act on payments."""
    if not rules().may_act():
        abort(403)


def _flask_wtf() -> bool:
    return "csrf" in current_app.extensions


def csrf_token() -> str:
    """The token the dashboard's forms carry: Flask-WTF's when the app has its CSRFProtect,
    else the dashboard's own (a random value kept in the signed session)."""
    if _flask_wtf():
        generate = current_app.jinja_env.globals.get("csrf_token")
        if callable(generate):
            return str(generate())
    token = session.get(_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = token
    return token


def check_csrf() -> None:
    """Refuse (400) a form post without the right token. With Flask-WTF's CSRFProtect, it
    checks (its own ``before_request``; here too when ``WTF_CSRF_CHECK_DEFAULT`` is off)."""
    if _flask_wtf():
        if not current_app.config.get("WTF_CSRF_CHECK_DEFAULT", True):
            current_app.extensions["csrf"].protect()
        return
    expected = session.get(_SESSION_KEY)
    given = request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(
            given.encode(), expected.encode()):
        log.warning("flask-halyk dashboard: a form post without a valid CSRF token refused")
        abort(400, "the form's CSRF token is missing or wrong: reload the page")


def add_csp(response: Response) -> Response:
    """The dashboard's strict policy on its pages, unless the app sends its own (Talisman's,
    set after this)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response
