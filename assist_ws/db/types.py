"""Column types that keep money exact, times in UTC and states as their enumerations on every
database we support."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import DateTime, Numeric, String, type_coerce
from sqlalchemy.types import TypeDecorator, TypeEngine


class Amount(TypeDecorator):
    """A Decimal: NUMERIC on PostgreSQL, exact text on SQLite (whose NUMERIC is a float)."""

    impl = Numeric(20, 3)
    cache_ok = True

    def __init__(self, precision: int = 20, scale: int = 3):
        super().__init__()
        self.precision, self.scale = precision, scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("amounts are Decimal, never float")
        value = Decimal(value)
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value)

    def result_processor(self, dialect, coltype):
        if dialect.name == "sqlite":
            return super().result_processor(dialect, coltype)  # exact text -> Decimal
        # The driver gives Decimals of NUMERIC already: nothing to do per value (this runs
        # for every amount read, a million times in a big results-by-date reply).
        return self.impl_instance.result_processor(dialect, coltype)

    @property
    def python_type(self):
        return Decimal


class UtcDateTime(TypeDecorator):
    """An aware UTC datetime in Python, stored as a naive UTC timestamp."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware ones")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)

    def result_processor(self, dialect, coltype):
        # ``process_result_value`` after the dialect's own processing, without the generic
        # wrapper around it: this runs for every time read.
        inner = self.impl_instance.result_processor(dialect, coltype)
        utc = timezone.utc
        if inner is None:
            def process(value):
                return None if value is None else value.replace(tzinfo=utc)
        else:
            def process(value):
                value = inner(value)
                return None if value is None else value.replace(tzinfo=utc)
        return process

    @property
    def python_type(self):
        return datetime


class Enumerated(TypeDecorator):
    """A member of an enumeration of str or int values (``OrderState``, ``OperationType``, …)
    in Python, stored as its value in the column type ``stored`` (the schema is that of the
    plain column)."""

    impl: TypeEngine | type[TypeEngine] = String
    cache_ok = True

    def __init__(self, values: type[enum.Enum], stored: TypeEngine):
        super().__init__()
        self.impl = stored
        self.values = values
        #: value -> member, read for every state of every row loaded (the hot path of the
        #: payment pages): one dict look-up, not the enumeration's call.
        self._members = {m.value: m for m in values}

    def process_bind_param(self, value, dialect):
        return None if value is None else self.values(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else self._members[value]

    def bind_processor(self, dialect):
        if self.impl_instance.bind_processor(dialect) is not None:
            return super().bind_processor(dialect)
        values = self.values

        def process(value):
            if value is None:
                return None
            return (value if type(value) is values else values(value)).value
        return process

    def result_processor(self, dialect, coltype):
        inner = self.impl_instance.result_processor(dialect, coltype)
        if inner is not None:
            return super().result_processor(dialect, coltype)
        members = self._members

        def process(value):
            return None if value is None else members[value]
        return process

    @property
    def python_type(self):
        return self.values


def stored(column):
    """``column`` as it is stored -- a state's or a type's value, not its enumeration --
    for the read models, whose rows go to the wire (or into sums) as they are."""
    return type_coerce(column, column.type.impl).label(column.key)
