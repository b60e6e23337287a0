"""The orders monitor's reads (``domain.monitor.OrderMonitor``) as SQLAlchemy Core queries on
a bare connection: one query for a page (walked by the key ``created_at``, ``id`` over the
index ``ix_orders_merchant_created``, or by ``amount``, ``id``), one for the card payments of
the page's orders, one for the totals."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Integer, and_, func, literal_column, or_, select
from sqlalchemy.engine import Engine

from ..domain.model import OperationType
from ..domain.monitor import Cursor, MonitorRow, OrderFilter, Total
from .tables import operations, orders
from .types import stored


def _mask(text: str) -> str:
    """An order number mask as a LIKE pattern: ``%`` is any run, nothing else is special."""
    return text.replace("\\", "\\\\").replace("_", "\\_")


#: SQLite keeps amounts as exact text: compared and summed there in thousandths, as whole
#: numbers (exact), never as text or floats.
_MILLI = literal_column("CAST(ROUND(CAST(orders.amount AS REAL) * 1000) AS INTEGER)", Integer)


def _milli(value: Decimal) -> int:
    return int((value * 1000).to_integral_value())


def where(flt: OrderFilter, sqlite: bool, table=orders) -> list:
    """The conditions of the filter on ``table`` (``orders`` or an alias of it)."""
    o = table.c
    conds = [o.merchant_id == flt.merchant_id]
    if flt.order_number is not None and not flt.is_mask:
        conds.append(o.order_number == flt.order_number)
    else:
        if flt.order_number is not None:
            conds.append(o.order_number.like(_mask(flt.order_number), escape="\\"))
        if flt.since is not None:
            conds.append(o.created_at >= flt.since)
        if flt.until is not None:
            conds.append(o.created_at < flt.until)
    if flt.bill_number is not None:
        conds.append(o.bill_number == flt.bill_number)
    if flt.states:
        conds.append(o.state.in_(flt.states))
    if flt.amount_from is not None:
        conds.append(_MILLI >= _milli(flt.amount_from) if sqlite else
                     o.amount >= flt.amount_from)
    if flt.amount_to is not None:
        conds.append(_MILLI <= _milli(flt.amount_to) if sqlite else o.amount <= flt.amount_to)
    if flt.currency is not None:
        conds.append(o.currency == flt.currency)
    if flt.customer:
        pattern = "%" + _mask(flt.customer.lower()).replace("%", "\\%") + "%"
        conds.append(or_(*(func.lower(col).like(pattern, escape="\\")
                           for col in (o.lastname, o.firstname, o.email))))
    if flt.card_last4:
        p = operations.alias("card_pay").c  # apart from any ``operations`` around it
        conds.append(select(p.id).where(
            p.order_id == o.id, p.type == int(OperationType.PAY),
            p.means_number.like("%" + flt.card_last4)).exists())
    if flt.test_mode is not None:
        conds.append(o.test_mode == flt.test_mode)
    return conds


def _customer(row) -> str:
    return " ".join(p for p in (row.lastname, row.firstname, row.middlename) if p)


class SqlOrderMonitor:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"

    def page(self, flt: OrderFilter, after: Cursor | None, limit: int, *, by: str = "date",
             descending: bool = True) -> tuple[list[MonitorRow], Cursor | None]:
        o = orders.c
        conds = where(flt, self.sqlite)
        if by == "amount":
            key = _MILLI if self.sqlite else o.amount
        else:
            key = o.created_at
        if after is not None:
            at: object
            if by == "amount":
                value = after.amount if after.amount is not None else Decimal(0)
                at = _milli(value) if self.sqlite else value
            else:
                at = after.created_at
            # The key's own bound beside the pair's: the index scan starts at the cursor
            # (a row-value or OR condition alone would scan from the first row down).
            if descending:
                conds += [key <= at, or_(key < at, and_(key == at, o.id < after.id))]
            else:
                conds += [key >= at, or_(key > at, and_(key == at, o.id > after.id))]
        keys = (key.desc(), o.id.desc()) if descending else (key, o.id)
        stmt = (select(o.id, o.created_at, o.bill_number, o.order_number, o.amount, o.currency,
                       stored(orders.c.state), o.test_mode, o.lastname, o.firstname,
                       o.middlename, o.email)
                .where(*conds).order_by(*keys).limit(limit + 1))
        with self.engine.connect() as conn:
            found = conn.execute(stmt).all()
            more = len(found) > limit
            found = found[:limit]
            cards = {}
            if found:
                p = operations.c
                for op in conn.execute(
                        select(p.order_id, p.means, p.means_number)
                        .where(p.order_id.in_([r.id for r in found]),
                               p.type == int(OperationType.PAY))
                        .order_by(p.order_id, p.number)):
                    cards[op.order_id] = (op.means, op.means_number)
        rows = [MonitorRow(r.id, r.created_at, r.bill_number, r.order_number, r.amount,
                           r.currency, r.state, bool(r.test_mode), _customer(r), r.email,
                           *cards.get(r.id, (None, None)))
                for r in found]
        last = rows[-1] if more and rows else None
        cursor = Cursor(last.created_at, last.id, last.amount if by == "amount" else None) \
            if last is not None else None
        return rows, cursor

    def totals(self, flt: OrderFilter) -> list[Total]:
        o = orders.c
        total = func.sum(_MILLI) if self.sqlite else func.sum(o.amount)
        stmt = (select(o.currency, stored(orders.c.state), func.count(), total)
                .where(*where(flt, self.sqlite)).group_by(o.currency, o.state)
                .order_by(o.currency, o.state))
        with self.engine.connect() as conn:
            found = conn.execute(stmt).all()
        return [Total(cur, state, int(n),
                      Decimal(int(sum_)) / 1000 if self.sqlite else Decimal(sum_))
                for cur, state, n, sum_ in found]
