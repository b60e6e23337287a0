"""The merchant cabinet in a real browser (headless Chromium) against the gateway running as
its own process, on SQLite and PostgreSQL, with the emulator: sign-in, the monitor's filters,
the order card, a partial confirm and a partial cancel (seen at the emulator's ledger), and a
user without the rights to act."""

from __future__ import annotations

import uuid
from decimal import Decimal

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from assist_ws.domain.model import Right
from assist_ws.services import admin

from .conftest import MERCHANT

PASSWORD = "Cabinet123"


def wait(driver, seconds: float = 20):
    return WebDriverWait(driver, seconds)


def new_user(site, rights) -> str:
    login = "cab_" + uuid.uuid4().hex[:10]
    admin.add_user(site.container.uow, MERCHANT, login, PASSWORD, list(rights))
    return login


def paid(site, amount="100.00", delay=False, number=None) -> str:
    extra = {"Delay": "1"} if delay else {}
    if number:
        extra["OrderNumber"] = number
    session = site.start(amount=amount, **extra)
    assert session.pay().status_code == 303
    return session.bill


def sign_in(browser, site, login, password=PASSWORD) -> None:
    browser.get(site.url + "/account/login?lang=EN")
    browser.delete_all_cookies()  # this site's, from an earlier test
    browser.get(site.url + "/account/login?lang=EN")
    browser.find_element(By.ID, "merchant_id").send_keys(str(MERCHANT))
    browser.find_element(By.ID, "login").send_keys(login)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "sign-in").click()


def state_on_card(browser) -> str:
    return browser.find_element(By.ID, "order-state").text


def test_sign_in_filter_and_open_an_order(browser, site):
    login = new_user(site, [Right.MONITOR])
    sign_in(browser, site, login, "Wrong12345")
    error = wait(browser).until(EC.presence_of_element_located((By.ID, "error")))
    assert "Wrong Merchant_ID, login or password" in error.text, browser.page_source
    assert "/account/login" in browser.current_url
    browser.get_log("browser")  # the refused sign-in's 401 is in the console
    sign_in(browser, site, login)
    wait(browser).until(EC.url_contains("/account/orders"))
    assert login in browser.find_element(By.ID, "who").text

    tag = "CAB" + uuid.uuid4().hex[:8]
    held = [paid(site, "10.00", delay=True, number=f"{tag}-{i}") for i in range(2)]
    unpaid = site.start(amount="12.00", OrderNumber=f"{tag}-9").bill
    browser.get(site.url + "/account/orders?lang=EN")
    browser.find_element(By.ID, "f-number").send_keys(tag + "-%")
    browser.find_element(By.ID, "select").click()
    wait(browser).until(EC.url_contains("number="))
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.order-row")
    assert {r.get_attribute("data-bill") for r in rows} == {*held, unpaid}
    Select(browser.find_element(By.ID, "f-states")).select_by_value("Delayed")
    browser.find_element(By.ID, "select").click()
    wait(browser).until(EC.url_contains("state=Delayed"))
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.order-row")
    assert {r.get_attribute("data-bill") for r in rows} == set(held)
    assert {r.find_element(By.CLASS_NAME, "state").text for r in rows} == {"Delayed"}

    browser.find_element(By.LINK_TEXT, held[0]).click()
    wait(browser).until(EC.url_contains(f"/account/orders/{held[0]}"))
    ops = browser.find_element(By.ID, "operations").text
    assert "Payment" in ops and "411111******1111" in ops and f"{held[0]}.1" in ops
    # A monitor-only user has no buttons to act with.
    assert not browser.find_elements(By.ID, "confirm")
    assert not browser.find_elements(By.ID, "cancel")
    assert state_on_card(browser) == "Delayed"
    # Nothing the pages use is refused by their Content Security Policy.
    assert [e["message"] for e in browser.get_log("browser")
            if e["level"] in ("WARNING", "SEVERE") and "favicon" not in e["message"]] == []


def test_confirm_a_delayed_order_in_part(browser, site):
    sign_in(browser, site, new_user(site, [Right.MONITOR, Right.CONFIRM, Right.CANCEL]))
    wait(browser).until(EC.url_contains("/account/orders"))
    bill = paid(site, "100.00", delay=True)
    browser.get(f"{site.url}/account/orders/{bill}")
    browser.find_element(By.ID, "confirm").click()
    amount = wait(browser).until(EC.presence_of_element_located((By.ID, "amount")))
    amount.clear()
    amount.send_keys("40.00")
    browser.find_element(By.ID, "check").click()
    wait(browser).until(EC.url_contains("amount=40.00"))
    plan = browser.find_element(By.ID, "plan").text
    assert "40.00" in plan and "100.00" in plan and "released" in plan
    browser.find_element(By.ID, "proceed").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "notice")))
    assert state_on_card(browser) == "PartialDelayed"
    assert site.order(bill).state == "PartialDelayed"


def test_cancel_part_of_an_approved_order_is_a_reversal_at_the_center(browser, site):
    sign_in(browser, site, new_user(site, [Right.MONITOR, Right.CANCEL]))
    wait(browser).until(EC.url_contains("/account/orders"))
    bill = paid(site, "100.00")
    browser.get(f"{site.url}/account/orders/{bill}")
    assert not browser.find_elements(By.ID, "confirm")
    browser.find_element(By.ID, "cancel").click()
    amount = wait(browser).until(EC.presence_of_element_located((By.ID, "amount")))
    amount.clear()
    amount.send_keys("30")
    browser.find_element(By.ID, "check").click()
    wait(browser).until(EC.url_contains("amount=30"))
    assert "reversed" in browser.find_element(By.ID, "plan").text
    browser.find_element(By.ID, "proceed").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "notice")))
    assert state_on_card(browser) == "PartialCanceled"
    auth = site.order(bill).card_payment.authorization.request_id
    entry = next(a for a in site.authorizations() if a["request_id"] == auth)
    assert Decimal(entry["held"]) == Decimal("70.00")


def test_bulk_cancel_of_three_orders(browser, site):
    sign_in(browser, site, new_user(site, [Right.MONITOR, Right.CANCEL]))
    wait(browser).until(EC.url_contains("/account/orders"))
    tag = "BLK" + uuid.uuid4().hex[:8]
    bills = [paid(site, "10.00", number=f"{tag}-{i}") for i in range(3)]
    browser.get(f"{site.url}/account/orders?lang=EN&number={tag}-%25")
    for box in browser.find_elements(By.CSS_SELECTOR, "input[type=checkbox][name=bill]"):
        box.click()
    browser.find_element(By.ID, "bulk-cancel").click()
    wait(browser).until(EC.url_contains("/account/bulk"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.plan")) == 3
    browser.find_element(By.ID, "proceed").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "results")))
    states = {r.get_attribute("data-bill"): r.find_element(By.CLASS_NAME, "order-state").text
              for r in browser.find_elements(By.CSS_SELECTOR, "tr.result")}
    assert states == {bill: "Canceled" for bill in bills}
    assert {site.order(bill).state for bill in bills} == {"Canceled"}
