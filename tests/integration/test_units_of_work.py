"""One contract for every unit of work the use cases are given: the ORM one (``uow``), the
Core one of the buyer's pages (``pages_uow``) and the unit tests' fake, each on what the use
cases rely on -- what is committed is read back, what is not is gone, a reader writes
nothing, orders are found by billnumber and by order number (oldest first, the merchant's
own only)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from assist_ws.domain.model import Merchant, Order
from assist_ws.domain.money import Money

from ..unit.fakes import FakeUnitOfWork
from .conftest import MERCHANT, RUB_ONLY


@pytest.fixture(params=["uow", "pages_uow", "fake"])
def unit(request, gw):
    if request.param != "fake":
        return getattr(gw, request.param), gw.clock.now()
    fake = FakeUnitOfWork()
    with fake:
        for merchant_id in (MERCHANT, RUB_ONLY):
            fake.merchants.add(Merchant(merchant_id, f"Shop {merchant_id}"))
        fake.commit()
    return fake, gw.clock.now()


def _order(now, number, merchant=MERCHANT, minutes=0):
    return Order(merchant, number, Money.of("10.00", "RUB"), now + timedelta(minutes=minutes))


def test_what_is_committed_is_read_back_and_what_is_not_is_gone(unit):
    uow, now = unit
    kept, dropped = _order(now, "UW-" + uuid.uuid4().hex[:8]), _order(now, "UW-x")
    with uow:
        uow.orders.add(kept)
        uow.commit()
    with uow:
        uow.orders.add(dropped)
    with uow.reader() as r:
        assert r.orders.get(kept.bill_number).order_number == kept.order_number
        assert r.orders.get(dropped.bill_number) is None
        assert r.orders.bill_number_taken(kept.bill_number)


def test_a_reader_writes_nothing(unit):
    uow, now = unit
    with uow.reader() as r:
        with pytest.raises(RuntimeError):
            r.commit()


def test_orders_by_order_number_are_the_merchants_own_oldest_first(unit):
    uow, now = unit
    number = "UW-" + uuid.uuid4().hex[:8]
    later, earlier = _order(now, number, minutes=5), _order(now, number)
    other = _order(now, number, merchant=RUB_ONLY)
    with uow:
        for order in (later, earlier, other):
            uow.orders.add(order)
        uow.commit()
    with uow.reader() as r:
        found = r.orders.by_order_number(MERCHANT, number)
        assert [o.bill_number for o in found] == [earlier.bill_number, later.bill_number]
        assert r.orders.get(other.bill_number, merchant_id=MERCHANT) is None
        assert r.orders.get(other.bill_number, merchant_id=RUB_ONLY) is not None
