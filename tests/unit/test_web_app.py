"""The payment pages' Flask edge with a stub container: what happens around the use cases
(HEAD requests, failures inside, the card form's checks before anything is paid)."""

from types import SimpleNamespace

import pytest
from flask import Flask

from assist_ws.web import pay
from assist_ws.web.page_session import PageSessions

from .fakes import MovableClock


class Stub:
    def __init__(self):
        self.settings = SimpleNamespace(secret=lambda: b"k", demo_shop=False, public_url="")
        self.clock = MovableClock()
        self.calls = []

    def create_order(self, request):
        self.calls.append(("create_order", request))
        raise AssertionError("not expected here")

    def open_checkout(self, bill):
        self.calls.append(("open_checkout", bill))
        raise RuntimeError("the database went away")

    def pay_by_card(self, bill, card, **kw):
        self.calls.append(("pay_by_card", bill))
        raise AssertionError("not expected here")


@pytest.fixture
def app():
    stub = Stub()
    flask_app = Flask("test")
    flask_app.config["CONTAINER"] = stub
    pay.register(flask_app, stub)
    return flask_app, stub


def test_head_of_order_cfm_creates_nothing(app):
    flask_app, stub = app
    resp = flask_app.test_client().head("/pay/order.cfm?Merchant_ID=1&OrderNumber=1&"
                                        "OrderAmount=1.00")
    assert resp.status_code == 204 and stub.calls == []


def test_a_failure_inside_gets_a_page_not_a_traceback(app):
    flask_app, stub = app
    sid = PageSessions(b"k").new("1234567890123456")
    resp = flask_app.test_client().get(f"/pay/pay.cfm?CFSID={sid}&lang=EN")
    assert resp.status_code == 500
    text = resp.get_data(as_text=True)
    assert "No money was taken" in text and "Traceback" not in text
    assert "database" not in text
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


def test_bad_card_input_never_reaches_the_payment(app):
    flask_app, stub = app
    sessions = PageSessions(b"k")
    sid = sessions.new("1234567890123456")
    resp = flask_app.test_client().post("/pay/pay.cfm", data={
        "CFSID": sid, "step": "card", "csrf": sessions.csrf(sid, "card"),
        "CardNumber": "1234", "ExpireMonth": "13", "ExpireYear": "2030", "Cardholder": "A B",
        "CVC2": "1"})
    # The page with the messages needs the order: here that fails, and nothing was paid.
    assert resp.status_code == 500
    assert [c[0] for c in stub.calls] == ["open_checkout"]
