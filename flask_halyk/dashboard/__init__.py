"""The back office: an optional blueprint a shop mounts with one call.

::

    from flask_halyk.dashboard import Dashboard

    Dashboard(app, can_view=lambda: current_user.is_staff,
              can_act=lambda: current_user.is_admin)

or ``halyk.init_dashboard(app, can_view=..., can_act=...)``. The rules are the shop's own
(like Flask-Admin's ``is_accessible``): called in each request, with no argument. Without
``can_view`` the dashboard is open only on the sandbox (``HALYK_ENV="sandbox"``); anywhere else
every page answers 403. Without ``can_act`` nobody refunds, charges, cancels, reconciles or
reprocesses from it (except on the sandbox when no rule was given at all). See
docs/dashboard.md.
"""

from __future__ import annotations

import logging
from datetime import tzinfo
from zoneinfo import ZoneInfo

from flask import Flask

from ..errors import ExtensionSetupError
from ..state import get_state
from .access import CSP, DashboardRules, Rule
from .views import ACTIONS, FILTER_FIELDS, create_blueprint, refusal_text

__all__ = ["ACTIONS", "CSP", "FILTER_FIELDS", "Dashboard", "Rule", "refusal_text"]

log = logging.getLogger("flask_halyk.dashboard")


class Dashboard:
    """The payments dashboard on ``app`` (or on each app given to :meth:`init_app`), under
    ``url_prefix``; ``can_view`` and ``can_act`` are the shop's access rules. ``timezone``
    (a name such as ``"Asia/Almaty"``, or a ``tzinfo``): where its times are shown and its
    date filters' days start (UTC by default). An unknown name raises at once."""

    def __init__(self, app: Flask | None = None, *, can_view: Rule | None = None,
                 can_act: Rule | None = None, url_prefix: str = "/halyk-admin",
                 timezone: str | tzinfo = "UTC") -> None:
        self.can_view = can_view
        self.can_act = can_act
        self.url_prefix = url_prefix
        self.zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the dashboard's blueprint (``halyk_dashboard``) on ``app``, after
        ``HalykEpay.init_app(app)``."""
        if "halyk_dashboard" in app.extensions:
            raise ExtensionSetupError("the dashboard is already mounted on this app")
        state = get_state(app)
        app.extensions["halyk_dashboard"] = DashboardRules(self.can_view, self.can_act,
                                                           self.url_prefix, self.zone)
        app.register_blueprint(create_blueprint(), url_prefix=self.url_prefix)
        if self.can_view is None:
            if state.config.env == "sandbox":
                log.warning("flask-halyk: the dashboard at %s is open to anyone: the sandbox "
                            "has no real payments. Give Dashboard(can_view=..., can_act=...) "
                            "before going live.", self.url_prefix)
            else:
                log.warning("flask-halyk: the dashboard at %s is closed (403 to everyone): "
                            "HALYK_ENV=%r and no can_view rule. Give Dashboard(can_view=..., "
                            "can_act=...) to open it to your staff.", self.url_prefix,
                            state.config.env)
