"""The unit of work: one ``with uow:`` block is one database transaction.

Leaving the block without ``commit()`` rolls everything back, so no request can leave an
order half-changed.  The same object can be entered again for the next transaction, and from
several threads at once: each thread gets its own session.
"""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .engine import READONLY
from .repositories import (CenterRepository, MerchantRepository, OrderRepository,
                           RateRepository, UserRepository)
from .settlements import SettlementRepository
from .tables import start_mappers


class _Open:
    def __init__(self, session: Session):
        self.session = session
        self.merchants = MerchantRepository(session)
        self.users = UserRepository(session)
        self.centers = CenterRepository(session)
        self.rates = RateRepository(session)
        self.orders = OrderRepository(session)
        self.settlements = SettlementRepository(session)


class SqlAlchemyUnitOfWork:
    def __init__(self, engine: Engine, *, readonly: bool = False):
        start_mappers()
        self.engine = engine
        self.readonly = readonly
        self._factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
        self._local = threading.local()
        self._reader: SqlAlchemyUnitOfWork | None = None

    def reader(self) -> "SqlAlchemyUnitOfWork":
        """A unit of work for queries only (on SQLite it does not take the write lock)."""
        if self.readonly:
            return self
        if self._reader is None:
            self._reader = SqlAlchemyUnitOfWork(self.engine, readonly=True)
        return self._reader

    @property
    def _open(self) -> _Open:
        current = getattr(self._local, "open", None)
        if current is None:
            raise RuntimeError("the unit of work is not open: use `with uow:`")
        return current

    def __getattr__(self, name: str):
        if name in ("session", "merchants", "users", "centers", "rates", "orders",
                    "settlements"):
            return getattr(self._open, name)
        raise AttributeError(name)

    def __enter__(self) -> "SqlAlchemyUnitOfWork":
        if getattr(self._local, "open", None) is not None:
            raise RuntimeError("this unit of work is already open in this thread")
        session = self._factory()
        session.connection(execution_options={READONLY: self.readonly})
        self._local.open = _Open(session)
        return self

    def __exit__(self, *exc) -> None:
        current, self._local.open = self._local.open, None
        try:
            # Detach first, so objects read in this block stay readable (a rollback would
            # expire them); what was not committed is rolled back in the database.
            current.session.expunge_all()
            current.session.rollback()
        finally:
            current.session.close()

    def commit(self) -> None:
        self._open.session.commit()

    def rollback(self) -> None:
        self._open.session.rollback()

    def flush(self) -> None:
        self._open.session.flush()
