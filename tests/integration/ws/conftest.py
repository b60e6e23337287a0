"""The merchant web services over real HTTP: the gateway's WSGI application (Flask with the
SOAP face in front) served by a threaded server for each backend, with the users the tests
need, and clients generated from the served WSDLs."""

from __future__ import annotations

import threading
import uuid
import warnings

import pytest
from werkzeug.serving import make_server

from assist_ws.domain.cards import parse_card
from assist_ws.domain.model import Right
from assist_ws.services import admin
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.wsgi import create_app

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
         "wscancel": "/cancel/wscancel", "resultbydate": "/resultbydate/resultbydate"}


class Server:
    def __init__(self, container):
        self.container = container
        self.httpd = make_server("127.0.0.1", 0, create_app(container), threaded=True)
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
