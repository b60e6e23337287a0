"""The unit of work: one ``with uow:`` block is one database transaction.

Leaving the block without ``commit()`` rolls everything back, so no request can leave an
order half-changed.  The same object can be entered again for the next transaction.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .engine import READONLY
from .repositories import (CenterRepository, MerchantRepository, OrderRepository,
                           RateRepository, UserRepository)
from .tables import start_mappers


class SqlAlchemyUnitOfWork:
    def __init__(self, engine: Engine, *, readonly: bool = False):
        start_mappers()
        self.engine = engine
        self.readonly = readonly
        self._factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
        self.session: Session | None = None

    def reader(self) -> "SqlAlchemyUnitOfWork":
        """A unit of work for queries only (on SQLite it does not take the write lock)."""
        return SqlAlchemyUnitOfWork(self.engine, readonly=True)

    def __enter__(self) -> "SqlAlchemyUnitOfWork":
        if self.session is not None:
            raise RuntimeError("this unit of work is already open")
        self.session = self._factory()
        self.session.connection(execution_options={READONLY: self.readonly})
        self.merchants = MerchantRepository(self.session)
        self.users = UserRepository(self.session)
        self.centers = CenterRepository(self.session)
        self.rates = RateRepository(self.session)
        self.orders = OrderRepository(self.session)
        return self

    def __exit__(self, *exc) -> None:
        session, self.session = self.session, None
        try:
            session.rollback()
        finally:
            session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def flush(self) -> None:
        self.session.flush()
