"""The use cases with fakes of their ports: rules, amounts, idempotency, unknown outcomes."""

from datetime import timedelta
from decimal import Decimal

import pytest

from assist_ws.domain.cards import parse_card
from assist_ws.domain.errors import (Duplicate, LimitExceeded, NotFound, OperationProhibited,
                                     StateTransitionRefused, ValidationError)
from assist_ws.domain.model import CurrencyRate, Merchant, ProcessingCenter
from assist_ws.domain.money import Money
from assist_ws.domain.ports import Outcome, ProcessingReply
from assist_ws.services import cancel, confirm, payment, resolve, settle
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.services.payment import OrderTimedOut

from .fakes import FakeGateway, FakeUnitOfWork, MovableClock

MID = 100001


@pytest.fixture
def env():
    uow, gw, clock = FakeUnitOfWork(), FakeGateway(), MovableClock()
    with uow:
        uow.centers.add(ProcessingCenter("rub", "http://x/rub?wsdl", "RUB", True, 7))
        uow.centers.add(ProcessingCenter("usd", "http://x/usd?wsdl", "USD", False, 5))
        uow.merchants.add(Merchant(MID, "Shop", "RUB", ["RUB", "USD", "EUR"], two_stage=True,
                                   processing={"RUB": "rub", "USD": "usd"}))
        uow.rates.add(CurrencyRate("EUR", "RUB", Decimal("98.5"), clock.now()))
        uow.commit()
    return uow, gw, clock


def card(number="4111111111111111", clock=None):
    return parse_card(number, "12", "2030", "TEST", "123", clock.now())


def paid(env, amount="100.00", currency="RUB", delay="0", number="A-1"):
    uow, gw, clock = env
    order = create_order(uow, clock, AuthorizationRequest(str(MID), number, amount, currency,
                                                          delay=delay))
    result = payment.pay_by_card(uow, gw, clock, order.bill_number, card(clock=clock))
    return order.bill_number, result


def rub(x):
    return Money.of(x, "RUB")


def test_one_stage_payment_approves(env):
    bill, result = paid(env)
    assert result.order.state == "Approved" and result.operation.state == "Success"
    assert result.operation.means_number == "411111******1111"
    assert result.operation.bill_number == bill + ".1"


def test_double_pay_makes_one_authorization(env):
    uow, gw, clock = env
    bill, first = paid(env)
    again = payment.pay_by_card(uow, gw, clock, bill, card(clock=clock))
    assert again.repeated and again.operation.number == first.operation.number
    assert gw.count("authorize") == 1


def test_declined_payment(env):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.DECLINED, "AS100", "declined")]
    _, result = paid(env)
    assert result.order.state == "Declined" and result.operation.response_code == "AS100"


def test_unknown_outcome_keeps_order_in_process(env):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN)]
    _, result = paid(env)
    assert result.order.state == "In Process" and result.operation.state == "Unknown"


def test_conversion_to_the_centers_currency_records_the_rate(env):
    _, result = paid(env, "10.00", "EUR")
    assert result.operation.currency == "RUB" and result.operation.amount == Decimal("985.00")
    assert result.operation.rate == Decimal("98.5")


def test_missing_rate_is_refused_and_nothing_is_sent(env):
    uow, gw, clock = env
    with uow:
        uow.merchants.get(MID).processing = {"RUB": "rub"}
        uow.commit()
    with pytest.raises(ValidationError):
        paid(env, "10.00", "USD")
    assert gw.count("authorize") == 0


def test_payment_after_the_timeout_is_refused_and_the_order_times_out(env):
    uow, gw, clock = env
    order = create_order(uow, clock, AuthorizationRequest(str(MID), "T-1", "5.00"))
    clock.move(minutes=21)
    with pytest.raises(OrderTimedOut):
        payment.pay_by_card(uow, gw, clock, order.bill_number, card(clock=clock))
    with uow:
        assert uow.orders.get(order.bill_number).state == "Timeout"
    assert gw.count("authorize") == 0


def test_paid_order_number_cannot_be_paid_again(env):
    uow, gw, clock = env
    paid(env, number="N-1")
    with pytest.raises(Duplicate):
        create_order(uow, clock, AuthorizationRequest(str(MID), "N-1", "1.00"))


def test_confirm_twice_is_one_confirmation(env):
    uow, gw, clock = env
    bill, _ = paid(env, delay="1")
    first = confirm.confirm_payment(uow, gw, clock, MID, bill)
    second = confirm.confirm_payment(uow, gw, clock, MID, bill)
    assert first.order.state == "Approved" and not first.repeated
    assert second.repeated and second.operation.number == first.operation.number
    with pytest.raises(OperationProhibited):
        confirm.confirm_payment(uow, gw, clock, MID, bill, rub("50.00"))


def test_confirm_limits(env):
    uow, gw, clock = env
    bill, _ = paid(env, delay="1")
    with pytest.raises(LimitExceeded):
        confirm.confirm_payment(uow, gw, clock, MID, bill, rub("100.01"))
    with pytest.raises(ValidationError):
        confirm.confirm_payment(uow, gw, clock, MID, bill, Money.of("10.00", "USD"))
    with pytest.raises(NotFound):
        confirm.confirm_payment(uow, gw, clock, MID + 1, bill)
    one, _ = paid(env, number="one-stage")
    with pytest.raises(StateTransitionRefused):
        confirm.confirm_payment(uow, gw, clock, MID, one)


def test_partial_confirm_with_auto_deposit_releases_the_rest(env):
    uow, gw, clock = env
    bill, _ = paid(env, delay="1")
    result = confirm.confirm_payment(uow, gw, clock, MID, bill, rub("60.00"), auto_deposit=True)
    assert result.order.state == "PartialDelayed"
    assert ("reverse", gw.calls[-1][1], rub("40.00")) == gw.calls[-1]


def test_partial_cancels_up_to_the_paid_amount(env):
    uow, gw, clock = env
    bill, _ = paid(env)
    assert cancel.cancel_payment(uow, gw, clock, MID, bill, rub("30.00")).order.state == \
        "PartialCanceled"
    with pytest.raises(LimitExceeded):
        cancel.cancel_payment(uow, gw, clock, MID, bill, rub("70.01"))
    assert cancel.cancel_payment(uow, gw, clock, MID, bill, rub("70.00")).order.state == \
        "Canceled"
    with pytest.raises(StateTransitionRefused):
        cancel.cancel_payment(uow, gw, clock, MID, bill, rub("1.00"))


def test_cancel_with_external_id_is_idempotent(env):
    uow, gw, clock = env
    bill, _ = paid(env)
    a = cancel.cancel_payment(uow, gw, clock, MID, bill, rub("10.00"), external_id="refund-0001")
    b = cancel.cancel_payment(uow, gw, clock, MID, bill, rub("10.00"), external_id="refund-0001")
    assert b.repeated and a.operation.number == b.operation.number
    assert gw.count("reverse") == 1
    with pytest.raises(Duplicate):
        cancel.cancel_payment(uow, gw, clock, MID, bill, rub("11.00"), external_id="refund-0001")


def test_partial_reversal_refused_where_the_center_cannot(env):
    uow, gw, clock = env
    bill, _ = paid(env, "10.00", "USD")
    with pytest.raises(OperationProhibited) as info:
        cancel.cancel_payment(uow, gw, clock, MID, bill, Money.of("4.00", "USD"))
    assert "cannot reverse part" in info.value.message
    assert gw.count("reverse") == 0
    assert cancel.cancel_payment(uow, gw, clock, MID, bill).order.state == "Canceled"


def test_cancel_after_settlement_is_a_refund(env):
    uow, gw, clock = env
    bill, _ = paid(env)
    summary = settle.settle(uow, gw, clock)
    assert summary.settled == 1 and summary.amounts["RUB"] == Decimal("100.00")
    assert settle.settle(uow, gw, clock).operations == 0  # nothing twice
    cancel.cancel_payment(uow, gw, clock, MID, bill, rub("25.00"))
    assert gw.calls[-1][0] == "refund"


def test_declined_cancel_changes_no_state(env):
    uow, gw, clock = env
    bill, _ = paid(env)
    gw.replies["reverse"] = [ProcessingReply(Outcome.DECLINED, "AS100", "no")]
    result = cancel.cancel_payment(uow, gw, clock, MID, bill, rub("10.00"))
    assert result.operation.state == "Declined" and result.order.state == "Approved"
    assert cancel.cancel_payment(uow, gw, clock, MID, bill).order.state == "Canceled"


def test_resolver_accepts_an_authorization_the_center_holds(env):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN)]
    bill, _ = paid(env)
    clock.move(minutes=5)
    gw.replies["status"] = [ProcessingReply(Outcome.SUCCESS, "AS000", approval_code="X1")]
    s = resolve.resolve_unknown(uow, gw, clock, grace=timedelta(seconds=30))
    assert s.resolved == 1
    with uow:
        assert uow.orders.get(bill).state == "Approved"


def test_resolver_voids_what_the_center_does_not_know(env):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN)]
    bill, _ = paid(env)
    clock.move(minutes=5)
    gw.replies["status"] = [ProcessingReply(Outcome.NOT_FOUND)]
    gw.replies["reverse"] = [ProcessingReply(Outcome.NOT_FOUND)]
    resolve.resolve_unknown(uow, gw, clock, grace=timedelta(seconds=30))
    assert gw.calls[-1][0] == "reverse"
    with uow:
        order = uow.orders.get(bill)
        assert order.state == "Declined"
        assert all(t.state in ("success", "declined") for o in order.operations
                   for t in o.transactions)


def test_resolver_waits_while_the_center_does_not_answer(env):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN)]
    bill, _ = paid(env)
    clock.move(minutes=5)
    gw.replies["status"] = [ProcessingReply(Outcome.UNKNOWN)]
    s = resolve.resolve_unknown(uow, gw, clock, grace=timedelta(seconds=30))
    assert s.pending == 1
    with uow:
        assert uow.orders.get(bill).state == "In Process"
