"""The extension object: init_app, per-app state, the embedded sandbox, CSRF exemption."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

import pytest
from flask import Flask
from page_helpers import DISTINCT_SECRET, make_app

from flask_halyk import ConfigurationError, HalykEpay, HalykError
from flask_halyk.errors import ExtensionSetupError
from flask_halyk.state import get_state

PROD = {
    "HALYK_ENV": "prod",
    "HALYK_EXTERNAL_URL": "https://shop.example.kz",
    "HALYK_CLIENT_ID": "shop",
    "HALYK_CLIENT_SECRET": DISTINCT_SECRET,
    "HALYK_TERMINAL_ID": "11111111-2222-3333-4444-555555555555",
}


def test_factory_pattern_keeps_state_on_the_app(tmp_path):
    halyk = HalykEpay()
    app = Flask("shop", instance_path=str(tmp_path))
    app.config["SECRET_KEY"] = "k"
    halyk.init_app(app)
    assert get_state(app).extension is halyk
    assert not [k for k in vars(halyk) if "app" in k.lower()]
    with app.app_context():
        assert halyk.config.env == "sandbox"
        assert halyk.client is get_state(app).client


def test_default_ledger_lives_in_the_instance_folder(tmp_path):
    app = Flask("shop", instance_path=str(tmp_path / "inst"))
    app.config["SECRET_KEY"] = "k"
    HalykEpay(app)
    assert str(tmp_path / "inst" / "halyk.sqlite3") in str(get_state(app).ledger.url)


def test_init_app_twice_is_a_clear_error(app):
    first = get_state(app)
    with pytest.raises(RuntimeError, match="already") as err:
        HalykEpay(app)
    # Typed like every other flask-halyk error, and the first set-up stays in force.
    assert isinstance(err.value, ExtensionSetupError) and isinstance(err.value, HalykError)
    assert get_state(app) is first
    with pytest.raises(ExtensionSetupError, match="already"):
        first.extension.init_app(app)


def test_not_initialised_is_a_clear_error():
    app = Flask("bare")
    halyk = HalykEpay()
    with app.app_context(), pytest.raises(RuntimeError, match="init_app") as err:
        halyk.client  # noqa: B018
    assert isinstance(err.value, ExtensionSetupError)


def test_two_apps_in_one_process_keep_their_own_settings(tmp_path):
    halyk = HalykEpay()
    one = Flask("one", instance_path=str(tmp_path / "one"))
    one.config.update(SECRET_KEY="a", HALYK_LANGUAGE="kaz", HALYK_URL_PREFIX="/pay")
    two = Flask("two", instance_path=str(tmp_path / "two"))
    two.config.update(SECRET_KEY="b", HALYK_LANGUAGE="eng")
    halyk.init_app(one)
    halyk.init_app(two)
    with one.app_context():
        assert halyk.config.language == "kaz"
        one_secret = halyk.config.postlink_secret
    with two.app_context():
        assert halyk.config.language == "eng"
        assert halyk.config.postlink_secret != one_secret
    assert get_state(one).client is not get_state(two).client
    assert get_state(one).ledger is not get_state(two).ledger
    assert "halyk.postlink" in one.view_functions and "halyk.postlink" in two.view_functions
    assert one.url_map.bind("x").match("/pay/postlink", method="POST")[0] == "halyk.postlink"


def test_misconfiguration_fails_at_init_app(tmp_path):
    app = Flask("shop", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="k", HALYK_CLIENT_ID="shop", HALYK_CLIENT_SECRET=DISTINCT_SECRET)
    with pytest.raises(ConfigurationError, match="HALYK_ENV"):
        HalykEpay(app)
    assert "halyk" not in app.extensions


# These two build their app in the test: caplog.text holds what the test's own phase logged,
# and init_app's log lines are what they check.


def test_prod_never_mounts_the_sandbox(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(tmp_path, **PROD)
    state = get_state(app)
    assert state.sandbox is None
    assert state.config.token_url.startswith("https://epay-oauth.homebank.kz")
    assert app.test_client().get("/halyk-sandbox/payform/payment-api.js").status_code == 404
    assert DISTINCT_SECRET not in caplog.text
    assert DISTINCT_SECRET not in repr(state.config)


PROD_PROCESS = textwrap.dedent("""
    import json, sys
    from flask import Flask
    import flask_halyk
    app = Flask("shop", instance_path=sys.argv[1])
    app.config.update(
        SECRET_KEY="x" * 40, HALYK_ENV="prod", HALYK_CLIENT_ID="shop",
        HALYK_CLIENT_SECRET="secret", HALYK_TERMINAL_ID="terminal",
        HALYK_EXTERNAL_URL="https://shop.example.kz")
    flask_halyk.HalykEpay(app)
    before = sorted(sys.modules)
    app.test_cli_runner().invoke(args=["halyk", "sandbox", "--help"])
    print(json.dumps([before, sorted(sys.modules)]))
""")


def test_prod_imports_no_sandbox_module(tmp_path):
    """A shop on ePay's hosts never loads the offline ePay: import + init_app in a fresh
    process leave every flask_halyk.sandbox module (and its LZ-String) out of sys.modules,
    until ``flask halyk sandbox`` is asked for."""
    out = subprocess.run([sys.executable, "-c", PROD_PROCESS, str(tmp_path)], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    before, after = json.loads(out.splitlines()[-1])
    assert "flask_halyk.extension" in before
    assert [m for m in before if m.startswith("flask_halyk.sandbox")] == []
    assert "flask_halyk.sandbox.cli" in after  # the command still loads it when asked


def test_embedded_sandbox_is_announced_and_served(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="flask_halyk")
    app = make_app(tmp_path)
    assert "SANDBOX" in caplog.text
    assert get_state(app).sandbox is not None
    response = app.test_client().get("/halyk-sandbox/payform/payment-api.js")
    assert response.status_code == 200
    assert b"showPaymentWidget" in response.data


@pytest.mark.parametrize("two_stage", [False, True])
def test_embedded_sandbox_terminal_follows_halyk_two_stage(tmp_path, two_stage):
    app = make_app(tmp_path, HALYK_TWO_STAGE=two_stage)
    sandbox = get_state(app).sandbox
    assert sandbox is not None
    assert sandbox.extensions["halyk_sandbox"].two_stage is two_stage
    assert get_state(app).config.two_stage is two_stage


def test_embedded_sandbox_answers_the_client_in_process(app):
    with app.app_context():
        token = get_state(app).client.service_token()
    assert token


def test_csp_sources_of_the_embedded_sandbox_are_self(app):
    with app.app_context():
        sources = get_state(app).extension.csp_sources()
    assert sources == {"script-src": ["'self'"], "frame-src": ["'self'"],
                       "style-src": ["'unsafe-inline'"]}


@pytest.mark.options(halyk_external_url="https://Shop.Example.kz:8443/app")
def test_csp_sources_follow_the_external_url_of_the_embedded_sandbox(app):
    # The macros load the sandbox's script from HALYK_EXTERNAL_URL: the policy must allow it.
    with app.app_context():
        sources = get_state(app).extension.csp_sources()
    assert sources == {"script-src": ["https://shop.example.kz:8443"],
                       "frame-src": ["https://shop.example.kz:8443"],
                       "style-src": ["'unsafe-inline'"]}


TEST_HOSTS = ["https://test-epay.homebank.kz", "https://test-epay.epayment.kz"]


@pytest.mark.parametrize(("config", "script", "frames"), [
    (PROD, "https://epay.homebank.kz", ["https://epay.homebank.kz"]),
    # The bank's script picks the test host it frames: both are allowed.
    ({"HALYK_ENV": "test", "SERVER_NAME": "shop.example.kz"}, "https://test-epay.epayment.kz",
     ["https://test-epay.epayment.kz", "https://test-epay.homebank.kz"]),
    ({"HALYK_SANDBOX_URL": "http://127.0.0.1:8765/"}, "http://127.0.0.1:8765",
     ["http://127.0.0.1:8765"]),
    ({"HALYK_ENV": "test",
      "HALYK_EXTERNAL_URL": "https://shop.example.kz",
      "HALYK_SCRIPT_URL": "https://cdn.example.kz:444/js/payment-api.js?v=2",
      "HALYK_PAYFORM_URL": "https://[2001:db8::1]/payform/"},
     "https://cdn.example.kz:444", ["https://[2001:db8::1]", *TEST_HOSTS]),
])
def test_csp_sources_are_the_origins_of_script_and_payment_page(tmp_path, config, script,
                                                               frames):
    app = make_app(tmp_path, **config)
    halyk = get_state(app).extension
    with app.app_context():
        sources = halyk.csp_sources()
        assert sources == {"script-src": [script], "frame-src": frames,
                           "style-src": ["'unsafe-inline'"]}
        sources["script-src"].append("'unsafe-inline'")  # the caller's copy, not ours
        assert halyk.csp_sources()["script-src"] == [script]
    assert DISTINCT_SECRET not in repr(sources)


def test_a_script_url_with_credentials_is_refused_without_showing_them(tmp_path):
    with pytest.raises(ConfigurationError, match="HALYK_SCRIPT_URL") as refused:
        make_app(tmp_path, HALYK_ENV="test", HALYK_EXTERNAL_URL="https://shop.example.kz",
                 HALYK_SCRIPT_URL="https://user:pw@cdn.example.kz:444/js/payment-api.js")
    assert "user:pw" not in str(refused.value) and "cdn.example.kz" in str(refused.value)


def test_csp_sources_are_per_app(tmp_path):
    halyk = HalykEpay()
    one = Flask("one", instance_path=str(tmp_path / "one"))
    one.config.update(SECRET_KEY="a", HALYK_ENV="test", HALYK_EXTERNAL_URL="https://one.kz")
    two = Flask("two", instance_path=str(tmp_path / "two"))
    two.config.update(SECRET_KEY="b")
    halyk.init_app(one)
    halyk.init_app(two)
    with one.app_context():
        assert halyk.csp_sources()["frame-src"] == ["https://test-epay.epayment.kz",
                                                    "https://test-epay.homebank.kz"]
    with two.app_context():
        assert halyk.csp_sources()["frame-src"] == ["'self'"]


def test_jinja_global(app):
    assert app.jinja_env.globals["halyk"] is get_state(app).extension


@pytest.mark.parametrize("csrf_first", [True, False])
def test_postlinks_are_exempt_from_flask_wtf_csrf(tmp_path, csrf_first):
    from flask_wtf.csrf import CSRFProtect

    app = Flask("shop", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="k", HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}")

    @app.post("/protected")
    def protected() -> str:
        return "ok"

    csrf = CSRFProtect()
    if csrf_first:
        csrf.init_app(app)
        HalykEpay(app)
    else:
        HalykEpay(app)
        csrf.init_app(app)
    client = app.test_client()
    # CSRF still protects the shop's own forms...
    assert client.post("/protected").status_code == 400
    # ...but the bank's postLink is not refused for lack of a CSRF token: it reaches our
    # blueprint, which answers for the body itself (400 malformed, not CSRF's 400 page).
    response = client.post("/halyk/postlink", data=b"{}", content_type="application/json")
    assert response.is_json, response.data[:200]
    assert "csrf" not in response.get_data(as_text=True).lower()


def test_receivers_ignore_signals_from_other_senders(tmp_path):
    """The blinker signals are global: a send by other code (a string sender, another app, an
    app without flask-halyk) must neither raise in our relay nor reach this app's receivers."""
    from flask_halyk import signals

    app = make_app(tmp_path)
    halyk = get_state(app).extension
    calls = []

    @halyk.on_failure
    def failed(payment, postlink):
        calls.append((payment, postlink))

    signals.payment_failed.send("not-an-app", payment="P", postlink=None)
    signals.payment_failed.send(Flask("bare"), payment="P", postlink=None)
    other = make_app(tmp_path / "other")
    signals.payment_failed.send(other, payment="P", postlink=None)
    assert calls == []
    signals.payment_failed.send(app, payment="P", postlink={"code": "error"})
    assert calls == [("P", {"code": "error"})]


@pytest.mark.parametrize("url", [
    "nonsense://user:pw-Never-Shown@host/db",
    "not a url at all pw-Never-Shown",
    "mysql+nosuchdriver://user:pw-Never-Shown@host/db",
])
def test_unusable_database_url_fails_at_init_app(tmp_path, url):
    app = Flask("shop", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="k", HALYK_DATABASE_URL=url)
    with pytest.raises(ConfigurationError) as err:
        HalykEpay(app)
    assert err.value.key == "HALYK_DATABASE_URL"
    assert "pw-Never-Shown" not in str(err.value)
    assert err.value.__cause__ is None
    # Nothing half-done: no state, no sandbox mounted in front of the app.
    assert "halyk" not in app.extensions
    assert "wsgi_app" not in vars(app)


def test_state_repr_hides_the_client_secret(tmp_path):
    app = make_app(tmp_path, **PROD)
    state = get_state(app)
    assert DISTINCT_SECRET not in repr(state)
    assert DISTINCT_SECRET not in repr(state.client)
    sandboxed = make_app(tmp_path / "sb", HALYK_ENV="sandbox", HALYK_CLIENT_ID="shop",
                         HALYK_CLIENT_SECRET=DISTINCT_SECRET,
                         HALYK_TERMINAL_ID="11111111-2222-3333-4444-555555555555")
    assert DISTINCT_SECRET not in repr(get_state(sandboxed))


def test_embedded_sandbox_serves_no_admin_routes(app, client):
    # A shop on the sandbox may be reachable by others: nobody may flip its faults or read
    # delivered postLinks (with their secret_hash) over HTTP.
    assert client.get("/halyk-sandbox/_sandbox/postlinks").status_code == 404
    flipped = client.post("/halyk-sandbox/_sandbox/faults", json={"drop_postlink": True})
    assert flipped.status_code == 404
    sandbox = get_state(app).sandbox
    assert sandbox is not None
    assert sandbox.extensions["halyk_sandbox"].faults.drop_postlink is False
