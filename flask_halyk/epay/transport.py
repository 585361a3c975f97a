"""How the client talks to ePay: one pooled session, a (connect, read) timeout on every attempt,
bounded retries with jittered exponential backoff where the call allows them, an overall deadline
on every call (all attempts and backoff sleeps included), and messages that never carry the
client secret.

:class:`Transport` sends one call; the :class:`Reply` it returns is the answer together with the
words that describe it (which call, which URL) and the means to turn it into a typed error.
Network failures and 5xx answers are raised here; reading the rest is for the module of each
bank call.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from marshmallow import ValidationError

from ..errors import (
    ApiError,
    EpayConnectionError,
    EpayTimeout,
    EpayUnavailable,
    HalykError,
    InvalidResponse,
)
from ..redaction import request_secrets, safe_url, scrub
from ..schemas import OperationErrorSchema

__all__ = ["DEFAULT_DEADLINE", "NOT_RETRIED", "Deadline", "Reply", "Transport", "check_deadline"]

# The client's logger: these lines are the client's calls, and shops filter logs by that name.
logger = logging.getLogger("flask_halyk.client")

#: Appended to the failure of a call that is never retried (charge, cancel, refund).
NOT_RETRIED = (
    " This operation is never retried automatically (it may have been performed): "
    "check status() before repeating it."
)

_BODY_PREVIEW = 200

# Module-level so that tests can move the clock and skip the backoff sleeps; read at each call.
_monotonic = time.monotonic
_sleep = time.sleep

#: Seconds one bank call may take in all (every attempt and backoff sleep), by default: inside
#: the 30 s a common worker timeout (gunicorn's default) gives a request.
DEFAULT_DEADLINE = 25.0


def check_deadline(seconds: object) -> float:
    """``seconds`` as a deadline: a positive, finite number (else :class:`ValueError`)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"a deadline is a number of seconds, not {seconds!r}")
    value = float(seconds)
    # NaN passes "<= 0", and an infinite deadline would let a stalled bank hold a worker.
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"a deadline must be positive, finite seconds, not {seconds!r}")
    return value


@dataclass(frozen=True)
class Deadline:
    """When one bank call must be over, on the transport's monotonic clock: ``seconds`` after
    it started. One deadline covers everything the call does (the service token it may fetch
    first, its attempts, the backoff sleeps between them, the 401 retry)."""

    seconds: float
    ends_at: float

    @classmethod
    def start(cls, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(seconds, _monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left (negative once it passed)."""
        return self.ends_at - _monotonic()


@dataclass
class Transport:
    """The session, timeouts and retry policy of one client, and the secret its messages hide.

    ``timeout`` is (connect, read) seconds for every attempt; a call that allows retries is
    tried up to ``retries`` more times, after ``backoff * 2**n`` seconds (jittered), on
    connection errors, timeouts and 5xx answers. ``deadline`` bounds the whole call: no attempt
    starts, and no attempt's timeouts reach, past it (:meth:`send`).
    """

    session: requests.Session
    timeout: tuple[float, float]
    retries: int
    backoff: float
    secret: str = field(repr=False)
    deadline: float = DEFAULT_DEADLINE

    def begin(self, deadline: Deadline | float | None = None) -> Deadline:
        """The deadline of a call starting now: ``deadline`` seconds (the transport's own when
        None), or a :class:`Deadline` already running (a call made of several requests)."""
        if isinstance(deadline, Deadline):
            return deadline
        return Deadline.start(self.deadline if deadline is None else deadline)

    @staticmethod
    def now() -> float:
        """The monotonic clock retries and token lifetimes are measured on."""
        return _monotonic()

    def scrub(self, text: str, *more: str) -> str:
        """``text`` without the client secret, the values ``more`` (a request's own credentials:
        :func:`~flask_halyk.redaction.request_secrets`), and any credential it quotes
        (:func:`~flask_halyk.redaction.scrub`)."""
        return scrub(text, self.secret, *more)

    def send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        retry: bool,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: Deadline | float | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Reply:
        """One call, retried if ``retry``; ``what`` names it in messages. Answers below 500 are
        returned as a :class:`Reply`; network failures and 5xx raise typed errors.

        ``deadline`` (seconds, or a running :class:`Deadline`; the transport's own by default)
        bounds the call: each attempt's connect and read timeouts are cut to the time left, no
        attempt (or backoff sleep before one) starts that could not begin before it ends, and a
        call the deadline ends raises :class:`EpayTimeout` naming it (``.deadline``,
        ``.attempts``). ``json``: a JSON body instead of the form ``data`` (a payment by a saved
        card, a payment link, a QR).

        Errors are built inside ``except`` but raised outside it, so that they carry no
        ``__context__``: requests' exceptions hold the prepared request, form body and client
        secret included. Whatever an answer or an exception quotes of the request's credentials
        (the URL's user:password and query, the form's secrets, the Authorization header) is
        scrubbed from every message.
        """
        safe = safe_url(url)
        budget = self.begin(deadline)
        hidden = request_secrets(url, data, headers)
        attempts = 1 + (self.retries if retry else 0)
        failure: HalykError | None = None
        made = 0
        for attempt in range(1, attempts + 1):
            left = budget.remaining()
            if left <= 0:  # spent before this call began (the service token took it all)
                raise self._past_deadline(budget, what, safe, made, failure, retry)
            connect, read = self.timeout
            timeout = (min(connect, left), min(read, left))
            started = _monotonic()
            response: requests.Response | None = None
            failure = None
            ended_by_deadline = False
            made = attempt
            try:
                response = self.session.request(
                    method, url, data=data, params=params, headers=headers,
                    timeout=timeout, allow_redirects=False,
                    json=None if json is None else dict(json),
                )
            except requests.Timeout as exc:
                # Which limit ended it: the deadline (a timeout cut to the time left) or
                # HALYK_TIMEOUT's own.
                if isinstance(exc, requests.ConnectTimeout):
                    ended_by_deadline = timeout[0] < connect
                else:
                    ended_by_deadline = timeout[1] < read
                failure = EpayTimeout(self._timeout_message(exc, what, safe, attempt, retry),
                                      deadline=budget.seconds, attempts=attempt)
            except requests.RequestException as exc:
                failure = EpayConnectionError(
                    f"Could not reach ePay for the {what} at {safe} "
                    f"({self._reason(exc, hidden)}){_attempts(attempt)}: check the host setting "
                    "(HALYK_TOKEN_URL / HALYK_API_URL), DNS and the network."
                    + ("" if retry else NOT_RETRIED)
                )
            logger.debug(
                "%s %s -> %s in %.3f s (attempt %d/%d)", method, safe,
                response.status_code if response is not None else type(failure).__name__,
                _monotonic() - started, attempt, attempts,
            )
            # Raised here, outside the except: requests' exception must not ride along.
            if ended_by_deadline:
                raise self._past_deadline(budget, what, safe, made, None, retry)
            if response is not None:
                if response.status_code < 500:
                    return Reply(response, what, safe, self, hidden)
                failure = EpayUnavailable(
                    f"ePay answered HTTP {response.status_code} to the {what} at {safe}"
                    f"{_attempts(attempt)}: the bank is unavailable; try again later."
                    + ("" if retry else NOT_RETRIED),
                    status=response.status_code,
                )
                response.close()
            if attempt < attempts:
                jitter = random.uniform(0.5, 1.5)  # noqa: S311 - spreads retries, not a secret
                delay = self.backoff * 2 ** (attempt - 1) * jitter
                if delay >= budget.remaining():  # the next attempt could not start in time
                    raise self._past_deadline(budget, what, safe, made, failure, retry)
                _sleep(delay)
        assert failure is not None
        raise failure

    def _past_deadline(self, budget: Deadline, what: str, safe: str, attempts: int,
                       last: HalykError | None, retry: bool) -> EpayTimeout:
        """The error of a call its deadline ended (``last``: the failure of the last attempt,
        when the deadline stopped the retries rather than cut an attempt short)."""
        cause = ""
        if last is not None:
            cause = f"; the last attempt: {type(last).__name__}"
            status = getattr(last, "status", None)
            if status is not None:
                cause += f", HTTP {status}"
        return EpayTimeout(
            f"ePay did not answer the {what} at {safe} within the call's deadline of "
            f"{budget.seconds:g} s ({attempts} attempt{'' if attempts == 1 else 's'}{cause}): "
            "try again later, or raise HALYK_DEADLINE." + ("" if retry else NOT_RETRIED),
            deadline=budget.seconds, attempts=attempts,
        )

    def _timeout_message(
        self, exc: requests.Timeout, what: str, safe: str, attempt: int, retry: bool
    ) -> str:
        connect, read = self.timeout
        if isinstance(exc, requests.ConnectTimeout):
            phase = f"could not connect within {connect:g} s"
        else:
            phase = f"did not answer within {read:g} s"
        return (
            f"ePay {phase} for the {what} at {safe}{_attempts(attempt)}: try again later, or "
            "raise HALYK_TIMEOUT." + ("" if retry else NOT_RETRIED)
        )

    def _reason(self, exc: BaseException, hidden: tuple[str, ...] = ()) -> str:
        """A short, secret-free description of a requests exception (its text names the host,
        path and query, never the body)."""
        text = self.scrub(" ".join(str(exc).split()), *hidden)[:300]
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _attempts(attempt: int) -> str:
    return f" after {attempt} attempts" if attempt > 1 else ""


@dataclass(frozen=True)
class Reply:
    """An answer below 500 from ePay, with the call's name (``what``) and its URL without
    credentials or query (``url``), for every message written about it. ``hidden``: the
    request's own credentials, scrubbed from whatever the answer quotes."""

    response: requests.Response
    what: str
    url: str
    transport: Transport = field(repr=False)
    hidden: tuple[str, ...] = field(default=(), repr=False)

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.response.status_code

    def json(self) -> Any:
        """The decoded JSON body, or ``None`` when the body is empty or not JSON."""
        if not self.response.content.strip():
            return None
        try:
            return self.response.json()
        except ValueError:
            return None

    def scrub(self, text: str) -> str:
        """``text`` without the client secret, the request's credentials, or any credential
        it quotes."""
        return self.transport.scrub(text, *self.hidden)

    def is_html(self) -> bool:
        """The body is a page (a proxy's, a login form's), not an API answer."""
        content_type = self.response.headers.get("Content-Type", "")
        return "html" in content_type.lower() or self.response.content.lstrip()[:1] == b"<"

    def invalid(self, problem: str, hide: Iterable[str] = ()) -> InvalidResponse:
        """The error for an answer that breaks the protocol, with a secret-free start of its
        body (``hide``: other values to scrub from it, such as tokens)."""
        text = self.transport.scrub(self.response.text, *self.hidden, *hide)
        if self.is_html():
            problem = f"{problem} (an HTML page)"
        preview = " ".join(text[:_BODY_PREVIEW].split())
        return InvalidResponse(
            f"ePay answered the {self.what} at {self.url} with {problem}, not what the "
            f"protocol promises: check the host setting (HALYK_TOKEN_URL / HALYK_API_URL) and "
            f"any proxy in between. Body starts: {preview!r}",
            body=text,
        )

    def unexpected(self, body: Any, advice: str | None = None) -> HalykError:
        """The error for an answer that is not the success the call expects: the bank's own
        ``{"code", "message"}`` refusal as :class:`ApiError`, anything else as
        :class:`InvalidResponse`."""
        status = self.status
        if 400 <= status < 500 and isinstance(body, dict):
            try:
                refusal = _REFUSAL.load(body)
            except ValidationError:
                refusal = None
            if refusal is not None:
                message = self.scrub(str(refusal.get("message") or ""))
                return ApiError(
                    f"ePay refused the {self.what} at {self.url} (HTTP {status}, "
                    f"code {refusal['code']}: {message or 'no message'})"
                    + (f"; {advice}: check status() first." if advice else "."),
                    code=int(refusal["code"]),
                    status=status,
                    bank_message=message or None,
                )
        if 300 <= status < 400:
            location = safe_url(self.response.headers.get("Location", "?"))
            return self.invalid(f"a redirect to {location}")
        return self.invalid(f"HTTP {status} with an unexpected body")


# Built once: building a schema costs more than a load, and load() keeps no state on the
# instance, so threads may share it.
_REFUSAL = OperationErrorSchema()
