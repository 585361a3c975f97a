"""WSGIAdapter: requests served in-process by a WSGI app, as a real server would serve them."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from flask import Flask, Response, jsonify, request

from flask_halyk.epay import WSGIAdapter

ORIGIN = "http://halyk-sandbox.internal"


def make_app() -> Flask:
    app = Flask("echo")

    @app.route("/echo/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def echo(rest: str) -> Response:
        return jsonify(
            method=request.method,
            path=request.path,
            rest=rest,
            args=request.args.to_dict(flat=False),
            form=request.form.to_dict(),
            json=request.get_json(silent=True),
            body=request.get_data(as_text=True),
            content_type=request.content_type,
            authorization=request.headers.get("Authorization"),
            custom=request.headers.get("X-Custom"),
            host=request.host,
            remote_addr=request.remote_addr,
            thread=threading.get_ident(),
        )

    @app.route("/status/<int:code>")
    def status(code: int) -> Response:
        resp = Response("<html>nope</html>", status=code, content_type="text/html; charset=utf-8")
        resp.headers.add("X-Multi", "a")
        resp.headers.add("X-Multi", "b")
        return resp

    @app.route("/cookie")
    def cookie() -> Response:
        resp = Response("ok")
        resp.set_cookie("sid", "abc")
        return resp

    @app.route("/redirect")
    def redirect() -> Response:
        return Response("", status=302, headers={"Location": "/echo/after"})

    @app.route("/slow")
    def slow() -> str:
        time.sleep(float(request.args["s"]))
        return "late"

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    @app.route("/latin")
    def latin() -> Response:
        return Response("caf\xe9".encode("latin-1"), content_type="text/plain; charset=latin-1")

    return app


@pytest.fixture
def session() -> requests.Session:
    s = requests.Session()
    s.mount(ORIGIN, WSGIAdapter(make_app()))
    yield s
    s.close()


def test_get_with_query_string_and_headers(session: requests.Session) -> None:
    resp = session.get(
        f"{ORIGIN}/echo/a/b",
        params=[("x", "1"), ("x", "2"), ("y", "ж")],
        headers={"Authorization": "Bearer T", "X-Custom": "yes"},
    )
    assert resp.status_code == 200
    assert resp.reason == "OK"
    data = resp.json()
    assert data["method"] == "GET"
    assert data["path"] == "/echo/a/b"
    assert data["args"] == {"x": ["1", "2"], "y": ["ж"]}
    assert data["authorization"] == "Bearer T"
    assert data["custom"] == "yes"
    assert data["host"] == "halyk-sandbox.internal"
    assert data["remote_addr"] == "127.0.0.1"
    assert resp.url == f"{ORIGIN}/echo/a/b?x=1&x=2&y=%D0%B6"
    assert resp.request is not None and resp.request.method == "GET"


def test_form_body(session: requests.Session) -> None:
    resp = session.post(f"{ORIGIN}/echo/form", data={"client_id": "c", "scope": "a b"})
    data = resp.json()
    assert data["method"] == "POST"
    assert data["content_type"] == "application/x-www-form-urlencoded"
    assert data["form"] == {"client_id": "c", "scope": "a b"}


def test_json_body_and_other_methods(session: requests.Session) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        resp = session.request(method, f"{ORIGIN}/echo/j", json={"amount": 12.5, "n": [1]})
        data = resp.json()
        assert data["method"] == method
        assert data["json"] == {"amount": 12.5, "n": [1]}
        assert data["content_type"] == "application/json"


def test_raw_bytes_and_generator_bodies(session: requests.Session) -> None:
    resp = session.post(f"{ORIGIN}/echo/raw", data=b"\x00raw", headers={"Content-Type": "x/y"})
    assert resp.json()["body"] == "\x00raw"
    gen = (chunk for chunk in (b"one-", b"two"))
    resp = session.post(f"{ORIGIN}/echo/gen", data=gen, headers={"Content-Type": "x/y"})
    assert resp.json()["body"] == "one-two"


def test_percent_encoded_path(session: requests.Session) -> None:
    data = session.get(f"{ORIGIN}/echo/a%20b%2Fc").json()
    assert data["rest"] in ("a b/c", "a b%2Fc")
    assert data["path"].startswith("/echo/a b")


def test_status_headers_and_body_of_error_page(session: requests.Session) -> None:
    resp = session.get(f"{ORIGIN}/status/503")
    assert resp.status_code == 503
    assert resp.reason == "SERVICE UNAVAILABLE"
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["X-Multi"] == "a, b"
    assert resp.text == "<html>nope</html>"
    assert resp.encoding == "utf-8"
    with pytest.raises(requests.HTTPError):
        resp.raise_for_status()


def test_encoding_from_headers(session: requests.Session) -> None:
    resp = session.get(f"{ORIGIN}/latin")
    assert resp.encoding == "latin-1"
    assert resp.text == "café"


def test_unknown_route_is_404(session: requests.Session) -> None:
    assert session.get(f"{ORIGIN}/nowhere").status_code == 404


def test_streaming_response(session: requests.Session) -> None:
    resp = session.get(f"{ORIGIN}/echo/stream", stream=True)
    body = b"".join(resp.iter_content(chunk_size=7))
    assert b'"path":"/echo/stream"' in body.replace(b" ", b"")


def test_cookies_and_redirects(session: requests.Session) -> None:
    resp = session.get(f"{ORIGIN}/cookie")
    assert resp.cookies.get("sid") == "abc"
    resp = session.get(f"{ORIGIN}/redirect")
    assert resp.status_code == 200
    assert resp.url == f"{ORIGIN}/echo/after"
    assert [r.status_code for r in resp.history] == [302]


def test_exception_in_app_is_a_500(session: requests.Session) -> None:
    resp = session.get(f"{ORIGIN}/boom")
    assert resp.status_code == 500


def test_read_timeout_is_honoured(session: requests.Session) -> None:
    start = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(f"{ORIGIN}/slow", params={"s": "2"}, timeout=(1, 0.2))
    assert time.monotonic() - start < 1.9
    assert session.get(f"{ORIGIN}/slow", params={"s": "0"}, timeout=5).text == "late"


def test_other_origins_are_not_served() -> None:
    s = requests.Session()
    s.mount(ORIGIN, WSGIAdapter(make_app()))
    adapter = s.get_adapter(f"{ORIGIN}/echo/x")
    assert isinstance(adapter, WSGIAdapter)
    assert not isinstance(s.get_adapter("http://example.invalid/"), WSGIAdapter)


def test_thread_safe_under_concurrency(session: requests.Session) -> None:
    results: dict[int, dict[str, object]] = {}
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            resp = session.post(f"{ORIGIN}/echo/t{i}", params={"i": str(i)}, json={"i": i})
            results[i] = resp.json()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(results) == list(range(16))
    for i, data in results.items():
        assert data["rest"] == f"t{i}"
        assert data["args"] == {"i": [str(i)]}
        assert data["json"] == {"i": i}
