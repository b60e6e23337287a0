"""Bonus points on the payment pages in a real browser (headless Chromium): once the buyer
has typed an enrolled card, the card page offers points up to the order's limit, shows the
split, and the buyer may take the offer or decline it; a card without points gets no offer.
The gateway runs as its own process against the emulator, whose ledger shows the points."""

from __future__ import annotations

from decimal import Decimal

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from .conftest import BONUS
from .test_pay_browser import back_at_shop, bill_of, checkout, console_problems, type_card, wait

RICH = "4276 0000 0000 0009"   # enrolled, 1000 points at the start
POOR = "4276 0000 0000 0017"   # enrolled, no points
RICH_MASK = "427600******0009"


def balance(site, mask=RICH_MASK) -> int:
    return next(c["points"] for c in site.emulator.ledger()["cards"] if c["card"] == mask)


def operations(site, bill) -> list[tuple]:
    order = site.order(bill)
    return sorted((o.number, o.type, o.means, o.state, o.amount) for o in order.operations)


def offered(browser) -> bool:
    return browser.find_element(By.ID, "points").is_displayed()


def test_points_accepted_pay_two_operations_and_accrue(browser, site):
    before = balance(site)
    checkout(browser, site, merchant=BONUS, amount="1000.00", OrderMaxPoints="300")
    bill = bill_of(browser)
    assert not offered(browser)                     # nothing offered before the card
    type_card(browser, RICH)
    wait(browser).until(EC.visibility_of_element_located((By.ID, "points")))
    assert browser.find_element(By.ID, "Points").get_attribute("value") == "300"
    assert browser.find_element(By.ID, "UsePoints").is_selected()
    split = browser.find_element(By.ID, "points-split").text
    assert "700.00 RUB" in split and "300" in split
    browser.find_element(By.ID, "pay").click()
    back_at_shop(browser, site, "/ok")
    assert operations(site, bill) == [
        (1, 100, "card", "Success", Decimal("700.00")),
        (2, 100, "points", "Success", Decimal("300")),
        (3, 500, "points", "Success", Decimal("7"))]
    assert site.order(bill).state == "Approved"
    assert balance(site) == before - 300 + 7
    assert console_problems(browser) == []


def test_points_declined_pay_by_card_only(browser, site):
    before = balance(site)
    checkout(browser, site, merchant=BONUS, amount="1000.00", OrderMaxPoints="300")
    bill = bill_of(browser)
    type_card(browser, RICH)
    wait(browser).until(EC.visibility_of_element_located((By.ID, "points")))
    browser.find_element(By.ID, "UsePoints").click()   # the buyer declines
    assert not browser.find_element(By.ID, "Points").is_enabled()
    assert "1000.00 RUB" in browser.find_element(By.ID, "points-split").text
    browser.find_element(By.ID, "pay").click()
    back_at_shop(browser, site, "/ok")
    pays = [op for op in operations(site, bill) if op[1] == 100]
    assert pays == [(1, 100, "card", "Success", Decimal("1000.00"))]
    assert balance(site) == before + 10                 # accrued on the card part
    assert console_problems(browser) == []


def test_card_without_points_gets_no_offer(browser, site):
    checkout(browser, site, merchant=BONUS, amount="500.00", OrderMaxPoints="300")
    bill = bill_of(browser)
    type_card(browser, POOR)
    # The offer's answer comes from the center: wait until the page has it, then look.
    section = browser.find_element(By.ID, "points")
    wait(browser).until(lambda b: section.get_attribute("data-offered") is not None)
    assert section.get_attribute("data-offered") == "0"
    assert not offered(browser)
    browser.find_element(By.ID, "pay").click()
    back_at_shop(browser, site, "/ok")
    assert [op[:3] for op in operations(site, bill) if op[1] == 100] == [(1, 100, "card")]
    assert console_problems(browser) == []
