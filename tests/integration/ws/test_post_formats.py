"""Assist's POST formats: each reply (CSV, XML, JSON; SOAP for ``Format=4``) parsed back and
checked field by field, errors included, against the running server on both backends.  The
JSON replies (Assist's shapes of its JSON interface) are brought back to rows here so that
every format is checked against the same fields."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import requests
from lxml import etree

from assist_ws.domain.checkvalue import result_checkvalue
from assist_ws.soap.wire import NS

from ...openapi_check import json_status
from ..conftest import MERCHANT
from ..test_flows import state
from .conftest import PASSWORD, paid_order

AUTH = {"Merchant_ID": str(MERCHANT), "Login": "erp_user", "Password": PASSWORD}
SHORT = re.compile(r"^\d\d\.\d\d\.\d{4} \d\d:\d\d$")
LONG = re.compile(r"^\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d$")
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def post(server, name, fmt=None, status=200, **fields):
    data = dict(AUTH, **fields)
    if fmt is not None:
        data["Format"] = fmt
    r = requests.post(server.cfm(name), data=data, timeout=30)
    assert r.status_code == status, r.text
    return r


def json_rows(doc: dict) -> list[dict]:
    """The rows of a JSON reply: its orders (``checkdata`` among their fields, ``operations``
    as ``operation``), operations or notifications."""
    [(key, value)] = doc.items()
    if key in ("orderstate", "charge", "cancel"):
        found = [value]
    elif key == "orderresult":
        found = value["orders"]
    elif key == "wscancel":
        found = [dict(value["order"], checkdata=value["checkdata"])]
    else:
        [found] = value.values()
        return found
    rows = []
    for row in found:
        row = dict(row)
        row.update(row.pop("checkdata", {}))
        if "operations" in row:
            row["operation"] = row.pop("operations")
        rows.append(row)
    return rows


def parse(fmt: str, r: requests.Response, row: str = "order") -> tuple[tuple[int, int], list]:
    """((firstcode, secondcode), rows as dicts of strings; nested lists kept as lists)."""
    if fmt == "1":
        assert r.headers["Content-Type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(r.text), delimiter=";"))
        header, body = lines[0], lines[1:]
        if header == ["firstcode", "secondcode", "message"]:
            return (int(body[0][0]), int(body[0][1])), [dict(zip(header, body[0]))]
        return (0, 0), [dict(zip(header, values)) for values in body]
    if fmt == "3":
        assert r.headers["Content-Type"].startswith("text/xml")
        root = etree.fromstring(r.content)
        assert root.tag == "result"
        codes = (int(root.get("firstcode")), int(root.get("secondcode")))
        if codes != (0, 0):
            assert root.get("message") and len(root) == 0
        elements = root.findall(f".//{row}")
        if root.get("count") is not None:
            assert int(root.get("count")) == len(elements)
        return codes, [_xml_dict(e) for e in elements]
    assert r.headers["Content-Type"].startswith("application/json")
    doc = json.loads(r.text)
    if "firstcode" in doc:  # a refusal, with the status of its kind
        assert set(doc) == {"firstcode", "secondcode", "message"} and doc["message"]
        assert r.status_code == json_status(doc["firstcode"])
        return (doc["firstcode"], doc["secondcode"]), []
    assert r.status_code == 200
    return (0, 0), json_rows(doc)


def _xml_dict(el) -> dict:
    out: dict = {}
    for child in el:
        if len(child):
            value = _xml_dict(child)
            if child.tag == "operation":
                out.setdefault("operation", []).append(value)
            else:
                out[child.tag] = value
        else:
            out[child.tag] = child.text or ""
    return out


def checkvalue(number, amount, state_):
    return result_checkvalue("s3cret", MERCHANT, number, amount, "RUB", state_)


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_orderstate_formats(gw, server, fmt):
    number, bill = paid_order(gw, "25.50")
    codes, rows = parse(fmt, post(server, "orderstate", fmt, Ordernumber=number))
    assert codes == (0, 0) and len(rows) == 1
    row = dict(rows[0])
    assert SHORT.match(row.pop("packetdate"))
    assert row == {"ordernumber": number, "billnumber": bill, "orderamount": "25.50",
                   "ordercurrency": "RUB", "orderstate": "Approved", "signature": "",
                   "checkvalue": checkvalue(number, "25.50", "Approved")}
    assert list(rows[0]) == ["ordernumber", "billnumber", "orderamount", "ordercurrency",
                             "orderstate", "packetdate", "signature", "checkvalue"]


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_orderresult_formats(gw, server, fmt):
    number, bill = paid_order(gw, "60.00", delay=True)
    gw.confirm(MERCHANT, bill)
    codes, rows = parse(fmt, post(server, "orderresult", fmt, OrderNumber=number))
    assert codes == (0, 0)
    if fmt == "1":  # one line per operation, the order's fields repeated
        assert [(r["billnumber"], r["operationbillnumber"], r["operationtype"]) for r in rows] \
            == [(bill, f"{bill}.1", "100"), (bill, f"{bill}.2", "200")]
        order, ops = rows[0], rows
        ops = [{("billnumber" if k == "operationbillnumber" else k): v for k, v in r.items()}
               for r in rows]
    else:
        [order] = rows
        ops = order["operation"]
    assert order["ordernumber"] == number and order["orderstate"] == "Approved"
    assert order["testmode"] == "0" and order["orderamount"] == "60.00"
    assert LONG.match(order["orderdate"]) and SHORT.match(order["packetdate"])
    assert order["checkvalue"] == checkvalue(number, "60.00", "Approved")
    pay, confirm = ops
    assert (pay["billnumber"], pay["operationtype"], pay["operationstate"]) == (
        f"{bill}.1", "100", "Success")
    assert pay["amount"] == "60.00" and pay["currency"] == "RUB"
    assert pay["meannumber"] == "411111******1111" and pay["meantypename"] == "VISA"
    assert pay["meantype_id"] == "1" and pay["responsecode"] == "AS000"
    assert pay["approvalcode"] and LONG.match(pay["operationdate"])
    assert pay["processingname"] == "emulator-rub" and pay["cardholder"] == "TEST HOLDER"
    assert (confirm["billnumber"], confirm["operationtype"]) == (f"{bill}.2", "200")


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_charge_formats(gw, server, fmt):
    number, bill = paid_order(gw, "45.00", delay=True)
    codes, rows = parse(fmt, post(server, "charge", fmt, Billnumber=bill, Amount="40,00",
                                  Currency="RUB"))
    assert codes == (0, 0) and len(rows) == 1
    row = rows[0]
    assert (row["ordernumber"], row["billnumber"], row["operationtype"]) == (
        number, f"{bill}.2", "200")
    assert (row["amount"], row["currency"], row["orderamount"], row["ordercurrency"]) == (
        "40.00", "RUB", "45.00", "RUB")
    assert row["responsecode"] == "AS000" and row["orderstate"] == "PartialDelayed"
    assert LONG.match(row["packetdate"]) and LONG.match(row["orderdate"])
    assert row["meannumber"] == "411111******1111" and row["testmode"] == "0"
    assert list(row)[:3] == (["billnumber", "ordernumber", "orderstate"] if fmt == "5" else
                             ["ordernumber", "responsecode", "recommendation"])
    gw.cancel(MERCHANT, bill)


def test_charge_defaults_to_csv(gw, server):
    _, bill = paid_order(gw, "11.00", delay=True)
    r = post(server, "charge", None, Billnumber=bill)
    codes, [row] = parse("1", r)
    assert codes == (0, 0) and row["orderstate"] == "Approved"


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_cancel_and_wscancel_formats(gw, emulator, server, fmt):
    number, bill = paid_order(gw, "30.00")
    codes, [row] = parse(fmt, post(server, "cancel", fmt, Billnumber=bill, Amount="10.00",
                                   Currency="RUB", CancelReason="2"))
    assert codes == (0, 0)
    assert (row["billnumber"], row["operationtype"], row["orderstate"], row["amount"]) == (
        f"{bill}.2", "300", "PartialCanceled", "10.00")
    codes, [order] = parse(fmt, post(server, "wscancel", fmt, Billnumber=bill,
                                     Externalrefundid="ext-" + bill))
    assert codes == (0, 0)
    if fmt == "1":
        assert order["operationbillnumber"] == f"{bill}.3" and order["operationtype"] == "300"
        assert order["amount"] == "20.00" and order["operationstate"] == "Success"
    else:
        [op] = order["operation"] if isinstance(order["operation"], list) else [order["operation"]]
        assert (op["billnumber"], op["operationtype"], op["amount"]) == (f"{bill}.3", "300",
                                                                        "20.00")
        assert set(order["customer"]) == {"firstname", "lastname", "middlename", "email"} | (
            {"ipaddress"} if fmt == "5" else set())
    assert order["billnumber"] == bill and order["ordernumber"] == number
    assert order["orderstate"] == "Canceled"


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_resultbydate_formats(gw, server, fmt):
    number, bill = paid_order(gw, "17.00")
    codes, rows = parse(fmt, post(server, "resultbydate", fmt), row="operation")
    assert codes == (0, 0)
    [row] = [r for r in rows if r["billnumber"] == f"{bill}.1"]
    assert (row["ordernumber"], row["operationtype"], row["operationstate"], row["amount"],
            row["orderamount"], row["orderstate"]) == (number, "100", "Success", "17.00",
                                                       "17.00", "Approved")
    assert LONG.match(row["operationdate"]) and row["meannumber"] == "411111******1111"
    assert list(row)[:4] == ["ordernumber", "billnumber", "testmode", "orderdate"]


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_errors_in_every_format(gw, server, fmt):
    # CSV and XML refusals keep HTTP 200; JSON ones have the status of their kind.
    json_ = fmt == "5"
    r = requests.post(server.cfm("orderstate"), data={
        "Merchant_ID": str(MERCHANT), "Login": "erp_user", "Password": "Wrong1234",
        "Ordernumber": "X", "Format": fmt}, timeout=30)
    assert r.status_code == (401 if json_ else 200)
    codes, rows = parse(fmt, r)
    assert codes == (7, 141)
    codes, _ = parse(fmt, post(server, "orderstate", fmt, 404 if json_ else 200,
                               Ordernumber="NO-SUCH-ORDER"))
    assert codes == (10, 201)
    codes, _ = parse(fmt, post(server, "charge", fmt, 400 if json_ else 200, Billnumber="12ab"))
    assert codes == (4, 143)


def test_unsupported_format_and_csv_options(gw, server):
    codes, _ = parse("3", post(server, "orderstate", "2", Ordernumber="X"))
    assert codes == (5, 103)
    number, bill = paid_order(gw, "9.00")
    r = post(server, "orderstate", "1", Ordernumber=number, Delimiter=",", Header="0")
    [values] = list(csv.reader(io.StringIO(r.text)))
    assert values[:2] == [number, bill]


def test_password_in_the_url_is_refused_on_every_face(gw, server):
    number, _ = paid_order(gw, "8.00")
    url = server.cfm("orderstate") + "?Password=" + PASSWORD
    data = {"Merchant_ID": str(MERCHANT), "Login": "erp_user", "Password": PASSWORD,
            "Ordernumber": number}
    codes, _ = parse("3", requests.post(url, data=dict(data, Format="3"), timeout=30))
    assert codes == (19, 102)
    r = requests.get(server.cfm("orderstate"), params=dict(data, Format="5"), timeout=30)
    assert parse("5", r)[0] == (19, 102)
    r = requests.post(url, data=dict(data, Format="4"), timeout=30)
    assert r.status_code == 500 and _fault_codes(r.content) == (19, 102)


def _fault_codes(content: bytes) -> tuple[int, int]:
    root = etree.fromstring(content)
    detail = root.find(f".//{{{NS}}}AssistFault")
    return int(detail.findtext(f"{{{NS}}}firstcode")), int(detail.findtext(f"{{{NS}}}secondcode"))


def test_format_4_is_the_soap_reply(gw, server):
    number, bill = paid_order(gw, "21.00")
    r = post(server, "orderstate", "4", ordernumber=number)
    root = etree.fromstring(r.content)
    order = root.find(f"{{{SOAP_ENV}}}Body/{{{NS}}}orderstateResponse/{{{NS}}}orderstate/"
                      f"{{{NS}}}order")
    assert order.findtext(f"{{{NS}}}billnumber") == bill
    assert order.findtext(f"{{{NS}}}orderamount") == "21.00"
    # Order state answers in SOAP when no Format is given (Assist's default).
    r = requests.post(server.cfm("orderstate"), data=dict(AUTH, Ordernumber="NO-SUCH"),
                      timeout=30)
    assert r.status_code == 500 and _fault_codes(r.content) == (10, 201)


def test_json_body_is_answered_in_json(gw, server):
    _, bill = paid_order(gw, "13.00")
    r = requests.post(server.cfm("cancel"), json=dict(AUTH, Billnumber=bill, Amount="3.00",
                                                     Currency="RUB"), timeout=30)
    codes, [row] = parse("5", r)
    assert codes == (0, 0) and row["orderstate"] == "PartialCanceled"
    assert state(gw, bill) == "PartialCanceled"
    gw.cancel(MERCHANT, bill)
