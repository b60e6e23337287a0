"""3-D Secure in a real browser (headless Chromium): the buyer types an enrolled card, is
sent to the emulator's ACS page (another origin), types the one-time code and comes back;
the gateway completes the authorization at the center server to server."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import RUB_ONLY, TIMEOUT_MINUTES
from .test_pay_browser import back_at_shop, bill_of, checkout, held, type_card

CHALLENGE = "4000 0000 0000 3220"
FRICTIONLESS = "4000 0000 0000 3055"


def at_acs(browser, site) -> None:
    """The buyer is on the emulator's ACS page, of the emulator's own origin.  The gateway's
    page posts itself there, so the browser may be between the two pages while this looks."""
    acs = urlsplit(site.emulator.url)[:2]
    across(browser).until(
        lambda b: urlsplit(b.current_url)[:2] == acs and b.find_elements(By.ID, "code"))


def across(browser) -> WebDriverWait:
    """A wait through pages that post themselves to another origin: a look that a
    navigation aborted is tried again."""
    return WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,))


def not_held(site, request_id: str) -> None:
    assert all(a["request_id"] != request_id for a in site.authorizations())


def test_challenge_with_the_right_code_is_approved_and_back_at_the_shop(browser, site):
    checkout(browser, site, amount="700.00", Language="EN")
    bill = bill_of(browser)
    type_card(browser, number=CHALLENGE)
    browser.find_element(By.ID, "pay").click()
    at_acs(browser, site)
    assert browser.find_element(By.ID, "amount").text == "700.00 RUB"
    browser.find_element(By.ID, "code").send_keys("12345")
    browser.find_element(By.ID, "confirm").click()
    assert back_at_shop(browser, site, "/ok")["billnumber"] == bill
    order = site.order(bill)
    pay = order.card_payment
    assert order.state == "Approved" and (pay.eci, pay.auth_result) == ("05", "Y")
    assert pay.acs_nonce is None
    entry = held(site, pay.authorization.request_id)
    assert Decimal(entry["held"]) == Decimal("700.00")


def test_challenge_with_a_wrong_code_is_declined_and_nothing_is_held(browser, site):
    checkout(browser, site, amount="80.00", Language="EN")
    bill = bill_of(browser)
    type_card(browser, number=CHALLENGE)
    browser.find_element(By.ID, "pay").click()
    at_acs(browser, site)
    browser.find_element(By.ID, "code").send_keys("99999")
    browser.find_element(By.ID, "confirm").click()
    assert back_at_shop(browser, site, "/no")["billnumber"] == bill
    order = site.order(bill)
    pay = order.operations[0]
    assert order.state == "Declined" and pay.state == "Declined"
    assert pay.auth_result == "N" and pay.response_code == "AS112"
    not_held(site, pay.authorization.request_id)


def test_frictionless_card_is_approved_without_a_trip_to_the_acs(browser, site):
    checkout(browser, site, amount="55.00", Language="EN")
    bill = bill_of(browser)
    type_card(browser, number=FRICTIONLESS)
    browser.find_element(By.ID, "pay").click()
    assert back_at_shop(browser, site, "/ok")["billnumber"] == bill
    pay = site.order(bill).card_payment
    assert (pay.eci, pay.auth_result) == ("05", "Y")
    assert Decimal(held(site, pay.authorization.request_id)["held"]) == Decimal("55.00")


def test_the_acs_page_csp_lets_forms_go_to_the_acs_origin_only_there(browser, site):
    checkout(browser, site, amount="12.00", Language="EN")
    page_url = browser.current_url
    card_page = site.http.get(page_url, timeout=30)
    assert site.emulator.url not in card_page.headers["Content-Security-Policy"]
    type_card(browser, number=CHALLENGE)
    browser.find_element(By.ID, "pay").click()
    at_acs(browser, site)
    acs_page = site.http.get(page_url, timeout=30)  # the order's page while at the ACS
    assert 'id="acs-form"' in acs_page.text
    csp = acs_page.headers["Content-Security-Policy"]
    form_action = next(p for p in csp.split("; ") if p.startswith("form-action "))
    assert set(form_action.split()[1:]) == {"'self'", site.shop.url, site.emulator.url}
    frames = next(p for p in csp.split("; ") if p.startswith("frame-ancestors "))
    assert site.emulator.url not in frames
    browser.find_element(By.ID, "code").send_keys("12345")
    browser.find_element(By.ID, "confirm").click()
    back_at_shop(browser, site, "/ok")


def test_abandoned_at_the_acs_is_timed_out_by_the_worker_and_nothing_is_held(browser, site):
    checkout(browser, site, amount="33.00", Language="EN")
    bill = bill_of(browser)
    type_card(browser, number=CHALLENGE)
    browser.find_element(By.ID, "pay").click()
    at_acs(browser, site)
    browser.find_element(By.ID, "cancel").click()
    across(browser).until(EC.presence_of_element_located((By.ID, "cancelled")))
    assert site.order(bill).state == "In Process"
    with site.container.uow as uow:  # the buyer never came back within the merchant's time
        order = uow.orders.get(bill)
        order.created_at -= timedelta(minutes=TIMEOUT_MINUTES + 2)
        order.operations[0].authorization.sent_at -= timedelta(minutes=TIMEOUT_MINUTES + 2)
        uow.commit()
    site.container.close_abandoned()
    order = site.order(bill)
    pay = order.operations[0]
    assert order.state == "Timeout" and pay.state == "Declined"
    not_held(site, pay.authorization.request_id)


def test_disable3ds_of_an_allowed_merchant_skips_the_acs(browser, site):
    with site.container.uow as uow:
        uow.merchants.get(RUB_ONLY).allow_disable_3ds = True
        uow.commit()
    try:
        checkout(browser, site, merchant=RUB_ONLY, amount="21.00", Language="EN",
                 Disable3DS="1")
        bill = bill_of(browser)
        type_card(browser, number=CHALLENGE)
        browser.find_element(By.ID, "pay").click()
        assert back_at_shop(browser, site, "/ok")["billnumber"] == bill
        pay = site.order(bill).card_payment
        assert (pay.eci, pay.auth_result) == ("07", "U")
        assert Decimal(held(site, pay.authorization.request_id)["held"]) == Decimal("21.00")
    finally:
        with site.container.uow as uow:
            uow.merchants.get(RUB_ONLY).allow_disable_3ds = False
            uow.commit()
