"""The buyer's personal data on the card page, in a real browser (headless Chromium) against
the gateway process on SQLite and PostgreSQL: asked for when the merchant wants them and the
shop did not send them, checked beside each field, saved with the payment, and then in the
merchant's web service replies and result notifications -- never in a URL or a log line."""

from __future__ import annotations

import dataclasses

import pytest
import requests
from lxml import etree
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from assist_ws.jobs.notifications import run_once
from assist_ws.notify import HttpNotificationSender
from assist_ws.services import admin
from assist_ws.services.notifications.outbox import NotifySettings

from ..merchant_endpoint import MerchantEndpoint
from .conftest import ASKING, ASKING_LOGIN, ASKING_PASSWORD
from .test_pay_browser import back_at_shop, bill_of, checkout, console_problems, type_card, wait

EMAIL = "olga.smirnova@example.com"


def inputs_of_the_customer_section(browser) -> list[str]:
    return [e.get_attribute("name") for e in browser.find_elements(
        By.CSS_SELECTOR, "#customer input, #customer textarea")]


@pytest.fixture
def notified(site):
    """ASKING's results go to a merchant endpoint for this test, delivered by a worker pass
    allowed to reach it on loopback."""
    endpoint = MerchantEndpoint().start()
    worker = dataclasses.replace(site.container, notifier=HttpNotificationSender(
        connect_timeout=1, timeout=3, allowed_ports=None, allow_private=True))
    admin.save_merchant(site.container.uow, ASKING, admin.MerchantSettings(
        notify=NotifySettings(url=endpoint.url())), create=False,
        check_notify_url=worker.notifier.check_url)
    yield endpoint, worker
    admin.save_merchant(site.container.uow, ASKING, admin.MerchantSettings(
        notify=NotifySettings(url="")), create=False)
    endpoint.stop()


def test_a_required_email_the_shop_did_not_send_is_asked_checked_and_reaches_the_merchant(
        browser, site, notified):
    endpoint, worker = notified
    fields = checkout(browser, site, merchant=ASKING, Language="EN", Lastname="Smirnova")
    bill = bill_of(browser)
    # Sent by the shop: shown, not asked again.  Wanted and not sent: asked, with hints.
    assert browser.find_element(By.ID, "customer-Lastname").text == "Smirnova"
    assert inputs_of_the_customer_section(browser) == ["Firstname", "Email", "MobilePhone"]
    email = browser.find_element(By.ID, "Email")
    assert (email.get_attribute("type"), email.get_attribute("autocomplete")) == ("email",
                                                                                 "email")
    assert email.get_attribute("aria-required") == "true"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=Email]").text == "E-mail"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=MobilePhone]").text == \
        "Mobile phone (optional)"
    assert browser.find_element(By.ID, "MobilePhone").get_attribute("autocomplete") == "tel"
    assert browser.find_element(By.ID, "Firstname").get_attribute("autocomplete") == \
        "given-name"
    assert console_problems(browser) == []  # our own style and script, nothing blocked
    # A bad address: the message beside the field, what was typed kept, nothing paid.
    browser.find_element(By.ID, "Firstname").send_keys("Olga")
    email.send_keys("olga.smirnova@example")
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "error-Email")))
    assert browser.find_element(By.ID, "error-Email").text == \
        "Enter an e-mail address such as name@example.com"
    assert browser.find_element(By.ID, "Email").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "Email").get_attribute("value") == \
        "olga.smirnova@example"
    assert browser.find_element(By.ID, "Firstname").get_attribute("value") == "Olga"
    assert browser.find_element(By.ID, "CardNumber").get_attribute("value") == ""
    assert site.order(bill).operations == [] and site.order(bill).email is None
    assert "olga" not in browser.current_url.lower()  # posted in the body, never in a URL
    # Corrected, the same page pays.
    browser.find_element(By.ID, "Email").clear()
    browser.find_element(By.ID, "Email").send_keys(EMAIL)
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    assert back_at_shop(browser, site, "/ok")["billnumber"] == bill
    order = site.order(bill)
    assert order.state == "Approved"
    assert (order.lastname, order.firstname, order.email, order.mobile_phone) == (
        "Smirnova", "Olga", EMAIL, None)
    assert [p for p in console_problems(browser) if "status of 422" not in p] == []
    # The merchant's web service answers with it ...
    r = requests.post(site.url + "/orderresult/orderresult.cfm", data={
        "Merchant_ID": str(ASKING), "Login": ASKING_LOGIN, "Password": ASKING_PASSWORD,
        "OrderNumber": fields["OrderNumber"], "Format": "3"}, timeout=30)
    xml = etree.fromstring(r.content)
    assert xml.findtext(".//order/email") == EMAIL
    assert xml.findtext(".//order/firstname") == "Olga"
    # ... and so does the result notification.
    assert run_once(worker) == 1
    [got] = endpoint.received
    assert (got.form["billnumber"], got.form["email"], got.form["firstname"],
            got.form["lastname"]) == (bill, EMAIL, "Olga", "Smirnova")
    # In no URL and no log line (the gateway logs everything here, SQL included).
    assert not [path for path, query in site.shop.visits if EMAIL in str(query)]
    log = site.gateway.log()
    assert "POST /pay/pay.cfm" in log and "INSERT INTO operations" in log
    assert EMAIL not in log and "olga.smirnova@example" not in log and "Olga" not in log


def test_a_shop_that_sends_every_field_is_asked_nothing(browser, site):
    sent = {"Lastname": "Smirnova", "Firstname": "Olga", "Middlename": "Petrovna",
            "Email": EMAIL, "MobilePhone": "+79991234567", "HomePhone": "84951234567",
            "WorkPhone": "84957654321", "Fax": "84951112233", "Country": "RU",
            "State": "77", "City": "Moscow", "Zip": "101000", "Address": "Tverskaya 1"}
    checkout(browser, site, merchant=ASKING, Language="EN", **sent)
    bill = bill_of(browser)
    assert inputs_of_the_customer_section(browser) == []
    assert {e.get_attribute("id")[len("customer-"):]: e.text for e in
            browser.find_elements(By.CSS_SELECTOR, "#customer dd")} == sent
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    back_at_shop(browser, site, "/ok")
    order = site.order(bill)
    assert order.state == "Approved"
    assert (order.email, order.mobile_phone, order.address) == (EMAIL, "+79991234567",
                                                                "Tverskaya 1")


def test_optional_fields_left_empty_do_not_stop_the_payment(browser, site):
    checkout(browser, site, merchant=ASKING, Language="RU", Email=EMAIL)
    bill = bill_of(browser)
    assert browser.find_element(By.ID, "customer-title").text == "Данные покупателя"
    assert inputs_of_the_customer_section(browser) == ["Lastname", "Firstname", "MobilePhone"]
    assert browser.find_element(By.CSS_SELECTOR, "label[for=Lastname]").text == \
        "Фамилия (необязательно)"
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    back_at_shop(browser, site, "/ok")
    order = site.order(bill)
    assert order.state == "Approved"
    assert (order.email, order.lastname, order.firstname, order.mobile_phone) == (
        EMAIL, None, None, None)
