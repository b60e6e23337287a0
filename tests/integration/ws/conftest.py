"""The merchant web services over real HTTP: the gateway's WSGI application (Flask with the
SOAP face in front) served by a threaded server for each backend, with the users the tests
need, and clients generated from the served WSDLs.  Every JSON reply the server gives is
checked against the committed OpenAPI document; a test whose replies break it fails."""

from __future__ import annotations

import dataclasses
import random
import threading
import uuid
import warnings
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from assist_ws.domain.cards import parse_card
from assist_ws.domain.model import Right
from assist_ws.jobs.notifications import run_once
from assist_ws.notify import HttpNotificationSender
from assist_ws.services import admin
from assist_ws.services.notifications.outbox import NotifySettings
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.wsgi import create_app

from ...merchant_endpoint import MerchantEndpoint
from ...openapi_check import Validating
from ..conftest import MERCHANT, RUB_ONLY

PASSWORD = "Passw0rd1"                       # erp_user of MERCHANT: every right
USERS = {
    "monitor_only": (MERCHANT, "Monitor123", [Right.MONITOR]),
    "confirm_only": (MERCHANT, "Confirm123", [Right.CONFIRM]),
    "cancel_only": (MERCHANT, "Cancel1234", [Right.CANCEL]),
    "other_erp": (RUB_ONLY, "Other12345", list(Right)),
}
PATHS = {"orderstate": "/orderstate/orderstate", "orderresult": "/orderresult/orderresult",
         "charge": "/charge/charge", "cancel": "/cancel/cancel",
         "wscancel": "/cancel/wscancel", "resultbydate": "/resultbydate/resultbydate",
         "replay": "/notification/replay", "undelivered": "/notification/undelivered"}


class Server:
    def __init__(self, container):
        self.container = container
        self.validating = Validating(create_app(container))
        self.httpd = make_server("127.0.0.1", 0, self.validating, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def cfm(self, name: str) -> str:
        return self.url + PATHS[name] + ".cfm"

    def wsdl(self, name: str) -> str:
        return self.url + PATHS[name] + ".wsdl"


@pytest.fixture(scope="session")
def server(backend):
    container = backend[0]
    for login, (merchant, password, rights) in USERS.items():
        admin.add_user(container.uow, merchant, login, password, rights, replace=True)
    with Server(container) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _json_replies_follow_the_openapi_document(request):
    """Fails a test that got a JSON reply the OpenAPI document does not allow."""
    yield
    if "server" in request.fixturenames:
        problems = request.getfixturevalue("server").validating.take()
        assert not problems, problems


@pytest.fixture(scope="session")
def zeep_clients(server):
    import zeep
    from zeep.transports import Transport
    transport = Transport(timeout=10, operation_timeout=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: zeep.Client(server.wsdl(name), transport=transport) for name in PATHS}


def creds(login: str = "erp_user") -> dict:
    if login == "erp_user":
        return {"merchant_id": MERCHANT, "login": login, "password": PASSWORD}
    merchant, password, _ = USERS[login]
    return {"merchant_id": merchant, "login": login, "password": password}


def paid_order(gw, amount="100.00", *, delay=False, card="4111111111111111", number=None,
               merchant=MERCHANT):
    """A new order paid by card: (order number, billnumber)."""
    number = number or "WS-" + uuid.uuid4().hex[:12]
    order = create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(merchant), number, amount, "RUB", delay="1" if delay else "0"))
    gw.pay_by_card(order.bill_number, parse_card(card, "12", "2030", "TEST HOLDER", "123",
                                                 gw.clock.now()))
    return number, order.bill_number


# -- merchants whose results are notified (the notification services) ----------------------
NOTIFY_SECRET = "notify-s3cret"
#: login -> (password, rights, merchant "a" or "b")
NOTIFY_USERS = {"notify_erp": ("Notify1234", [Right.MONITOR], "a"),
                "notify_confirm": ("Confirm123", [Right.CONFIRM], "a"),
                "other_notify": ("Other12345", [Right.MONITOR], "b")}


@dataclass
class Shops:
    """Two merchants notified at ``endpoint``, ``a`` and ``b``, with the users of
    ``NOTIFY_USERS``, and ``deliver()``: one pass of the notification worker, allowed to
    reach the endpoint's port on loopback."""

    a: int
    b: int
    endpoint: MerchantEndpoint
    worker: object

    def creds(self, login: str = "notify_erp") -> dict:
        password, _rights, merchant = NOTIFY_USERS[login]
        return {"merchant_id": self.a if merchant == "a" else self.b, "login": login,
                "password": password}

    def deliver(self) -> int:
        return run_once(self.worker)


@pytest.fixture
def shops(gw):
    with gw.uow as uow:  # what other tests left pending must not count in this test's tries
        for n in uow.notifications.find(None, states=["pending"], limit=100000):
            n.give_up(gw.clock.now(), "left by another test")
        uow.commit()
    endpoint = MerchantEndpoint().start()
    worker = dataclasses.replace(gw, notifier=HttpNotificationSender(
        connect_timeout=1, timeout=3, allowed_ports=None, allow_private=True))
    ids = []
    for name in ("Notified shop A", "Notified shop B"):
        mid = random.randint(300000, 2_000_000_000)
        admin.save_merchant(gw.uow, mid, admin.MerchantSettings(
            name=name, currencies=("RUB",), two_stage=True, secret_word=NOTIFY_SECRET,
            processing=(("RUB", "emulator-rub"),),
            notify=NotifySettings(url=endpoint.url(), results="pay,confirm,cancel")),
            create=True, check_notify_url=worker.notifier.check_url)
        ids.append(mid)
    for login, (password, rights, merchant) in NOTIFY_USERS.items():
        admin.add_user(gw.uow, ids[0 if merchant == "a" else 1], login, password, rights,
                       replace=True)
    yield Shops(ids[0], ids[1], endpoint, worker)
    endpoint.stop()
    with gw.uow as uow:  # nothing of the test stays for another test's worker to send
        for mid in ids:
            for n in uow.notifications.find(mid, states=["pending"], limit=100000):
                n.give_up(gw.clock.now(), "end of test")
        uow.commit()
