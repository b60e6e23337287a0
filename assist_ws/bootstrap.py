"""The composition root: settings -> engine -> unit of work -> gateways -> use cases.

Every outbound timeout is built here, once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from .config import Settings
from .db.engine import make_engine
from .db.uow import SqlAlchemyUnitOfWork
from .domain.ports import Clock, ProcessingGateway, SystemClock
from .processing import Timeouts, ZeepProcessingGateway
from .services import cancel, confirm, holds, payment, resolve, settle
from .services import timeouts as abandoned


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow: SqlAlchemyUnitOfWork
    gateway: ProcessingGateway
    clock: Clock

    # The use cases with their ports bound.
    def pay_by_card(self, bill_number, card, **kw):
        kw.setdefault("fingerprint_key", self.settings.secret())
        return payment.pay_by_card(self.uow, self.gateway, self.clock, bill_number, card, **kw)

    def confirm(self, merchant_id, bill_number, amount=None, **kw):
        return confirm.confirm_payment(self.uow, self.gateway, self.clock, merchant_id,
                                       bill_number, amount, **kw)

    def cancel(self, merchant_id, bill_number, amount=None, **kw):
        return cancel.cancel_payment(self.uow, self.gateway, self.clock, merchant_id,
                                     bill_number, amount, **kw)

    def settle(self, **kw):
        return settle.settle(self.uow, self.gateway, self.clock, **self._settling(kw))

    def resolve(self, **kw):
        from datetime import timedelta
        kw.setdefault("grace", timedelta(seconds=self.settings.resolve_grace))
        kw.setdefault("max_attempts", self.settings.resolve_max_attempts)
        return resolve.resolve_unknown(self.uow, self.gateway, self.clock, **kw)

    # The worker's jobs (assist_ws/jobs) and their commands.
    def _settling(self, kw: dict) -> dict:
        from datetime import timedelta
        kw.setdefault("batch_size", self.settings.settle_batch_size)
        kw.setdefault("concurrency", self.settings.settle_concurrency)
        kw.setdefault("lease", timedelta(seconds=self.settings.settle_lease))
        kw.setdefault("max_attempts", self.settings.resolve_max_attempts)
        return kw

    def settle_at_cutoff(self, **kw):
        return settle.settle_at_cutoff(self.uow, self.gateway, self.clock, **self._settling(kw))

    def count_due(self, **kw):
        return settle.count_due(self.uow, self.clock, **kw)

    def expire_holds(self, **kw):
        return holds.expire_holds(self.uow, self.gateway, self.clock, **kw)

    def close_abandoned(self, **kw):
        from datetime import timedelta
        kw.setdefault("grace", timedelta(seconds=self.settings.resolve_grace))
        return abandoned.close_abandoned(self.uow, self.gateway, self.clock, **kw)

    def unresolved(self, **kw):
        kw.setdefault("max_attempts", self.settings.resolve_max_attempts)
        return resolve.unresolved(self.uow, **kw)

    def close(self) -> None:
        self.engine.dispose()


def build(settings: Settings | None = None, *, clock: Clock | None = None,
          gateway: ProcessingGateway | None = None) -> Container:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    timeouts = Timeouts(connect=settings.processing_connect_timeout,
                        read=settings.processing_timeout,
                        batch_read=settings.settlement_timeout)
    return Container(settings=settings, engine=engine, uow=SqlAlchemyUnitOfWork(engine),
                     gateway=gateway or ZeepProcessingGateway(timeouts),
                     clock=clock or _clock(settings))


def _clock(settings: Settings) -> Clock:
    if settings.clock_offset_file:
        from .clocks import OffsetFileClock
        return OffsetFileClock(settings.clock_offset_file)
    return SystemClock()


@functools.lru_cache(maxsize=1)
def default_container() -> Container:
    """The process-wide container of a server process (built from the environment)."""
    return build()
