"""The worker's use cases with fakes of their ports: settlement at the cut-off and its
failures, hold expiry, buyer timeouts, the resolver's limit; the worker's round."""

import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from assist_ws.domain.errors import Locked, StateTransitionRefused
from assist_ws.domain.money import Money
from assist_ws.domain.ports import Outcome, ProcessingReply
from assist_ws.domain.settlement import DuePayment, latest_cutoff, next_cutoff, parse_cutoff
from assist_ws.jobs.worker import JOBS, Worker
from assist_ws.services import cancel, confirm, holds, payment, resolve, settle, timeouts
from assist_ws.services.orders import AuthorizationRequest, create_order

from assist_ws.domain.model import Merchant, ProcessingCenter

from .fakes import FakeGateway, FakeUnitOfWork, MovableClock
from .test_use_cases import MID, card, paid, rub

UTC = timezone.utc


@pytest.fixture
def env():
    """A RUB center (7-day holds, cut-off 21:00) and a two-stage merchant, on fakes."""
    uow, gw, clock = FakeUnitOfWork(), FakeGateway(), MovableClock()
    with uow:
        uow.centers.add(ProcessingCenter("rub", "http://x/rub?wsdl", "RUB", True, 7))
        uow.merchants.add(Merchant(MID, "Shop", "RUB", ["RUB"], two_stage=True,
                                   processing={"RUB": "rub"}))
        uow.commit()
    return uow, gw, clock


def at(clock, hour, minute=0, days=0):
    """Move the fake clock to HH:MM of its day (+days)."""
    now = clock.now()
    clock.current = datetime(now.year, now.month, now.day, hour, minute, tzinfo=UTC) + \
        timedelta(days=days)


def order(uow, bill):
    with uow:
        return uow.orders.get(bill)


# -- the schedule ------------------------------------------------------------------------
def test_cutoff_moments():
    now = datetime(2026, 11, 27, 20, 59, tzinfo=UTC)
    assert latest_cutoff(now, "21:00") == datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
    assert latest_cutoff(now.replace(hour=21, minute=0), "21:00") == \
        datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    assert next_cutoff(now, "21:00") == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    assert latest_cutoff(datetime(2026, 1, 1, 0, 5, tzinfo=UTC), "00:00") == \
        datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    for bad in ("25:00", "21", "", "ab:cd", "21:60"):
        with pytest.raises(Exception, match="cut-off"):
            parse_cutoff(bad)


def test_what_a_payment_owes_and_releases():
    one_stage = DuePayment(1, "b", 1, "a", "RUB", Decimal("100.00"), canceled=Decimal("30.00"),
                           reversed=Decimal("30.00"))
    assert one_stage.owed == rub("70.00") and one_stage.released == rub("0.00")
    partly_confirmed = DuePayment(1, "b", 1, "a", "RUB", Decimal("100.00"), Decimal("60.00"))
    assert partly_confirmed.owed == rub("60.00") and partly_confirmed.released == rub("40.00")
    auto_deposit = DuePayment(1, "b", 1, "a", "RUB", Decimal("100.00"), Decimal("60.00"),
                              reversed=Decimal("40.00"))
    assert auto_deposit.released == rub("0.00")


# -- settlement --------------------------------------------------------------------------
def test_settles_at_the_cutoff_and_not_before(env):
    uow, gw, clock = env
    at(clock, 20, 0)
    one, _ = paid(env, number="ONE")
    two, _ = paid(env, delay="1", number="TWO")
    assert settle.settle_at_cutoff(uow, gw, clock).operations == 0
    at(clock, 20, 30)
    confirm.confirm_payment(uow, gw, clock, MID, two)
    at(clock, 20, 59)
    assert settle.settle_at_cutoff(uow, gw, clock).operations == 0
    assert gw.count("settle") == 0
    at(clock, 21, 0)
    summary = settle.settle_at_cutoff(uow, gw, clock)
    assert (summary.settled, summary.amounts) == (2, {"RUB": Decimal("200.00")})
    assert order(uow, one).settled() and order(uow, two).settled()
    assert settle.settle_at_cutoff(uow, gw, clock).operations == 0  # nothing twice


def test_confirmed_after_the_cutoff_waits_for_the_next(env):
    uow, gw, clock = env
    at(clock, 20, 0)
    bill, _ = paid(env, delay="1")
    at(clock, 21, 30)
    confirm.confirm_payment(uow, gw, clock, MID, bill, rub("60.00"))
    at(clock, 23, 0)
    assert settle.settle_at_cutoff(uow, gw, clock).operations == 0
    at(clock, 21, 0, days=1)
    summary = settle.settle_at_cutoff(uow, gw, clock)
    assert summary.amounts == {"RUB": Decimal("60.00")}
    assert summary.released == {"RUB": Decimal("40.00")}  # the unconfirmed rest of the hold


def test_a_batch_without_answer_is_sent_again_with_the_same_ids(env):
    uow, gw, clock = env
    bill, _ = paid(env)
    gw.replies["settle_batch"] = [ProcessingReply(Outcome.UNKNOWN, None, "read timeout")]
    summary = settle.settle(uow, gw, clock)
    assert summary.retried == 1 and summary.settled == 0
    first_ids = gw.calls[-1][3]
    assert order(uow, bill).settlement_open()
    with pytest.raises(Locked):  # the center may have settled it: no reversal now
        cancel.cancel_payment(uow, gw, clock, MID, bill)
    assert settle.settle(uow, gw, clock).operations == 0  # before the back-off: nothing
    clock.move(seconds=11)
    summary = settle.settle(uow, gw, clock)
    assert summary.settled == 1 and gw.calls[-1][3] == first_ids
    assert order(uow, bill).settled()
    with uow:
        [batch] = uow.settlements.batches.values()
        assert (batch.state, batch.attempts, batch.settled) == ("done", 2, 1)


def test_a_batch_never_answered_is_reported(env, caplog):
    uow, gw, clock = env
    paid(env)
    caplog.set_level(logging.ERROR)
    silence = ProcessingReply(Outcome.DECLINED, "AS998", "center unreachable", delivered=False)
    for _ in range(4):
        gw.replies["settle_batch"] = [silence]
        settle.settle(uow, gw, clock, max_attempts=3)
        clock.move(hours=2)
    assert sum("UNRESOLVED: settlement batch" in r.getMessage() for r in caplog.records) == 1
    [batch] = resolve.unresolved(uow, max_attempts=3).batches
    assert (batch.state, batch.attempts, batch.message) == ("sent", 4, "center unreachable")
    assert settle.settle(uow, gw, clock).settled == 1  # the center is back
    assert not resolve.unresolved(uow, max_attempts=3)


def center_of(uow, name="rub"):
    with uow:
        return uow.centers.get(name)


def test_a_cutoff_settled_is_recorded_and_a_silent_center_keeps_it_back(env):
    uow, gw, clock = env
    at(clock, 22, 0)
    assert center_of(uow).settled_through is None
    settle.settle_at_cutoff(uow, gw, clock)  # nothing was due at 21:00: settled through it
    assert center_of(uow).settled_through == datetime.combine(
        clock.now().date(), parse_cutoff("21:00"))
    paid(env)
    at(clock, 21, 5, days=1)
    gw.replies["settle_batch"] = [ProcessingReply(Outcome.UNKNOWN, None, "read timeout")]
    assert settle.settle_at_cutoff(uow, gw, clock).retried == 1
    yesterday = center_of(uow).settled_through
    assert yesterday == latest_cutoff(clock.now(), "21:00") - timedelta(days=1)
    clock.move(seconds=20)  # the center answers the batch sent again
    assert settle.settle_at_cutoff(uow, gw, clock).settled == 1
    assert center_of(uow).settled_through == latest_cutoff(clock.now(), "21:00")


def test_settlement_lag_runs_from_the_first_cutoff_not_settled():
    from assist_ws.domain.backlog import CenterSettlement
    now = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
    today = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    assert CenterSettlement("rub", "21:00", today).lag(now) == 0
    assert CenterSettlement("rub", "21:00", today - timedelta(days=1)).lag(now) == 1800
    # behind for three days: from the first cut-off missed, not from the latest one
    assert CenterSettlement("rub", "21:00", today - timedelta(days=3)).lag(now) == \
        2 * 86400 + 1800
    assert CenterSettlement("rub", "21:00", None).lag(now) == 1800


def test_a_declined_item_is_recorded_and_the_order_can_be_canceled(env):
    uow, gw, clock = env
    bill, _ = paid(env)
    gw.replies["settle"] = [ProcessingReply(Outcome.DECLINED, "AS107", "hold expired")]
    summary = settle.settle(uow, gw, clock)
    assert (summary.settled, summary.declined) == (0, 1)
    o = order(uow, bill)
    assert o.card_payment.financial.state == "declined" and not o.settlement_open()
    assert settle.settle(uow, gw, clock).operations == 0  # not claimed again
    assert cancel.cancel_payment(uow, gw, clock, MID, bill).order.state == "Canceled"


def test_an_item_without_answer_goes_to_the_resolver(env):
    uow, gw, clock = env
    bill, _ = paid(env)
    gw.replies["settle"] = [ProcessingReply(Outcome.UNKNOWN, None, "missing")]
    assert settle.settle(uow, gw, clock).unknown == 1
    assert order(uow, bill).card_payment.financial.state == "unknown"
    clock.move(minutes=1)
    gw.replies["status"] = [ProcessingReply(Outcome.SUCCESS, "AS000", request_id="x")]
    assert resolve.resolve_unknown(uow, gw, clock, grace=timedelta(0)).resolved == 1
    assert order(uow, bill).settled()


# -- hold expiry ---------------------------------------------------------------------------
def test_an_expired_hold_is_canceled_and_released(env):
    uow, gw, clock = env
    bill, _ = paid(env, delay="1")
    clock.move(days=6, hours=23)
    assert holds.expire_holds(uow, gw, clock).canceled == 0
    clock.move(hours=1)
    summary = holds.expire_holds(uow, gw, clock)
    assert (summary.canceled, summary.released) == (1, 1)
    assert gw.calls[-1][0] == "reverse" and gw.calls[-1][2] is None  # all that is held
    o = order(uow, bill)
    assert o.state == "Canceled" and "7-day hold period at rub" in o.state_reason
    with pytest.raises(StateTransitionRefused):
        confirm.confirm_payment(uow, gw, clock, MID, bill)
    assert holds.expire_holds(uow, gw, clock).canceled == 0


def test_an_unanswered_release_is_left_to_the_resolver(env):
    uow, gw, clock = env
    bill, _ = paid(env, delay="1")
    clock.move(days=8)
    gw.replies["reverse"] = [ProcessingReply(Outcome.UNKNOWN, None, "timeout")]
    assert holds.expire_holds(uow, gw, clock).unknown == 1
    assert order(uow, bill).state == "Canceled"
    clock.move(minutes=1)
    gw.replies["status"] = [ProcessingReply(Outcome.NOT_FOUND)]  # never arrived: sent again
    resolve.resolve_unknown(uow, gw, clock, grace=timedelta(0))
    assert gw.calls[-1][0] == "reverse"
    o = order(uow, bill)
    assert [t.state for t in o.card_payment.transactions] == ["success", "success"]


# -- buyer timeouts ----------------------------------------------------------------------
def test_an_abandoned_order_times_out(env):
    uow, gw, clock = env
    waiting = create_order(uow, clock, AuthorizationRequest(str(MID), "T-1", "10.00", "RUB"))
    paying, _ = paid(env, number="T-2")
    clock.move(minutes=19)
    fresh = create_order(uow, clock, AuthorizationRequest(str(MID), "T-3", "10.00", "RUB"))
    clock.move(minutes=2)
    summary = timeouts.close_abandoned(uow, gw, clock)
    assert summary.bills == [waiting.bill_number] and summary.reversed == 0
    o = order(uow, waiting.bill_number)
    assert o.state == "Timeout" and "20 minutes" in o.state_reason
    assert order(uow, fresh.bill_number).state == "In Process"
    assert order(uow, paying).state == "Approved"
    assert gw.count("reverse") == 0


@pytest.mark.parametrize("at_center, reversal", [
    (ProcessingReply(Outcome.SUCCESS, "AS000", request_id="x"), ProcessingReply(
        Outcome.SUCCESS, "AS000")),
    (ProcessingReply(Outcome.NOT_FOUND, request_id="x"), ProcessingReply(Outcome.NOT_FOUND)),
])
def test_a_timed_out_payment_of_unknown_outcome_is_reversed(env, at_center, reversal):
    uow, gw, clock = env
    o = create_order(uow, clock, AuthorizationRequest(str(MID), "U-1", "10.00", "RUB"))
    clock.move(minutes=19)
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN)]
    payment.pay_by_card(uow, gw, clock, o.bill_number, card(clock=clock))
    clock.move(minutes=2)  # past the 20 minutes, the authorization sent 2 minutes ago
    grace = timedelta(minutes=5)
    assert timeouts.close_abandoned(uow, gw, clock, grace=grace).closed == 0  # in flight
    clock.move(minutes=4)
    gw.replies["status"], gw.replies["reverse"] = [at_center], [reversal]
    summary = timeouts.close_abandoned(uow, gw, clock, grace=grace)
    assert (summary.closed, summary.reversed) == (1, 1)
    assert gw.calls[-1][0] == "reverse"
    closed = order(uow, o.bill_number)
    assert closed.state == "Timeout" and "outcome was unknown" in closed.state_reason
    pay = closed.operations[0]
    assert pay.state == "Declined"
    assert [t.type for t in pay.transactions] == ["authorization", "reversal"]
    assert all(t.state in ("success", "declined") for t in pay.transactions)


# -- the resolver's limit ----------------------------------------------------------------
def test_an_outcome_unresolved_after_the_limit_is_reported(env, caplog):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN)]
    bill, _ = paid(env)
    caplog.set_level(logging.ERROR)
    for _ in range(6):
        clock.move(hours=2)
        gw.replies["status"] = [ProcessingReply(Outcome.UNKNOWN, None, "read timeout")]
        resolve.resolve_unknown(uow, gw, clock, grace=timedelta(0), max_attempts=4)
    errors = [r for r in caplog.records if "UNRESOLVED" in r.getMessage()]
    assert len(errors) == 1 and bill in errors[0].getMessage()  # once, at the limit
    found = resolve.unresolved(uow, max_attempts=4)
    assert [(t.bill_number, t.type, t.attempts) for t in found.transactions] == \
        [(bill, "authorization", 7)]
    assert not resolve.unresolved(uow, max_attempts=8)
    clock.move(hours=2)  # the center answers at last
    gw.replies["status"] = [ProcessingReply(Outcome.SUCCESS, "AS000", request_id="x")]
    resolve.resolve_unknown(uow, gw, clock, grace=timedelta(0), max_attempts=4)
    assert not resolve.unresolved(uow, max_attempts=4)
    assert order(uow, bill).state == "Approved"


def test_a_silent_center_is_asked_once_per_run(env):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN), ProcessingReply(Outcome.UNKNOWN)]
    paid(env, number="S-1")
    paid(env, number="S-2")
    clock.move(minutes=5)
    gw.replies["status"] = [ProcessingReply(Outcome.UNKNOWN, None, "read timeout")]
    summary = resolve.resolve_unknown(uow, gw, clock, grace=timedelta(0))
    assert (summary.examined, summary.pending, gw.count("status")) == (2, 2, 1)
    clock.move(minutes=5)  # both due again after the lease: the center answers now
    summary = resolve.resolve_unknown(uow, gw, clock, grace=timedelta(0))
    assert (summary.resolved, gw.count("status")) == (2, 3)


# -- the worker --------------------------------------------------------------------------
def test_a_round_runs_every_job_in_order_and_survives_a_failing_one():
    ran = []

    def job(name, fail=False):
        def run_once(container):
            ran.append(name)
            if fail:
                raise RuntimeError("boom")
            return 1
        return run_once

    container = SimpleNamespace(settings=SimpleNamespace(worker_interval=30))
    w = Worker(container)
    w.jobs = [("a", job("a")), ("b", job("b", fail=True)), ("c", job("c"))]
    assert w.round() == {"a": 1, "b": -1, "c": 1}
    assert ran == ["a", "b", "c"]
    assert [name for name, _ in JOBS] == ["resolve", "settle", "holds", "timeouts", "notify"]
    with pytest.raises(ValueError, match="unknown job"):
        Worker(container, only=["nope"])
    assert [name for name, _ in Worker(container, only=["holds"]).jobs] == ["holds"]


def test_money_in_settlement_stays_decimal(env):
    uow, gw, clock = env
    paid(env, amount="0.10")
    paid(env, amount="0.20", number="B")
    summary = settle.settle(uow, gw, clock)
    assert summary.amounts["RUB"] == Decimal("0.30") and isinstance(summary.amounts["RUB"],
                                                                    Decimal)
    assert Money(summary.amounts["RUB"], "RUB") == rub("0.30")


def test_offset_file_clock_follows_its_file(tmp_path):
    from assist_ws.clocks import OffsetFileClock
    path = str(tmp_path / "offset")
    clock = OffsetFileClock(path)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)  # no file: no offset
    OffsetFileClock.write(path, timedelta(days=8))
    assert timedelta(days=8) - timedelta(seconds=5) < clock.now() - datetime.now(UTC) \
        < timedelta(days=8, seconds=5)
    OffsetFileClock.write(path, timedelta(minutes=-30))
    assert clock.offset() == timedelta(minutes=-30)
    with open(path, "w") as fh:
        fh.write("soon")
    with pytest.raises(ValueError, match="not a number of seconds"):
        clock.now()
