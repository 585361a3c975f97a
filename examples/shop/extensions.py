"""The shop's extension objects, created once and bound to each app in :func:`create_app`."""

from __future__ import annotations

from flask_babel import Babel
from flask_wtf import CSRFProtect

from flask_halyk import HalykEpay

halyk = HalykEpay()
csrf = CSRFProtect()
babel = Babel()
