"""EpayClient's failures: each path gives its typed error, says what to do, and never shows the
client secret (in str, repr, args, attributes, chained exceptions or log records)."""

from __future__ import annotations

import logging
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses
from client_fixtures import (
    API_PREFIX,
    INVOICE,
    SECRET,
    STATUS_PATH,
    TOKEN_PATH,
    TX_ID,
    TokenIssuer,
    count,
    json_response,
    make_client,
    sequence,
    status_body,
    threaded_server,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import flask_halyk.epay.transport as transport_module
from flask_halyk.epay import EpayClient
from flask_halyk.errors import (
    ApiError,
    AuthenticationError,
    EpayConnectionError,
    EpayTimeout,
    EpayUnavailable,
    HalykError,
    InvalidResponse,
)

OPERATION = {
    "charge": lambda c: c.charge(TX_ID, 100),
    "cancel": lambda c: c.cancel(TX_ID),
    "refund": lambda c: c.refund(TX_ID, 100, external_id="r-1"),
}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "_sleep", lambda seconds: None)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so that stalled handlers end and the server can stop."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture(scope="module")
def shared_server() -> Iterator[HTTPServer]:
    yield from threaded_server()


@pytest.fixture
def server(shared_server: HTTPServer) -> Iterator[HTTPServer]:
    yield shared_server
    shared_server.clear()


@pytest.fixture
def stall_server(release: threading.Event) -> Iterator[HTTPServer]:
    """A server of its own for a test whose handlers stall: their late answers must not land
    in the next test's request log."""
    gen = threaded_server()
    srv = next(gen)
    yield srv
    release.set()
    gen.close()


def stalling(release: threading.Event, calls: list[float]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        calls.append(time.monotonic())
        release.wait(10)
        return Response("too late", status=200)

    return handler


def echo_page(status: int, content_type: str = "text/html") -> Callable[[Request], Response]:
    """An error page that echoes the request body back, client secret included (some proxies
    and debug pages do): the client must scrub it from its error."""

    def handler(request: Request) -> Response:
        body = request.get_data(as_text=True)
        return Response(f"<html><body>Error. You sent: {body}</body></html>", status=status,
                        content_type=content_type)

    return handler


def raises(expected: type[HalykError], call: Callable[[], Any]) -> HalykError:
    with pytest.raises(expected) as info:
        call()
    return info.value


def with_token(server: HTTPServer) -> TokenIssuer:
    issuer = TokenIssuer()
    server.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    return issuer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the scenarios: each sets up the fake bank, triggers one error path and returns the error --


def token_401(server: HTTPServer, release: threading.Event) -> HalykError:
    server.expect_request(TOKEN_PATH).respond_with_json(
        {"error": "invalid_client", "error_description": f"bad secret {SECRET}"}, status=401
    )
    err = raises(AuthenticationError, lambda: make_client(server).service_token())
    assert isinstance(err, AuthenticationError) and err.status == 401
    assert "HALYK_CLIENT_SECRET" in str(err)
    return err


def token_400_invalid_client(server: HTTPServer, release: threading.Event) -> HalykError:
    server.expect_request(TOKEN_PATH).respond_with_json({"error": "invalid_client"}, status=400)
    err = raises(
        AuthenticationError, lambda: make_client(server).payment_token(INVOICE, 5, secret_hash="h")
    )
    assert "invalid_client" in str(err)
    return err


def token_400_other(server: HTTPServer, release: threading.Event) -> HalykError:
    server.expect_request(TOKEN_PATH).respond_with_json(
        {"error": "invalid_request", "error_description": "amount is invalid"}, status=400
    )
    err = raises(ApiError, lambda: make_client(server).payment_token(INVOICE, 5, secret_hash="h"))
    assert isinstance(err, ApiError) and err.status == 400
    assert "amount is invalid" in str(err)
    assert err.bank_message == "amount is invalid"
    return err


def token_garbage_json(server: HTTPServer, release: threading.Event) -> HalykError:
    server.expect_request(TOKEN_PATH).respond_with_data(
        '{"access_token": "x", ', content_type="application/json"
    )
    err = raises(InvalidResponse, lambda: make_client(server).service_token())
    assert isinstance(err, InvalidResponse)
    # The body is kept for the logs, without the token it quotes (a credential, even cut off).
    assert err.body.startswith('{"access_token": "***",')
    assert "Body starts" in str(err)
    return err


def token_html_echo(server: HTTPServer, release: threading.Event) -> HalykError:
    server.expect_request(TOKEN_PATH).respond_with_handler(echo_page(200))
    err = raises(InvalidResponse, lambda: make_client(server).service_token())
    assert "HTML page" in str(err)
    assert isinstance(err, InvalidResponse) and "client_secret=***" in err.body
    return err


def token_4xx_html_echo(server: HTTPServer, release: threading.Event) -> HalykError:
    server.expect_request(TOKEN_PATH).respond_with_handler(echo_page(404))
    err = raises(InvalidResponse, lambda: make_client(server).service_token())
    assert "HTML page" in str(err)
    return err


def token_missing_fields(server: HTTPServer, release: threading.Event) -> HalykError:
    server.expect_request(TOKEN_PATH).respond_with_json({"token_type": "Bearer"})
    err = raises(InvalidResponse, lambda: make_client(server).service_token())
    assert "access_token" in str(err) and "expires_in" in str(err)
    return err


def token_expires_in_garbage(server: HTTPServer, release: threading.Event) -> HalykError:
    server.expect_request(TOKEN_PATH).respond_with_json({"access_token": "t", "expires_in": "soon"})
    return raises(InvalidResponse, lambda: make_client(server).service_token())


def token_5xx_after_retries(server: HTTPServer, release: threading.Event) -> HalykError:
    server.expect_request(TOKEN_PATH).respond_with_handler(echo_page(503))
    err = raises(EpayUnavailable, lambda: make_client(server, retries=2).service_token())
    assert isinstance(err, EpayUnavailable) and err.status == 503
    assert count(server, TOKEN_PATH) == 3
    assert "after 3 attempts" in str(err)
    return err


def token_timeout(server: HTTPServer, release: threading.Event) -> HalykError:
    calls: list[float] = []
    server.expect_request(TOKEN_PATH).respond_with_handler(stalling(release, calls))
    client = make_client(server, timeout=(2.0, 0.3), retries=1)
    start = time.monotonic()
    err = raises(EpayTimeout, client.service_token)
    assert time.monotonic() - start < 5
    assert len(calls) == 2  # retried once
    assert "0.3 s" in str(err)
    return err


def connection_refused(server: HTTPServer, release: threading.Event) -> HalykError:
    port = free_port()
    client = make_client(
        server, token_url=f"http://127.0.0.1:{port}/oauth2/token", retries=1
    )
    err = raises(EpayConnectionError, client.service_token)
    assert f"127.0.0.1:{port}/oauth2/token" in str(err)
    assert "after 2 attempts" in str(err)
    return err


def status_html_page(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    server.expect_request(STATUS_PATH).respond_with_data(
        "<!DOCTYPE html><html><title>Maintenance</title></html>", content_type="text/html"
    )
    err = raises(InvalidResponse, lambda: make_client(server).status(INVOICE))
    assert "HTML page" in str(err) and "Maintenance" in str(err)
    return err


def status_404_html(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    server.expect_request(STATUS_PATH).respond_with_data(
        "<html>Not Found</html>", status=404, content_type="text/html"
    )
    err = raises(InvalidResponse, lambda: make_client(server).status(INVOICE))
    assert "HTTP 404" in str(err) and STATUS_PATH in str(err)
    return err


def status_garbage(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    server.expect_request(STATUS_PATH).respond_with_data("resultCode=100")
    return raises(InvalidResponse, lambda: make_client(server).status(INVOICE))


def status_success_without_transaction(
    server: HTTPServer, release: threading.Event
) -> HalykError:
    with_token(server)
    server.expect_request(STATUS_PATH).respond_with_json(status_body(None, 100))
    err = raises(InvalidResponse, lambda: make_client(server).status(INVOICE))
    assert "transaction" in str(err)
    return err


def status_timeout(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    calls: list[float] = []
    server.expect_request(STATUS_PATH).respond_with_handler(stalling(release, calls))
    client = make_client(server, timeout=(2.0, 0.3), retries=1)
    start = time.monotonic()
    err = raises(EpayTimeout, lambda: client.status(INVOICE))
    assert time.monotonic() - start < 5
    assert len(calls) == 2
    return err


def status_5xx_after_retries(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    server.expect_request(STATUS_PATH).respond_with_data("oops", status=500)
    err = raises(EpayUnavailable, lambda: make_client(server, retries=2).status(INVOICE))
    assert count(server, STATUS_PATH) == 3
    return err


def api_401_fresh_token(server: HTTPServer, release: threading.Event) -> HalykError:
    issuer = with_token(server)
    server.expect_request(STATUS_PATH).respond_with_data("", status=401)
    err = raises(AuthenticationError, lambda: make_client(server).status(INVOICE))
    # A token fetched just now that the API refuses is final: no loop of token requests.
    assert count(server, STATUS_PATH) == 1 and issuer.count == 1
    return err


def api_401_twice_with_cached_token(server: HTTPServer, release: threading.Event) -> HalykError:
    issuer = with_token(server)
    server.expect_request(STATUS_PATH).respond_with_handler(
        sequence(json_response(status_body()), Response("", status=401))
    )
    client = make_client(server)
    client.status(INVOICE)
    err = raises(AuthenticationError, lambda: client.status(INVOICE))
    assert count(server, STATUS_PATH) == 3 and issuer.count == 2
    return err


def api_403(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    server.expect_request(f"{API_PREFIX}/operation/{TX_ID}/refund").respond_with_data(
        "Forbidden", status=403
    )
    err = raises(AuthenticationError, lambda: make_client(server).refund(TX_ID, 50))
    assert isinstance(err, AuthenticationError) and err.status == 403
    return err


def operation_code_100(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    server.expect_request(f"{API_PREFIX}/operation/{TX_ID}/refund").respond_with_json(
        {"code": 100, "message": "Операция недоступна"}, status=400
    )
    err = raises(ApiError, lambda: make_client(server).refund(TX_ID, 50))
    assert isinstance(err, ApiError)
    assert (err.code, err.status) == (100, 400)
    assert err.bank_message == "Операция недоступна"
    assert "Операция недоступна" in str(err) and "check status()" in str(err)
    return err


def operation_refusal_echoing_the_secret(
    server: HTTPServer, release: threading.Event
) -> HalykError:
    with_token(server)
    server.expect_request(f"{API_PREFIX}/operation/{TX_ID}/charge").respond_with_json(
        {"code": 100, "message": f"bad request client_secret={SECRET}"}, status=400
    )
    err = raises(ApiError, lambda: make_client(server).charge(TX_ID))
    assert isinstance(err, ApiError) and err.bank_message == "bad request client_secret=***"
    return err


def status_error_echoing_the_secret(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    server.expect_request(STATUS_PATH).respond_with_json(
        status_body(None, 103, f"internal error for secret {SECRET}")
    )
    err = raises(ApiError, lambda: make_client(server).status(INVOICE))
    assert isinstance(err, ApiError) and err.bank_message == "internal error for secret ***"
    return err


def operation_400_html(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    server.expect_request(f"{API_PREFIX}/operation/{TX_ID}/cancel").respond_with_data(
        "<html>Bad Request</html>", status=400, content_type="text/html"
    )
    return raises(InvalidResponse, lambda: make_client(server).cancel(TX_ID))


def operation_redirect(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    server.expect_request(f"{API_PREFIX}/operation/{TX_ID}/charge").respond_with_data(
        "", status=302, headers={"Location": "https://login.example/?next=x"}
    )
    err = raises(InvalidResponse, lambda: make_client(server).charge(TX_ID))
    assert "redirect to https://login.example/" in str(err)
    assert "next=x" not in str(err)
    return err


def operation_timeout(server: HTTPServer, release: threading.Event) -> HalykError:
    with_token(server)
    calls: list[float] = []
    path = f"{API_PREFIX}/operation/{TX_ID}/refund"
    server.expect_request(path).respond_with_handler(stalling(release, calls))
    client = make_client(server, timeout=(2.0, 0.3), retries=3)
    start = time.monotonic()
    err = raises(EpayTimeout, lambda: client.refund(TX_ID, 100))
    assert time.monotonic() - start < 5
    assert len(calls) == 1  # never retried, whatever `retries` says
    assert "never retried" in str(err)
    return err


SCENARIOS: list[Callable[[HTTPServer, threading.Event], HalykError]] = [
    token_401,
    token_400_invalid_client,
    token_400_other,
    token_garbage_json,
    token_html_echo,
    token_4xx_html_echo,
    token_missing_fields,
    token_expires_in_garbage,
    token_5xx_after_retries,
    token_timeout,
    connection_refused,
    status_html_page,
    status_404_html,
    status_garbage,
    status_success_without_transaction,
    status_timeout,
    status_5xx_after_retries,
    api_401_fresh_token,
    api_401_twice_with_cached_token,
    api_403,
    operation_code_100,
    operation_refusal_echoing_the_secret,
    status_error_echoing_the_secret,
    operation_400_html,
    operation_redirect,
    operation_timeout,
]


def _texts(exc: BaseException) -> Iterator[str]:
    """Every text an exception and its chain can show."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        yield repr(vars(current))
        current = current.__cause__ or current.__context__
    yield "".join(traceback.format_exception(exc))


STALLING = {token_timeout, status_timeout, operation_timeout}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_error_is_typed_and_secret_free(
    scenario: Callable[[HTTPServer, threading.Event], HalykError],
    release: threading.Event,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    server = request.getfixturevalue("stall_server" if scenario in STALLING else "server")
    with caplog.at_level(logging.DEBUG):
        err = scenario(server, release)
    assert isinstance(err, HalykError)
    message = str(err)
    assert "://" in message or "127.0.0.1" in message, "the message names the URL"
    # Requests' exceptions carry the prepared request (form body, secret): never chained.
    assert err.__cause__ is None and err.__context__ is None
    for text in _texts(err):
        assert SECRET not in text
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in repr(record.args)
        assert SECRET not in (record.exc_text or "")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("operation", sorted(OPERATION))
def test_operations_on_5xx_are_never_retried(
    server: HTTPServer, operation: str, status: int
) -> None:
    with_token(server)
    path = f"{API_PREFIX}/operation/{TX_ID}/{operation}"
    server.expect_request(path, method="POST").respond_with_data("down", status=status)
    client = make_client(server, retries=5)
    with pytest.raises(EpayUnavailable) as info:
        OPERATION[operation](client)
    assert info.value.status == status
    assert count(server, path) == 1
    assert "never retried" in str(info.value)


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        (103, "try again later"),
        (104, "HALYK_TERMINAL_ID"),
        (106, "HALYK_TERMINAL_ID"),
        (109, "HALYK_CLIENT_ID"),
    ],
)
def test_status_error_codes_raise_api_error(server: HTTPServer, code: int, advice: str) -> None:
    with_token(server)
    server.expect_request(STATUS_PATH).respond_with_json(status_body(None, str(code), "Error"))
    with pytest.raises(ApiError) as info:
        make_client(server).status(INVOICE)
    assert info.value.code == code
    assert info.value.status == 200
    assert info.value.bank_message == "Error"
    assert advice in str(info.value)
    assert count(server, STATUS_PATH) == 1  # an answer, not a transport failure: not retried


def test_5xx_then_timeout_reports_the_last_failure(
    stall_server: HTTPServer, release: threading.Event
) -> None:
    server = stall_server
    with_token(server)
    calls: list[float] = []
    server.expect_request(STATUS_PATH).respond_with_handler(
        sequence(Response("", status=503), stalling(release, calls))
    )
    client = make_client(server, timeout=(2.0, 0.3), retries=1)
    with pytest.raises(EpayTimeout):
        client.status(INVOICE)


# --- unit tests of error paths a loopback server cannot produce --------------------------------


@responses.activate
def test_requests_exception_carrying_the_body_is_not_chained() -> None:
    """A requests exception holding the prepared request (form body with the secret) must leave
    no trace in the error: neither chained nor quoted."""

    def explode(request: requests.PreparedRequest) -> Any:
        raise requests.exceptions.SSLError(f"handshake failed for {request.body}", request=request)

    responses.add_callback(responses.POST, "https://epay.invalid/oauth2/token", callback=explode)
    client = EpayClient(
        client_id="c", client_secret=SECRET, terminal_id="t",
        token_url="https://epay.invalid/oauth2/token", api_url="https://epay.invalid", retries=0,
    )
    with pytest.raises(EpayConnectionError) as info:
        client.service_token()
    assert "SSLError" in str(info.value)
    for text in _texts(info.value):
        assert SECRET not in text
    assert info.value.__context__ is None


@responses.activate
def test_chunked_encoding_error_is_a_connection_error() -> None:
    responses.add(
        responses.GET, f"https://epay.invalid/check-status/payment/transaction/{INVOICE}",
        body=requests.exceptions.ChunkedEncodingError("connection broken"),
    )
    responses.add(
        responses.POST, "https://epay.invalid/oauth2/token",
        json={"access_token": "t", "expires_in": 100},
    )
    client = EpayClient(
        client_id="c", client_secret=SECRET, terminal_id="t",
        token_url="https://epay.invalid/oauth2/token", api_url="https://epay.invalid", retries=1,
    )
    with pytest.raises(EpayConnectionError):
        client.status(INVOICE)
    calls = [c for c in responses.calls if "check-status" in c.request.url]
    assert len(calls) == 2  # a broken status read is retried
