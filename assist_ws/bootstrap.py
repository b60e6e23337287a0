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
from .services import checkout, demo_shop, orders


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

    # The payment pages and the demo shop.
    def create_order(self, request):
        return orders.create_order(self.uow, self.clock, request)

    def open_checkout(self, bill_number):
        return checkout.open_checkout(self.uow, self.clock, bill_number)

    def return_url_after(self, result):
        return checkout.return_url_after(self.uow, result)

    def shop_order(self, merchant_id, bill_number):
        return checkout.shop_order(self.uow, merchant_id, bill_number)

    def demo_shop(self):
        return demo_shop.demo_merchant(self.uow)

    def demo_shop_request(self, item, currency, **kw):
        return demo_shop.authorization_request(self.uow, item, currency, **kw)


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
