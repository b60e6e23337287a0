"""A unit of work on Core statements: the payment pages' hot path without the ORM session.

The buyer's use cases (``create_order``, ``open_checkout``, ``pay_by_card``) run with this
unit of work instead of ``SqlAlchemyUnitOfWork``.  It implements one port,
``CheckoutUnitOfWork``, with the same use-case code and rules, the same transactions and row
locks, and the lookups of ``repositories`` (``ORDERS_BY``, ``BILL_TAKEN``, …); only the way
rows become objects and back is cheaper.  (A payment made through the ORM costs the gateway
nearly twice the CPU: its session's identity map, selectin loads and the flush's dependency
sort take longer than the database takes for the statements.)

* **Reading.**  Orders come with their operations and the operations' transactions: in one
  SELECT (outer joins) when not locked; when locked, the orders' rows are locked first
  (``SELECT … FOR UPDATE OF orders``) and their operations read by a second statement, so
  that on PostgreSQL it sees what a payer that held the lock before us committed (a joined
  row would come from the snapshot taken before the lock wait: a double click could then pay
  twice).  Merchants, centers and rates are read by key.  Rows become the domain classes as
  *transient* objects that no ORM session ever sees; within one unit of work an order (and
  a merchant) is one object, and a locked read refreshes it from its row.
* **Writing.**  ``flush()`` and ``commit()`` compare every order loaded or added with the
  values it was read with: new orders, operations and transactions are INSERTed (parents
  first), changed ones UPDATEd (the changed columns only), new notifications INSERTed.  The
  ``before_commit`` hooks (the notification outbox) run first, inside the same transaction,
  as in the ORM unit of work.  Merchants, centers and rates are read-only here, and rows are
  never deleted: the buyer's use cases do neither.
* **Connections.**  One from the pool per unit of work.  A writing one is one database
  transaction (``BEGIN IMMEDIATE`` on SQLite); leaving the block without ``commit()`` rolls
  it back.  A reading one (``reader()``) runs in autocommit on PostgreSQL -- no BEGIN and
  ROLLBACK round trips, and no ROLLBACK that would make psycopg drop its prepared
  statements -- and as one deferred transaction on SQLite.
"""

from __future__ import annotations

import functools
from typing import Callable, Iterable, Sequence, TypeVar

from sqlalchemy import JSON, bindparam, false, func, select
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.attributes import manager_of_class

from ..domain.model import (
    CurrencyRate,
    Merchant,
    Operation,
    Order,
    ProcessingCenter,
    Transaction,
)
from ..domain.notifications import Notification
from ..domain.ports import (
    CenterLookup,
    CheckoutOrders,
    CheckoutUnitOfWork,
    MerchantLookup,
    Outbox,
    RateLookup,
)
from .engine import READONLY
from .per_thread import PerThread
from .notifications import LAST_SEQUENCE
from .repositories import (
    BILL_TAKEN,
    CENTER_NAMED,
    MERCHANT_IS,
    OLDEST_FIRST,
    ORDERS_BY,
    RATE_OF,
    orders_params,
)
from .tables import (
    currency_rates,
    merchants,
    notifications,
    operations,
    orders,
    processing_centers,
    start_mappers,
    transactions,
)

_ORDER_KEYS = tuple(c.key for c in orders.c)
_OP_KEYS = tuple(c.key for c in operations.c)
_TX_KEYS = tuple(c.key for c in transactions.c)
_MERCHANT_KEYS = tuple(c.key for c in merchants.c)
_CENTER_KEYS = tuple(c.key for c in processing_centers.c)
_N_ORDER, _N_MERCHANT, _N_OP = len(_ORDER_KEYS), len(_MERCHANT_KEYS), len(_OP_KEYS)
#: Where each table's columns start in a row of orders, merchants, centers, operations, …
_CENTER_AT = _N_ORDER + _N_MERCHANT
_OPS_AT = _CENTER_AT + len(_CENTER_KEYS)
_MERCHANT_ID = _N_ORDER + _MERCHANT_KEYS.index("merchant_id")
_CENTER_NAME = _CENTER_AT + _CENTER_KEYS.index("name")
_OP_ID, _TX_ID = _OP_KEYS.index("id"), _TX_KEYS.index("id")
_OP_ORDER_ID = _OP_KEYS.index("order_id")


def _centers_of(dialect: str):
    """ON clause: the processing centers named in the merchant's settings (a JSON object of
    currency -> center), or None where the dialect has no JSON table function we know."""
    each = {"postgresql": func.json_each_text, "sqlite": func.json_each}.get(dialect)
    if each is None:
        return None
    return processing_centers.c.name.in_(
        select(each(merchants.c.processing).table_valued("value").c.value))


def _orders_query(where, from_, dialect: str, *, lock: bool, joined: bool):
    """Orders matching ``where``, oldest first, each with its merchant and the merchant's
    processing centers (read here so that ``merchants.get`` and ``centers.get`` ask nothing
    more).  ``joined``: with their operations and the operations' transactions too (outer
    joins); else the operations come by a second statement (``_operations_query``).
    ``lock`` locks the orders' rows."""
    from_ = from_.join(merchants, merchants.c.merchant_id == orders.c.merchant_id)
    columns = [*orders.c, *merchants.c, *processing_centers.c]
    centers = _centers_of(dialect)
    from_ = from_.outerjoin(processing_centers, centers if centers is not None else false())
    order_by = [*OLDEST_FIRST]
    if joined:
        columns += [*operations.c, *transactions.c]
        from_ = (from_.outerjoin(operations, operations.c.order_id == orders.c.id)
                 .outerjoin(transactions, transactions.c.operation_id == operations.c.id))
        order_by += [operations.c.number, transactions.c.id]
    stmt = select(*columns).select_from(from_).where(where).order_by(*order_by)
    return stmt.with_for_update(of=orders) if lock else stmt


def _operations_query(where):
    return (select(*operations.c, *transactions.c)
            .select_from(operations.outerjoin(transactions,
                                              transactions.c.operation_id == operations.c.id))
            .where(where).order_by(operations.c.order_id, operations.c.number, transactions.c.id))


@functools.lru_cache(maxsize=None)
def _orders_queries(dialect: str) -> dict:
    """(name, lock, joined) -> the statement, for one dialect."""
    return {(name, lock, joined): _orders_query(where, from_, dialect, lock=lock, joined=joined)
            for name, (from_, where) in ORDERS_BY.items()
            for lock in (False, True) for joined in (False, True)}


_OPS_OF_ONE = _operations_query(operations.c.order_id == bindparam("order"))
_OPS_OF_MANY = _operations_query(operations.c.order_id.in_(bindparam("orders",
                                                                     expanding=True)))
_RATE_KEYS = tuple(c.key for c in currency_rates.c)
_MERCHANT = select(*merchants.c).where(MERCHANT_IS)
_CENTER = select(*processing_centers.c).where(CENTER_NAMED)
_RATE = select(*currency_rates.c).where(RATE_OF)
_INSERT = {t.name: t.insert() for t in (orders, operations, transactions, notifications)}
_UPDATE = {t.name: t.update().where(t.c.id == bindparam("_key"))
           for t in (orders, operations, transactions)}


T = TypeVar("T")


def _new_id(result: CursorResult) -> int:
    """The id the database gave the row ``result`` inserted."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the insert returned no key")
    return key[0]

def _transient(cls: type[T], keys: Sequence[str], values: Iterable) -> T:
    """An instance of a mapped domain class holding ``values``, outside any ORM session
    (as the ORM's own loader fills one, without its bookkeeping)."""
    obj = manager_of_class(cls).new_instance()
    obj.__dict__.update(zip(keys, values))
    return obj


#: Per table written here: its columns' keys, where its id is, and where the mutable (JSON)
#: values are.
_KEYS = {orders.name: _ORDER_KEYS, operations.name: _OP_KEYS, transactions.name: _TX_KEYS}
_ID_AT = {name: keys.index("id") for name, keys in _KEYS.items()}
_MUTABLE = {t.name: tuple(i for i, c in enumerate(t.c) if isinstance(c.type, JSON))
            for t in (orders, operations, transactions)}


class _Open:
    """One open unit of work: its connection, what it read, what it will write."""

    def __init__(self, uow: CoreUnitOfWork, conn: Connection):
        self.uow, self.conn = uow, conn
        self.order_list: list[Order] = []          # loaded or added, in that order
        self.orders_by_id: dict[int, Order] = {}
        self.ops_by_id: dict[int, Operation] = {}
        self.txs_by_id: dict[int, Transaction] = {}
        self.merchants_by_id: dict[int, Merchant | None] = {}
        self.centers_by_name: dict[str, ProcessingCenter | None] = {}
        #: id(object) -> (object, the column values it was read or last written with)
        self.snapshots: dict[int, tuple[object, list]] = {}
        self.new_notifications: list[Notification] = []
        self.merchants = _Merchants(self)
        self.centers = _Centers(self)
        self.rates = _Rates(self)
        self.orders = _Orders(self)
        self.notifications = _Notifications(self)

    # -- rows to objects ------------------------------------------------------------------
    def _remember(self, obj, table) -> None:
        values = list(map(obj.__dict__.get, _KEYS[table.name]))
        for i in _MUTABLE[table.name]:
            if isinstance(values[i], (list, dict)):
                values[i] = type(values[i])(values[i])
        self.snapshots[id(obj)] = (obj, values)

    def _object(self, known: dict, cls: type[T], table, row: Sequence, refresh: bool,
                children: str | None = None) -> tuple[T, bool]:
        """(the object of ``row``, whether it is new): one object per id in ``known``, made
        outside any session when first met (with an empty list of ``children``), refreshed
        from its row when ``refresh``."""
        keys = _KEYS[table.name]
        row_id = row[_ID_AT[table.name]]
        obj = known.get(row_id)
        if obj is None:
            obj = _transient(cls, keys, row)
            if children:
                obj.__dict__[children] = []
            known[row_id] = obj
            self._remember(obj, table)
            return obj, True
        if refresh:
            obj.__dict__.update(zip(keys, row))
            self._remember(obj, table)
        return obj, False

    def _order(self, row: Sequence, refresh: bool) -> Order:
        order, new = self._object(self.orders_by_id, Order, orders, row, refresh, "operations")
        if new:
            self.order_list.append(order)
        return order

    def _operation(self, order: Order, row: Sequence, refresh: bool) -> Operation:
        op, new = self._object(self.ops_by_id, Operation, operations, row, refresh,
                               "transactions")
        if new:
            order.operations.append(op)
        return op

    def _transaction(self, op: Operation, row: Sequence, refresh: bool) -> None:
        tx, new = self._object(self.txs_by_id, Transaction, transactions, row, refresh)
        if new:
            op.transactions.append(tx)

    def _operations_rows(self, rows, orders_by_id: dict[int, Order], refresh: bool) -> None:
        for row in rows:
            order = orders_by_id.get(row[_OP_ORDER_ID])
            if order is None:  # an order created meanwhile: not one of those read
                continue
            op = self._operation(order, row[:_N_OP], refresh)
            if row[_N_OP + _TX_ID] is not None:
                self._transaction(op, row[_N_OP:], refresh)

    def _merchant(self, row: Sequence) -> None:
        """The merchant and a processing center that came with an order's row."""
        merchant_id = row[_MERCHANT_ID]
        if self.merchants_by_id.get(merchant_id) is None:
            self.merchants_by_id[merchant_id] = _transient(Merchant, _MERCHANT_KEYS,
                                                           row[_N_ORDER:_CENTER_AT])
        name = row[_CENTER_NAME]
        if name is not None and self.centers_by_name.get(name) is None:
            self.centers_by_name[name] = _transient(ProcessingCenter, _CENTER_KEYS,
                                                    row[_CENTER_AT:_OPS_AT])

    def load_orders(self, name: str, params: dict, lock: bool) -> list[Order]:
        conn = self.conn
        found: dict[int, Order] = {}
        # Locked on PostgreSQL: the operations by a second statement, which sees what
        # committed while we waited for the lock (a joined row would come from the snapshot
        # taken before).  SQLite lets no other writer in: one statement is enough.
        joined = not lock or self.uow._sqlite
        for row in conn.execute(self.uow._queries[name, lock, joined], params):
            order = self._order(row[:_N_ORDER], lock)
            found[order.id] = order
            self._merchant(row)
            if joined and row[_OPS_AT + _OP_ID] is not None:
                self._operations_rows((row[_OPS_AT:],), found, lock)
        if found and not joined:
            ops = (conn.execute(_OPS_OF_ONE, {"order": next(iter(found))}) if len(found) == 1
                   else conn.execute(_OPS_OF_MANY, {"orders": list(found)}))
            self._operations_rows(ops, found, True)
        return list(found.values())

    # -- objects to rows ------------------------------------------------------------------
    def _write(self, obj, table, **parent) -> None:
        d = obj.__dict__
        d.update(parent)
        keys = _KEYS[table.name]
        known = self.snapshots.get(id(obj))
        if known is None:
            values = {k: d[k] for k in keys if k in d and k != "id"}
            d["id"] = _new_id(self.conn.execute(_INSERT[table.name], values))
            self._remember(obj, table)
            return
        changed = {k: new for k, new, old in zip(keys, map(d.get, keys), known[1])
                   if new != old}
        if changed:
            self.conn.execute(_UPDATE[table.name], {**changed, "_key": d["id"]})
            self._remember(obj, table)

    def save(self) -> None:
        for order in self.order_list:
            self._write(order, orders)
            for op in order.operations:
                self._write(op, operations, order_id=order.id)
                for tx in op.transactions:
                    self._write(tx, transactions, operation_id=op.id)
        while self.new_notifications:
            n = self.new_notifications.pop(0)
            values = {c.key: n.__dict__[c.key] for c in notifications.c
                      if c.key in n.__dict__ and c.key != "id"}
            n.__dict__["id"] = _new_id(self.conn.execute(_INSERT["notifications"], values))


class _Merchants:
    def __init__(self, open_: _Open):
        self._open = open_

    def get(self, merchant_id: int) -> Merchant | None:
        known = self._open.merchants_by_id
        if merchant_id not in known:
            row = self._open.conn.execute(_MERCHANT, {"merchant": merchant_id}).first()
            known[merchant_id] = None if row is None else _transient(
                Merchant, _MERCHANT_KEYS, row)
        return known[merchant_id]


class _Centers:
    def __init__(self, open_: _Open):
        self._open = open_

    def get(self, name: str) -> ProcessingCenter | None:
        known = self._open.centers_by_name
        if name not in known:
            row = self._open.conn.execute(_CENTER, {"name": name}).first()
            known[name] = None if row is None else _transient(ProcessingCenter, _CENTER_KEYS,
                                                              row)
        return known[name]


class _Rates:
    def __init__(self, open_: _Open):
        self._open = open_

    def get(self, source: str, target: str) -> CurrencyRate | None:
        row = self._open.conn.execute(_RATE, {"source": source, "target": target}).first()
        return None if row is None else _transient(
            CurrencyRate, _RATE_KEYS, row)


class _Orders:
    def __init__(self, open_: _Open):
        self._open = open_

    def add(self, order: Order) -> None:
        self._open.order_list.append(order)

    def get(self, bill_number: str, *, merchant_id: int | None = None,
            lock: bool = False) -> Order | None:
        found = self._open.load_orders(*orders_params(bill_number, merchant_id), lock)
        return found[0] if found else None

    def attempts(self, bill_number: str, *, lock: bool = False) -> list[Order]:
        return self._open.load_orders("attempts", {"bill": bill_number}, lock)

    def by_order_number(self, merchant_id: int, order_number: str, *,
                        lock: bool = False) -> list[Order]:
        return self._open.load_orders(*orders_params(None, merchant_id, order_number), lock)

    def bill_number_taken(self, bill_number: str) -> bool:
        return bool(self._open.conn.execute(BILL_TAKEN, {"bill": bill_number}).scalar())

    def loaded(self) -> list[Order]:
        return list(self._open.order_list)


class _Notifications:
    def __init__(self, open_: _Open):
        self._open = open_

    def add(self, notification: Notification) -> None:
        self._open.new_notifications.append(notification)

    def last_sequence(self, order_id: int) -> int:
        return self._open.conn.execute(LAST_SEQUENCE, {"order": order_id}).scalar() or 0


class CoreUnitOfWork(PerThread[_Open]):
    """The ``CheckoutUnitOfWork`` port on Core statements (see the module docstring for
    what it supports).  Thread-safe like the ORM one: each thread has its own open unit of
    work.  Its reader runs in autocommit on PostgreSQL."""

    def __init__(self, engine: Engine, *, readonly: bool = False,
                 before_commit: Sequence[Callable[[CoreUnitOfWork], object]] = ()):
        start_mappers()
        configure_mappers()
        super().__init__(engine, readonly)
        self.before_commit = list(before_commit)
        self._sqlite = engine.dialect.name == "sqlite"
        self._queries = _orders_queries(engine.dialect.name)

    # The repositories of the open unit of work.
    @property
    def merchants(self) -> MerchantLookup:
        return self._open.merchants

    @property
    def centers(self) -> CenterLookup:
        return self._open.centers

    @property
    def rates(self) -> RateLookup:
        return self._open.rates

    @property
    def orders(self) -> CheckoutOrders:
        return self._open.orders

    @property
    def notifications(self) -> Outbox:
        return self._open.notifications

    def __enter__(self) -> CoreUnitOfWork:
        if self._local.open is not None:
            raise RuntimeError("this unit of work is already open in this thread")
        conn = self.engine.connect()
        # The transaction begins with the first statement (on SQLite the engine sends
        # BEGIN, deferred, or BEGIN IMMEDIATE by the READONLY option).
        if self.readonly and not self._sqlite:
            conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            conn.execution_options(**{READONLY: self.readonly})
        self._local.open = _Open(self, conn)
        return self

    def __exit__(self, *exc) -> None:
        current, self._local.open = self._open, None
        try:
            if current.conn.in_transaction():
                current.conn.rollback()
        finally:
            current.conn.close()

    def flush(self) -> None:
        """Write what changed so far (the transaction stays open)."""
        if self.readonly:
            raise RuntimeError("a read-only unit of work writes nothing")
        self._open.save()

    def commit(self) -> None:
        if self.readonly:
            raise RuntimeError("a read-only unit of work writes nothing")
        for hook in self.before_commit:
            hook(self)
        current = self._open
        current.save()
        current.conn.commit()  # the block may go on: the next statement begins anew

    def rollback(self) -> None:
        current = self._open
        for order in current.order_list:
            order.take_results()  # results of undone changes are no results
        current.conn.rollback()
        current.snapshots.clear()
        current.orders_by_id.clear()
        current.ops_by_id.clear()
        current.txs_by_id.clear()
        current.order_list.clear()
        current.new_notifications.clear()


def _port(uow: CoreUnitOfWork) -> CheckoutUnitOfWork:
    """Never called: mypy checks here that this unit of work implements its port whole."""
    return uow
