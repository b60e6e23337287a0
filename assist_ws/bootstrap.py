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
from .services import cancel, confirm, payment, resolve, settle


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
        kw.setdefault("batch_size", self.settings.settle_batch_size)
        return settle.settle(self.uow, self.gateway, self.clock, **kw)

    def resolve(self, **kw):
        from datetime import timedelta
        kw.setdefault("grace", timedelta(seconds=self.settings.resolve_grace))
        return resolve.resolve_unknown(self.uow, self.gateway, self.clock, **kw)

    def close(self) -> None:
        self.engine.dispose()

    @functools.cached_property
    def merchant_api(self):
        """The merchant web services (order state/result, confirm, cancel, results by
        date), with a success cache of verified credentials for this process."""
        from .services.auth import SuccessCache
        from .services.merchant_api import MerchantApi
        return MerchantApi(self.uow, self.gateway, self.clock,
                           SuccessCache(ttl=self.settings.auth_cache_seconds))


def build(settings: Settings | None = None, *, clock: Clock | None = None,
          gateway: ProcessingGateway | None = None) -> Container:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    timeouts = Timeouts(connect=settings.processing_connect_timeout,
                        read=settings.processing_timeout,
                        batch_read=settings.settlement_timeout)
    return Container(settings=settings, engine=engine, uow=SqlAlchemyUnitOfWork(engine),
                     gateway=gateway or ZeepProcessingGateway(timeouts),
                     clock=clock or SystemClock())


@functools.lru_cache(maxsize=1)
def default_container() -> Container:
    """The process-wide container of a server process (built from the environment)."""
    return build()
