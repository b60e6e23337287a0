"""Concurrent confirms and cancels of one order on PostgreSQL: the row lock serializes them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from assist_ws.domain.cards import parse_card
from assist_ws.domain.errors import AssistError
from assist_ws.domain.money import Money

from .conftest import MERCHANT, new_order


@pytest.fixture
def pg(gw, dialect):
    if dialect != "postgresql":
        pytest.skip("row-lock concurrency is a PostgreSQL test")
    return gw


def _pay(gw, order):
    card = parse_card("4111111111111111", "12", "2030", "TEST", "123", gw.clock.now())
    return gw.pay_by_card(order.bill_number, card)


def _run(n, fn):
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(fn) for _ in range(n)]
    results = []
    for f in futures:
        try:
            results.append(f.result())
        except AssistError as exc:
            results.append(exc)
    return results


def test_ten_concurrent_confirms_make_one_confirmation(pg):
    order = new_order(pg, "100.00", delay=True)
    _pay(pg, order)
    results = _run(10, lambda: pg.confirm(MERCHANT, order.bill_number))
    made = [r for r in results if not isinstance(r, Exception) and not r.repeated]
    assert len(made) == 1
    assert all(not isinstance(r, Exception) for r in results)  # the rest: the stored result
    with pg.uow.reader() as uow:
        o = uow.orders.get(order.bill_number)
        assert o.state == "Approved" and len(o.operations_of(
            __import__("assist_ws.domain.model", fromlist=["x"]).OperationType.CONFIRM)) == 1


def test_ten_concurrent_partial_cancels_never_exceed_the_paid_amount(pg):
    order = new_order(pg, "100.00")
    _pay(pg, order)
    results = _run(10, lambda: pg.cancel(MERCHANT, order.bill_number, Money.of("15.00", "RUB")))
    ok = [r for r in results if not isinstance(r, Exception) and r.succeeded]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 6 and len(refused) == 4
    with pg.uow.reader() as uow:
        o = uow.orders.get(order.bill_number)
        assert o.canceled().amount == Decimal("90.00") and o.state == "PartialCanceled"
