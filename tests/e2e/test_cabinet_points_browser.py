"""Bonus points in the merchant cabinet in a real browser (headless Chromium), the gateway
running as its own process against the emulator: a buyer pays with card and points, the
merchant's order card shows both pay operations and the accrual, and the points part is
given back in part from the card's cancel page (seen at the emulator's points ledger)."""

from __future__ import annotations

import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from assist_ws.domain.model import Right
from assist_ws.services import admin

from .conftest import BONUS
from .test_cabinet_browser import PASSWORD, state_on_card
from .test_pay_browser import back_at_shop, bill_of, checkout, console_problems, type_card, wait
from .test_points_browser import RICH, balance


def test_order_card_with_points_and_a_partial_return_of_the_points(browser, site):
    before = balance(site)
    checkout(browser, site, merchant=BONUS, amount="1000.00", OrderMaxPoints="300")
    bill = bill_of(browser)
    type_card(browser, RICH)
    wait(browser).until(EC.visibility_of_element_located((By.ID, "points")))
    browser.find_element(By.ID, "pay").click()
    back_at_shop(browser, site, "/ok")
    assert balance(site) == before - 300 + 7

    login = "cab_" + uuid.uuid4().hex[:10]
    admin.add_user(site.container.uow, BONUS, login, PASSWORD, [Right.MONITOR, Right.CANCEL])
    browser.get(site.url + "/account/login?lang=EN")
    browser.delete_all_cookies()
    browser.get(site.url + "/account/login?lang=EN")
    browser.find_element(By.ID, "merchant_id").send_keys(str(BONUS))
    browser.find_element(By.ID, "login").send_keys(login)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    wait(browser).until(EC.url_contains("/account/orders"))

    browser.get(f"{site.url}/account/orders/{bill}?lang=EN")
    ops = browser.find_element(By.ID, "operations").text
    assert f"{bill}.2" in ops and "SPASIBO" in ops and "300 points" in ops
    assert "Points accrual" in ops and "427600******0009" in ops
    browser.find_element(By.CSS_SELECTOR, f'a.op-cancel[data-bill="{bill}.2"]').click()
    amount = wait(browser).until(EC.presence_of_element_located((By.ID, "amount")))
    assert amount.get_attribute("value") == "300"
    amount.clear()
    amount.send_keys("100")
    browser.find_element(By.ID, "check").click()
    wait(browser).until(EC.url_contains("amount=100"))
    assert "100 of the 300 points" in browser.find_element(By.ID, "plan").text
    browser.find_element(By.ID, "proceed").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "notice")))
    assert state_on_card(browser) == "PartialCanceled"
    assert balance(site) == before - 300 + 7 + 100
    assert console_problems(browser) == []
