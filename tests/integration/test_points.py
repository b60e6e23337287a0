"""Bonus points end to end through the use cases, on SQLite and PostgreSQL, against the
emulator over HTTP: a card + points payment, the accrual, full and partial cancels, failures
and unknown outcomes; each reconciled with the emulator's ledger of the card's points (and its
money, by the reconciliation every integration test ends with)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from assist_ws.domain.cards import parse_card
from assist_ws.domain.errors import AssistError, LimitExceeded, OperationProhibited
from assist_ws.domain.model import (OperationType, TransactionState, TransactionType,
                                    open_transactions)
from assist_ws.domain.money import Money
from assist_ws.services import admin
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.services.resolve import unresolved
from assist_ws.services.results import OperationResult, OperationView, OrderView

from .conftest import BONUS

RICH = "4276000000000009"    # enrolled, 1000 points at the start
POOR = "4276000000000017"    # enrolled, 0 points
RICH_MASK, POOR_MASK = "427600******0009", "427600******0017"


class Settling:
    """The gateway, whose payments, confirms and cancels are followed by the worker's
    resolver until nothing of the order is open (a center slow to answer on a loaded machine
    leaves an outcome open; the resolver settles it, as in production); their results are
    read again after that."""

    def __init__(self, gw):
        self.gw = gw

    def __getattr__(self, name):
        return getattr(self.gw, name)

    def _settled(self, result):
        bill = result.order.bill_number
        for _ in range(5):
            if not open_transactions(load(self.gw, bill)):
                break
            self.gw.clock.move(minutes=5)
            self.gw.resolve()
        order = load(self.gw, bill)
        op = order.operation(result.operation.number)
        return OperationResult(OrderView.of(order), OperationView.of(order, op), result.repeated)

    def pay_by_card(self, *args, **kw):
        return self._settled(self.gw.pay_by_card(*args, **kw))

    def confirm(self, *args, **kw):
        return self._settled(self.gw.confirm(*args, **kw))

    def cancel(self, *args, **kw):
        return self._settled(self.gw.cancel(*args, **kw))


@pytest.fixture
def gw(gw):
    return Settling(gw)


def order_for(gw, amount="1000.00", max_points="300", delay=False):
    return create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(BONUS), "PTS-" + uuid.uuid4().hex[:12], amount, "RUB",
        delay="1" if delay else "0", max_points=max_points))


def pay(gw, order, number=RICH, points=0):
    card = parse_card(number, "12", "2030", "TEST HOLDER", "123", gw.clock.now())
    return gw.pay_by_card(order.bill_number, card, points=points)


def card_points(emulator, mask=RICH_MASK) -> dict:
    return next(c for c in emulator.ledger()["cards"] if c["card"] == mask)


def moved(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in before if k != "card"}


def load(gw, bill):
    with gw.uow.reader() as uow:
        return uow.orders.get(bill)


def ops(gw, bill) -> list[tuple]:
    """(number, type, means, state, amount, points) of each operation, in order."""
    order = load(gw, bill)
    return [(o.number, o.type, o.means, o.state, o.amount, o.points)
            for o in sorted(order.operations, key=lambda o: o.number)]


def held(emulator, gw, bill) -> Decimal:
    rid = load(gw, bill).operation(1).authorization.request_id
    for center in emulator.ledger()["centers"].values():
        for a in center["authorizations"]:
            if a["request_id"] == rid:
                return Decimal(a["held"])
    raise AssertionError("authorization not in the ledger")


def rub(x):
    return Money.of(x, "RUB")


def test_card_and_points_then_full_cancel_restores_the_ledger(gw, emulator):
    start = card_points(emulator)
    order = order_for(gw)
    result = pay(gw, order, points=300)
    assert result.order.state == "Approved"
    assert result.operation.bill_number == f"{order.bill_number}.1"
    assert ops(gw, order.bill_number) == [
        (1, 100, "card", "Success", Decimal("700.00"), 0),
        (2, 100, "points", "Success", Decimal("300"), 300),
        (3, 500, "points", "Success", Decimal("7"), 7)]   # 1 point per 100 of the card part
    assert moved(start, card_points(emulator)) == {
        "points": -300 + 7, "paid": 300, "returned": 0, "accrued": 7, "cancelled": 0}
    assert held(emulator, gw, order.bill_number) == Decimal("700.00")

    cancel = gw.cancel(BONUS, order.bill_number)
    assert cancel.order.state == "Canceled"
    assert cancel.operation.bill_number == f"{order.bill_number}.4"
    assert ops(gw, order.bill_number)[3:] == [
        (4, 300, "card", "Success", Decimal("700.00"), None),
        (5, 300, "points", "Success", Decimal("300"), 300),
        (6, 510, "points", "Success", Decimal("7"), 7)]
    assert held(emulator, gw, order.bill_number) == 0
    assert moved(start, card_points(emulator)) == {
        "points": 0, "paid": 300, "returned": 300, "accrued": 7, "cancelled": 7}
    with pytest.raises(OperationProhibited):
        gw.cancel(BONUS, order.bill_number)


def test_offer_declined_pays_by_card_and_accrues(gw, emulator):
    start = card_points(emulator)
    order = order_for(gw, "250.00")
    assert pay(gw, order).order.state == "Approved"
    assert [(n, t, m) for n, t, m, *_ in ops(gw, order.bill_number)] == [
        (1, 100, "card"), (2, 500, "points")]
    assert moved(start, card_points(emulator))["accrued"] == 2


def test_partial_cancels_per_operation(gw, emulator):
    start = card_points(emulator)
    order = order_for(gw)
    pay(gw, order, points=300)
    bill = order.bill_number
    assert gw.cancel(BONUS, f"{bill}.2", rub("100")).order.state == "PartialCanceled"
    assert moved(start, card_points(emulator))["returned"] == 100
    with pytest.raises(LimitExceeded):
        gw.cancel(BONUS, f"{bill}.2", rub("201"))
    with pytest.raises(AssistError):
        gw.cancel(BONUS, f"{bill}.2", rub("1.5"))
    part = gw.cancel(BONUS, f"{bill}.1", rub("200.00"), external_id="R-1")
    assert part.order.state == "PartialCanceled" and part.operation.amount == Decimal("200.00")
    # the accrual (7) cancelled in proportion to the card amount returned: 7 * 200 / 700
    assert ops(gw, bill)[5] == (6, 510, "points", "Success", Decimal("2"), 2)
    assert gw.cancel(BONUS, f"{bill}.1", rub("200.00"), external_id="R-1").repeated
    assert held(emulator, gw, bill) == Decimal("500.00")
    assert moved(start, card_points(emulator)) == {
        "points": -300 + 7 + 100 - 2, "paid": 300, "returned": 100, "accrued": 7,
        "cancelled": 2}
    assert gw.cancel(BONUS, bill).order.state == "Canceled"
    assert moved(start, card_points(emulator))["points"] == 0
    assert held(emulator, gw, bill) == 0


def test_points_declined_after_the_card_reverses_the_card(gw, emulator):
    start = card_points(emulator, POOR_MASK)
    order = order_for(gw, "500.00", "100")
    result = pay(gw, order, POOR, points=100)     # no points on that card
    assert result.order.state == "Declined" and result.operation.state == "Declined"
    assert [(n, t, m, s) for n, t, m, s, *_ in ops(gw, order.bill_number)] == [
        (1, 100, "card", "Declined"), (2, 100, "points", "Declined")]
    assert held(emulator, gw, order.bill_number) == 0
    assert moved(start, card_points(emulator, POOR_MASK))["points"] == 0


def test_more_points_than_allowed_are_refused_before_anything_is_sent(gw, emulator):
    start = card_points(emulator)
    order = order_for(gw, "1000.00", "300")
    with pytest.raises(AssistError):
        pay(gw, order, points=301)
    assert load(gw, order.bill_number).operations == []
    assert card_points(emulator) == start


def test_two_stage_points_follow_the_order(gw, emulator):
    start = card_points(emulator)
    held_order = order_for(gw, delay=True)
    assert pay(gw, held_order, points=300).order.state == "Delayed"
    with pytest.raises(OperationProhibited):  # points go back only with the whole hold
        gw.cancel(BONUS, f"{held_order.bill_number}.2", rub("100"))
    assert gw.cancel(BONUS, f"{held_order.bill_number}.1").order.state == "Canceled"
    assert moved(start, card_points(emulator))["points"] == 0

    order = order_for(gw, delay=True)
    pay(gw, order, points=300)
    assert len(ops(gw, order.bill_number)) == 2               # no accrual before the confirm
    assert gw.confirm(BONUS, order.bill_number, rub("500.00")).order.state == "PartialDelayed"
    assert ops(gw, order.bill_number)[3] == (4, 500, "points", "Success", Decimal("5"), 5)
    assert gw.cancel(BONUS, order.bill_number).order.state == "Canceled"
    assert moved(start, card_points(emulator)) == {
        "points": 0, "paid": 600, "returned": 600, "accrued": 5, "cancelled": 5}


def test_an_expired_hold_returns_the_points(gw, emulator):
    start = card_points(emulator)
    order = order_for(gw, delay=True)
    pay(gw, order, points=300)
    gw.clock.move(days=7, minutes=1)                   # emulator-rub holds for 7 days
    assert gw.expire_holds().canceled >= 1
    o = load(gw, order.bill_number)
    assert o.state == "Canceled" and o.points_returned(include_open=False) == 300
    assert held(emulator, gw, order.bill_number) == 0
    assert moved(start, card_points(emulator)) == {
        "points": 0, "paid": 300, "returned": 300, "accrued": 0, "cancelled": 0}


def _lose_the_points_answer(gw, bill, forget: bool):
    """Put the order back where it is when the points payment's answer never came (and, with
    ``forget``, as if the request never reached the center: a new request id)."""
    with gw.uow as uow:
        order = uow.orders.get(bill, lock=True)
        points = order.operation(2)
        tx = points.transactions[0]
        tx.state, tx.response_code, tx.finished_at = TransactionState.UNKNOWN.value, None, None
        tx.next_attempt_at = None
        if forget:
            tx.request_id = uuid.uuid4().hex
        points.state, order.state = "Unknown", "In Process"
        for op in list(order.operations):
            if op.type == OperationType.ACCRUAL:
                op.state = "Declined"  # (the reconciliation sees only money)
        uow.commit()


def test_unknown_points_outcome_paid_at_the_center_completes_the_order(gw, emulator):
    order = order_for(gw, "400.00", "100")
    pay(gw, order, points=100)
    _lose_the_points_answer(gw, order.bill_number, forget=False)
    gw.resolve()
    assert load(gw, order.bill_number).state == "Approved"
    assert ops(gw, order.bill_number)[1][3] == "Success"
    gw.cancel(BONUS, order.bill_number)


def test_unknown_points_outcome_not_at_the_center_reverses_the_card(gw, emulator):
    start = card_points(emulator)
    order = order_for(gw, "400.00", "100")
    pay(gw, order, points=100)
    gw.cancel(BONUS, f"{order.bill_number}.2")  # (the points the real request took go back)
    _lose_the_points_answer(gw, order.bill_number, forget=True)
    gw.resolve()
    o = load(gw, order.bill_number)
    assert o.state == "Declined"
    assert (o.operation(1).state, o.operation(2).state) == ("Declined", "Declined")
    assert held(emulator, gw, order.bill_number) == 0
    assert moved(start, card_points(emulator)) == {
        "points": 3, "paid": 100, "returned": 100, "accrued": 3, "cancelled": 0}


def test_accrual_retried_after_the_center_failed(gw, emulator):
    start = card_points(emulator)
    order = order_for(gw, "300.00", "0", delay=True)
    pay(gw, order)
    url = f"{emulator.url}/emulator-rub?wsdl"
    admin.add_center(gw.uow, "emulator-rub", "http://127.0.0.1:9/emulator-rub?wsdl", "RUB",
                     hold_days=7, bonus_program=True, replace=True)
    try:
        assert gw.gw.confirm(BONUS, order.bill_number).order.state == "Approved"  # not failed
    finally:
        admin.add_center(gw.uow, "emulator-rub", url, "RUB", hold_days=7, bonus_program=True,
                         replace=True)
    accrual = load(gw, order.bill_number).operation(3)
    assert (accrual.type, accrual.state, accrual.transactions[0].state) == (
        500, "Unknown", "unknown")
    assert [t.bill_number for t in unresolved(gw.uow, max_attempts=1).transactions
            ].count(order.bill_number) == 1
    gw.clock.move(minutes=5)
    gw.resolve()
    assert load(gw, order.bill_number).operation(3).state == "Success"
    assert moved(start, card_points(emulator))["accrued"] == 3
    assert order.bill_number not in [t.bill_number for t in unresolved(gw.uow).transactions]
    gw.cancel(BONUS, order.bill_number)
    assert moved(start, card_points(emulator))["points"] == 0


def test_concurrent_cancels_of_card_and_points_never_over_return(gw, emulator, dialect):
    if dialect != "postgresql":
        pytest.skip("row-lock concurrency is a PostgreSQL test")
    start = card_points(emulator)
    order = order_for(gw)
    pay(gw, order, points=300)
    bill = order.bill_number
    calls = [lambda: gw.gw.cancel(BONUS, f"{bill}.2", rub("200"))] * 4 + \
            [lambda: gw.gw.cancel(BONUS, f"{bill}.1", rub("300.00"))] * 4
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(c) for c in calls]
    results = []
    for f in futures:
        try:
            results.append(f.result())
        except AssistError as exc:
            results.append(exc)
    points_ok = [r for r in results[:4] if not isinstance(r, Exception) and r.succeeded]
    card_ok = [r for r in results[4:] if not isinstance(r, Exception) and r.succeeded]
    assert (len(points_ok), len(card_ok)) == (1, 2)
    o = load(gw, bill)
    assert o.points_returned() == 200 and o.canceled().amount == Decimal("600.00")
    assert moved(start, card_points(emulator))["returned"] == 200
    assert held(emulator, gw, bill) == Decimal("100.00")
    gw.cancel(BONUS, bill)
    assert moved(start, card_points(emulator))["points"] == 0


def test_transactions_of_the_points_operations(gw):
    order = order_for(gw)
    pay(gw, order, points=300)
    o = load(gw, order.bill_number)
    kinds = [(op.number, [t.type for t in op.transactions]) for op in o.operations]
    assert sorted(kinds) == [(1, [TransactionType.AUTHORIZATION.value]),
                             (2, [TransactionType.BONUS_PAY.value]),
                             (3, [TransactionType.BONUS_ACCRUAL.value])]
    gw.cancel(BONUS, order.bill_number)
