"""pytest plugin for flask-halyk: fixtures for testing shops against the offline ePay sandbox.

Fixtures are documented in ``docs/testing.md``.
"""

from __future__ import annotations
