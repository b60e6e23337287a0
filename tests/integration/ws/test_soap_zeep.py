"""Every operation of every merchant web service through a Zeep client generated from the
served WSDL, against the running server on SQLite and PostgreSQL: the success path and each
refusal, with Assist's codes in the typed fault detail."""

from __future__ import annotations

from decimal import Decimal

import pytest
import zeep
from lxml import etree

from assist_ws.soap.wire import NS

from ..conftest import MERCHANT, RUB_ONLY
from ..test_flows import auth_id, entry, state
from .conftest import PASSWORD, creds, paid_order


def codes(fault: zeep.exceptions.Fault) -> tuple[int, int]:
    detail = fault.detail.find(f"{{{NS}}}AssistFault")
    assert detail is not None, etree.tostring(fault.detail)
    assert detail.findtext(f"{{{NS}}}message") == fault.message
    return int(detail.findtext(f"{{{NS}}}firstcode")), int(detail.findtext(f"{{{NS}}}secondcode"))


def items(result) -> list:
    """Zeep unwraps a result with one child element: the list of orders/operations."""
    return list(result or [])


def refused(call, *args, **kw) -> tuple[int, int]:
    with pytest.raises(zeep.exceptions.Fault) as info:
        call(*args, **kw)
    return codes(info.value)


# -- order state and order result ---------------------------------------------------------------
def test_orderstate_lists_every_attempt_with_checkvalue(gw, zeep_clients):
    number, declined = paid_order(gw, "40.00", card="4000000000000002")
    _, approved = paid_order(gw, "40.00", number=number)
    orders = items(zeep_clients["orderstate"].service.orderstate(ordernumber=number, **creds()))
    assert [o.billnumber for o in orders] == [declined, approved]
    assert [o.orderstate for o in orders] == ["Declined", "Approved"]
    o = orders[1]
    assert o.ordernumber == number and o.orderamount == Decimal("40.00")
    assert o.ordercurrency == "RUB" and o.packetdate.utcoffset().total_seconds() == 0
    from assist_ws.domain.checkvalue import result_checkvalue
    assert o.checkvalue == result_checkvalue("s3cret", MERCHANT, number, "40.00", "RUB",
                                             "Approved")


def test_orderresult_carries_the_operations(gw, zeep_clients):
    number, bill = paid_order(gw, "70.00", delay=True)
    gw.confirm(MERCHANT, bill)
    [order] = items(zeep_clients["orderresult"].service.orderresult(ordernumber=number,
                                                                    **creds()))
    assert order.billnumber == bill and order.orderstate == "Approved"
    assert order.testmode == 0 and order.orderdate.utcoffset().total_seconds() == 0
    ops = order.operation
    assert [(o.billnumber, o.operationtype, o.operationstate) for o in ops] == [
        (f"{bill}.1", 100, "Success"), (f"{bill}.2", 200, "Success")]
    assert ops[0].meannumber == "411111******1111" and ops[0].responsecode == "AS000"
    assert ops[0].meantypename == "VISA" and ops[0].amount == Decimal("70.00")


@pytest.mark.parametrize("name", ["orderstate", "orderresult"])
def test_order_queries_refuse(gw, zeep_clients, name):
    number, _bill = paid_order(gw, "10.00")
    call = getattr(zeep_clients[name].service, name)
    assert refused(call, ordernumber="NO-SUCH-ORDER", **creds()) == (10, 201)
    assert refused(call, ordernumber=number, merchant_id=MERCHANT, login="erp_user",
                   password="Wrong1234") == (7, 141)
    assert refused(call, ordernumber=number, **creds("confirm_only")) == (8, 350)
    # Another merchant's user asking for this merchant's order number finds nothing, and
    # naming this merchant with its own login does not get it in either.
    assert refused(call, ordernumber=number, **creds("other_erp")) == (10, 201)
    assert refused(call, ordernumber=number, merchant_id=MERCHANT, login="other_erp",
                   password="Other12345") == (7, 141)
    assert refused(call, ordernumber=number, **creds(), startyear=2020) == (4, 129)


def test_order_query_window(gw, zeep_clients):
    number, bill = paid_order(gw, "12.00")
    now = gw.clock.now()
    call = zeep_clients["orderstate"].service.orderstate
    inside = call(ordernumber=number, **creds(), startyear=now.year, startmonth=now.month,
                  startday=now.day, starthour=0, startmin=0)
    assert [o.billnumber for o in items(inside)] == [bill]
    gw.clock.move(days=4)  # past the default 3 days
    assert refused(call, ordernumber=number, **creds()) == (10, 201)


# -- charge ------------------------------------------------------------------------------------
def test_charge_partial_then_repeated_returns_the_stored_result(gw, emulator, zeep_clients):
    _, bill = paid_order(gw, "90.00", delay=True)
    charge = zeep_clients["charge"].service.charge
    [first] = items(charge(billnumber=bill, amount=Decimal("60.00"), currency="RUB", **creds()))
    assert first.billnumber == f"{bill}.2" and first.operationtype == 200
    assert first.responsecode == "AS000" and first.orderstate == "PartialDelayed"
    assert first.amount == Decimal("60.00") and first.orderamount == Decimal("90.00")
    [again] = items(charge(billnumber=bill, amount=Decimal("60.00"), currency="RUB", **creds()))
    assert again.billnumber == first.billnumber and again.responsecode == "AS000"
    assert refused(charge, billnumber=bill, amount=Decimal("50.00"), currency="RUB",
                   **creds()) == (15, 307)
    gw.settle()
    assert entry(emulator, auth_id(gw, bill))["settled"] == Decimal("60.00")


def test_charge_refusals(gw, zeep_clients):
    charge = zeep_clients["charge"].service.charge
    _, one_stage = paid_order(gw, "20.00")
    _, held = paid_order(gw, "20.00", delay=True)
    assert refused(charge, billnumber=one_stage, **creds()) == (15, 307)
    assert refused(charge, billnumber="1234567890123456", **creds()) == (10, 201)
    assert refused(charge, billnumber=held, amount=Decimal("25.00"), currency="RUB",
                   **creds()) == (17, 108)
    assert refused(charge, billnumber=held, amount=Decimal("5.00"), **creds()) == (3, 105)
    assert refused(charge, billnumber=held, merchant_id=MERCHANT, login="erp_user",
                   password="Wrong1234") == (7, 141)
    assert refused(charge, billnumber=held, **creds("monitor_only")) == (8, 350)
    assert refused(charge, billnumber=held, **creds("other_erp")) == (10, 201)
    assert state(gw, held) == "Delayed"
    gw.cancel(MERCHANT, held)


# -- cancel and wscancel -----------------------------------------------------------------------
def test_cancel_partial_and_the_rest(gw, emulator, zeep_clients):
    _, bill = paid_order(gw, "80.00")
    cancel = zeep_clients["cancel"].service.cancel
    [part] = items(cancel(billnumber=bill, amount=Decimal("30.00"), currency="RUB", **creds()))
    assert part.operationtype == 300 and part.orderstate == "PartialCanceled"
    assert part.billnumber == f"{bill}.2" and part.amount == Decimal("30.00")
    [rest] = items(cancel(billnumber=f"{bill}.1", **creds()))
    assert rest.orderstate == "Canceled" and rest.amount == Decimal("50.00")
    assert entry(emulator, auth_id(gw, bill))["held"] == 0


def test_wscancel_with_externalrefundid_is_idempotent(gw, emulator, zeep_clients):
    _, bill = paid_order(gw, "50.00")
    gw.settle()
    wscancel = zeep_clients["wscancel"].service.wscancel
    kw = dict(billnumber=bill, amount=Decimal("20.00"), currency="RUB",
              externalrefundid="refund-" + bill, **creds())
    first = wscancel(**kw)
    again = wscancel(**kw)
    assert first.billnumber == bill and first.orderstate == "PartialCanceled"
    [op] = first.operation
    assert op.billnumber == f"{bill}.2" and op.operationtype == 300
    assert op.operationstate == "Success" and op.responsecode == "AS000"
    assert [o.billnumber for o in again.operation] == [op.billnumber]
    assert entry(emulator, auth_id(gw, bill))["refunded"] == Decimal("20.00")
    assert refused(wscancel, **dict(kw, amount=Decimal("10.00"))) == (11, 308)


@pytest.mark.parametrize("name", ["cancel", "wscancel"])
def test_cancel_refusals(gw, zeep_clients, name):
    call = getattr(zeep_clients[name].service, name)
    _, bill = paid_order(gw, "30.00")
    assert refused(call, billnumber=bill, amount=Decimal("30.01"), currency="RUB",
                   **creds()) == (17, 108)
    assert refused(call, billnumber="1234567890123456", **creds()) == (10, 201)
    assert refused(call, billnumber=bill, merchant_id=MERCHANT, login="erp_user",
                   password="Wrong1234") == (7, 141)
    assert refused(call, billnumber=bill, **creds("confirm_only")) == (8, 350)
    assert refused(call, billnumber=bill, **creds("other_erp")) == (10, 201)
    assert state(gw, bill) == "Approved"
    [done] = (items(call(billnumber=bill, **creds("cancel_only"))) if name == "cancel"
              else [call(billnumber=bill, **creds("cancel_only"))])
    assert done.orderstate == "Canceled"
    assert refused(call, billnumber=bill, **creds()) == (15, 308)


# -- results by date ---------------------------------------------------------------------------
def test_resultbydate_lists_the_merchants_operations_in_order(gw, zeep_clients):
    _, bill = paid_order(gw, "15.00")
    gw.cancel(MERCHANT, bill)
    _, other = paid_order(gw, "16.00", merchant=RUB_ONLY)
    call = zeep_clients["resultbydate"].service.resultbydate
    rows = items(call(**creds()))
    mine = [(r.billnumber, r.operationtype, r.orderstate) for r in rows
            if r.billnumber.startswith(bill)]
    assert mine == [(f"{bill}.1", 100, "Canceled"), (f"{bill}.2", 300, "Canceled")]
    keys = [(r.operationdate, r.billnumber) for r in rows]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    assert not any(r.billnumber.startswith(other) for r in rows)
    theirs = items(call(**creds("other_erp")))
    assert any(r.billnumber == f"{other}.1" for r in theirs)
    assert not any(r.billnumber.startswith(bill) for r in theirs)
    only_ok = items(call(**creds(), success=1))
    assert all(r.operationstate == "Success" for r in only_ok)
    now = gw.clock.now()
    old = call(**creds(), startyear=2020, startmonth=1, startday=1, endyear=2020,
               endmonth=1, endday=2)
    assert items(old) == []
    assert now.year > 2020


def test_resultbydate_refusals(gw, zeep_clients):
    call = zeep_clients["resultbydate"].service.resultbydate
    assert refused(call, merchant_id=MERCHANT, login="erp_user", password="Wrong1234") == (7, 141)
    assert refused(call, **creds("confirm_only")) == (8, 350)
    assert refused(call, merchant_id=999999, login="erp_user", password=PASSWORD) == (7, 141)
    assert refused(call, **creds(), startyear=2030, startmonth=2, startday=30) == (4, 129)
    assert refused(call, **creds(), startyear=2026, startmonth=2, startday=2, endyear=2026,
                   endmonth=2, endday=1) == (5, 129)
