"""The buyer's personal data in the buyer's use cases, with fakes: what the card page shows
and asks for, what a "Pay" saves -- with the pay operation, in the one transaction that starts
the payment, or nothing at all."""

from decimal import Decimal

import pytest

from assist_ws.domain.cards import parse_card
from assist_ws.domain.customer import ASKED, SHOWN, CustomerDataRefused, Problem
from assist_ws.domain.errors import ValidationError
from assist_ws.domain.model import Customer, Merchant, ProcessingCenter
from assist_ws.services import payment
from assist_ws.services.checkout import open_checkout
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.services.payment import OrderTimedOut

from .fakes import FakeGateway, FakeUnitOfWork, MovableClock

MID = 100001


@pytest.fixture
def env():
    uow, gw, clock = FakeUnitOfWork(), FakeGateway(), MovableClock()
    with uow:
        uow.centers.add(ProcessingCenter("rub", "http://x/rub?wsdl", "RUB", True, 7))
        # USD is accepted, and there is no rate to the center's RUB: a payment is refused
        # after the customer fields were checked.
        uow.merchants.add(Merchant(
            MID, "Tea", "RUB", ["RUB", "USD"], processing={"RUB": "rub"},
            customer_fields=["lastname", "firstname", "email"], customer_required=["email"]))
        uow.commit()
    return uow, gw, clock


def order(env, currency="RUB", **customer) -> str:
    uow, _, clock = env
    return create_order(uow, clock, AuthorizationRequest(
        str(MID), "N-1", "10.00", currency, customer=Customer(**customer))).bill_number


def pay(env, bill, **entered):
    uow, gw, clock = env
    return payment.pay_by_card(uow, gw, clock, bill,
                               parse_card("4111111111111111", "12", "2030", "A B", "123",
                                          clock.now()), customer=entered)


def stored(env, bill):
    uow = env[0]
    with uow:
        return uow.orders.get(bill)


def test_the_checkout_asks_for_what_the_merchant_wants_and_the_shop_did_not_send(env):
    uow, _, clock = env
    bill = order(env, lastname="Ivanov", zip="190000")
    form = open_checkout(uow, clock, bill).customer
    assert [(f.name, f.value, f.mode, f.required) for f in form] == [
        ("lastname", "Ivanov", SHOWN, False), ("firstname", None, ASKED, False),
        ("email", None, ASKED, True), ("zip", "190000", SHOWN, False)]


def test_what_the_buyer_typed_is_saved_with_the_payment(env):
    uow, gw, _ = env
    bill = order(env)
    commits = uow.commits
    seen = {}

    def authorize(center, request_id, card, amount, skip_authentication=False):
        # The processing center is asked only once the start is committed: the data and
        # the pay operation, together.
        committed = uow.data["orders"][bill]
        seen.update(email=committed.email, operations=len(committed.operations))
        return FakeGateway.authorize(gw, center, request_id, card, amount)

    gw.authorize = authorize
    result = pay(env, bill, email=" buyer@example.com ", firstname="Ivan", lastname="")
    assert result.order.state == "Approved" and result.order.email == "buyer@example.com"
    assert seen == {"email": "buyer@example.com", "operations": 1}
    assert uow.commits == commits + 2  # the start, then the center's answer
    o = stored(env, bill)
    assert (o.email, o.firstname, o.lastname) == ("buyer@example.com", "Ivan", None)


def test_a_required_field_left_empty_refuses_the_payment_and_writes_nothing(env):
    uow, gw, _ = env
    bill = order(env)
    commits = uow.commits
    with pytest.raises(CustomerDataRefused) as refused:
        pay(env, bill, firstname="Ivan", email="  ")
    assert refused.value.problems == {"email": Problem("email", "required")}
    assert refused.value.codes == (3, 120)
    with pytest.raises(CustomerDataRefused):
        pay(env, bill)  # the form sent none of the fields
    o = stored(env, bill)
    assert o.operations == [] and o.state == "In Process"
    assert (o.firstname, o.email) == (None, None)
    assert gw.count("authorize") == 0 and uow.commits == commits


def test_a_bad_value_refuses_the_payment_and_names_every_problem(env):
    uow, gw, _ = env
    bill = order(env)
    with pytest.raises(CustomerDataRefused) as refused:
        pay(env, bill, email="buyer@", firstname="<Ivan>", lastname="Ivanov")
    assert refused.value.problems == {
        "firstname": Problem("firstname", "characters", (("chars", "< >"),)),
        "email": Problem("email", "email")}
    assert "buyer@" not in refused.value.message and "Ivan" not in refused.value.message
    o = stored(env, bill)
    assert o.operations == [] and o.lastname is None and gw.count("authorize") == 0
    # Corrected, the same order pays.
    assert pay(env, bill, email="buyer@example.com", lastname="Ivanov").order.state == \
        "Approved"


def test_the_shops_data_stay_read_only_by_default(env):
    bill = order(env, email="shop@example.com", lastname="Ivanov")
    result = pay(env, bill, email="forged@example.com", lastname="Forged", firstname="Ivan")
    assert (result.order.email, result.order.lastname, result.order.firstname) == (
        "shop@example.com", "Ivanov", "Ivan")


def test_editable_shops_data_may_be_corrected_but_a_required_one_not_emptied(env):
    uow = env[0]
    with uow:
        uow.merchants.get(MID).customer_editable = True
        uow.commit()
    bill = order(env, email="shop@example.con", lastname="Ivanov")
    with pytest.raises(CustomerDataRefused) as refused:
        pay(env, bill, email="", lastname="")
    assert refused.value.problems == {"email": Problem("email", "required")}
    result = pay(env, bill, email="shop@example.com", lastname="Ivanov")
    assert (result.order.email, result.order.lastname) == ("shop@example.com", "Ivanov")


def test_a_refusal_after_the_check_leaves_the_data_unwritten(env):
    # No rate from USD to the center's RUB: refused after the customer fields were taken.
    bill = order(env, currency="USD")
    with pytest.raises(ValidationError) as refused:
        pay(env, bill, email="buyer@example.com")
    assert "rate" in refused.value.message
    o = stored(env, bill)
    assert o.email is None and o.operations == []


def test_a_timed_out_order_keeps_no_data(env):
    uow, _, clock = env
    bill = order(env)
    clock.move(minutes=21)
    with pytest.raises(OrderTimedOut):
        pay(env, bill, email="buyer@example.com")
    o = stored(env, bill)
    assert o.state == "Timeout" and o.email is None


def test_a_second_click_changes_nothing(env):
    bill = order(env)
    first = pay(env, bill, email="buyer@example.com")
    again = pay(env, bill, email="other@example.com", firstname="Other")
    assert again.repeated and again.operation == first.operation
    o = stored(env, bill)
    assert (o.email, o.firstname, len(o.operations)) == ("buyer@example.com", None, 1)


def test_a_merchant_asking_nothing_pays_as_before(env):
    uow = env[0]
    with uow:
        m = uow.merchants.get(MID)
        m.customer_fields, m.customer_required = [], []
        uow.commit()
    bill = order(env)
    result = pay(env, bill, email="ignored@example.com")
    assert result.order.state == "Approved" and result.order.email is None
    assert Decimal(result.operation.amount) == Decimal("10.00")
