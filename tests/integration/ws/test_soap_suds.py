"""A second SOAP stack, suds-community, generated from the served WSDLs: order state, confirm
and cancel, with their refusals, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from ..conftest import MERCHANT
from ..test_flows import state
from .conftest import creds, paid_order

logging.getLogger("suds").setLevel(logging.CRITICAL)


@pytest.fixture(scope="session")
def suds_clients(server):
    from suds.client import Client
    return {name: Client(server.wsdl(name), cache=None, timeout=30)
            for name in ("orderstate", "charge", "cancel")}


def many(value, name: str) -> list:
    found = getattr(value, name, None) if value is not None else None
    if found is None:
        return []
    return list(found) if isinstance(found, list) else [found]


def refused(call, **kw) -> tuple[int, int]:
    from suds import WebFault
    with pytest.raises(WebFault) as info:
        call(**kw)
    detail = info.value.fault.detail.AssistFault
    assert str(detail.message) == str(info.value.fault.faultstring)
    return int(detail.firstcode), int(detail.secondcode)


def test_orderstate(gw, suds_clients):
    number, bill = paid_order(gw, "33.30")
    call = suds_clients["orderstate"].service.orderstate
    [order] = many(call(ordernumber=number, **creds()), "order")
    assert str(order.billnumber) == bill and str(order.orderstate) == "Approved"
    assert Decimal(str(order.orderamount)) == Decimal("33.30") and order.ordercurrency == "RUB"
    assert refused(call, ordernumber="NO-SUCH", **creds()) == (10, 201)
    assert refused(call, ordernumber=number, merchant_id=MERCHANT, login="erp_user",
                   password="Wrong1234") == (7, 141)
    assert refused(call, ordernumber=number, **creds("cancel_only")) == (8, 350)
    assert refused(call, ordernumber=number, **creds("other_erp")) == (10, 201)


def test_charge(gw, suds_clients):
    _, held = paid_order(gw, "44.00", delay=True)
    _, one_stage = paid_order(gw, "44.00")
    call = suds_clients["charge"].service.charge
    [order] = many(call(billnumber=held, **creds()), "order")
    assert str(order.billnumber) == f"{held}.2" and str(order.orderstate) == "Approved"
    assert int(order.operationtype) == 200 and str(order.responsecode) == "AS000"
    [again] = many(call(billnumber=held, **creds()), "order")
    assert str(again.billnumber) == f"{held}.2"
    assert refused(call, billnumber=one_stage, **creds()) == (15, 307)
    assert refused(call, billnumber=held, **creds("monitor_only")) == (8, 350)
    assert refused(call, billnumber=held, **creds("other_erp")) == (10, 201)
    assert refused(call, billnumber="9999999999999999", **creds()) == (10, 201)


def test_cancel(gw, suds_clients):
    _, bill = paid_order(gw, "55.00")
    call = suds_clients["cancel"].service.cancel
    assert refused(call, billnumber=bill, amount="55.01", currency="RUB", **creds()) == (17, 108)
    assert refused(call, billnumber=bill, **creds("confirm_only")) == (8, 350)
    assert refused(call, billnumber=bill, **creds("other_erp")) == (10, 201)
    assert state(gw, bill) == "Approved"
    [order] = many(call(billnumber=bill, amount="5.00", currency="RUB", **creds()), "order")
    assert str(order.orderstate) == "PartialCanceled" and int(order.operationtype) == 300
    assert Decimal(str(order.amount)) == Decimal("5.00")
    [order] = many(call(billnumber=bill, **creds()), "order")
    assert str(order.orderstate) == "Canceled" and Decimal(str(order.amount)) == Decimal("50.00")
