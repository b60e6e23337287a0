"""Static read queries run straight on a connection's DBAPI cursor: the hot paths of the
merchant's queries (the login and order state of an ERP polling many times a second).

SQLAlchemy's execution layer (compiled cache lookup, execution context, events, result
object) costs more than such a query itself: about 70 microseconds a call on SQLite, where
the query takes 20.  A ``DirectQuery`` lets SQLAlchemy do what it does once per dialect --
compile the statement to SQL, and find the bind and result processors of its types -- and
then calls the driver, in the connection's transaction (begun as ``execute`` would begin
it): the values go in and come out exactly as they would through ``Connection.execute``
(aware UTC datetimes, Decimal amounts, decoded JSON, booleans), and a driver error comes out
as SQLAlchemy's ``DBAPIError`` (the connection invalidated when the driver says it is
gone), so callers see no difference.

Only statements whose parameters are plain ``bindparam``s (none expanding) qualify; they
are passed by name.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select

from .engine import driver_connection

Processor = Callable[[Any], Any] | None
#: Rows taken from the driver at a time.
_BATCH = 256


class _Plan:
    """A statement compiled for one dialect."""

    def __init__(self, stmt: Select, dialect: Dialect):
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        binds = compiled.binds
        for name, bind in binds.items():
            if bind.expanding or bind.callable is not None:
                raise ValueError(f"{name}: only plain bind parameters run directly")
        positional = compiled.positiontup
        self.names: Sequence[str] = positional if positional is not None else tuple(binds)
        self.positional = positional is not None
        #: Values the statement itself holds (SQLite's ``OFFSET 0`` after a ``LIMIT``).
        self.fixed = {n: b.value for n, b in binds.items() if b.value is not None}
        self.binders = [binds[n].type.dialect_impl(dialect).bind_processor(dialect)
                        for n in self.names]
        self.types = [c.type for c in stmt.selected_columns]
        self.dialect = dialect
        #: Result processors, found from the driver's column types on the first execution.
        self.loaders: list[tuple[int, Callable]] | None = None

    def args(self, params: Mapping[str, Any]):
        if self.fixed:
            params = {**self.fixed, **params}
        values = [params[n] if b is None else b(params[n])
                  for n, b in zip(self.names, self.binders)]
        return values if self.positional else dict(zip(self.names, values))

    def find_loaders(self, description) -> list[tuple[int, Callable]]:
        loaders = []
        for i, (t, column) in enumerate(zip(self.types, description)):
            p = t.dialect_impl(self.dialect).result_processor(self.dialect, column[1])
            if p is not None:
                loaders.append((i, p))
        return loaders


class DirectQuery:
    """A static SELECT run on the DBAPI cursor (see the module doc)."""

    def __init__(self, stmt: Select):
        self.stmt = stmt
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _Plan(self.stmt, dialect)
        return plan

    def rows(self, connection: Connection, params: Mapping[str, Any], *,
             make: Callable[[Sequence[Any]], Any] = tuple) -> list:
        """All rows, as tuples of the values ``connection.execute`` would give (or what
        ``make`` makes of each row's values)."""
        dialect = connection.dialect
        plan = self._plan(dialect)
        args = plan.args(params)
        if not connection.in_transaction():
            connection.begin()  # as ``execute`` would (autobegin)
        dbapi_connection = driver_connection(connection)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(plan.sql, args)
            if plan.loaders is None:
                plan.loaders = plan.find_loaders(cursor.description)
            loaders = plan.loaders
            if not loaders:
                rows = cursor.fetchall()
                return rows if make is tuple else [make(row) for row in rows]
            out = []
            # In batches: rows made by the driver in C a batch at a time (iterating the
            # cursor asks it row by row), never all of a big result twice over.
            while True:
                batch = cursor.fetchmany(_BATCH)
                for row in batch:
                    values = list(row)
                    for i, load in loaders:
                        values[i] = load(values[i])
                    out.append(make(values))
                if len(batch) < _BATCH:
                    return out
        except dialect.loaded_dbapi.Error as exc:
            gone = dialect.is_disconnect(exc, dbapi_connection, cursor)
            if gone:
                connection.invalidate(exc)
            raise DBAPIError.instance(plan.sql, args, exc, dialect.loaded_dbapi.Error,
                                      connection_invalidated=gone, dialect=dialect) from exc
        finally:
            cursor.close()
