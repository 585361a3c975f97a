"""The back office's access rule, filters, timeline, "reconcile now" and CSV export in a browser:
one live example shop and one browser context, logged in (HTTP Basic, docs/example-shop.md) as
nobody, as a read-only viewer and as staff in turn. The payments are real sandbox payments,
made by `flask halyk send-postlink` against the running shop (the payment page's own path, the
signed postLink delivered by the sandbox). Refunds, links and QR: test_shop_admin.py and
test_shop_links_qr.py."""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import place_order
from test_shop_security import violations

from flask_halyk.cli import EXIT_DONE, EXIT_ERROR

pytestmark = pytest.mark.browser

#: Kept to look at (like test_shop_screens.py's): the list, a payment's page, the report.
SCREENS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens" / "dashboard"

STAFF = "staff-password"
VIEWER = "viewer-password"


@pytest.fixture
def shop_config(shop_config: dict[str, Any]) -> dict[str, Any]:
    shop_config.update(SHOP_ADMIN_PASSWORD=STAFF, SHOP_VIEWER_PASSWORD=VIEWER)
    return shop_config


def log_in(page: Any, password: str | None) -> dict[str, str]:
    """Send HTTP Basic with ``password`` from now on (None: nobody); the headers."""
    headers = {} if password is None else {
        "Authorization": "Basic " + base64.b64encode(f"x:{password}".encode()).decode()}
    page.context.set_extra_http_headers(headers)
    return headers


def send_postlink(live_shop: Any, invoice_id: str, outcome: str) -> int:
    """`flask halyk send-postlink` against the running shop; its exit status."""
    result = live_shop.app.test_cli_runner().invoke(
        args=["halyk", "send-postlink", invoice_id, outcome, "--app-url", live_shop.url])
    return int(result.exit_code)


def listed(page: Any) -> list[str]:
    return [row.get_attribute("id").removeprefix("payment-")
            for row in page.locator("table.payments tbody tr[id]").all()]


def filter_by(page: Any, **fields: str) -> None:
    page.goto("/admin/")
    for name, value in fields.items():
        if name == "status":
            page.select_option("select[name=status]", value)
        else:
            page.fill(f"input[name={name}]", value)
    page.click("form.filters button[type=submit]")
    page.wait_for_url(lambda url: all(f"{k}={v}" in url for k, v in fields.items()))


def test_access_filters_timeline_reconcile_and_csv(page, live_shop, browser_log, step):
    paid = place_order(page, "baursak")
    failed = place_order(page, "tea")
    unheard = place_order(page, "tea")
    assert send_postlink(live_shop, paid, "--approved") == EXIT_DONE
    assert send_postlink(live_shop, failed, "--declined") == EXIT_DONE
    # Paid at the bank, its postLink lost: the ledger learns of it only by asking ePay.
    live_shop.sandbox.faults.drop_postlink = True
    assert send_postlink(live_shop, unheard, "--approved") == EXIT_ERROR
    live_shop.sandbox.faults.drop_postlink = False
    assert str(live_shop.ledger(unheard).status) == "new"

    # Nobody: the dashboard's 403, as the shop's login challenge (which the browser, holding
    # no password, does not let the page see: the context's own request reads it).
    log_in(page, None)
    anonymous = page.request.get(f"{live_shop.url}/admin/")
    assert anonymous.status == 401 and "Basic" in anonymous.headers["www-authenticate"]
    assert paid not in anonymous.text()
    # A viewer reads everything, and is offered no action; one posted anyway is refused.
    viewer = log_in(page, VIEWER)
    assert page.goto("/admin/").status == 200
    assert set(listed(page)) == {paid, failed, unheard}
    assert page.locator("nav form").count() == 0  # no "reconcile pending payments now"
    page.goto(f"/admin/payments/{paid}")
    assert page.get_attribute("dl.payment", "data-status") == "paid"
    assert page.locator(".actions").count() == 0
    step("viewer")
    # With the session's valid CSRF token (the shop's checkout form has one): only the rule
    # refuses it.
    page.goto("/products/tea/checkout")
    token = page.get_attribute("input[name=csrf_token]", "value")
    refused = page.request.post(f"{live_shop.url}/admin/payments/{unheard}/reconcile",
                                headers=viewer, form={"csrf_token": token or ""})
    assert refused.status == 403
    assert str(live_shop.ledger(unheard).status) == "new"

    log_in(page, STAFF)
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.goto("/admin/")
    page.screenshot(path=str(SCREENS / "1-payments.png"), full_page=True)
    # Filters narrow the list.
    filter_by(page, status="paid")
    assert listed(page) == [paid]
    filter_by(page, invoice=failed)
    assert listed(page) == [failed]
    # The CSV of what the filters select, amounts as the bank writes them.
    filter_by(page, status="failed")
    with page.expect_download() as download:
        page.click("a.csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert [(r["invoice_id"], r["status"]) for r in rows] == [(failed, "failed")]
    assert rows[0]["amount"] == f"{live_shop.ledger(failed).amount:.2f}"

    # The timeline of the paid payment: its postLink, applied, the secret_hash hidden.
    page.goto(f"/admin/payments/{paid}")
    assert page.locator("a.button.refund").count() == 1  # staff may act
    entry = page.locator("li.entry.postlink.applied")
    assert entry.count() == 1
    body = entry.locator("pre").first.text_content() or ""
    assert '"secret_hash": "***"' in body and '"invoiceId"' in body
    secret = next(t.secret_hash for t in live_shop.sandbox.store.tokens.values()
                  if t.invoice_id == paid)
    assert secret and secret not in page.content()
    page.screenshot(path=str(SCREENS / "2-payment.png"), full_page=True)
    step("timeline")

    # "Ask ePay now" settles the payment whose postLink was lost.
    page.goto(f"/admin/payments/{unheard}")
    page.click(".actions form button[type=submit]")
    page.wait_for_selector("p.report")
    assert unheard in (page.text_content("ul.outcomes") or "")
    assert str(live_shop.ledger(unheard).status) == "paid"
    # "Reconcile pending payments now": nothing pending a minute old, a report all the same.
    page.click("nav form button[type=submit]")
    page.wait_for_selector("p.report")
    page.screenshot(path=str(SCREENS / "3-reconciled.png"), full_page=True)
    step("reconciled")
    assert page.locator("ul.outcomes li").count() == 0

    assert violations(page) == []
    assert browser_log.csp_problems() == []
    assert browser_log.errors == []
