"""Where postLinks go: the token request's links, which the shop's server sent, win over the
payment object's, which the customer's browser held and may have changed."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, request
from sandbox_helpers import Receiver, get_token, open_page, pay, payment_object

from flask_halyk.config import SHOP_INTERNAL_ORIGIN
from flask_halyk.sandbox import SandboxServer, create_sandbox_app
from flask_halyk.sandbox.delivery import mount_point

APPROVED, BLOCKED = "4405639704015096", "4003032704547597"


def _pay(sandbox: SandboxServer, pan: str, token_links: dict[str, str],
         object_links: dict[str, str], invoice_id: str = "100001") -> None:
    auth = get_token(sandbox.url, invoice_id, "100", **token_links).json()
    page = open_page(sandbox.url, payment_object(auth, invoice_id, **object_links))
    assert page.status_code == 200, page.text
    assert pay(sandbox.url, page.text, pan).status_code == 200
    sandbox.sandbox.wait_for_postlinks(10)


@pytest.fixture
def attacker():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_a_postlink_changed_in_the_browser_does_not_move_the_delivery(sandbox, receiver,
                                                                      attacker, caplog):
    caplog.set_level(logging.INFO, "flask_halyk.sandbox")
    _pay(sandbox, APPROVED, {"postLink": f"{receiver.url}/ok",
                             "failurePostLink": f"{receiver.url}/fail"},
         {"postLink": f"{attacker.url}/steal", "failurePostLink": f"{attacker.url}/steal"})
    assert [path for path, _, _ in receiver.bodies] == ["ok"]
    assert attacker.bodies == []
    assert [d.url for d in sandbox.deliveries] == [f"{receiver.url}/ok"]
    assert "postLink and failurePostLink differ" in caplog.text
    assert attacker.url not in caplog.text


def test_a_changed_failure_postlink_does_not_move_a_failure(sandbox, receiver, attacker):
    _pay(sandbox, BLOCKED, {"postLink": f"{receiver.url}/ok",
                            "failurePostLink": f"{receiver.url}/fail"},
         {"postLink": f"{receiver.url}/ok", "failurePostLink": f"{attacker.url}/steal"})
    assert [path for path, _, _ in receiver.bodies] == ["fail"]
    assert receiver.bodies[0][1]["secret_hash"] == "SECRETHASH123"
    assert attacker.bodies == []


def test_a_failure_postlink_added_in_the_browser_is_ignored(sandbox, receiver, attacker):
    # The token named a postLink only: failures fall back to it, not to the object's link.
    _pay(sandbox, BLOCKED, {"postLink": f"{receiver.url}/ok"},
         {"postLink": f"{receiver.url}/ok", "failurePostLink": f"{attacker.url}/steal"})
    assert [path for path, _, _ in receiver.bodies] == ["ok"]
    assert receiver.bodies[0][1]["code"] == "error"
    assert attacker.bodies == []


def test_a_success_postlink_added_in_the_browser_is_ignored(sandbox, attacker):
    # The token named a failurePostLink only: a success has nowhere to go.
    _pay(sandbox, APPROVED, {"failurePostLink": f"{attacker.url}/fail-only"},
         {"postLink": f"{attacker.url}/steal"})
    assert attacker.bodies == [] and sandbox.deliveries == []
    assert sandbox.transactions[-1].status == "CHARGE"


@pytest.mark.parametrize(("pan", "path"), [(APPROVED, "ok"), (BLOCKED, "fail")])
def test_without_links_in_the_token_the_objects_are_used(sandbox, receiver, pan, path):
    _pay(sandbox, pan, {}, {"postLink": f"{receiver.url}/ok",
                            "failurePostLink": f"{receiver.url}/fail"})
    assert [p for p, _, _ in receiver.bodies] == [path]


@pytest.mark.parametrize("link", ["javascript:alert(1)", "/halyk/postlink", "ftp://x.kz/a"])
@pytest.mark.parametrize("key", ["postLink", "failurePostLink"])
def test_the_token_request_refuses_a_link_that_is_not_http(sandbox, key, link):
    response = get_token(sandbox.url, **{key: link})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request",
                               "error_description": f"{key} must be an absolute http(s) URL"}


def test_embedded_a_postlink_changed_to_another_origin_stays_in_process(attacker):
    shop = Flask("shop")
    got: list[str] = []

    @shop.post("/halyk/postlink")
    def postlink() -> str:
        got.append(request.url)
        return "ok"

    with SandboxServer(create_sandbox_app(local_app=shop)) as server:
        _pay(server, APPROVED, {"postLink": f"{SHOP_INTERNAL_ORIGIN}/halyk/postlink"},
             {"postLink": f"{attacker.url}/steal"})
        assert got == [f"{SHOP_INTERNAL_ORIGIN}/halyk/postlink"]
        assert attacker.bodies == []
        [delivery] = server.deliveries
        assert delivery.in_process and delivery.status == 200


def test_embedded_a_shop_mounted_under_a_prefix_gets_its_postlink(attacker):
    # Behind DispatcherMiddleware or a proxy's SCRIPT_NAME the shop names its postLink with
    # the prefix, which its own routes do not carry.
    shop = Flask("shop")
    got: list[tuple[str, str]] = []

    @shop.post("/halyk/postlink")
    def postlink() -> str:
        got.append((request.script_root, request.url))
        return "ok"

    url = f"{SHOP_INTERNAL_ORIGIN}/shops/kz/halyk/postlink?x=1"
    with SandboxServer(create_sandbox_app(local_app=shop)) as server:
        _pay(server, APPROVED, {"postLink": url}, {})
        assert got == [("/shops/kz", url)]
        [delivery] = server.deliveries
        assert delivery.in_process and delivery.status == 200


def test_mount_point_takes_the_shortest_prefix_that_leaves_a_route() -> None:
    shop = Flask("shop")
    shop.add_url_rule("/halyk/postlink", "p", lambda: "", methods=["POST"])
    shop.add_url_rule("/a/halyk/postlink", "q", lambda: "", methods=["POST"])
    shop.add_url_rule("/only-get", "g", lambda: "")
    assert mount_point(shop, "/halyk/postlink") == ("", "/halyk/postlink")
    assert mount_point(shop, "/a/halyk/postlink") == ("", "/a/halyk/postlink")
    assert mount_point(shop, "/x/y/halyk/postlink") == ("/x/y", "/halyk/postlink")
    # Nothing matches (or only for GET): sent as named, for the shop to answer 404/405.
    assert mount_point(shop, "/x/only-get") == ("", "/x/only-get")
    assert mount_point(shop, "/nowhere") == ("", "/nowhere")


def test_a_routed_origin_is_delivered_where_the_route_says(sandbox, receiver):
    # A shop that names itself by a host nothing resolves (pytest-flask's live_server calls its
    # app localhost.localdomain:PORT): the route sends its postLinks to where it listens.
    sandbox.sandbox.route_postlinks("http://Shop.Invalid:8080", receiver.url)
    _pay(sandbox, APPROVED, {"postLink": "http://shop.invalid:8080/halyk/postlink?x=1",
                             "failurePostLink": "http://shop.invalid:8080/halyk/fail"}, {})
    assert [path for path, _, _ in receiver.bodies] == ["halyk/postlink"]
    # The delivery keeps the URL the bank was given; other origins are not routed.
    [delivery] = sandbox.deliveries
    assert delivery.url == "http://shop.invalid:8080/halyk/postlink?x=1"
    assert delivery.status == 200 and not delivery.in_process
    assert sandbox.sandbox.sender.route("http://shop.invalid:8081/p") == \
        "http://shop.invalid:8081/p"
    assert sandbox.sandbox.sender.route("https://shop.invalid:8080/p") == \
        "https://shop.invalid:8080/p"


@pytest.mark.parametrize(("origin", "to"), [("shop.invalid", "http://127.0.0.1:1"),
                                            ("http://shop.invalid", "ftp://127.0.0.1"),
                                            ("http://", "http://127.0.0.1:1")])
def test_a_route_takes_two_http_origins(sandbox, origin, to):
    with pytest.raises(ValueError, match="two http"):
        sandbox.sandbox.route_postlinks(origin, to)
