"""Helpers shared by the page tests (macros, payments, the flow through the sandbox): shop apps,
reading the scripts the macros write, and handing a payment object to the payment page as the
bank's payment-api.js does."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask

from flask_halyk.extension import HalykEpay
from flask_halyk.sandbox.lzstring import compress_to_encoded_uri_component

DISTINCT_SECRET = "S3cr3t-Never-Shown-0xC0FFEE"
SHOP_TERMINAL = "11111111-2222-3333-4444-555555555555"


def make_shop(tmp_path: Path, **config: Any) -> Flask:
    """A shop app with flask-halyk on the embedded sandbox, a SQLite ledger in tmp_path and, by
    default, its own credentials with a distinctive client secret."""
    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="test-secret-key",
        TESTING=True,
        HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
    )
    if "HALYK_ENV" not in config:
        config = {"HALYK_ENV": "sandbox", "HALYK_CLIENT_ID": "shop-client",
                  "HALYK_CLIENT_SECRET": DISTINCT_SECRET, "HALYK_TERMINAL_ID": SHOP_TERMINAL,
                  **config}
    app.config.update(config)
    HalykEpay(app)
    return app


def marked_options(request: Any) -> dict[str, Any]:
    """The settings of the test's ``@pytest.mark.options(...)`` (pytest-flask's marker), keys
    upper-cased as pytest-flask does. pytest-flask copies them into app.config only once the
    app is built, too late for HALYK_* settings (read at init_app): app fixtures pass them to
    the factory."""
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("options"))):
        options.update({key.upper(): value for key, value in marker.kwargs.items()})
    return options


def close(app: Flask) -> None:
    app.extensions["halyk"].client.close()


def make_app(tmp_path: Path, **config: Any) -> Flask:
    """A bare shop app with no HALYK_* settings at all (embedded sandbox, test merchant) but the
    ledger in tmp_path, plus ``config``."""
    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="test-secret-key",
        TESTING=True,
        HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
    )
    app.config.update(config)
    HalykEpay(app)
    return app


class Scripts(HTMLParser):
    """Every <script> of a page: its attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "script":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.scripts.append((self._open, "".join(self._text)))
            self._open = None


def scripts_of(html: str) -> Scripts:
    parser = Scripts()
    parser.feed(html)
    parser.close()
    return parser


def js_value(body: str, name: str) -> Any:
    """The JSON literal assigned to ``var name = ...;`` in a script body."""
    match = re.search(rf"var {name} = (.*?);\n", body)
    assert match, f"{name} not in script"
    return json.loads(match.group(1))


def bank_flatten(value: Any) -> str:
    """The bank's payment-api.js ``encodeParams``, written again here from PROTOCOL.md (apart
    from the sandbox's own, so that the two check each other): ``""`` for null, ``"" + v`` for
    a non-object, and for an object ``name=encodeURIComponent(encode(value))`` pairs joined with
    ``&``. A nested object (``auth``) is ONE value: its own ``k=v&...`` text, URI-encoded once
    more (``auth=access_token%3DX%26expires_in%3D7200``). Floats are spelled as JavaScript does
    for the amounts a page holds (``12.5``, ``100``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict):
        return "&".join(f"{key}={quote(bank_flatten(item), safe=URI_COMPONENT_SAFE)}"
                        for key, item in value.items() if key)
    return str(value)


#: What ``encodeURIComponent`` leaves as it is, besides ASCII letters and digits.
URI_COMPONENT_SAFE = "-_.!~*'()"


def bank_params(obj: dict[str, Any]) -> str:
    """The ``params`` the bank's payment-api.js gives the payment page (PROTOCOL.md 2):
    :func:`bank_flatten`, then LZString ``compressToEncodedURIComponent``."""
    return compress_to_encoded_uri_component(bank_flatten(obj))
