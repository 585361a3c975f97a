"""The links of a payment: which ones are well-formed, and where its postLink is delivered.

Delivery follows the token request (server to bank) whenever it named a postLink or a
failurePostLink: the payment object passes through the customer's browser, which may change
it, and a delivery moved there would make the sandbox (on a public demo: the shop's own
server) POST the body, ``secret_hash`` included, wherever a visitor likes. Only when the token
named neither does the object's pair apply (integrations that send the links in the object
alone).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .state import Token

log = logging.getLogger(__name__)

#: The links a payment object may carry; none may be a script (:func:`dangerous_link`).
LINKS = ("backLink", "failureBackLink", "postLink", "failurePostLink")
#: Schemes that run or render in the page that follows the link. Every other one is taken:
#: back links may be app deep links (``myapp://paid``), as integrations use them.
DANGEROUS_SCHEMES = ("javascript", "data", "vbscript")
# Browsers drop ASCII tab and newlines anywhere in a URL, and leading C0 controls and spaces,
# before they read its scheme: "java\tscript:" is javascript:.
_IGNORED_BY_BROWSERS = re.compile(r"[\t\n\r]")
_LEADING_IGNORED = "".join(chr(code) for code in range(0x21))
#: The two that receive postLinks, in the token request's and the object's spelling.
DELIVERY_LINKS = ("postLink", "failurePostLink")


def http_url(value: object) -> bool:
    """True if ``value`` is an absolute http(s) URL (scheme and host)."""
    parts = urlsplit(str(value))
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def dangerous_link(value: object) -> bool:
    """True if ``value`` would run as script or render as a document where a browser follows it
    (``javascript:``, ``data:``, ``vbscript:``, in any case and spelling a browser reads)."""
    text = _IGNORED_BY_BROWSERS.sub("", str(value)).lstrip(_LEADING_IGNORED)
    scheme, colon, _ = text.partition(":")
    return bool(colon) and scheme.lower() in DANGEROUS_SCHEMES


def delivery_targets(token: Token, payment: Mapping[str, Any]) -> tuple[str, str]:
    """Where the postLink of a success and of a failure go (``""``: nowhere).

    The token's pair when it has either link, the object's pair otherwise; a missing
    failurePostLink falls back to the postLink of the same pair, never to the other source.
    """
    if token.post_link or token.failure_post_link:
        success, failure = token.post_link, token.failure_post_link
        ignored = [key for key, own in zip(DELIVERY_LINKS, (success, failure), strict=True)
                   if payment.get(key) and str(payment[key]) != own]
        if ignored:
            # Not an error: the page is paid as the shop's server asked; the log explains why
            # a link edited in the browser received nothing.
            log.info("sandbox: invoice %s: the payment object's %s differ from the token "
                     "request's; the token request's are used", token.invoice_id,
                     " and ".join(ignored))
    else:
        success = str(payment.get("postLink") or "")
        failure = str(payment.get("failurePostLink") or "")
    return success, failure or success
