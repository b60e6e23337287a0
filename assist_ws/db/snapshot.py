"""The state an operator watches (``domain.backlog.Snapshot``), read in four small queries on
one connection: each counts the few rows an index finds (open transactions, sent batches,
pending notifications) or reads the centers' table."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine

from ..domain.backlog import Backlog, CenterSettlement, Snapshot
from ..domain.model import TransactionState
from ..domain.notifications import NotificationState
from ..domain.settlement import BatchState
from .engine import READONLY
from .tables import notifications, processing_centers, settlement_batches, transactions


def _backlog(row) -> Backlog:
    return Backlog(int(row[0] or 0), row[1])


def read_snapshot(engine: Engine, now: datetime, grace: timedelta) -> Snapshot:
    """What waits at ``now``; a transaction or batch sent less than ``grace`` ago is still
    in flight, not unknown."""
    before = now - grace
    unknown = (select(func.count(), func.min(transactions.c.created_at))
               .where(or_(transactions.c.state == TransactionState.UNKNOWN.value,
                          and_(transactions.c.state.in_([TransactionState.SENT.value,
                                                         TransactionState.NEW.value]),
                               transactions.c.created_at < before))))
    batches = (select(func.count(), func.min(settlement_batches.c.created_at))
               .where(settlement_batches.c.state == BatchState.SENT.value,
                      settlement_batches.c.created_at < before))
    pending = (select(func.count(), func.min(notifications.c.queued_at))
               .where(notifications.c.state == NotificationState.PENDING.value))
    centers = (select(processing_centers.c.name, processing_centers.c.cutoff,
                      processing_centers.c.settled_through)
               .where(processing_centers.c.active.is_(True))
               .order_by(processing_centers.c.name))
    with engine.connect().execution_options(**{READONLY: True}) as conn:
        found = Snapshot(
            read_at=now,
            unknown_transactions=_backlog(conn.execute(unknown).one()),
            unknown_batches=_backlog(conn.execute(batches).one()),
            notifications=_backlog(conn.execute(pending).one()),
            centers=tuple(CenterSettlement(name, cutoff, through)
                          for name, cutoff, through in conn.execute(centers)))
        conn.rollback()
    return found
