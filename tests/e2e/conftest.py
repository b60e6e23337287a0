"""End-to-end fixtures.  Per backend (SQLite, PostgreSQL): a migrated database, the emulator
process, the gateway as gunicorn runs it (its own process, every logger at DEBUG into a file
the tests read), and a stand-in shop serving the shop's page and its return URLs.  One
headless Chromium (Debian's ``/usr/bin/chromium`` with ``/usr/bin/chromedriver``) for the
session.  Every test ends with a reconciliation of the emulator's ledger with the gateway's
records."""

from __future__ import annotations

import html
import os
import re
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from assist_ws.bootstrap import build
from assist_ws.gunicorn_config import command
from assist_ws.config import Settings
from assist_ws.db.migrate import upgrade
from assist_ws.domain.checkvalue import checkvalue
from assist_ws.domain.model import Order, Right
from assist_ws.services import admin

from ..support import (Emulator, MovableClock, Reconciler, create_pg_database, drop_pg_database,
                       free_port, require_postgres, wait_http)

MERCHANT = 100001   # RUB and USD, a center for each, two-stage, Checkvalue required
RUB_ONLY = 100002   # RUB and USD accepted, only a RUB center: USD converted at 90.50; one-stage
INACTIVE = 100003   # switched off
MEANS = 100004      # card and SBP offered; return URLs only in its settings (URL_RETURN)
LEGACY = 100005     # as MERCHANT (RUB only), and the unjoined Checkvalue form counts too
ASKING = 100006     # its pages ask for the buyer's names, e-mail (required) and mobile phone
ASKING_LOGIN, ASKING_PASSWORD = "asking_erp", "Asking1234"  # its user (monitor)
BONUS = 100007      # RUB, one-stage, bonus program: pay part with points, 1 point per 100
SECRET = "s3cret"
RATE = Decimal("90.50")
TIMEOUT_MINUTES = 20

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REQUIRE_BROWSER = os.environ.get("ASSIST_REQUIRE_BROWSER") == "1"
HERE = Path(__file__).parent


class Shop:
    """The shop's side: pages with a form posting to the gateway, and return URLs that
    record who came back with what."""

    def __init__(self):
        self.forms: dict[str, tuple[str, dict[str, str]]] = {}
        self.visits: list[tuple[str, dict[str, str]]] = []
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                parts = urlsplit(self.path)
                if parts.path.startswith("/form/"):
                    action, fields = shop.forms[parts.path[len("/form/"):]]
                    inputs = "".join(
                        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                        for k, v in fields.items())
                    body = (f'<!doctype html><meta charset="utf-8"><title>Shop</title>'
                            f'<form method="post" action="{html.escape(action)}" '
                            f'accept-charset="UTF-8">{inputs}'
                            f'<button id="shop-pay" type="submit">Pay</button></form>')
                else:
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    shop.visits.append((parts.path, query))
                    body = (f'<!doctype html><meta charset="utf-8"><title>Shop {parts.path}'
                            f'</title><h1 id="shop-page">{html.escape(parts.path)}</h1>')
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def form(self, action: str, fields: dict[str, str]) -> str:
        key = uuid.uuid4().hex
        self.forms[key] = (action, fields)
        return f"{self.url}/form/{key}"

    def stop(self) -> None:
        self.server.shutdown()


class Gateway:
    """``gunicorn assist_ws.wsgi:app`` in its own process, as ``assist-ws serve`` runs it
    (``gunicorn_config``), every logger at DEBUG into a file, unfiltered."""

    def __init__(self, database_url: str, tmp: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "gateway.log"
        self.env = dict(os.environ, ASSIST_DATABASE_URL=database_url,
                        ASSIST_SECRET_KEY="e2e-secret", ASSIST_VAR_DIR=str(tmp),
                        ASSIST_PROCESSING_TIMEOUT="10", ASSIST_PROCESSING_CONNECT_TIMEOUT="3",
                        ASSIST_DEMO_SHOP="1")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Gateway":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            command(bind=f"127.0.0.1:{self.port}", workers=2, threads=8,
                    config=str(HERE / "gunicorn_debug_logging.py")),
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_http(self.url + "/health", self.proc, timeout=40)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Site:
    """One backend's running world, and what tests do with it over plain HTTP."""

    gateway: Gateway
    emulator: Emulator
    shop: Shop
    container: object
    dialect: str
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return self.gateway.url

    # -- authorization requests -----------------------------------------------------------
    def fields(self, merchant: int = MERCHANT, amount: str = "100.00", currency: str = "RUB",
               sign: bool = True, **extra: str) -> dict[str, str]:
        """An authorization request (form fields); signed for MERCHANT unless told not."""
        fields = {"Merchant_ID": str(merchant), "OrderNumber": "E2E-" + uuid.uuid4().hex[:10],
                  "OrderAmount": amount, "OrderCurrency": currency,
                  "URL_RETURN_OK": f"{self.shop.url}/ok", "URL_RETURN_NO": f"{self.shop.url}/no"}
        fields.update(extra)
        if sign and merchant in (MERCHANT, LEGACY) and "Checkvalue" not in fields:
            fields["Checkvalue"] = sign_request(fields)
        return fields

    def order_cfm(self, fields: dict[str, str], method: str = "POST") -> requests.Response:
        if method == "GET":
            return self.http.get(self.url + "/pay/order.cfm", params=fields,
                                 allow_redirects=False, timeout=30)
        return self.http.post(self.url + "/pay/order.cfm", data=fields, allow_redirects=False,
                              timeout=30)

    def start(self, **kw) -> "PageSession":
        resp = self.order_cfm(self.fields(**kw))
        assert resp.status_code == 303, resp.text
        return self.open(resp.headers["Location"])

    def open(self, location: str) -> "PageSession":
        url = location if location.startswith("http") else self.url + location
        page = self.http.get(url, allow_redirects=False, timeout=30)
        sid = parse_qs(urlsplit(url).query)["CFSID"][0]
        return PageSession(self, sid, page)

    # -- looking inside -------------------------------------------------------------------
    def order_count(self) -> int:
        with self.container.uow.reader() as uow:
            return uow.session.scalar(select(func.count()).select_from(Order))

    def order(self, bill: str) -> Order:
        with self.container.uow.reader() as uow:
            return uow.orders.get(bill)

    def authorizations(self) -> list[dict]:
        return [a for c in self.emulator.ledger()["centers"].values()
                for a in c["authorizations"]]


@dataclass
class PageSession:
    site: Site
    sid: str
    page: requests.Response

    @property
    def bill(self) -> str:
        from assist_ws.web.page_session import PageSessions
        return PageSessions(b"e2e-secret").bill_number(self.sid)

    def csrf(self, html_text: str | None = None) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', html_text or self.page.text).group(1)

    def pay(self, number: str = "4111111111111111", month: str = "12", year: str = "2030",
            holder: str = "TEST HOLDER", cvc: str = "123", http: requests.Session | None = None,
            **extra) -> requests.Response:
        data = {"CFSID": self.sid, "step": "card", "csrf": self.csrf(), "CardNumber": number,
                "ExpireMonth": month, "ExpireYear": year, "Cardholder": holder, "CVC2": cvc}
        data.update(extra)
        return (http or self.site.http).post(self.site.url + "/pay/pay.cfm", data=data,
                                             allow_redirects=False, timeout=30)


def sign_request(fields: dict[str, str], secret: str = SECRET, legacy: bool = False) -> str:
    """The Checkvalue of a request over the fields it sends (``OrderCurrency`` only when
    sent)."""
    parts = [fields[name] for name in ("Merchant_ID", "OrderNumber", "OrderAmount",
                                       "OrderCurrency") if name in fields]
    return checkvalue(secret, ("" if legacy else ";").join(parts))


def _seed(container, emulator: Emulator) -> None:
    for name, cur, partial, days in admin.DEMO_CENTERS:
        admin.add_center(container.uow, name, f"{emulator.url}/{name}?wsdl", cur,
                         partial_reversal=partial, hold_days=days,
                         bonus_program=name in admin.DEMO_BONUS_CENTERS)
    admin.save_merchant(container.uow, MERCHANT, admin.MerchantSettings(
        name="Чайная лавка", currencies=("RUB", "USD"), two_stage=True, secret_word=SECRET,
        check_order_code=True, timeout_minutes=TIMEOUT_MINUTES,
        processing=(("RUB", "emulator-rub"), ("USD", "emulator-usd"))), create=True)
    admin.save_merchant(container.uow, LEGACY, admin.MerchantSettings(
        name="Old module shop", currencies=("RUB",), secret_word=SECRET, check_order_code=True,
        legacy_checkvalue=True, processing=(("RUB", "emulator-rub"),)), create=True)
    admin.save_merchant(container.uow, RUB_ONLY, admin.MerchantSettings(
        name="Rouble shop", currencies=("RUB", "USD"), processing=(("RUB", "emulator-rub"),)),
        create=True)
    admin.save_merchant(container.uow, INACTIVE, admin.MerchantSettings(
        name="Closed shop", currencies=("RUB",), processing=(("RUB", "emulator-rub"),)),
        create=True)
    admin.save_merchant(container.uow, MEANS, admin.MerchantSettings(
        name="Two means shop", currencies=("RUB",), processing=(("RUB", "emulator-rub"),)),
        create=True)
    admin.save_merchant(container.uow, ASKING, admin.MerchantSettings(
        name="Asking shop", currencies=("RUB",), secret_word=SECRET,
        processing=(("RUB", "emulator-rub"),),
        customer_fields="lastname,firstname,email,mobilephone", customer_required="email"),
        create=True)
    admin.add_user(container.uow, ASKING, ASKING_LOGIN, ASKING_PASSWORD, [Right.MONITOR])
    admin.save_merchant(container.uow, BONUS, admin.MerchantSettings(
        name="Bonus shop", currencies=("RUB",), processing=(("RUB", "emulator-rub"),),
        bonus_program=True, accrual_rate="1"), create=True)
    admin.set_rate(container.uow, container.clock, "USD", "RUB", str(RATE))
    with container.uow as uow:
        uow.merchants.get(INACTIVE).active = False
        means = uow.merchants.get(MEANS)
        means.payment_means = ["card", "sbp"]
        uow.commit()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql",
                                                               marks=pytest.mark.postgres)])
def world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e-" + request.param)
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/assist.db"
    else:
        require_postgres()
        url, pg_name = create_pg_database()
    upgrade(url)
    emulator = Emulator(str(tmp / "emulator.db")).start()
    container = build(Settings(database_url=url, secret_key="e2e-secret", var_dir=str(tmp)),
                      clock=MovableClock())
    _seed(container, emulator)
    shop = Shop()
    with container.uow as uow:  # the merchant's own return URLs, pointing at this shop
        uow.merchants.get(MEANS).url_return = f"{shop.url}/merchant-return"
        uow.commit()
    gateway = Gateway(url, tmp).start()
    site = Site(gateway, emulator, shop, container, request.param)
    yield site
    gateway.stop()
    emulator.stop()
    shop.stop()
    container.close()
    if pg_name:
        drop_pg_database(pg_name)


@pytest.fixture(scope="session")
def reconciler(world):
    return Reconciler(world.container, world.emulator)


@pytest.fixture
def site(world, reconciler):
    """The running world; after the test the emulator's ledger must reconcile with the
    gateway's records (those that changed since the previous reconciliation)."""
    yield world
    reconciler()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """One headless Chromium for the session (Debian's packages; never a downloaded one)."""
    problem = None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        problem = f"selenium is not installed ({exc})"
    if problem is None:
        missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
        if missing:
            problem = (f"{', '.join(missing)} missing: apt-get install chromium "
                       f"chromium-driver")
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(f"a browser is required here (ASSIST_REQUIRE_BROWSER=1): {problem}")
        pytest.skip(problem)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to see CSP reports
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1200,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium, site):
    chromium.delete_all_cookies()
    chromium.get_log("browser")  # what earlier tests left in the console
    yield chromium
    chromium.get("about:blank")
