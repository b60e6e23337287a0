"""The unit of work: one ``with uow:`` block is one database transaction.

Leaving the block without ``commit()`` rolls everything back, so no request can leave an
order half-changed.  The same object can be entered again for the next transaction, and from
several threads at once: each thread gets its own session.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Sequence, cast

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..domain.ports import (BackOfficeUnitOfWork, CheckoutUnitOfWork, MerchantQueries,
                            WorkerUnitOfWork)
from .per_thread import PerThread
from .engine import READONLY, usable
from .audit import AuditRepository, CabinetSessionRepository, TwoFactorRepository
from .notifications import NotificationRepository
from .repositories import (CenterRepository, LoginFailureRepository, MerchantRepository,
                           OrderRepository, RateRepository, UserRepository)
from .settlements import SettlementRepository
from .tables import start_mappers


class _Open:
    def __init__(self, session: Session):
        self.session = session
        self.merchants = MerchantRepository(session)
        self.users = UserRepository(session)
        self.login_failures = LoginFailureRepository(session)
        self.centers = CenterRepository(session)
        self.rates = RateRepository(session)
        self.orders = OrderRepository(session)
        self.notifications = NotificationRepository(session)
        self.settlements = SettlementRepository(session)
        self.audit = AuditRepository(session)
        self.cabinet_sessions = CabinetSessionRepository(session)
        self.two_factor = TwoFactorRepository(session)


class SqlAlchemyUnitOfWork(PerThread[_Open]):
    """The ORM unit of work: each port of the use cases (``CheckoutUnitOfWork``,
    ``BackOfficeUnitOfWork``, ``WorkerUnitOfWork``; ``queries()`` gives ``MerchantQueries``).
    Each thread has its own open session; ``reader()`` is the read-only twin (on SQLite it
    does not take the write lock)."""

    def __init__(self, engine: Engine, *, readonly: bool = False,
                 before_commit: Sequence[Callable[["SqlAlchemyUnitOfWork"], object]] = ()):
        start_mappers()
        super().__init__(engine, readonly)
        #: Called with the open unit of work just before each commit, inside the same
        #: database transaction (the composition root puts the notification outbox here).
        self.before_commit = list(before_commit)
        self._factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)

    # The repositories of the open unit of work.
    @property
    def session(self) -> Session:
        return self._open.session

    @property
    def merchants(self) -> MerchantRepository:
        return self._open.merchants

    @property
    def users(self) -> UserRepository:
        return self._open.users

    @property
    def login_failures(self) -> LoginFailureRepository:
        return self._open.login_failures

    @property
    def centers(self) -> CenterRepository:
        return self._open.centers

    @property
    def rates(self) -> RateRepository:
        return self._open.rates

    @property
    def orders(self) -> OrderRepository:
        return self._open.orders

    @property
    def notifications(self) -> NotificationRepository:
        return self._open.notifications

    @property
    def settlements(self) -> SettlementRepository:
        return self._open.settlements

    @property
    def audit(self) -> AuditRepository:
        return self._open.audit

    @property
    def cabinet_sessions(self) -> CabinetSessionRepository:
        return self._open.cabinet_sessions

    @property
    def two_factor(self) -> TwoFactorRepository:
        return self._open.two_factor

    def queries(self) -> "_Queries":
        """A read-only unit of work for the read models (``login_record``, the login
        failures' ``state``, ``records_by_order_number``, ``operation_lines``) on a bare
        connection: no ORM session, for the hot paths of the merchant's queries."""
        return _Queries(self.engine)

    def __enter__(self) -> "SqlAlchemyUnitOfWork":
        if self._local.open is not None:
            raise RuntimeError("this unit of work is already open in this thread")
        session = self._factory()
        session.connection(execution_options={READONLY: self.readonly})
        self._local.open = _Open(session)
        return self

    def __exit__(self, *exc) -> None:
        current, self._local.open = self._open, None
        try:
            # Detach first, so objects read in this block stay readable (a rollback would
            # expire them); what was not committed is rolled back in the database.
            current.session.expunge_all()
            current.session.rollback()
        finally:
            current.session.close()

    def commit(self) -> None:
        if self.readonly:
            raise RuntimeError("a read-only unit of work writes nothing")
        for hook in self.before_commit:
            hook(self)
        self._open.session.commit()

    def rollback(self) -> None:
        for order in self._open.orders.loaded():
            order.take_results()  # results of undone changes are no results
        self._open.session.rollback()

    def flush(self) -> None:
        self._open.session.flush()


class _BareSession:
    """What the read-model methods of the repositories use of a session: its connection."""

    def __init__(self, connection):
        self._connection = connection

    def connection(self, **_):
        return self._connection


def keep_connections(keep: bool = True) -> None:
    """Mark the calling thread as one that lives as long as its process (a server's request
    thread): its read connections are kept between requests (see ``_Queries``).  With
    ``keep=False`` the thread stops keeping and gives back what it kept."""
    _Queries._kept.keeps = keep
    if not keep:
        for key, (conn, _since) in list(
                (getattr(_Queries._kept, "connections", None) or {}).items()):
            del _Queries._kept.connections[key]
            with _Queries._lock:
                _Queries._keeping[key] = max(0, _Queries._keeping.get(key, 1) - 1)
            conn.close()


def forget_kept_connections() -> dict:
    """Stop keeping the connections ``queries()`` keeps in this process (see ``db.fork``);
    returns them, untouched."""
    kept = getattr(_Queries._kept, "connections", None) or {}
    _Queries._kept = threading.local()
    with _Queries._lock:
        _Queries._keeping.clear()
    return kept


class _Queries:
    """One read-only unit of work on a bare connection, with the repositories' read-model
    methods (see ``SqlAlchemyUnitOfWork.queries``).

    On SQLite it is one deferred transaction (one snapshot, no write lock).  On PostgreSQL
    every query runs in autocommit (no BEGIN/ROLLBACK round trips).  A thread that lives as
    long as its process -- the main thread, a server's request threads
    (``keep_connections``) -- keeps its connection between requests, as many threads of a
    process as the pool keeps connections (its ``size``; the others take one from the pool
    each time): that saves the pool's checkout (and on PostgreSQL its ping), so that on
    PostgreSQL one round trip per query is all, and the threads a busy server keeps busy
    are the ones that keep.  A kept connection that fails is dropped (and its place freed),
    and the next request takes a new one."""

    _kept = threading.local()
    #: Engine id -> how many threads keep a connection of it.
    _keeping: dict[int, int] = {}
    _lock = threading.Lock()

    def __init__(self, engine: Engine):
        self.engine = engine

    def _may_keep(self) -> bool:
        """Whether this thread may keep a connection of the engine (taking a place)."""
        size = getattr(self.engine.pool, "size", None)
        limit = size() if callable(size) else 1
        with self._lock:
            keeping = self._keeping.get(id(self.engine), 0)
            if keeping >= limit:
                return False
            self._keeping[id(self.engine)] = keeping + 1
            return True

    def _let_go(self) -> None:
        with self._lock:
            self._keeping[id(self.engine)] = max(0, self._keeping.get(id(self.engine), 1) - 1)

    def _connect(self):
        keeps = getattr(self._kept, "keeps", None)
        if not (keeps if keeps is not None
                else threading.current_thread() is threading.main_thread()):
            return self._new(), False
        kept = getattr(self._kept, "connections", None)
        if kept is not None:
            held = kept.get(id(self.engine))
            if held is not None:
                conn, since = held
                if not conn.closed and not conn.invalidated:
                    if usable(self.engine, conn.connection.dbapi_connection, since):
                        return conn, True
                    conn.invalidate()  # the server closed it, or stopped answering
                del kept[id(self.engine)]
                self._let_go()
        keep = self._may_keep()
        try:
            conn = self._new()
        except Exception:
            if keep:
                self._let_go()
            raise
        if keep:
            if kept is None:
                kept = self._kept.connections = {}
            kept[id(self.engine)] = [conn, None]
        return conn, keep

    def _new(self):
        conn = self.engine.connect()
        if self.engine.dialect.name == "sqlite":
            return conn.execution_options(**{READONLY: True})  # BEGIN (deferred) on first use
        return conn.execution_options(isolation_level="AUTOCOMMIT")

    def __enter__(self) -> "_Queries":
        self._conn, self._keep = self._connect()
        # The repositories' read methods use only what the stand-in offers of a Session.
        bare = cast(Session, _BareSession(self._conn))
        self.users = UserRepository(bare)
        self.login_failures = LoginFailureRepository(bare)
        self.orders = OrderRepository(bare)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        conn = self._conn
        if self._keep and exc_type is None:
            conn.rollback()  # ends the snapshot (SQLite); nothing is sent in autocommit
            self._kept.connections[id(self.engine)][1] = time.monotonic()  # idle from now
            return
        if self._keep:
            self._kept.connections.pop(id(self.engine), None)
            self._let_go()
        try:
            conn.rollback()
        finally:
            conn.close()


def _ports(uow: SqlAlchemyUnitOfWork) -> None:
    """Never called: mypy checks here that this unit of work implements each port whole."""
    checkout: CheckoutUnitOfWork = uow
    back_office: BackOfficeUnitOfWork = uow
    worker: WorkerUnitOfWork = uow
    queries: MerchantQueries = uow.queries()
    del checkout, back_office, worker, queries
