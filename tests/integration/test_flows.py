"""The seed's flows end to end through the use cases, on SQLite and PostgreSQL, against the
emulator over HTTP.  Every test ends with a reconciliation of the ledger (see conftest)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assist_ws.domain.cards import parse_card
from assist_ws.domain.errors import (LimitExceeded, OperationProhibited, StateTransitionRefused,
                                     ValidationError)
from assist_ws.domain.money import Money

from .conftest import MERCHANT, RUB_ONLY, new_order

VISA = "4111111111111111"


def pay(gw, order, number=VISA):
    card = parse_card(number, "12", "2030", "TEST HOLDER", "123", gw.clock.now())
    return gw.pay_by_card(order.bill_number, card)


def entry(emulator, request_id):
    for center in emulator.ledger()["centers"].values():
        for a in center["authorizations"]:
            if a["request_id"] == request_id:
                return {k: Decimal(a[k]) for k in ("held", "settled", "refunded")}
    return None


def auth_id(gw, bill):
    with gw.uow.reader() as uow:
        return uow.orders.get(bill).card_payment.authorization.request_id


def state(gw, bill):
    with gw.uow.reader() as uow:
        return uow.orders.get(bill).state


def rub(x):
    return Money.of(x, "RUB")


def test_one_stage_pay_settle_refund(gw, emulator):
    order = new_order(gw, "150.00")
    result = pay(gw, order)
    assert result.order.state == "Approved" and result.operation.response_code == "AS000"
    assert result.operation.approval_code
    rid = auth_id(gw, order.bill_number)
    assert entry(emulator, rid) == {"held": Decimal("150.00"), "settled": 0, "refunded": 0}
    gw.settle()
    assert entry(emulator, rid) == {"held": 0, "settled": Decimal("150.00"), "refunded": 0}
    cancel = gw.cancel(MERCHANT, order.bill_number)
    assert cancel.order.state == "Canceled" and cancel.operation.type == 300
    assert entry(emulator, rid) == {"held": 0, "settled": Decimal("150.00"),
                                    "refunded": Decimal("150.00")}


def test_two_stage_partial_confirm_settle_cancel_rest(gw, emulator):
    order = new_order(gw, "200.00", delay=True)
    assert pay(gw, order).order.state == "Delayed"
    rid = auth_id(gw, order.bill_number)
    confirm = gw.confirm(MERCHANT, order.bill_number, rub("120.00"), auto_deposit=True)
    assert confirm.order.state == "PartialDelayed" and confirm.operation.type == 200
    assert confirm.operation.bill_number == f"{order.bill_number}.2"
    assert entry(emulator, rid)["held"] == Decimal("120.00")  # the rest released at once
    gw.settle()
    assert entry(emulator, rid) == {"held": 0, "settled": Decimal("120.00"), "refunded": 0}
    assert gw.cancel(MERCHANT, order.bill_number, rub("20.00")).order.state == "PartialCanceled"
    assert gw.cancel(MERCHANT, order.bill_number).order.state == "Canceled"
    assert entry(emulator, rid)["refunded"] == Decimal("120.00")


def test_partial_confirm_without_auto_deposit_releases_the_rest_at_settlement(gw, emulator):
    order = new_order(gw, "80.00", delay=True)
    pay(gw, order)
    rid = auth_id(gw, order.bill_number)
    gw.confirm(MERCHANT, order.bill_number, rub("50.00"))
    assert entry(emulator, rid)["held"] == Decimal("80.00")
    gw.settle()
    assert entry(emulator, rid) == {"held": 0, "settled": Decimal("50.00"), "refunded": 0}


def test_two_stage_cancel_before_confirm_is_a_reversal(gw, emulator):
    order = new_order(gw, "75.50", delay=True)
    pay(gw, order)
    rid = auth_id(gw, order.bill_number)
    result = gw.cancel(MERCHANT, order.bill_number)
    assert result.order.state == "Canceled"
    assert entry(emulator, rid) == {"held": 0, "settled": 0, "refunded": 0}
    with pytest.raises(StateTransitionRefused):
        gw.confirm(MERCHANT, order.bill_number)


def test_partial_cancels_add_up_and_nothing_more(gw, emulator):
    order = new_order(gw, "100.00")
    pay(gw, order)
    for part, expected in (("30.00", "PartialCanceled"), ("45.50", "PartialCanceled")):
        assert gw.cancel(MERCHANT, order.bill_number, rub(part)).order.state == expected
    with pytest.raises(LimitExceeded):
        gw.cancel(MERCHANT, order.bill_number, rub("24.51"))
    assert state(gw, order.bill_number) == "PartialCanceled"  # nothing changed
    assert gw.cancel(MERCHANT, order.bill_number, rub("24.50")).order.state == "Canceled"
    with pytest.raises(StateTransitionRefused):
        gw.cancel(MERCHANT, order.bill_number, rub("0.01"))
    assert entry(emulator, auth_id(gw, order.bill_number))["held"] == 0


def test_confirm_twice_is_one_charge(gw, emulator):
    order = new_order(gw, "60.00", delay=True)
    pay(gw, order)
    with pytest.raises(LimitExceeded):
        gw.confirm(MERCHANT, order.bill_number, rub("60.01"))
    with pytest.raises(ValidationError):
        gw.confirm(MERCHANT, order.bill_number, Money.of("10.00", "USD"))
    first = gw.confirm(MERCHANT, order.bill_number)
    again = gw.confirm(MERCHANT, f"{order.bill_number}.1")
    assert again.repeated and again.operation.number == first.operation.number
    gw.settle()
    gw.settle()
    assert entry(emulator, auth_id(gw, order.bill_number))["settled"] == Decimal("60.00")


def test_confirm_of_a_one_stage_order_is_refused(gw):
    order = new_order(gw, "5.00")
    pay(gw, order)
    with pytest.raises(StateTransitionRefused) as info:
        gw.confirm(MERCHANT, order.bill_number)
    assert info.value.codes == (15, 307)


@pytest.mark.parametrize("card,code", [("4000000000000002", "AS100"),
                                       ("4000000000009995", "AS102"),
                                       ("4000000000000069", "AS104")])
def test_declines(gw, emulator, card, code):
    order = new_order(gw, "10.00")
    result = pay(gw, order, card)
    assert result.order.state == "Declined" and result.operation.response_code == code
    assert entry(emulator, auth_id_any(gw, order.bill_number)) in (
        None, {"held": 0, "settled": 0, "refunded": 0})


def test_system_error_card_declines_with_as998_and_nothing_at_the_center(gw, emulator):
    order = new_order(gw, "10.00")
    result = pay(gw, order, "4000000000000259")
    assert result.order.state == "Declined" and result.operation.response_code == "AS998"
    with gw.uow.reader() as uow:
        rid = uow.orders.get(order.bill_number).operations[0].authorization.request_id
    assert entry(emulator, rid) is None


def test_late_answer_is_resolved_from_the_centers_record(gw, emulator):
    order = new_order(gw, "33.00")
    result = pay(gw, order, "4000000000000119")
    assert result.order.state == "In Process" and result.operation.state == "Unknown"
    gw.clock.move(minutes=2)
    summary = gw.resolve()
    assert summary.resolved >= 1
    # The center recorded the hold before answering late: the gateway takes it.
    assert state(gw, order.bill_number) == "Approved"
    assert entry(emulator, auth_id(gw, order.bill_number))["held"] == Decimal("33.00")


def test_late_answer_after_the_order_number_was_paid_again_is_reversed(gw, emulator):
    late = new_order(gw, "12.00")
    pay(gw, late, "4000000000000119")
    with gw.uow as uow:  # the buyer's order number gets paid by another attempt meanwhile
        order = uow.orders.get(late.bill_number)
        number = order.order_number
        uow.commit()
    from assist_ws.services.orders import AuthorizationRequest, create_order
    with gw.uow as uow:
        uow.orders.get(late.bill_number).state = "Declined"  # the page gave up on it
        uow.commit()
    other = create_order(gw.uow, gw.clock, AuthorizationRequest(str(MERCHANT), number, "12.00"))
    pay(gw, other)
    with gw.uow as uow:
        uow.orders.get(late.bill_number).state = "In Process"
        uow.commit()
    gw.clock.move(minutes=2)
    gw.resolve()
    assert state(gw, late.bill_number) == "Declined"
    assert state(gw, other.bill_number) == "Approved"
    late_auth = entry(emulator, auth_id_any(gw, late.bill_number))
    assert late_auth["held"] == 0


def auth_id_any(gw, bill):
    with gw.uow.reader() as uow:
        return uow.orders.get(bill).operations[0].authorization.request_id


def test_usd_order_at_a_rouble_center_is_converted(gw, emulator):
    order = new_order(gw, "10.00", "USD", merchant=RUB_ONLY)
    result = pay(gw, order)
    assert result.operation.currency == "RUB" and result.operation.amount == Decimal("905.00")
    assert result.operation.rate == Decimal("90.50")
    assert entry(emulator, auth_id(gw, order.bill_number))["held"] == Decimal("905.00")


def test_partial_reversal_refused_at_a_center_without_it(gw, emulator):
    order = new_order(gw, "10.00", "USD")
    pay(gw, order)
    with pytest.raises(OperationProhibited) as info:
        gw.cancel(MERCHANT, order.bill_number, Money.of("4.00", "USD"))
    assert "cannot reverse part" in info.value.message
    assert state(gw, order.bill_number) == "Approved"
    gw.settle(center="emulator-usd")  # after settlement a part is a refund
    assert gw.cancel(MERCHANT, order.bill_number, Money.of("4.00", "USD")).order.state == \
        "PartialCanceled"


def test_refund_declined_by_the_center_changes_nothing(gw, emulator):
    order = new_order(gw, "10.00")
    pay(gw, order, "4000000000000127")
    gw.settle()
    result = gw.cancel(MERCHANT, order.bill_number)
    assert result.operation.state == "Declined" and result.order.state == "Approved"


def test_another_merchants_order_is_not_found(gw):
    order = new_order(gw, "10.00")
    pay(gw, order)
    from assist_ws.domain.errors import NotFound
    with pytest.raises(NotFound):
        gw.cancel(RUB_ONLY, order.bill_number)
