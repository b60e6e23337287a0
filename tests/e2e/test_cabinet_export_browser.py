"""The cabinet's export and reports in a real browser (headless Chromium) against the gateway
running as its own process, on SQLite and PostgreSQL: the export form under the monitor's
filter downloads a CSV (read from the browser's download directory) and an XLSX (read back
with openpyxl); a user without the right has no form; the reports page shows the day's
figures as a table and an SVG chart, with no script and nothing its CSP refuses."""

from __future__ import annotations

import csv
import io
import time
import uuid
from pathlib import Path

import openpyxl
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from assist_ws.domain.model import Right
from assist_ws.services import replies

from .test_cabinet_browser import new_user, paid, sign_in, wait


def downloaded(folder: Path, suffix: str, seconds: float = 30) -> Path:
    """The file the browser finished downloading into ``folder``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == suffix]
        if done and not any(p.suffix == ".crdownload" for p in folder.iterdir()):
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"nothing downloaded into {folder}: {list(folder.iterdir())}")


def test_export_the_filtered_orders_as_csv_and_xlsx(browser, site, tmp_path):
    sign_in(browser, site, new_user(site, [Right.MONITOR, Right.EXPORT]))
    wait(browser).until(EC.url_contains("/account/orders"))
    tag = "EXP" + uuid.uuid4().hex[:8]
    bills = [paid(site, f"1{i}.00", number=f"{tag}-{i}") for i in range(3)]
    browser.get(f"{site.url}/account/orders?lang=EN&number={tag}-%25")
    form = browser.find_element(By.ID, "export")
    assert form.find_element(By.CSS_SELECTOR, "input[name=number]").get_attribute(
        "value") == f"{tag}-%"
    for fmt, suffix in (("csv", ".csv"), ("xlsx", ".xlsx")):
        folder = tmp_path / fmt
        folder.mkdir()
        browser.execute_cdp_cmd("Page.setDownloadBehavior",
                                {"behavior": "allow", "downloadPath": str(folder)})
        Select(browser.find_element(By.ID, "x-format")).select_by_value(fmt)
        browser.find_element(By.ID, "export-button").click()
        path = downloaded(folder, suffix)
        if fmt == "csv":
            body = path.read_bytes()
            assert body.startswith(b"\xef\xbb\xbf")
            header, *lines = csv.reader(io.StringIO(body[3:].decode(), newline=""),
                                        delimiter=";")
        else:
            book = openpyxl.load_workbook(path, read_only=True)
            header, *lines = [[("" if v is None else str(v)) for v in row]
                              for row in book.worksheets[0].iter_rows(values_only=True)]
            book.close()
        assert tuple(header) == replies.RESULT_LINE_FIELDS
        assert sorted(line[1] for line in lines) == sorted(f"{b}.1" for b in bills)
        assert {line[0] for line in lines} == {f"{tag}-{i}" for i in range(3)}
    assert browser.current_url.endswith(f"number={tag}-%25")  # still on the monitor


def test_a_user_without_export_has_no_form_and_is_refused(browser, site):
    sign_in(browser, site, new_user(site, [Right.MONITOR]))
    wait(browser).until(EC.url_contains("/account/orders"))
    assert not browser.find_elements(By.ID, "export")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    r = requests.get(f"{site.url}/account/export?format=csv", cookies=cookies, timeout=30)
    assert r.status_code == 403 and "text/html" in r.headers["Content-Type"]


def test_the_reports_page_shows_the_days_figures_and_chart(browser, site):
    sign_in(browser, site, new_user(site, [Right.MONITOR, Right.EXPORT]))
    wait(browser).until(EC.url_contains("/account/orders"))
    paid(site, "25.00")
    browser.get(site.url + "/account/orders?lang=EN")
    browser.find_element(By.ID, "reports-link").click()
    wait(browser).until(EC.url_contains("/account/reports"))
    browser.find_element(By.ID, "show-report").click()
    wait(browser).until(EC.url_contains("from="))
    rows = browser.find_elements(By.CSS_SELECTOR, "#report tr.report-row")
    assert rows and any(r.get_attribute("data-currency") == "RUB" for r in rows)
    chart = browser.find_element(By.ID, "chart-RUB")
    assert chart.is_displayed() and chart.size["height"] > 100
    bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar")
    assert bars and all(float(b.get_attribute("height")) > 0 for b in bars)
    assert browser.find_elements(By.CSS_SELECTOR, "a.registry")
    assert not browser.find_elements(By.TAG_NAME, "script")
    assert [e["message"] for e in browser.get_log("browser")
            if e["level"] in ("WARNING", "SEVERE") and "favicon" not in e["message"]] == []
