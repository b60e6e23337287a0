"""One contract per port of the database, run against every implementation of that port:

* ``CheckoutUnitOfWork`` -- the ORM unit of work (``uow``), the buyer's pages' one
  (``buyer_uow``) and the unit tests' fake;
* ``BackOfficeUnitOfWork`` and ``WorkerUnitOfWork`` -- the ORM one and the fake;
* ``MerchantQueries`` -- ``queries()`` of the ORM one and of the fake.

Each implementation offers every member of its ports (their repositories' too), and does
what the use cases rely on: what is committed is read back, what is not is gone, a reader
writes nothing, orders are found by billnumber and by order number (oldest first, the
merchant's own only), the read models see what was committed, the worker's claims find what
is due."""

from __future__ import annotations

import inspect
import typing
import uuid
from datetime import timedelta

import pytest

from assist_ws.domain.model import (
    OperationState,
    OperationType,
    Order,
    Right,
    Transaction,
    TransactionState,
    TransactionType,
)
from assist_ws.domain.money import Money
from assist_ws.domain.ports import (
    BackOfficeUnitOfWork,
    CheckoutUnitOfWork,
    MerchantQueries,
    WorkerUnitOfWork,
)
from assist_ws.domain.records import LoginKey, Window
from assist_ws.domain.states import OrderState
from assist_ws.services import admin

from ..unit.fakes import FakeUnitOfWork
from .conftest import MERCHANT, RUB_ONLY

#: Per port, the implementations that are given it.
IMPLEMENTATIONS = {CheckoutUnitOfWork: ("uow", "buyer_uow", "fake"),
                   BackOfficeUnitOfWork: ("uow", "fake"),
                   WorkerUnitOfWork: ("uow", "fake")}


def _fake() -> FakeUnitOfWork:
    """A fake holding what the integration tests' database holds for these tests."""
    fake = FakeUnitOfWork()
    for merchant_id in (MERCHANT, RUB_ONLY):
        admin.save_merchant(fake, merchant_id, admin.MerchantSettings(
            name=f"Shop {merchant_id}", currencies=("RUB", "USD")), create=True)
    admin.add_user(fake, MERCHANT, "erp_user", "Passw0rd1", list(Right))
    return fake


def _implementation(gw, name):
    return _fake() if name == "fake" else getattr(gw, name)


def _cases(*ports):
    return [pytest.param(port, name, id=f"{port.__name__}-{name}")
            for port in ports for name in IMPLEMENTATIONS[port]]


@pytest.fixture(params=IMPLEMENTATIONS[CheckoutUnitOfWork])
def unit(request, gw):
    return _implementation(gw, request.param), gw.clock.now()


@pytest.fixture(params=["uow", "fake"])
def full(request, gw):
    """An implementation of the back office's and the worker's ports."""
    return _implementation(gw, request.param), gw.clock.now()


def _order(now, number, merchant=MERCHANT, minutes=0):
    return Order(merchant, number, Money.of("10.00", "RUB"), now + timedelta(minutes=minutes))


# -- every member of every port ---------------------------------------------------------------
def _members(port) -> dict[str, object]:
    """The members a Protocol declares, its bases' included."""
    found: dict[str, object] = {}
    for cls in reversed(port.__mro__):
        if getattr(cls, "_is_protocol", False) and cls is not typing.Protocol:
            found.update((k, v) for k, v in vars(cls).items()
                         if not k.startswith("_") or k in ("__enter__", "__exit__"))
    return found


def _missing(obj, port, path="") -> list[str]:
    """What of ``port`` ``obj`` lacks; a property's value is checked against the Protocol
    it is declared to return."""
    missing = []
    for name, member in _members(port).items():
        if isinstance(member, property):
            kind = typing.get_type_hints(member.fget)["return"]
            value = getattr(obj, name, None)
            missing += ([path + name] if value is None
                        else _missing(value, kind, f"{path}{name}."))
        elif not callable(inspect.getattr_static(obj, name, None)):
            missing.append(path + name)
    return missing


@pytest.mark.parametrize("port, name", _cases(CheckoutUnitOfWork, BackOfficeUnitOfWork,
                                              WorkerUnitOfWork))
def test_each_implementation_offers_all_of_its_ports(gw, port, name):
    uow = _implementation(gw, name)
    with uow:
        assert _missing(uow, port) == []
    with uow.reader() as r:
        assert _missing(r, port) == []


@pytest.mark.parametrize("name", ["uow", "fake"])
def test_each_implementation_of_the_queries_offers_all_of_them(gw, name):
    with _implementation(gw, name).queries() as q:
        assert _missing(q, MerchantQueries) == []


def test_the_check_of_a_port_finds_what_is_missing(gw):
    class Partial:
        def __init__(self, orders):
            self.orders = orders

    with gw.uow.queries() as q:
        missing = _missing(Partial(q.orders), MerchantQueries)
    assert "users" in missing and "login_failures" in missing
    assert not any(m.startswith("orders.") for m in missing)


# -- the buyer's checkout ---------------------------------------------------------------------
def test_what_is_committed_is_read_back_and_what_is_not_is_gone(unit):
    uow, now = unit
    kept, dropped = _order(now, "UW-" + uuid.uuid4().hex[:8]), _order(now, "UW-x")
    with uow:
        uow.orders.add(kept)
        assert kept in uow.orders.loaded()
        uow.commit()
    with uow:
        uow.orders.add(dropped)
    with uow.reader() as r:
        assert r.orders.get(kept.bill_number).order_number == kept.order_number
        assert r.orders.get(kept.bill_number).state is OrderState.IN_PROCESS
        assert r.orders.get(dropped.bill_number) is None
        assert r.orders.bill_number_taken(kept.bill_number)
        assert not r.orders.bill_number_taken(dropped.bill_number)


def test_a_reader_writes_nothing(unit):
    uow, _ = unit
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
        assert [o.bill_number for o in r.orders.attempts(later.bill_number)] == [
            earlier.bill_number, later.bill_number]
        assert r.orders.get(other.bill_number, merchant_id=MERCHANT) is None
        assert r.orders.get(other.bill_number, merchant_id=RUB_ONLY) is not None


def test_the_pages_find_merchants_and_a_new_order_has_no_notifications(unit):
    uow, now = unit
    order = _order(now, "UW-" + uuid.uuid4().hex[:8])
    with uow:
        uow.orders.add(order)
        uow.flush()
        assert uow.merchants.get(MERCHANT).merchant_id == MERCHANT
        assert uow.merchants.get(999_999_999) is None
        assert uow.centers.get("no-such-center") is None
        assert uow.rates.get("XXX", "RUB") is None
        assert uow.notifications.last_sequence(order.id or 0) == 0


# -- the back office and the worker -----------------------------------------------------------
def test_the_back_office_reads_and_adds_its_settings(full):
    uow, now = full
    with uow:
        assert MERCHANT in [m.merchant_id for m in uow.merchants.list()]
        user = uow.users.get(MERCHANT, "erp_user")
        assert user is not None and user.login == "erp_user"
        assert uow.users.get(MERCHANT, "nobody") is None
    with uow.reader() as r:
        record = r.users.login_record(MERCHANT, "erp_user")
        assert record is not None and record.merchant_id == MERCHANT


def test_the_workers_claims_find_what_is_due_and_nothing_else(full):
    uow, now = full
    long_ago = now - timedelta(days=4000)
    held, fresh = _order(long_ago, "UW-h"), _order(now, "UW-f")
    held.state, held.hold_expires_at = OrderState.DELAYED, long_ago + timedelta(days=1)
    abandoned = _order(long_ago, "UW-a")
    with uow:  # nothing of it is committed
        for order in (held, fresh, abandoned):
            uow.orders.add(order)
        uow.flush()
        expired = uow.orders.holds_expired(long_ago + timedelta(days=2), 100)
        assert [o.bill_number for o in expired] == [held.bill_number]
        assert uow.orders.holds_expired(long_ago, 100) == []
        old = uow.orders.abandoned(MERCHANT, long_ago + timedelta(days=1), 100)
        assert [o.bill_number for o in old] == [abandoned.bill_number]


def test_states_and_types_are_read_back_as_their_enumerations(full):
    uow, now = full
    order = _order(now, "UW-" + uuid.uuid4().hex[:8])
    op = order.add_operation(OperationType.PAY, order.money, now)
    tx = op.add_transaction(Transaction(TransactionType.AUTHORIZATION, "emulator-rub",
                                        op.amount, op.currency, now))
    tx.finish(TransactionState.DECLINED, now)  # (never sent: the center knows nothing of it)
    op.finish(OperationState.DECLINED, now)
    with uow:
        uow.orders.add(order)
        uow.commit()
    with uow.reader() as r:
        found = r.orders.get(order.bill_number).operations[0]
        read = found.transactions[0]
        assert (found.type, found.state) == (OperationType.PAY, OperationState.DECLINED)
        assert type(found.type) is OperationType and type(found.state) is OperationState
        assert (read.type, read.state) == (TransactionType.AUTHORIZATION,
                                           TransactionState.DECLINED)
        assert type(read.type) is TransactionType and type(read.state) is TransactionState


# -- the merchant's queries -------------------------------------------------------------------
def test_the_queries_read_what_was_committed(full):
    uow, now = full
    number = "UW-" + uuid.uuid4().hex[:8]
    later, earlier = _order(now, number, minutes=5), _order(now, number)
    with uow:
        uow.orders.add(later)
        uow.orders.add(earlier)
        uow.orders.add(_order(now, number, merchant=RUB_ONLY))
        uow.commit()
    window = Window(now - timedelta(hours=1), now + timedelta(hours=1))
    key = LoginKey("127.0.0.1", MERCHANT, "erp_user")
    with uow.queries() as q:
        found = q.orders.records_by_order_number(MERCHANT, number, window)
        assert [r.bill_number for r in found] == [earlier.bill_number, later.bill_number]
        assert q.orders.records_by_order_number(
            MERCHANT, number, Window(now - timedelta(hours=2), now - timedelta(hours=1))) == []
        record, state, records = q.orders.login_and_records(key, number, window)
        assert record is not None and record.login == "erp_user"
        assert [r.bill_number for r in records] == [earlier.bill_number, later.bill_number]
        assert state == q.login_failures.state(key)
        assert q.users.login_record(MERCHANT, "erp_user") == record
        assert q.users.login_record(MERCHANT, "nobody") is None
