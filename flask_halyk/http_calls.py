"""One HTTP call to ePay: a (connect, read) timeout on every attempt, bounded retries with
jittered exponential backoff when the caller allows them, and every network failure or 5xx answer
turned into a typed error of :mod:`flask_halyk.errors` that names the URL, never the secret.

Answers below 500 are returned as they are: reading them is :mod:`flask_halyk.answers`' job.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping

import requests

from .errors import EpayConnectionError, EpayTimeout, EpayUnavailable, HalykError
from .redaction import safe_url, scrub

__all__ = ["NOT_RETRIED", "send"]

# The client's logger: these lines are the client's calls, and shops filter logs by that name.
logger = logging.getLogger("flask_halyk.client")

#: Appended to the failure of a call that is never retried (charge, cancel, refund).
NOT_RETRIED = (
    " This operation is never retried automatically (it may have been performed): "
    "check status() before repeating it."
)


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    retry: bool,
    retries: int,
    backoff: float,
    timeout: tuple[float, float],
    secret: str,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    data: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """One call, retried up to ``retries`` times if ``retry``, on connection errors, timeouts
    and 5xx; ``what`` names the call in messages; ``secret`` is scrubbed from them.

    Errors are built inside ``except`` but raised outside it, so that they carry no
    ``__context__``: requests' exceptions hold the prepared request, form body and client
    secret included.
    """
    safe = safe_url(url)
    attempts = 1 + (retries if retry else 0)
    failure: HalykError | None = None
    for attempt in range(1, attempts + 1):
        started = clock()
        response: requests.Response | None = None
        failure = None
        try:
            response = session.request(
                method, url, data=data, params=params, headers=headers,
                timeout=timeout, allow_redirects=False,
            )
        except requests.Timeout as exc:
            failure = EpayTimeout(_timeout_message(exc, timeout, what, safe, attempt, retry))
        except requests.RequestException as exc:
            failure = EpayConnectionError(
                f"Could not reach ePay for the {what} at {safe} "
                f"({_reason(exc, secret)}){_attempts(attempt)}: check the host setting "
                "(HALYK_TOKEN_URL / HALYK_API_URL), DNS and the network."
                + ("" if retry else NOT_RETRIED)
            )
        elapsed = clock() - started
        logger.debug(
            "%s %s -> %s in %.3f s (attempt %d/%d)", method, safe,
            response.status_code if response is not None else type(failure).__name__,
            elapsed, attempt, attempts,
        )
        if response is not None:
            if response.status_code < 500:
                return response
            failure = EpayUnavailable(
                f"ePay answered HTTP {response.status_code} to the {what} at {safe}"
                f"{_attempts(attempt)}: the bank is unavailable; try again later."
                + ("" if retry else NOT_RETRIED),
                status=response.status_code,
            )
            response.close()
        if attempt < attempts:
            jitter = random.uniform(0.5, 1.5)  # noqa: S311 - spreads retries, not a secret
            sleep(backoff * 2 ** (attempt - 1) * jitter)
    assert failure is not None
    raise failure


def _timeout_message(
    exc: requests.Timeout,
    timeout: tuple[float, float],
    what: str,
    safe: str,
    attempt: int,
    retry: bool,
) -> str:
    connect, read = timeout
    if isinstance(exc, requests.ConnectTimeout):
        phase = f"could not connect within {connect:g} s"
    else:
        phase = f"did not answer within {read:g} s"
    return (
        f"ePay {phase} for the {what} at {safe}{_attempts(attempt)}: try again later, or "
        "raise HALYK_TIMEOUT." + ("" if retry else NOT_RETRIED)
    )


def _reason(exc: BaseException, secret: str) -> str:
    """A short, secret-free description of a requests exception (its text names the host
    and path, never the body)."""
    text = " ".join(str(exc).split())[:300]
    return scrub(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, secret)


def _attempts(attempt: int) -> str:
    return f" after {attempt} attempts" if attempt > 1 else ""
