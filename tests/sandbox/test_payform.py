from __future__ import annotations

import base64
import json
import time

import requests
from sandbox_helpers import bank_params, full_payment, get_token, open_page, pay, payment_object

from flask_halyk.sandbox.handover import decode_params, read_pairs
from flask_halyk.sandbox.lzstring import (
    compress_to_encoded_uri_component,
    decompress_from_encoded_uri_component,
)

UNICODE = "Оплата в интернет магазине: «ёлка» Қазақстан"


def test_page_decodes_the_bank_params_field_by_field(sandbox):
    auth = get_token(sandbox.url).json()
    obj = payment_object(auth, description=UNICODE, email="a@b.kz", phone="77771234567",
                         cardSave=True)
    params = bank_params(obj)
    decoded = decode_params(params)
    for key, value in obj.items():
        if key == "auth":
            assert decoded["auth"] == {k: str(v) for k, v in auth.items()}
            assert "auth=access_token%3D" in _flat(params)  # ONE value, as the bank's script
        elif isinstance(value, bool):
            assert decoded[key] == ("true" if value else "false")
        else:
            assert decoded[key] == str(value), key
    page = open_page(sandbox.url, obj)
    assert page.status_code == 200, page.text
    assert UNICODE.replace("«", "&#171;").split(":")[0] in page.text
    assert "100001" in page.text and "KZT" in page.text and "SANDBOX" in page.text
    assert "Номер карты" in page.text and 'name="cvc"' in page.text
    assert "<script>" not in page.text and "style=" not in page.text  # CSP: nothing inline
    checkout = next(iter(sandbox.sandbox.store.checkouts.values()))
    assert checkout.payment["description"] == UNICODE and checkout.short_form


def _flat(params: str) -> str:
    return decompress_from_encoded_uri_component(params)


def test_only_the_bank_spelling_of_auth_is_read(sandbox):
    auth = get_token(sandbox.url).json()
    token = auth["access_token"]
    for flat in (f"invoiceId=100001&amount=100&auth.access_token={token}",
                 f"invoiceId=100001&amount=100&access_token={token}",
                 f"invoiceId=100001&amount=100&auth%5Baccess_token%5D={token}",
                 f"invoiceId=100001&amount=100&auth={token}"):  # the token alone: "expired"
        page = requests.get(f"{sandbox.url}/payform/", timeout=10, params={
            "params": compress_to_encoded_uri_component(flat)})
        assert page.status_code == 400 and "auth (the token object) is missing" in page.text


def test_old_object_hand_over_only_behind_its_switch_and_languages(sandbox):
    auth = get_token(sandbox.url).json()
    obj = payment_object(auth, language="eng")
    encoded = base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    page = requests.get(f"{sandbox.url}/payform/", params={"object": encoded}, timeout=10)
    assert page.status_code == 400 and "legacy_object_handover" in page.text
    sandbox.sandbox.options.legacy_object_handover = True
    page = requests.get(f"{sandbox.url}/payform/", params={"object": encoded}, timeout=10)
    assert page.status_code == 200 and "Card number" in page.text
    auth2 = get_token(sandbox.url, "100002").json()
    kaz = open_page(sandbox.url, payment_object(auth2, "100002", language="kaz"))
    assert "Карта нөмірі" in kaz.text


def test_transfers_are_refused_and_the_error_page_closes_the_widget(sandbox):
    auth = get_token(sandbox.url).json()
    for flag in ("isTransfer", "isAFT", "isOCT"):
        page = requests.get(f"{sandbox.url}/payform/", timeout=10, params={
            "params": bank_params(payment_object(auth)), flag: "true"})
        assert page.status_code == 400 and "not emulated" in page.text
        # In the widget's frame, payform.js posts {"success": false}: the overlay closes.
        assert 'data-success="false" data-mode="widget"' in page.text
        assert "payform.js" in page.text


def test_refusals(sandbox):
    auth = get_token(sandbox.url).json()
    cases = {
        "another invoice": payment_object(auth, invoice_id="999999"),
        "amount differs": payment_object(auth, amount=101),
        "unknown token": payment_object({"access_token": "NOPE"}),
        "auth (the token object) is missing": {k: v for k, v in payment_object(auth).items()
                                               if k != "auth"},
        "terminal differs": payment_object(auth, terminal="x"),
    }
    for reason, obj in cases.items():
        page = open_page(sandbox.url, obj)
        assert page.status_code == 400 and reason in page.text, reason
    service = get_token(sandbox.url, None, None).json()
    assert "not a payment token" in open_page(sandbox.url, payment_object(service)).text
    garbage = requests.get(f"{sandbox.url}/payform/", params={"params": "@@@"}, timeout=10)
    assert garbage.status_code == 400


def test_expired_token_is_refused(sandbox):
    auth = get_token(sandbox.url).json()
    sandbox.sandbox.store.token(auth["access_token"]).expires_at = time.time() - 1
    page = open_page(sandbox.url, payment_object(auth))
    assert page.status_code == 400 and "expired" in page.text


def test_server_side_card_validation(sandbox):
    auth = get_token(sandbox.url).json()
    page = open_page(sandbox.url, payment_object(auth))
    bad = pay(sandbox.url, page.text, "4405639704015097", expiry="01/20", cvc="12", holder="")
    assert bad.status_code == 400
    for field in ("pan", "expiry", "cvc", "holder"):
        assert f'id="error-{field}"' in bad.text
    assert not sandbox.transactions
    assert pay(sandbox.url, page.text, "4405639704015096", expiry="13/39").status_code == 400
    ok = pay(sandbox.url, bad.text, "4405 6397 0401 5096")
    assert ok.status_code == 200 and 'data-success="true"' in ok.text


CASES = {
    "4405639704015096": (0, "CHARGE", "VISA"),
    "5522042705066736": (0, "CHARGE", "MASTERCARD"),
    "4003032704547597": (465, "REJECT", "VISA"),
    "5578342710750560": (465, "REJECT", "MASTERCARD"),
    "4000000000004848": (484, "REJECT", "VISA"),
    "5400000000004841": (484, "REJECT", "MASTERCARD"),
    "4000000000004731": (473, "REJECT", "VISA"),
    "4000000000004624": (462, "REJECT", "VISA"),
    "4111111111111111": (459, "REJECT", "VISA"),
}


def test_each_card_behaviour(sandbox):
    for n, (pan, (code, status, kind)) in enumerate(CASES.items()):
        invoice = f"{200000 + n}"
        result = full_payment(sandbox.url, pan, invoice)
        assert result.status_code == 200
        assert f'data-success="{"true" if code == 0 else "false"}"' in result.text
        assert 'data-mode="widget"' in result.text
        t = sandbox.transactions[-1]
        assert (t.invoice_id, t.reason_code, t.status, t.card_type) == (invoice, code, status, kind)
        assert t.card_mask == f"{pan[:6]}...{pan[-4:]}"
        if code == 0:
            # No cardSave: no cardId (docs/sandbox.md, card_id_without_save).
            assert len(t.reference) == 12 and len(t.approval_code) == 6 and not t.card_id
        else:
            assert t.reference == "" and t.approval_code == ""


def test_paid_invoice_cannot_be_paid_again_failed_one_can(sandbox):
    auth = get_token(sandbox.url).json()
    obj = payment_object(auth)
    page = open_page(sandbox.url, obj)
    assert 'data-success="false"' in pay(sandbox.url, page.text, "4003032704547597").text
    assert 'data-success="true"' in pay(sandbox.url, page.text, "4405639704015096").text
    assert "already paid" in pay(sandbox.url, page.text, "4405639704015096").text
    assert "already paid" in open_page(sandbox.url, obj).text


def _three_ds(sandbox, code):
    auth = get_token(sandbox.url).json()
    page = open_page(sandbox.url, payment_object(auth), short=False)
    step = pay(sandbox.url, page.text, "4000000000003121")
    assert step.status_code == 200 and 'name="code"' in step.text
    assert not sandbox.transactions
    checkout = page.text.split('name="checkout" value="')[1].split('"')[0]
    return requests.post(f"{sandbox.url}/payform/3ds", data={"checkout": checkout, "code": code},
                         timeout=10)


def test_three_ds_right_code(sandbox):
    result = _three_ds(sandbox, "123456")
    assert 'data-success="true"' in result.text and 'data-mode="redirect"' in result.text
    assert 'data-back="https://shop.kz/ok"' in result.text
    assert sandbox.transactions[-1].secure == "yes"


def test_three_ds_wrong_code(sandbox):
    result = _three_ds(sandbox, "000000")
    assert 'data-success="false"' in result.text
    assert 'data-back="https://shop.kz/fail"' in result.text
    assert sandbox.transactions[-1].reason_code == 473


def test_static_files(sandbox):
    script = requests.get(f"{sandbox.url}/payform/payment-api.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert "showPaymentWidget" in script.text and "eval(" not in script.text
    assert "document.currentScript" in script.text and "event.origin" in script.text
    for name in ("halyk.Config", "halyk.p2p", "halyk.aft", "halyk.oct", "?params=",
                 "&isShortForm=true", "widgetScreen", "iframeBox", "iframeHolder",
                 "iframeClass", 'createElement("style")', "(halyk || (halyk = {}))"):
        assert name in script.text, name
    assert "object=" not in script.text and ".style." not in script.text
    assert 'createElement("button")' not in script.text  # the bank's has no close button
    js = requests.get(f"{sandbox.url}/payform/static/payform.js", timeout=10)
    assert "postMessage(JSON.stringify({ success: success })" in js.text


def test_currency_mismatch_and_script_links_are_refused(sandbox):
    auth = get_token(sandbox.url).json()
    usd = open_page(sandbox.url, payment_object(auth, currency="USD"))
    assert usd.status_code == 400 and "currency differs" in usd.text
    for key in ("backLink", "failureBackLink", "postLink", "failurePostLink"):
        for link in ("javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:x",
                     "data:text/html,<b>x</b>", "VBScript:x"):
            page = open_page(sandbox.url, payment_object(auth, **{key: link}))
            assert page.status_code == 400, (key, link)
            assert f"{key} must not be a javascript:, data: or vbscript: link" in page.text
    assert not sandbox.sandbox.store.checkouts


def test_app_deep_links_are_taken_as_the_bank_takes_them(sandbox):
    auth = get_token(sandbox.url).json()
    obj = payment_object(auth, backLink="myapp://paid?order=1",
                         failureBackLink="kaspi-shop://failed")
    page = open_page(sandbox.url, obj, short=False)
    assert page.status_code == 200, page.text
    result = pay(sandbox.url, page.text, "4405639704015096")
    assert 'data-back="myapp://paid?order=1"' in result.text


def test_token_expiring_while_the_form_is_open_refuses_the_card(sandbox):
    auth = get_token(sandbox.url).json()
    page = open_page(sandbox.url, payment_object(auth))
    assert page.status_code == 200
    sandbox.sandbox.store.token(auth["access_token"]).expires_at = time.time() - 1
    late = pay(sandbox.url, page.text, "4405639704015096")
    assert late.status_code == 400 and "expired" in late.text
    assert not sandbox.transactions


def test_every_page_shows_the_sandbox_banner_in_its_language(sandbox):
    banners = {"rus": "тестовая среда", "kaz": "сынақ ортасы", "eng": "test environment"}
    for n, (lang, words) in enumerate(banners.items()):
        invoice = f"{110000 + n}"
        auth = get_token(sandbox.url, invoice).json()
        obj = payment_object(auth, invoice, language=lang)
        form = open_page(sandbox.url, obj)
        three_ds = pay(sandbox.url, form.text, "4000000000003121")
        refused = open_page(sandbox.url, payment_object(auth, "999999", language=lang))
        result = full_payment(sandbox.url, invoice_id=f"{120000 + n}", language=lang)
        for page in (form, three_ds, refused, result):
            banner = page.text.split('id="sandbox-banner">')[1].split("</div>")[0]
            assert "SANDBOX" in banner and words in banner, (lang, page.url)


def test_three_ds_code_is_checked_once(sandbox):
    auth = get_token(sandbox.url).json()
    page = open_page(sandbox.url, payment_object(auth))
    pay(sandbox.url, page.text, "4000000000003121")
    form = {"checkout": page.text.split('name="checkout" value="')[1].split('"')[0]}
    wrong = requests.post(f"{sandbox.url}/payform/3ds", data={**form, "code": "000000"},
                          timeout=10)
    assert 'data-success="false"' in wrong.text
    again = requests.post(f"{sandbox.url}/payform/3ds", data={**form, "code": "123456"},
                          timeout=10)
    assert again.status_code == 400 and "no 3-D Secure step pending" in again.text
    assert [t.reason_code for t in sandbox.transactions] == [473]


def test_data_given_as_an_object_arrives_as_its_flattened_text(sandbox):
    auth = get_token(sandbox.url).json()
    statement = {"statement": {"name": "Arman Ali", "invoiceID": "80000016"}}
    obj = payment_object(auth, data=statement)
    decoded = decode_params(bank_params(obj))
    assert read_pairs(read_pairs(decoded["data"])["statement"]) == statement["statement"]
    assert decoded["auth"] == {k: str(v) for k, v in auth.items()}
    assert open_page(sandbox.url, obj).status_code == 200
