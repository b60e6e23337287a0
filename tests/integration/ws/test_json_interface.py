"""Assist's JSON interface against the running server: each service asked by a form
(``Format=5``) and by a JSON body answers in Assist's shape (the service's key, ``customer``,
``checkdata``, ``operations``, every value a string); each kind of refusal comes with its
HTTP status and ``firstcode``/``secondcode``/``message``; every reply is checked against the
OpenAPI document (``openapi_check``, here and in every test of this folder), which is served
at ``/openapi.json`` exactly as committed."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from openapi_spec_validator import validate

from assist_ws.domain.checkvalue import result_checkvalue
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.web.openapi import document_bytes

from ...openapi_check import DOC, DOC_PATH, assert_valid, check
from ..conftest import MERCHANT
from .conftest import PASSWORD, USERS, paid_order

AUTH = {"Merchant_ID": str(MERCHANT), "Login": "erp_user", "Password": PASSWORD}
KINDS = ("form", "json")


def call(server, name: str, kind: str, auth=AUTH, status: int = 200, **fields):
    """The service's reply (checked against the document) to a form with ``Format=5`` or to
    a JSON body."""
    data = dict(auth, **fields)
    if kind == "form":
        r = requests.post(server.cfm(name), data=dict(data, Format="5"), timeout=30)
    else:
        r = requests.post(server.cfm(name), json=data, timeout=30)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert_valid(server.cfm(name).removeprefix(server.url), r.status_code, r.content)
    return r.json()


def refusal(server, name: str, kind: str, status: int, codes: tuple[int, int], auth=AUTH,
            **fields) -> str:
    doc = call(server, name, kind, auth, status, **fields)
    assert set(doc) == {"firstcode", "secondcode", "message"}
    assert (doc["firstcode"], doc["secondcode"]) == codes and doc["message"]
    return doc["message"]


def user(login: str) -> dict:
    merchant, password, _ = USERS[login]
    return {"Merchant_ID": str(merchant), "Login": login, "Password": password}


def all_strings(value) -> bool:
    if isinstance(value, dict):
        return all(all_strings(v) for v in value.values())
    if isinstance(value, list):
        return all(all_strings(v) for v in value)
    return isinstance(value, str)


# -- the document ----------------------------------------------------------------------------
def test_the_document_is_served_as_committed_and_is_valid_openapi(server):
    r = requests.get(server.url + "/openapi.json", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.content == DOC_PATH.read_bytes() == document_bytes(), \
        "wsdl/openapi.json differs from the served document: run scripts/regen-openapi"
    validate(json.loads(r.content))
    assert DOC["openapi"].startswith("3.")
    for path in ("/orderstate/orderstate.cfm", "/orderresult/orderresult.cfm",
                 "/charge/charge.cfm", "/cancel/cancel.cfm", "/cancel/wscancel.cfm",
                 "/resultbydate/resultbydate.cfm", "/notification/replay.cfm",
                 "/notification/undelivered.cfm", "/pay/payrequest.cfm"):
        assert path in DOC["paths"]


def test_the_check_refuses_what_the_document_does_not_allow():
    ok = json.dumps({"firstcode": 4, "secondcode": 143, "message": "x"}).encode()
    assert check("/charge/charge.cfm", 400, ok) == []
    assert check("/charge/charge.cfm", 418, ok)  # a status not declared
    assert check("/charge/charge.cfm", 200, ok)  # a refusal where the reply belongs
    assert check("/orderstate/orderstate.cfm", 200, json.dumps(
        {"orderstate": {"ordernumber": 1}}).encode())  # a number, fields missing


# -- the services ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_orderstate_answers_the_latest_attempt(gw, server, kind):
    number = "JS-" + uuid.uuid4().hex[:12]
    first = create_order(gw.uow, gw.clock, AuthorizationRequest(str(MERCHANT), number, "12.00",
                                                                "RUB"))
    _, bill = paid_order(gw, "12.00", number=number)
    assert first.bill_number != bill
    doc = call(server, "orderstate", kind, Ordernumber=number)
    assert list(doc) == ["orderstate"] and all_strings(doc)
    state = doc["orderstate"]
    assert (state["ordernumber"], state["billnumber"], state["orderamount"],
            state["ordercurrency"], state["orderstate"]) == (number, bill, "12.00", "RUB",
                                                            "Approved")
    check_ = state["checkdata"]
    assert check_["checkvalue"] == result_checkvalue("s3cret", MERCHANT, number, "12.00", "RUB",
                                                     "Approved")
    assert set(check_) == {"checkvalue", "packetdate", "signature"}
    # Both attempts stay reachable through the order result.
    orders = call(server, "orderresult", kind, Ordernumber=number)["orderresult"]["orders"]
    assert [o["billnumber"] for o in orders] == [first.bill_number, bill]


@pytest.mark.parametrize("kind", KINDS)
def test_orderresult_by_order_number_and_by_billnumber(gw, server, kind):
    number, bill = paid_order(gw, "60.00", delay=True)
    gw.confirm(MERCHANT, bill)
    by_number = call(server, "orderresult", kind, Ordernumber=number)
    assert list(by_number) == ["orderresult"] and all_strings(by_number)
    [order] = by_number["orderresult"]["orders"]
    assert (order["billnumber"], order["ordernumber"], order["orderstate"],
            order["orderamount"], order["testmode"]) == (bill, number, "Approved", "60.00", "0")
    assert set(order["customer"]) == {"firstname", "lastname", "middlename", "email",
                                      "ipaddress"}
    assert order["checkdata"]["checkvalue"] == result_checkvalue(
        "s3cret", MERCHANT, number, "60.00", "RUB", "Approved")
    pay, confirm = order["operations"]
    assert (pay["billnumber"], pay["operationtype"], pay["responsecode"], pay["meannumber"],
            pay["amount"]) == (f"{bill}.1", "100", "AS000", "411111******1111", "60.00")
    assert (confirm["billnumber"], confirm["operationtype"]) == (f"{bill}.2", "200")
    # Assist's clients ask by Billnumber (short or extended), whenever the order was made.
    assert call(server, "orderresult", kind, Billnumber=bill) == by_number
    assert call(server, "orderresult", kind, Billnumber=f"{bill}.2",
                StartYear="2001", StartMonth="1", StartDay="1", EndYear="2001", EndMonth="1",
                EndDay="2") == by_number


@pytest.mark.parametrize("kind", KINDS)
def test_charge_and_cancel(gw, server, kind):
    number, bill = paid_order(gw, "45.00", delay=True)
    doc = call(server, "charge", kind, Billnumber=bill, Amount="40.00", Currency="RUB")
    assert list(doc) == ["charge"] and all_strings(doc)
    charge = doc["charge"]
    assert (charge["billnumber"], charge["ordernumber"], charge["operationtype"],
            charge["amount"], charge["orderamount"], charge["responsecode"],
            charge["orderstate"]) == (f"{bill}.2", number, "200", "40.00", "45.00", "AS000",
                                      "PartialDelayed")
    assert set(charge["customer"]) == {"firstname", "lastname", "middlename", "email",
                                       "ipaddress"}
    doc = call(server, "cancel", kind, Billnumber=bill)
    assert list(doc) == ["cancel"] and all_strings(doc)
    assert (doc["cancel"]["operationtype"], doc["cancel"]["orderstate"]) == ("300", "Canceled")


@pytest.mark.parametrize("kind", KINDS)
def test_wscancel(gw, server, kind):
    number, bill = paid_order(gw, "30.00")
    doc = call(server, "wscancel", kind, Billnumber=bill, Amount="10.00", Currency="RUB",
               Externalrefundid="js-" + uuid.uuid4().hex[:16])
    assert list(doc) == ["wscancel"] and all_strings(doc)
    order, checkdata = doc["wscancel"]["order"], doc["wscancel"]["checkdata"]
    assert (order["billnumber"], order["ordernumber"], order["orderstate"]) == (
        bill, number, "PartialCanceled")
    [op] = order["operations"]
    assert (op["billnumber"], op["operationtype"], op["operationstate"], op["amount"]) == (
        f"{bill}.2", "300", "Success", "10.00")
    assert (op["meantypename"], op["meannumber"]) == ("VISA", "411111******1111")
    assert checkdata["checkvalue"] == result_checkvalue("s3cret", MERCHANT, number, "30.00",
                                                        "RUB", "PartialCanceled")
    gw.cancel(MERCHANT, bill)


@pytest.mark.parametrize("kind", KINDS)
def test_resultbydate(gw, server, kind):
    number, bill = paid_order(gw, "17.00")
    doc = call(server, "resultbydate", kind)
    assert list(doc) == ["resultbydate"] and all_strings(doc)
    [row] = [r for r in doc["resultbydate"]["operations"] if r["billnumber"] == f"{bill}.1"]
    assert (row["ordernumber"], row["operationtype"], row["amount"]) == (number, "100", "17.00")


@pytest.mark.parametrize("kind", KINDS)
def test_undelivered(gw, server, kind):
    doc = call(server, "undelivered", kind)
    assert list(doc) == ["undelivered"] and isinstance(doc["undelivered"]["notifications"],
                                                       list)


# -- refusals --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_refusal_has_its_status(gw, server, kind):
    number, bill = paid_order(gw, "20.00", delay=True)
    services = {"orderstate": {"Ordernumber": number}, "orderresult": {"Ordernumber": number},
                "charge": {"Billnumber": bill}, "cancel": {"Billnumber": bill},
                "wscancel": {"Billnumber": bill}, "resultbydate": {},
                "replay": {"Billnumber": bill}, "undelivered": {}}
    for name, fields in services.items():
        # 401: authentication failed (a login of its own each time: failures slow a login)
        wrong = dict(AUTH, Login="nobody" + uuid.uuid4().hex[:8], Password="Wrong12345")
        refusal(server, name, kind, 401, (7, 141), wrong, **fields)
    # 400: a parameter missing, malformed or refused
    bad_window = {"StartYear": "2030", "StartMonth": "2", "StartDay": "30"}
    for name, codes, fields in (
            ("orderstate", (3, 107), {}),
            ("orderresult", (4, 143), {"Billnumber": "12ab"}),
            ("charge", (4, 143), {"Billnumber": "12ab"}),
            ("cancel", (5, 308), {"Billnumber": bill, "CancelReason": "9"}),
            ("wscancel", (4, 108), {"Billnumber": bill, "Amount": "1x", "Currency": "RUB"}),
            ("resultbydate", (5, 131), {"Success": "7"}),
            ("replay", (3, 0), {}),
            ("undelivered", (4, 129), bad_window)):
        refusal(server, name, kind, 400, codes, **fields)
    # 403: the user lacks the service's right
    for name, login in (("orderstate", "cancel_only"), ("orderresult", "confirm_only"),
                        ("charge", "monitor_only"), ("cancel", "confirm_only"),
                        ("wscancel", "confirm_only"), ("resultbydate", "cancel_only"),
                        ("replay", "cancel_only"), ("undelivered", "confirm_only")):
        refusal(server, name, kind, 403, (8, 350), user(login), **services[name])
    # 404: nothing found -- another merchant's order is not found either
    refusal(server, "orderstate", kind, 404, (10, 201), Ordernumber="NO-" + number)
    refusal(server, "orderresult", kind, 404, (10, 201), Billnumber="1" * 16)
    for name in ("orderresult", "charge", "cancel", "wscancel"):
        refusal(server, name, kind, 404, (10, 201), user("other_erp"), Billnumber=bill)
    gw.cancel(MERCHANT, bill)


@pytest.mark.parametrize("kind", KINDS)
def test_replay(gw, server, shops, kind):
    number, bill = paid_order(gw, "64.00", merchant=shops.a)
    assert shops.deliver() == 1
    c = shops.creds()
    auth = {"Merchant_ID": str(c["merchant_id"]), "Login": c["login"],
            "Password": c["password"]}
    doc = call(server, "replay", kind, auth, Billnumber=bill)
    assert list(doc) == ["replay"] and all_strings(doc)
    [row] = doc["replay"]["notifications"]
    assert (row["billnumber"], row["ordernumber"], row["state"]) == (bill, number, "pending")
    assert shops.deliver() == 1
    _, theirs = paid_order(gw, "65.00", merchant=shops.b)
    refusal(server, "replay", kind, 404, (10, 201), auth, Billnumber=theirs)
    assert shops.deliver() == 1  # shop B's own notification, not replayed


def test_unreadable_json_and_a_password_in_the_url(gw, server):
    r = requests.post(server.cfm("charge"), data=b"{not json",
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400 and r.json()["firstcode"] == 4
    r = requests.post(server.cfm("orderstate") + "?Password=" + PASSWORD,
                      json=dict(AUTH, Ordernumber="X"), timeout=30)
    assert r.status_code == 403 and (r.json()["firstcode"], r.json()["secondcode"]) == (19, 102)


def test_csv_and_xml_refusals_keep_http_200(gw, server):
    for fmt in ("1", "3"):
        r = requests.post(server.cfm("orderstate"), data=dict(
            AUTH, Password="Wrong12345", Ordernumber="X", Format=fmt), timeout=30)
        assert r.status_code == 200 and "141" in r.text


# -- payrequest.cfm --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_payrequest_answers_url_in_both_cases(gw, server, kind):
    fields = {"Merchant_ID": str(MERCHANT), "OrderNumber": "PR-" + uuid.uuid4().hex[:10],
              "OrderAmount": "15.00", "OrderCurrency": "RUB"}
    send = {"json": fields} if kind == "json" else {"data": fields}
    r = requests.post(server.url + "/pay/payrequest.cfm", timeout=30, **send)
    assert r.status_code == 200
    assert_valid("/pay/payrequest.cfm", 200, r.content)
    doc = r.json()
    assert doc["URL"] == doc["url"] and "/pay/pay.cfm?CFSID=" in doc["URL"]
    assert doc["orderstate"] == "In Process" and doc["expirationtime"]
    assert (doc["firstcode"], doc["secondcode"]) == (0, 0)
    refused = requests.post(server.url + "/pay/payrequest.cfm", timeout=30,
                            **({"json" if kind == "json" else "data":
                                dict(fields, OrderAmount="-1")}))
    assert refused.status_code == 200
    assert_valid("/pay/payrequest.cfm", 200, refused.content)
    doc = refused.json()
    assert doc["orderstate"] == "Decline" and doc["URL"] == doc["url"] == ""
    assert doc["firstcode"] != 0 and doc["secondcode"] and doc["message"]
