"""The cabinet's administration pages in a real browser (headless Chromium) against the
gateway running as its own process, on SQLite and PostgreSQL: an admin creates a user who
signs in, changes the settings, makes a new secret word and reads the audit log; a session
ended in the database (the user disabled from another process) is over in the browser;
two-factor enrolment with the QR code and sign-in with a code."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pyotp

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from assist_ws.domain.model import Right
from assist_ws.services import admin

from .test_cabinet_browser import PASSWORD, wait


def new_merchant(site) -> tuple[int, str]:
    merchant = random.randrange(300000, 2000000000)
    admin.save_merchant(site.container.uow, merchant, admin.MerchantSettings(
        name="Admin shop", currencies=("RUB",), secret_word="first-word",
        processing=(("RUB", "emulator-rub"),)), create=True)
    login = "boss_" + uuid.uuid4().hex[:8]
    admin.add_user(site.container.uow, merchant, login, PASSWORD, [Right.ADMIN])
    return merchant, login


def sign_in(browser, site, merchant, login, password=PASSWORD) -> None:
    browser.get(site.url + "/account/login?lang=EN")
    browser.delete_all_cookies()
    browser.get(site.url + "/account/login?lang=EN")
    browser.find_element(By.ID, "merchant_id").send_keys(str(merchant))
    browser.find_element(By.ID, "login").send_keys(login)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "sign-in").click()
    wait(browser).until(EC.url_contains("/account/orders"))


def test_an_admin_creates_a_user_who_signs_in_and_is_disabled(browser, site):
    merchant, boss = new_merchant(site)
    sign_in(browser, site, merchant, boss)
    browser.find_element(By.ID, "users-link").click()
    wait(browser).until(EC.url_contains("/account/users"))
    login = "clerk_" + uuid.uuid4().hex[:8]
    browser.find_element(By.ID, "new-login").send_keys(login)
    browser.find_element(By.ID, "new-password").send_keys(PASSWORD)
    browser.find_element(By.ID, "new-right-confirm").click()
    browser.find_element(By.ID, "create-user").click()
    notice = wait(browser).until(EC.presence_of_element_located((By.ID, "notice")))
    assert login in notice.text
    row = browser.find_element(By.CSS_SELECTOR, f'tr.user-row[data-login="{login}"]')
    assert "monitor" in row.text and "confirm" in row.text

    # The new user signs in (no administration links), in the same browser.
    sign_in(browser, site, merchant, login)
    assert not browser.find_elements(By.ID, "users-link")
    # Disabled from another process (this test's), its session is over at the next page.
    with site.container.uow as uow:
        uow.users.get(merchant, login).active = False
        uow.cabinet_sessions.end_user(merchant, login, site.container.clock.now())
        uow.commit()
    browser.get(site.url + "/account/orders")
    wait(browser).until(EC.url_contains("/account/login"))

    # The admin sees it all in the audit log.
    sign_in(browser, site, merchant, boss)
    browser.find_element(By.ID, "audit-link").click()
    wait(browser).until(EC.url_contains("/account/audit"))
    kinds = [r.get_attribute("data-kind")
             for r in browser.find_elements(By.CSS_SELECTOR, "tr.audit-row")]
    assert kinds[:3] == ["sign_in", "sign_in", "user_create"], kinds
    Select(browser.find_element(By.ID, "a-kinds")).select_by_value("user_create")
    browser.find_element(By.ID, "audit-select").click()
    wait(browser).until(EC.url_contains("kind=user_create"))
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.audit-row")
    assert len(rows) == 1 and login in rows[0].text and boss in rows[0].text


def test_an_admin_changes_the_settings_and_makes_a_secret_word(browser, site):
    merchant, boss = new_merchant(site)
    sign_in(browser, site, merchant, boss)
    browser.find_element(By.ID, "settings-link").click()
    wait(browser).until(EC.url_contains("/account/settings"))
    assert "first-word" not in browser.page_source
    field = browser.find_element(By.ID, "url_return_ok")
    field.clear()
    field.send_keys("https://shop.example/thanks")
    timeout = browser.find_element(By.ID, "timeout_minutes")
    timeout.clear()
    timeout.send_keys("35")
    browser.find_element(By.ID, "save-settings").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "notice")))
    assert browser.find_element(By.ID, "url_return_ok").get_attribute("value") == \
        "https://shop.example/thanks"
    with site.container.uow.reader() as r:
        m = r.merchants.get(merchant)
        assert (m.url_return_ok, m.timeout_minutes) == ("https://shop.example/thanks", 35)
    browser.find_element(By.ID, "new-secret").click()
    word = wait(browser).until(EC.presence_of_element_located((By.ID, "secret-value"))).text
    with site.container.uow.reader() as r:
        assert r.merchants.get(merchant).secret_word == word
    browser.get(site.url + "/account/settings")
    assert word not in browser.page_source
    assert [e["message"] for e in browser.get_log("browser")
            if e["level"] in ("WARNING", "SEVERE") and "favicon" not in e["message"]] == []


def test_two_factor_enrolment_and_sign_in_with_a_code(browser, site):
    merchant, boss = new_merchant(site)
    sign_in(browser, site, merchant, boss)
    browser.find_element(By.ID, "two-factor-link").click()
    wait(browser).until(EC.url_contains("/account/two-factor"))
    browser.find_element(By.ID, "two-factor-start").click()
    qr = wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#qr svg")))
    assert qr.size["width"] > 100  # drawn, from the page itself
    secret = browser.find_element(By.ID, "totp-key").text
    browser.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).now())
    browser.find_element(By.ID, "confirm-code").click()
    codes = wait(browser).until(EC.presence_of_element_located((By.ID, "recovery-codes")))
    assert len(codes.find_elements(By.TAG_NAME, "li")) == 10

    # Signing in again: the password, then the app's code (the next time step's: the
    # enrolment took this one).
    browser.delete_all_cookies()
    browser.get(site.url + "/account/login?lang=EN")
    browser.find_element(By.ID, "merchant_id").send_keys(str(merchant))
    browser.find_element(By.ID, "login").send_keys(boss)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    code = wait(browser).until(EC.presence_of_element_located((By.ID, "code")))
    code.send_keys("000000")
    browser.find_element(By.ID, "send-code").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "error")))
    browser.find_element(By.ID, "code").send_keys(
        pyotp.TOTP(secret).at(datetime.now(timezone.utc) + timedelta(seconds=30)))
    browser.find_element(By.ID, "send-code").click()
    wait(browser).until(EC.url_contains("/account/orders"))
    assert boss in browser.find_element(By.ID, "who").text
    assert [e["message"] for e in browser.get_log("browser")
            if e["level"] in ("WARNING", "SEVERE") and "favicon" not in e["message"]
            and "401" not in e["message"]] == []
