"""The composition root: settings -> engine -> unit of work -> gateways -> use cases.

Every outbound timeout is built here, once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine

from .config import Settings
from .db.engine import make_engine
from .db.core_uow import CoreUnitOfWork
from .db.snapshot import read_snapshot
from .db.uow import SqlAlchemyUnitOfWork
from .domain.backlog import Snapshot
from .domain.notifications import DeliveryPolicy, NotificationSender, parse_ports
from .domain.ports import CheckoutUnitOfWork, Clock, ProcessingGateway, SystemClock
from .monitoring import metrics
from .notify import HttpNotificationSender
from .processing import SoapProcessingGateway, Timeouts
from .services import cancel, confirm, holds, payment, resolve, settle
from .services.notifications import delivery, queries
from .services.notifications.outbox import write_outbox
from .services import checkout, demo_shop, orders, points
from .services import timeouts as abandoned
from .services import authentication


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow: SqlAlchemyUnitOfWork
    gateway: ProcessingGateway
    clock: Clock
    notifier: NotificationSender | None = None
    notify_policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    #: The unit of work of the buyer's use cases (payment pages): Core statements, no ORM
    #: session (``db/core_uow.py``); None: the ORM one.
    pages_uow: CheckoutUnitOfWork | None = None

    @property
    def buyer_uow(self) -> CheckoutUnitOfWork:
        return self.pages_uow or self.uow

    # The use cases with their ports bound.
    def pay_by_card(self, bill_number, card, **kw):
        kw.setdefault("fingerprint_key", self.settings.secret())
        result = payment.pay_by_card(self.buyer_uow, self.gateway, self.clock, bill_number,
                                     card, **kw)
        if not result.repeated:
            metrics.payment_made(result.operation.state, result.operation.means)
        return result

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

    def deliver_notifications(self):
        return delivery.deliver_due(self.uow, self.notifier, self.clock, self.notify_policy)

    def replay_notifications(self, merchant_id, limit=queries.REPLAY_LIMIT, **kw):
        return queries.replay(self.uow, self.clock, merchant_id, queries.replay_request(**kw),
                              limit=limit)

    def undelivered_notifications(self, merchant_id=None, **kw):
        return queries.undelivered(self.uow, merchant_id, **kw)

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

    # What an operator watches (``/metrics``, ``/ready``).
    def snapshot(self, now=None) -> Snapshot:
        """The state gauges' reading: unknown outcomes, notification backlog, settlement."""
        return read_snapshot(self.engine, now or self.clock.now(),
                             timedelta(seconds=self.settings.resolve_grace))

    def ready_targets(self) -> list[tuple[str, str]]:
        """The active processing centers (name, URL), read from the database."""
        with self.uow.reader() as uow:
            return [(c.name, c.url) for c in uow.centers.list() if c.active]

    # The payment pages and the demo shop.
    def create_order(self, request):
        return orders.create_order(self.buyer_uow, self.clock, request)

    def acs_trip(self, bill_number):
        return authentication.acs_trip(self.buyer_uow, bill_number)

    def complete_authentication(self, bill_number, nonce, result):
        return authentication.complete_authentication(self.buyer_uow, self.gateway,
                                                      self.clock, bill_number, nonce, result)

    def open_checkout(self, bill_number):
        return checkout.open_checkout(self.buyer_uow, self.clock, bill_number)

    def points_offer(self, bill_number, card_number):
        return points.points_offer(self.buyer_uow, self.gateway, bill_number, card_number)

    def return_url_after(self, result):
        return checkout.return_url_after(self.buyer_uow, result)

    def shop_order(self, merchant_id, bill_number):
        return checkout.shop_order(self.buyer_uow, merchant_id, bill_number)

    def demo_shop(self):
        return demo_shop.demo_merchant(self.uow)

    def demo_shop_request(self, item, currency, **kw):
        return demo_shop.authorization_request(self.uow, item, currency, **kw)

    @functools.cached_property
    def order_monitor(self):
        """The merchant cabinet's orders monitor (its reads, on the engine)."""
        from .db.monitor import SqlOrderMonitor
        return SqlOrderMonitor(self.engine)

    @functools.cached_property
    def order_export(self):
        """The merchant cabinet's export and daily report (their reads, on the engine)."""
        from .db.reports import SqlOrderExport
        return SqlOrderExport(self.engine)

    @functools.cached_property
    def daily_report(self):
        from .db.reports import SqlDailyReport
        return SqlDailyReport(self.engine)

    @functools.cached_property
    def merchant_api(self):
        """The merchant web services (order state/result, confirm, cancel, results by
        date), with a success cache of verified credentials for this process."""
        from .services.auth import SuccessCache
        from .services.merchant_api import MerchantApi
        return MerchantApi(self.uow, self.gateway, self.clock,
                           SuccessCache(ttl=self.settings.auth_cache_seconds),
                           check_notify_url=self.notifier.check_url if self.notifier else None)


def build(settings: Settings | None = None, *, clock: Clock | None = None,
          gateway: ProcessingGateway | None = None) -> Container:
    settings = settings or Settings.from_env()
    # Every thread of a server process may need a connection at once: the pool keeps
    # ``db_pool_size`` and opens up to one more per thread while they are needed.
    engine = make_engine(settings.database_url, pool_size=max(1, settings.db_pool_size),
                         max_overflow=max(0, settings.web_threads))
    timeouts = Timeouts(connect=settings.processing_connect_timeout,
                        read=settings.processing_timeout,
                        batch_read=settings.settlement_timeout)
    clock = clock or _clock(settings)
    # The notification outbox is written inside every commit, with the state change.
    outbox = functools.partial(write_outbox, clock=clock)
    uow = SqlAlchemyUnitOfWork(engine, before_commit=[outbox])
    # Every call to a center and every notification try is counted and timed on its way.
    return Container(settings=settings, engine=engine, uow=uow,
                     pages_uow=CoreUnitOfWork(engine, before_commit=[outbox]),
                     gateway=metrics.MeteredGateway(gateway or SoapProcessingGateway(
                         timeouts, connections=max(1, settings.web_threads))),
                     clock=clock,
                     notifier=metrics.MeteredSender(HttpNotificationSender(
                         connect_timeout=settings.notify_connect_timeout,
                         timeout=settings.notify_timeout,
                         max_reply_bytes=settings.notify_max_reply_bytes,
                         allowed_ports=parse_ports(settings.notify_ports),
                         allow_private=settings.notify_allow_private)),
                     notify_policy=notify_policy(settings))


def notify_policy(settings: Settings) -> DeliveryPolicy:
    """How result notifications are delivered, from the settings."""
    one_try = settings.notify_connect_timeout + settings.notify_timeout
    batch, concurrency = max(1, settings.notify_batch_size), max(1, settings.notify_concurrency)
    chain_limit = DeliveryPolicy.chain_limit
    # A claim must outlive the slowest pass: every round of chains timing out.
    rounds = -(-batch // concurrency) + chain_limit
    return DeliveryPolicy(retry_period=timedelta(hours=settings.notify_retry_hours),
                          lease=max(timedelta(minutes=10), timedelta(seconds=rounds * one_try)),
                          batch_size=batch, concurrency=concurrency, chain_limit=chain_limit)


def _clock(settings: Settings) -> Clock:
    if settings.clock_offset_file:
        from .clocks import OffsetFileClock
        return OffsetFileClock(settings.clock_offset_file)
    return SystemClock()


@functools.lru_cache(maxsize=1)
def default_container() -> Container:
    """The process-wide container of a server process (built from the environment)."""
    return build()
