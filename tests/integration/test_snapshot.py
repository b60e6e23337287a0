"""The state ``/metrics`` reads from the database (``db.snapshot``), on SQLite and
PostgreSQL: transactions and settlement batches without an outcome (those in flight for
less than the grace excepted), result notifications pending, and each center's settlement
lag, moved by what the use cases do."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from assist_ws.bootstrap import build
from assist_ws.config import Settings
from assist_ws.db.migrate import upgrade
from assist_ws.domain.cards import parse_card
from assist_ws.domain.ports import Outcome, ProcessingReply
from assist_ws.domain.settlement import latest_cutoff
from assist_ws.services import admin
from assist_ws.services.notifications.outbox import NotifySettings
from assist_ws.services.orders import AuthorizationRequest, create_order

from ..support import create_pg_database, drop_pg_database, require_postgres
from ..unit.fakes import FakeGateway, MovableClock

MERCHANT = 500001
GRACE = timedelta(seconds=60)


class Gateway(FakeGateway):
    """The fakes' gateway; ``broken`` makes the next authorization fail after it went out."""

    broken = False

    def authorize(self, center, request_id, card, amount, skip_authentication=False):
        if self.broken:
            self.broken = False
            raise RuntimeError("the process died here")
        return super().authorize(center, request_id, card, amount, skip_authentication)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                               marks=pytest.mark.postgres)])
def gw(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("snapshot-" + request.param)
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/assist.db"
    else:
        require_postgres()
        url, pg_name = create_pg_database()
    upgrade(url)
    clock = MovableClock(datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc))  # stands still
    container = build(Settings(database_url=url, secret_key="test", var_dir=str(tmp),
                               notify_ports="*", notify_allow_private=True,
                               resolve_grace=GRACE.total_seconds()),
                      clock=clock, gateway=Gateway())
    admin.add_center(container.uow, "rub", "http://127.0.0.1:9/rub?wsdl", "RUB")
    admin.save_merchant(container.uow, MERCHANT, admin.MerchantSettings(
        name="Snapshot shop", currencies=("RUB",), processing=(("RUB", "rub"),),
        notify=NotifySettings(url="http://127.0.0.1:9/result", results="pay")), create=True,
        check_notify_url=container.notifier.check_url)
    yield container
    container.close()
    if pg_name:
        drop_pg_database(pg_name)


def pay(gw, reply: ProcessingReply | None = None) -> str:
    order = create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(MERCHANT), "S-" + uuid.uuid4().hex[:8], "10.00", "RUB"))
    if reply is not None:
        gw.gateway.inner.replies["authorize"] = [reply]
    card = parse_card("4111111111111111", "12", "2030", "TEST HOLDER", "123", gw.clock.now())
    gw.pay_by_card(order.bill_number, card)
    return order.bill_number


def test_what_waits_is_counted_with_its_oldest(gw):
    start = gw.clock.now()
    empty = gw.snapshot()
    assert (empty.unknown_transactions.count, empty.unknown_batches.count,
            empty.notifications.count) == (0, 0, 0)
    [center] = empty.centers
    assert center.name == "rub" and center.settled_through is None
    assert center.lag(start) == (start - latest_cutoff(start, "21:00")).total_seconds()

    pay(gw, ProcessingReply(Outcome.UNKNOWN, None, "read timeout"))  # unknown at once
    gw.clock.move(minutes=1)
    pay(gw)  # approved: a pay notification waits for the worker
    gw.gateway.inner.broken = True
    with pytest.raises(RuntimeError):
        pay(gw)  # sent, and no answer recorded: in flight for now
    now = gw.clock.now()
    found = gw.snapshot()
    assert found.unknown_transactions.count == 1
    assert found.unknown_transactions.oldest == start
    assert found.unknown_transactions.age(now) == 60
    assert found.notifications.count == 1
    assert found.notifications.oldest == start + timedelta(minutes=1)

    later = gw.snapshot(now + GRACE + timedelta(seconds=1))  # past the grace: unknown too
    assert later.unknown_transactions.count == 2
    assert later.unknown_transactions.oldest == start


def test_a_settled_cutoff_ends_the_lag_and_an_unanswered_batch_is_unknown(gw):
    gw.clock.move(hours=9, minutes=5)  # 21:06: past today's cut-off
    now = gw.clock.now()
    cutoff = latest_cutoff(now, "21:00")
    gw.gateway.inner.replies["settle_batch"] = [ProcessingReply(Outcome.UNKNOWN, None, "x")]
    assert gw.settle_at_cutoff().retried == 1
    found = gw.snapshot(now + GRACE + timedelta(seconds=1))
    assert found.unknown_batches.count == 1 and found.unknown_batches.oldest == now
    assert found.centers[0].lag(now) == (now - cutoff).total_seconds()
    gw.clock.move(minutes=10)  # past the batch's back-off: the center answers it
    assert gw.settle_at_cutoff().settled == 1
    found = gw.snapshot()
    assert found.unknown_batches.count == 0
    assert found.centers[0].settled_through == cutoff
    assert found.centers[0].lag(gw.clock.now()) == 0
