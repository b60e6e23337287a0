"""The buyer's flow in a real browser (headless Chromium): the shop's page posts the
authorization request, the buyer types a card on our pages and comes back to the shop; the
gateway runs as its own process on SQLite and PostgreSQL against the emulator."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import MetaData, String, Text, select

from .conftest import MEANS, MERCHANT, RATE, RUB_ONLY, TIMEOUT_MINUTES

VISA = "4111 1111 1111 1111"
DECLINED = "4000 0000 0000 0002"


def wait(driver, seconds: float = 20):
    return WebDriverWait(driver, seconds)


def checkout(browser, site, **request) -> dict:
    """The buyer clicks "Pay" on the shop's page and lands on our card form."""
    fields = site.fields(**request)
    browser.get(site.shop.form(site.url + "/pay/order.cfm", fields))
    browser.find_element(By.ID, "shop-pay").click()
    wait(browser).until(EC.url_contains("/pay/pay.cfm?CFSID="))
    return fields


def bill_of(browser) -> str:
    from assist_ws.web.page_session import PageSessions
    sid = parse_qs(urlsplit(browser.current_url).query)["CFSID"][0]
    return PageSessions(b"e2e-secret").bill_number(sid)


def type_card(browser, number=VISA, month="12", year="2031", holder="IVAN PETROV",
              cvc="123") -> None:
    for name, value in (("CardNumber", number), ("ExpireMonth", month),
                        ("ExpireYear", year), ("Cardholder", holder), ("CVC2", cvc)):
        field = browser.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)


def back_at_shop(browser, site, path: str) -> dict:
    wait(browser).until(EC.url_contains(site.shop.url + path))
    query = {k: v[0] for k, v in parse_qs(urlsplit(browser.current_url).query).items()}
    assert urlsplit(browser.current_url).path == path
    return query


def console_problems(browser) -> list[str]:
    """What the page's console said at warning level or worse (CSP violations included)."""
    return [e["message"] for e in browser.get_log("browser")
            if e["level"] in ("WARNING", "SEVERE") and "favicon" not in e["message"]]


def held(site, request_id: str) -> dict:
    for a in site.authorizations():
        if a["request_id"] == request_id:
            return a
    raise AssertionError(f"the emulator has no authorization {request_id}")


def test_one_stage_visa_lands_on_url_return_ok_and_the_center_holds_it(browser, site):
    fields = checkout(browser, site, amount="1290.00", OrderComment="Кружка с логотипом",
                      Language="RU")
    bill = bill_of(browser)
    assert browser.find_element(By.ID, "merchant-name").text == "Чайная лавка"
    assert browser.find_element(By.ID, "order-number").text == fields["OrderNumber"]
    assert browser.find_element(By.ID, "order-amount").text.replace("\u00a0", " ") == \
        "1 290,00 RUB"
    assert browser.find_element(By.ID, "order-comment").text == "Кружка с логотипом"
    assert browser.find_element(By.ID, "pay").text.startswith("Оплатить")
    assert console_problems(browser) == []  # our own style and script, nothing blocked
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    query = back_at_shop(browser, site, "/ok")
    assert query == {"billnumber": bill, "ordernumber": fields["OrderNumber"]}
    order = site.order(bill)
    pay = order.card_payment
    assert order.state == "Approved" and pay.response_code == "AS000"
    assert pay.means_number == "411111******1111" and pay.cardholder == "IVAN PETROV"
    entry = held(site, pay.authorization.request_id)
    assert (Decimal(entry["held"]), entry["currency"]) == (Decimal("1290.00"), "RUB")
    # The back button shows the result, not a new card form.
    browser.back()
    wait(browser).until(EC.presence_of_element_located((By.ID, "result")))
    assert browser.find_element(By.ID, "result").get_attribute("data-state") == "Approved"
    assert not browser.find_elements(By.NAME, "CardNumber")
    assert browser.find_element(By.ID, "return").get_attribute("href").startswith(
        f"{site.shop.url}/ok?billnumber={bill}")
    assert console_problems(browser) == []


def test_two_stage_order_is_delayed(browser, site):
    checkout(browser, site, amount="450.00", Delay="1", Language="EN")
    bill = bill_of(browser)
    type_card(browser, number="5555 5555 5555 4444")
    browser.find_element(By.ID, "pay").click()
    assert back_at_shop(browser, site, "/ok")["billnumber"] == bill
    order = site.order(bill)
    assert order.state == "Delayed" and order.delay
    entry = held(site, order.card_payment.authorization.request_id)
    assert Decimal(entry["held"]) == Decimal("450.00") and Decimal(entry["settled"]) == 0


def test_declined_card_lands_on_url_return_no(browser, site):
    fields = checkout(browser, site, amount="99.90")
    bill = bill_of(browser)
    type_card(browser, number=DECLINED)
    browser.find_element(By.ID, "pay").click()
    assert back_at_shop(browser, site, "/no") == {"billnumber": bill,
                                                  "ordernumber": fields["OrderNumber"]}
    order = site.order(bill)
    assert order.state == "Declined"
    assert order.operations[0].response_code == "AS100"
    browser.back()  # the result, with the decline
    wait(browser).until(EC.presence_of_element_located((By.ID, "result")))
    assert browser.find_element(By.ID, "response-code").text == "AS100"


def test_bad_card_number_and_past_expiry_show_messages_and_create_nothing(browser, site):
    checkout(browser, site, Language="EN")
    bill = bill_of(browser)
    type_card(browser, number="4111 1111 1111 1112", month="01", year="2020",
              holder="Иван", cvc="12")
    browser.find_element(By.ID, "pay").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "error-CardNumber")))
    messages = {e.get_attribute("id"): e.text
                for e in browser.find_elements(By.CSS_SELECTOR, "p.error")}
    assert messages == {
        "error-CardNumber": "This card number is not valid",
        "error-ExpireYear": "The card has expired",
        "error-CVC2": "Enter the 3 or 4 digits on the back of the card",
        "error-Cardholder": "Use Latin letters, spaces, dots, apostrophes and hyphens",
    }
    # Each message stands beside its field, inside the field's block.
    number = browser.find_element(By.ID, "CardNumber")
    assert number.get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "CardNumber").get_attribute("value") == ""  # not echoed
    assert browser.find_element(By.ID, "ExpireMonth").get_attribute("value") == "01"
    order = site.order(bill)
    assert order.state == "In Process" and order.operations == []
    # Corrected, the same page pays.
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    back_at_shop(browser, site, "/ok")
    assert site.order(bill).state == "Approved"


def test_double_click_on_pay_makes_one_authorization(browser, site):
    checkout(browser, site, amount="777.00")
    bill = bill_of(browser)
    before = len(site.authorizations())
    type_card(browser)
    ActionChains(browser).double_click(browser.find_element(By.ID, "pay")).perform()
    back_at_shop(browser, site, "/ok")
    order = site.order(bill)
    assert order.state == "Approved" and len(order.operations) == 1
    assert len(site.authorizations()) == before + 1


def test_double_submit_without_the_page_script_waits_and_makes_one_authorization(
        browser, site):
    """The script that disables the button is a courtesy: two real submits of the form (as
    a browser without it sends them), while the center takes two seconds to answer, make one
    authorization; the buyer waits on the processing page and then goes back to the shop."""
    checkout(browser, site, amount="778.00")
    bill = bill_of(browser)
    sid = parse_qs(urlsplit(browser.current_url).query)["CFSID"][0]
    before = len(site.authorizations())
    type_card(browser, number="4000 0000 0000 0119")  # the emulator answers it late
    browser.execute_script(
        "const f = document.getElementById('card-form');"
        "HTMLFormElement.prototype.submit.call(f);"
        "setTimeout(() => HTMLFormElement.prototype.submit.call(f), 300);")
    back_at_shop(browser, site, "/ok")
    assert site.order(bill).state == "Approved"
    assert len(site.order(bill).operations) == 1
    assert len(site.authorizations()) == before + 1
    log = site.gateway.log()
    assert "GET /pay/pay.cfm?CFSID=***&go=1" in log  # the waiting page
    assert sid not in log  # the page session is a bearer's key: never in the access log


def test_usd_order_of_a_rouble_center_is_converted_and_the_rate_recorded(browser, site):
    checkout(browser, site, merchant=RUB_ONLY, amount="10.00", currency="USD", Language="EN")
    bill = bill_of(browser)
    assert browser.find_element(By.ID, "order-amount").text.replace("\u00a0", " ") == \
        "10.00 USD"
    assert browser.find_element(By.ID, "charge-amount").text.replace("\u00a0", " ") \
        .startswith("905.00 RUB")
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    back_at_shop(browser, site, "/ok")
    order = site.order(bill)
    pay = order.card_payment
    assert (order.amount, order.currency) == (Decimal("10.00"), "USD")
    assert (pay.amount, pay.currency, pay.rate) == (Decimal("905.00"), "RUB", RATE)
    entry = held(site, pay.authorization.request_id)
    assert (Decimal(entry["held"]), entry["currency"]) == (Decimal("905.00"), "RUB")


def test_order_past_the_timeout_becomes_timeout_and_the_page_says_so(browser, site):
    checkout(browser, site, Language="EN")
    bill = bill_of(browser)
    with site.container.uow as uow:  # the buyer walked away for longer than allowed
        order = uow.orders.get(bill)
        order.created_at -= timedelta(minutes=TIMEOUT_MINUTES + 1)
        uow.commit()
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "result")))
    assert browser.find_element(By.ID, "result-title").text == "The time to pay has run out"
    assert f"{TIMEOUT_MINUTES} min" in browser.find_element(By.ID, "result-text").text
    order = site.order(bill)
    assert order.state == "Timeout" and order.operations == []
    assert browser.find_element(By.ID, "return").get_attribute("href").startswith(
        f"{site.shop.url}/no?billnumber={bill}")


def test_means_choice_english_pages_and_the_merchants_return_url(browser, site):
    # This shop sends no return URLs: its settings have URL_RETURN.
    checkout(browser, site, merchant=MEANS, amount="300.00", Language="EN",
             URL_RETURN_OK="", URL_RETURN_NO="")
    bill = bill_of(browser)
    assert browser.find_element(By.TAG_NAME, "legend").text == "Choose how to pay"
    browser.find_element(By.ID, "means-sbp").click()
    browser.find_element(By.ID, "continue").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "error-means")))
    assert "not available" in browser.find_element(By.ID, "error-means").text
    browser.find_element(By.ID, "means-card").click()
    browser.find_element(By.ID, "continue").click()
    wait(browser).until(EC.presence_of_element_located((By.NAME, "CardNumber")))
    assert browser.find_element(By.CSS_SELECTOR, "label[for=CardNumber]").text == "Card number"
    browser.find_element(By.ID, "language").click()  # to Russian and on
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR,
                                                          "label[for=CardNumber]"),
                                                         "Номер карты"))
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    assert back_at_shop(browser, site, "/merchant-return")["billnumber"] == bill
    assert site.order(bill).state == "Approved"


def test_a_url_less_order_keeps_the_buyer_on_the_result_page(browser, site):
    fields = site.fields(merchant=RUB_ONLY, amount="15.00")
    for name in ("URL_RETURN_OK", "URL_RETURN_NO"):
        fields.pop(name)
    browser.get(site.shop.form(site.url + "/pay/order.cfm", fields))
    browser.find_element(By.ID, "shop-pay").click()
    wait(browser).until(EC.presence_of_element_located((By.NAME, "CardNumber")))
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "result")))
    assert browser.find_element(By.ID, "result").get_attribute("data-state") == "Approved"
    assert not browser.find_elements(By.ID, "return")


def test_demo_shop_posts_a_signed_request_and_comes_back(browser, site):
    # MERCHANT is the demo merchant's id here, and it requires a correct Checkvalue.
    browser.get(site.url + "/demo-shop?lang=EN")
    assert "Checkvalue" in browser.find_element(By.ID, "signing").text
    browser.find_element(By.ID, "pay-mug").click()
    wait(browser).until(EC.presence_of_element_located((By.NAME, "CardNumber")))
    bill = bill_of(browser)
    assert site.order(bill).merchant_id == MERCHANT
    type_card(browser)
    browser.find_element(By.ID, "pay").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "shop-return")))
    assert browser.find_element(By.ID, "shop-billnumber").text == bill
    assert browser.find_element(By.ID, "shop-orderstate").text == "Approved"


def test_card_data_is_in_no_url_log_line_or_database_row(browser, site):
    checkout(browser, site, amount="12.34")
    type_card(browser, number="5555 5555 5555 4444", cvc="987")
    browser.find_element(By.ID, "pay").click()
    back_at_shop(browser, site, "/ok")
    pans = ("5555555555554444", "5555 5555 5555 4444", "4111111111111111",
            "4111 1111 1111 1111", "4000000000000002")
    log = site.gateway.log()
    assert "POST /pay/pay.cfm" in log  # the gateway logged at DEBUG (authorizations go out
    # without Zeep since the payment path was made fast, so no envelope log is expected)
    assert not [p for p in pans if p in log]
    assert not re.search(r"cvc>\s*987\s*<", log) and "CVC2=987" not in log
    assert not [path for path, query in site.shop.visits
                if any(p in str(query) for p in pans)]
    metadata = MetaData()
    metadata.reflect(site.container.engine)
    with site.container.engine.connect() as conn:
        for table in metadata.sorted_tables:
            texts = [c for c in table.columns if isinstance(c.type, (String, Text))]
            for row in conn.execute(select(*texts)) if texts else ():
                for value in row:
                    assert not any(p in str(value) for p in pans), (table.name, value)
