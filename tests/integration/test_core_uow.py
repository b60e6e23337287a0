"""The Core unit of work of the buyer's use cases (``db/core_uow.py``), on SQLite and
PostgreSQL: the same use cases through it write the same rows as through the ORM unit of
work; it locks and sees what a payer before it committed; it writes nothing it was not told
to commit."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from assist_ws.db.tables import operations, orders, transactions
from assist_ws.domain.cards import parse_card
from assist_ws.domain.errors import AssistError
from assist_ws.domain.states import OrderEvent
from assist_ws.services import checkout, payment
from assist_ws.services.orders import AuthorizationRequest, create_order

from .conftest import MERCHANT, RUB_ONLY

VISA = "4111111111111111"
#: Columns that differ between any two orders, operations or transactions.
OWN = {"id", "order_id", "operation_id", "bill_number", "order_number", "request_id",
       "processing_reference", "created_at", "updated_at", "finished_at", "sent_at",
       "hold_expires_at", "approval_code"}


def _request(merchant=MERCHANT, amount="100.00", currency="RUB", number=None, **kw):
    return AuthorizationRequest(str(merchant), number or "CU-" + uuid.uuid4().hex[:10], amount,
                                currency, comment="Books", **kw)


def _card(gw, number=VISA):
    return parse_card(number, "12", "2030", "TEST HOLDER", "123", gw.clock.now())


def rows(gw, bill: str) -> dict:
    """The order's rows as stored, without the columns every order has its own value of."""
    with gw.engine.connect() as conn:
        order = conn.execute(select(orders).where(orders.c.bill_number == bill)).one()._asdict()
        ops = [r._asdict() for r in conn.execute(select(operations).where(
            operations.c.order_id == order["id"]).order_by(operations.c.number))]
        txs = [r._asdict() for r in conn.execute(select(transactions).where(
            transactions.c.operation_id.in_([o["id"] for o in ops]) if ops else False)
            .order_by(transactions.c.id))]

    def strip(row):
        return {k: v for k, v in row.items() if k not in OWN}
    return {"order": strip(order), "operations": [strip(o) for o in ops],
            "transactions": [strip(t) for t in txs]}


def test_the_buyers_use_cases_run_on_the_core_unit_of_work(gw):
    assert type(gw.buyer_uow).__name__ == "CoreUnitOfWork"


@pytest.mark.parametrize("merchant, currency, card", [
    (MERCHANT, "RUB", VISA), (RUB_ONLY, "USD", VISA), (MERCHANT, "RUB", "4000000000000002")])
def test_orders_and_payments_are_the_same_rows_through_either_unit_of_work(
        gw, merchant, currency, card):
    bills = []
    for uow in (gw.uow, gw.pages_uow):
        view = create_order(uow, gw.clock, _request(merchant, "12.34", currency))
        assert checkout.open_checkout(uow, gw.clock, view.bill_number).order == view
        result = payment.pay_by_card(uow, gw.gateway, gw.clock, view.bill_number,
                                     _card(gw, card), client_ip="10.1.2.3",
                                     fingerprint_key=b"k")
        again = payment.pay_by_card(uow, gw.gateway, gw.clock, view.bill_number,
                                    _card(gw, card), fingerprint_key=b"k")
        assert again.repeated and again.operation == result.operation
        bills.append(view.bill_number)
    orm, core = (rows(gw, b) for b in bills)
    assert orm == core
    assert len(core["operations"]) == 1 and len(core["transactions"]) == 1
    assert core["order"]["state"] in ("Approved", "Declined")
    if currency == "USD":
        assert core["operations"][0]["rate"] == Decimal("90.50")


def test_leaving_without_commit_writes_nothing(gw):
    bill = gw.create_order(_request()).bill_number
    with pytest.raises(RuntimeError, match="boom"):
        with gw.pages_uow as uow:
            uow.orders.get(bill, lock=True).apply(OrderEvent.BUYER_TIMEOUT, gw.clock.now())
            uow.flush()  # written in the transaction, not committed
            raise RuntimeError("boom")
    with gw.pages_uow as uow:
        uow.orders.get(bill, lock=True).apply(OrderEvent.BUYER_TIMEOUT, gw.clock.now())
        uow.rollback()
        uow.commit()
    with gw.uow.reader() as uow:
        assert uow.orders.get(bill).state == "In Process"


def test_a_block_goes_on_after_a_commit(gw):
    bill = gw.create_order(_request()).bill_number
    with gw.pages_uow as uow:
        order = uow.orders.get(bill, lock=True)
        order.comment = "first"
        uow.commit()
        order.comment = "second"
        order.state_reason = "checked"
        uow.commit()
    with gw.uow.reader() as uow:
        stored = uow.orders.get(bill)
        assert (stored.comment, stored.state_reason) == ("second", "checked")


def test_a_reader_writes_nothing(gw):
    bill = gw.create_order(_request()).bill_number
    with gw.pages_uow.reader() as r:
        assert r.orders.get(bill).state == "In Process"
        assert r.orders.get(bill, merchant_id=RUB_ONLY) is None
        assert r.merchants.get(MERCHANT).name == "Shop"
        with pytest.raises(RuntimeError):
            r.commit()


def test_a_locked_read_refreshes_what_was_read_before(gw, dialect):
    if dialect != "postgresql":
        pytest.skip("SQLite lets no other writer in while a writing unit of work is open")
    bill = gw.create_order(_request()).bill_number
    with gw.pages_uow as uow:
        first = uow.orders.get(bill)
        changer = threading.Thread(target=_comment, args=(gw, bill, "changed meanwhile"))
        changer.start()
        changer.join()
        assert first.comment == "Books"
        locked = uow.orders.get(bill, lock=True)
        assert locked is first and first.comment == "changed meanwhile"
        uow.commit()  # nothing changed: nothing written
    with gw.uow.reader() as uow:
        assert uow.orders.get(bill).comment == "changed meanwhile"


def _comment(gw, bill, text):
    with gw.uow as uow:
        uow.orders.get(bill, lock=True).comment = text
        uow.commit()


def test_payers_at_the_same_moment_make_one_authorization(gw, emulator):
    bill = gw.create_order(_request()).bill_number
    start = threading.Barrier(6)
    results: list = []

    def pay():
        start.wait()
        try:
            results.append(gw.pay_by_card(bill, _card(gw)))
        except AssistError as exc:  # pragma: no cover - shown by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=pay) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.repeated for r in results) == [False] + [True] * 5
    assert len({r.operation.bill_number for r in results}) == 1
    with gw.uow.reader() as uow:
        order = uow.orders.get(bill)
        assert order.state == "Approved" and len(order.operations) == 1
        request_id = order.operations[0].authorization.request_id
    held = [a for c in emulator.ledger()["centers"].values() for a in c["authorizations"]
            if a["request_id"] == request_id]
    assert len(held) == 1


def test_attempts_paid_at_the_same_moment_make_one_payment(gw, emulator):
    number = "CU-" + uuid.uuid4().hex[:10]
    bills = [gw.create_order(_request(number=number)).bill_number for _ in range(4)]
    start = threading.Barrier(len(bills))
    outcomes: dict[str, object] = {}

    def pay(bill):
        start.wait()
        try:
            outcomes[bill] = gw.pay_by_card(bill, _card(gw)).order.state
        except AssistError as exc:
            outcomes[bill] = (exc.firstcode, exc.secondcode)

    threads = [threading.Thread(target=pay, args=(b,)) for b in bills]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, outcomes.values())) == ["(11, 107)"] * 3 + ["Approved"]
    with gw.uow.reader() as uow:
        paid = [b for b in bills if uow.orders.get(b).operations]
    assert len(paid) == 1


def test_an_orders_merchant_and_its_centers_come_with_the_order(gw):
    from sqlalchemy import event
    bill = gw.create_order(_request()).bill_number
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(gw.engine, "before_cursor_execute", count)
    try:
        for lock in (False, True):
            with gw.pages_uow as uow:
                order = uow.orders.get(bill, lock=lock)
                before = len(statements)
                merchant = uow.merchants.get(order.merchant_id)
                assert merchant.name == "Shop" and len(statements) == before
                assert uow.merchants.get(order.merchant_id) is merchant
                rub, usd = (uow.centers.get(merchant.center_for(c)) for c in ("RUB", "USD"))
                assert (rub.currency, usd.currency) == ("RUB", "USD")
                assert len(statements) == before
                assert uow.centers.get("no-such-center") is None
                assert len(statements) == before + 1
    finally:
        event.remove(gw.engine, "before_cursor_execute", count)
