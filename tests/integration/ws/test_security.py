"""Hostile and careless requests: XML with a DTD, external entities or entity expansion is
refused quickly with a fault and reads nothing; repeated failed logins slow down, then refuse,
the client that fails -- not the merchant's ERP calling from another address -- and unknown
logins are answered as known ones; Assist-style unqualified SOAP bodies are accepted."""

from __future__ import annotations

import http.client
import os
import time
from urllib.parse import urlencode

import pytest
import requests
from lxml import etree

from assist_ws.domain.model import Right
from assist_ws.domain.records import LoginKey
from assist_ws.services import admin
from assist_ws.soap.wire import NS

from ..conftest import MERCHANT
from .conftest import PASSWORD, PATHS, paid_order

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def envelope(inner: str, prolog: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<soapenv:Envelope '
            f'xmlns:soapenv="{SOAP_ENV}" xmlns:ws="{NS}"><soapenv:Body>{inner}</soapenv:Body>'
            f'</soapenv:Envelope>').encode()


def soap(server, name: str, body: bytes, timeout: float = 30) -> requests.Response:
    return requests.post(server.cfm(name), data=body, timeout=timeout,
                         headers={"Content-Type": "text/xml; charset=utf-8",
                                  "SOAPAction": f'"{NS}{name}"'})


def fault(r: requests.Response) -> tuple[int, int, str]:
    assert r.status_code == 500, r.text
    root = etree.fromstring(r.content)
    detail = root.find(f".//{{{NS}}}AssistFault")
    return (int(detail.findtext(f"{{{NS}}}firstcode")),
            int(detail.findtext(f"{{{NS}}}secondcode")), detail.findtext(f"{{{NS}}}message"))


def orderstate_body(number: str, password: str = PASSWORD, entity: str = "") -> str:
    return (f"<ws:orderstate><ws:ordernumber>{number}{entity}</ws:ordernumber>"
            f"<ws:merchant_id>{MERCHANT}</ws:merchant_id><ws:login>erp_user</ws:login>"
            f"<ws:password>{password}</ws:password></ws:orderstate>")


@pytest.fixture
def fifo(tmp_path):
    """A named pipe: anything that opened it for reading would block until a writer came."""
    path = tmp_path / "secret"
    os.mkfifo(path)
    return path


def test_external_entity_is_refused_and_nothing_is_read(gw, server, fifo):
    prolog = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{fifo}">]>'
    started = time.monotonic()
    r = soap(server, "orderstate", envelope(orderstate_body("A", entity="&xxe;"), prolog),
             timeout=5)
    assert time.monotonic() - started < 2
    assert fault(r)[:2] == (4, 215)


def test_entity_expansion_is_refused_quickly(gw, server):
    lol = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    prolog = f'<!DOCTYPE x [<!ENTITY l0 "lol">{lol}]>'
    started = time.monotonic()
    r = soap(server, "orderstate", envelope(orderstate_body("A", entity="&l9;"), prolog),
             timeout=5)
    assert time.monotonic() - started < 2
    code = fault(r)
    assert code[:2] == (4, 215) and "DTD" in code[2]


def test_dtd_alone_and_other_encodings_are_refused(gw, server, fifo):
    r = soap(server, "charge", envelope("<ws:charge/>", f'<!DOCTYPE x SYSTEM "file://{fifo}">'),
             timeout=5)
    assert fault(r)[:2] == (4, 215)
    utf16 = envelope(orderstate_body("A")).decode().replace("UTF-8", "UTF-16").encode("utf-16")
    assert fault(soap(server, "orderstate", utf16, timeout=5))[:2] == (4, 215)
    utf7 = envelope(orderstate_body("A")).replace(b"UTF-8", b"UTF-7")
    assert fault(soap(server, "orderstate", utf7, timeout=5))[:2] == (4, 215)


def test_a_body_spyne_cannot_read_gets_a_fault_with_codes(gw, server):
    code = fault(soap(server, "orderstate", b"<not-xml"))
    assert code[0] == 4
    code = fault(soap(server, "orderstate", envelope(
        "<ws:orderstate><ws:merchant_id>abc</ws:merchant_id></ws:orderstate>")))
    assert code[0] == 4
    code = fault(soap(server, "orderstate", envelope(
        f"<ws:orderstate><ws:merchant_id>{MERCHANT}</ws:merchant_id></ws:orderstate>")))
    assert code[:2] == (3, 101)


def test_assist_style_unqualified_body_is_accepted(gw, server):
    number, bill = paid_order(gw, "5.00")
    body = (f"<ws:orderstate><ordernumber>{number}</ordernumber><Merchant_ID>{MERCHANT}"
            f"</Merchant_ID><Login>erp_user</Login><Password>{PASSWORD}</Password>"
            f"</ws:orderstate>")
    r = soap(server, "orderstate", envelope(body))
    assert r.status_code == 200, r.text
    assert etree.fromstring(r.content).findtext(f".//{{{NS}}}billnumber") == bill


def from_address(server, address: str, name: str, body: bytes,
                 content_type: str) -> tuple[int, bytes]:
    """POST ``body`` to a service from ``address`` (any of 127.0.0.0/8 reaches the server
    listening on 127.0.0.1): the server sees it as the client's address."""
    host, port = server.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30,
                                      source_address=(address, 0))
    try:
        conn.request("POST", PATHS[name] + ".cfm", body=body,
                     headers={"Content-Type": content_type})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def soap_from(server, address: str, login: str, number: str, password: str):
    body = orderstate_body(number, password).replace("erp_user", login)
    status, content = from_address(server, address, "orderstate", envelope(body),
                                   "text/xml; charset=utf-8")
    if status == 200:
        return 0, 0
    detail = etree.fromstring(content).find(f".//{{{NS}}}AssistFault")
    return (int(detail.findtext(f"{{{NS}}}firstcode")),
            int(detail.findtext(f"{{{NS}}}secondcode")))


def post_from(server, address: str, login: str, password: str):
    form = urlencode({"Merchant_ID": MERCHANT, "Login": login, "Password": password,
                      "Format": "3"}).encode()
    status, content = from_address(server, address, "resultbydate", form,
                                   "application/x-www-form-urlencoded")
    assert status == 200
    root = etree.fromstring(content)
    return int(root.get("firstcode")), int(root.get("secondcode"))


def test_failed_logins_slow_down_then_refuse_that_client_not_the_merchant(gw, server):
    login, good = "lock_me", "LockMe1234"
    admin.add_user(gw.uow, MERCHANT, login, good, [Right.MONITOR], replace=True)
    number, _ = paid_order(gw, "6.00")
    attacker, erp, cabinet = "127.0.0.11", "127.0.0.12", "127.0.0.13"

    def call(password, address=attacker):
        return soap_from(server, address, login, number, password)

    for _ in range(4):
        assert call("Wrong1234") == (7, 141)
    assert call("Wrong1234") == (7, 3)                     # the 5th: slowed down
    assert call(good) == (7, 3)                            # even the right password waits
    assert call(good, erp) == (0, 0)                       # but not the merchant's ERP
    assert post_from(server, erp, login, good) == (0, 0)   # on either face
    gw.clock.move(seconds=2)
    assert call(good) == (0, 0)                            # and then gets in; count reset
    for _ in range(9):
        call("Wrong1234")
        gw.clock.move(seconds=60)                          # waiting out each slow-down
    assert call("Wrong1234") == (7, 3)                     # the 10th in a row: refused
    gw.clock.move(minutes=10)
    assert call(good) == (7, 3)
    assert post_from(server, attacker, login, good) == (7, 3)
    assert call(good, erp) == (0, 0)
    assert post_from(server, cabinet, login, good) == (0, 0)
    gw.clock.move(minutes=6)
    assert call(good) == (0, 0)


def test_the_post_face_counts_its_failures_by_client_too(gw, server):
    address = "127.0.0.14"
    for _ in range(4):
        assert post_from(server, address, "erp_user", "Wrong1234") == (7, 141)
    assert post_from(server, address, "erp_user", "Wrong1234") == (7, 3)
    assert post_from(server, "127.0.0.15", "erp_user", PASSWORD) == (0, 0)
    with gw.uow.queries() as q:
        assert q.login_failures.state(LoginKey(address, MERCHANT, "erp_user")).failures == 5


def test_an_unknown_login_is_answered_as_a_known_one(gw, server):
    number, _ = paid_order(gw, "6.50")
    answers = {}
    for login, address in (("erp_user", "127.0.0.16"), ("no_such_user", "127.0.0.17")):
        answers[login] = [soap_from(server, address, login, number, "Wrong1234")
                          for _ in range(6)]
        with gw.uow.queries() as q:
            assert q.login_failures.state(LoginKey(address, MERCHANT, login)).failures == 5
    assert answers["erp_user"] == answers["no_such_user"] == [(7, 141)] * 4 + [(7, 3)] * 2


def test_a_changed_password_is_not_served_from_the_success_cache(gw, server):
    login = "rotating"
    admin.add_user(gw.uow, MERCHANT, login, "First12345", [Right.MONITOR], replace=True)
    number, _ = paid_order(gw, "7.00")

    def call(password):
        body = orderstate_body(number, password).replace("erp_user", login)
        return soap(server, "orderstate", envelope(body))

    assert call("First12345").status_code == 200
    admin.add_user(gw.uow, MERCHANT, login, "Second1234", [Right.MONITOR], replace=True)
    assert fault(call("First12345"))[:2] == (7, 141)
    assert call("Second1234").status_code == 200
    admin.add_user(gw.uow, MERCHANT, login, "Second1234", [Right.CONFIRM], replace=True)
    assert fault(call("Second1234"))[:2] == (8, 350)
