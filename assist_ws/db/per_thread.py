"""What both units of work (``uow.SqlAlchemyUnitOfWork`` and ``core_uow.CoreUnitOfWork``)
share: the block open in each thread (``_open``, what ``with uow:`` opened there) and
``reader()``, the read-only twin, made once."""

from __future__ import annotations

import threading
from typing import Any, Generic, Self, TypeVar

from sqlalchemy.engine import Engine

Opened = TypeVar("Opened")


class _Local(threading.local):
    open: Any = None


class PerThread(Generic[Opened]):
    def __init__(self, engine: Engine, readonly: bool):
        self.engine = engine
        self.readonly = readonly
        self._local = _Local()
        self._reader: Self | None = None

    def reader(self) -> Self:
        if self.readonly:
            return self
        if self._reader is None:
            self._reader = type(self)(self.engine, readonly=True)
        return self._reader

    @property
    def _open(self) -> Opened:
        current = self._local.open
        if current is None:
            raise RuntimeError("the unit of work is not open: use `with uow:`")
        return current
