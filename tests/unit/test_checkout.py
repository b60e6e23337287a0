"""The checkout use cases with fakes: what the pages show, the buyer's timeout, where the
buyer goes back to, and no second payment of one order number."""

from decimal import Decimal

import pytest

from assist_ws.domain.cards import parse_card
from assist_ws.domain.errors import Duplicate, NotFound, OperationProhibited
from assist_ws.domain.model import CurrencyRate, Merchant, Order, ProcessingCenter
from assist_ws.domain.money import Money
from assist_ws.domain.ports import Outcome, ProcessingReply
from assist_ws.services import checkout, demo_shop, payment
from assist_ws.services.checkout import open_checkout, return_urls
from assist_ws.services.orders import AuthorizationRequest, create_order

from .fakes import FakeGateway, FakeUnitOfWork, MovableClock

MID = 100001


@pytest.fixture
def env():
    uow, gw, clock = FakeUnitOfWork(), FakeGateway(), MovableClock()
    with uow:
        uow.centers.add(ProcessingCenter("rub", "http://x/rub?wsdl", "RUB", True, 7))
        uow.merchants.add(Merchant(MID, "Tea", "RUB", ["RUB", "USD"], timeout_minutes=15,
                                   processing={"RUB": "rub"}, secret_word="s3cret",
                                   url_return="http://shop/any"))
        uow.rates.add(CurrencyRate("USD", "RUB", Decimal("90.50"), clock.now()))
        uow.commit()
    return uow, gw, clock


def order(env, number="N-1", amount="10.00", currency="RUB", **kw):
    uow, _, clock = env
    return create_order(uow, clock, AuthorizationRequest(str(MID), number, amount, currency,
                                                         **kw)).bill_number


def pay(env, bill, number="4111111111111111"):
    uow, gw, clock = env
    return payment.pay_by_card(uow, gw, clock, bill,
                               parse_card(number, "12", "2030", "A B", "123", clock.now()))


@pytest.mark.parametrize("request_urls, settings, expected", [
    ({}, {}, (None, None)),
    ({}, {"url_return": "S"}, ("S", "S")),
    ({}, {"url_return": "S", "url_return_ok": "SOK"}, ("SOK", "S")),
    ({}, {"url_return_ok": "SOK", "url_return_no": "SNO"}, ("SOK", "SNO")),
    ({"url_return": "R"}, {"url_return_ok": "SOK"}, ("R", "R")),
    ({"url_return_ok": "ROK"}, {"url_return": "S"}, ("ROK", "S")),
    ({"url_return_ok": "ROK", "url_return": "R"}, {}, ("ROK", "R")),
    ({"url_return_ok": "ROK", "url_return_no": "RNO", "url_return": "R"}, {"url_return": "S"},
     ("ROK", "RNO")),
])
def test_return_urls_follow_assists_priority(request_urls, settings, expected):
    o = Order(MID, "N", Money.of("1.00", "RUB"), MovableClock().now(), **request_urls)
    m = Merchant(MID, "M", **settings)
    assert return_urls(o, m) == expected


def test_checkout_shows_the_order_and_its_deadline(env):
    uow, _, clock = env
    bill = order(env, comment="Oolong")
    view = open_checkout(uow, clock, bill)
    assert view.can_pay and not view.finished and view.merchant_name == "Tea"
    assert view.deadline == view.order.created_at + __import__("datetime").timedelta(minutes=15)
    assert view.order.comment == "Oolong" and view.means == ("card",)
    assert (view.return_ok, view.return_no, view.return_url()) == (
        "http://shop/any", "http://shop/any", None)


def test_checkout_past_the_deadline_times_the_order_out(env):
    uow, gw, clock = env
    bill = order(env)
    clock.move(minutes=15)
    assert open_checkout(uow, clock, bill).can_pay  # not past it yet
    clock.move(seconds=1)
    view = open_checkout(uow, clock, bill)
    assert view.timed_out and view.finished and view.return_url() == "http://shop/any"
    with uow:
        assert uow.orders.get(bill).state == "Timeout"
    assert gw.count("authorize") == 0


def test_an_order_waiting_for_the_center_never_times_out_on_view(env):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN)]
    bill = order(env)
    pay(env, bill)
    clock.move(hours=2)
    view = open_checkout(uow, clock, bill)
    assert view.waiting and not view.finished and view.return_url() is None
    assert view.order.state == "In Process"


def test_checkout_previews_the_converted_charge(env):
    uow, _, clock = env
    view = open_checkout(uow, clock, order(env, amount="10.00", currency="USD"))
    assert view.charge == Money.of("905.00", "RUB") and view.rate == Decimal("90.50")
    rub = open_checkout(uow, clock, order(env, number="N-2"))
    assert rub.charge is None and rub.rate is None


def test_outcome_decides_the_return_url(env):
    uow, gw, clock = env
    with uow:
        m = uow.merchants.get(MID)
        m.url_return_ok, m.url_return_no = "http://shop/ok", "http://shop/no"
        uow.commit()
    ok = order(env, number="OK-1")
    pay(env, ok)
    assert open_checkout(uow, clock, ok).return_url() == "http://shop/ok"
    gw.replies["authorize"] = [ProcessingReply(Outcome.DECLINED, "AS100", "no")]
    no = order(env, number="NO-1")
    pay(env, no)
    view = open_checkout(uow, clock, no)
    assert view.finished and not view.paid and view.return_url() == "http://shop/no"


def test_a_second_attempt_of_a_paid_order_number_cannot_pay(env):
    uow, gw, clock = env
    first, second = order(env, number="TWO-TABS"), order(env, number="TWO-TABS")
    pay(env, first)
    with pytest.raises(Duplicate) as refused:
        pay(env, second)
    assert refused.value.codes == (11, 107)
    assert gw.count("authorize") == 1
    with uow:
        assert uow.orders.get(second).operations == []


def test_an_attempt_waiting_for_the_center_blocks_a_second_payment(env):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN)]
    first, second = order(env, number="WAIT"), order(env, number="WAIT")
    pay(env, first)
    with pytest.raises(Duplicate):
        pay(env, second)


def test_a_declined_attempt_does_not_block_the_next(env):
    uow, gw, clock = env
    gw.replies["authorize"] = [ProcessingReply(Outcome.DECLINED, "AS100", "no")]
    first = order(env, number="AGAIN")
    pay(env, first)
    second = order(env, number="AGAIN")
    assert pay(env, second).order.state == "Approved"


def test_shop_order_sees_only_its_own_merchants_orders(env):
    uow, _, _ = env
    bill = order(env)
    assert checkout.shop_order(uow, MID, bill).bill_number == bill
    with pytest.raises(NotFound):
        checkout.shop_order(uow, MID + 1, bill)


def test_demo_shop_signs_its_catalog_with_the_merchants_secret(env):
    uow, _, clock = env
    item = demo_shop.product("mug")
    fields = demo_shop.authorization_request(uow, item, "USD", delay=False, language="EN",
                                             url_return_ok="http://a/ok",
                                             url_return_no="http://a/no", merchant_id=MID)
    assert fields["OrderAmount"] == "14.50" and fields["OrderCurrency"] == "USD"
    from assist_ws.domain.checkvalue import checkvalue
    assert fields["Checkvalue"] == checkvalue(
        "s3cret", f"{MID};{fields['OrderNumber']};14.50;USD")
    with uow:  # the merchant may require it: the request passes
        uow.merchants.get(MID).check_order_code = True
        uow.commit()
    created = create_order(uow, clock, AuthorizationRequest(
        fields["Merchant_ID"], fields["OrderNumber"], fields["OrderAmount"],
        fields["OrderCurrency"], checkvalue=fields["Checkvalue"]))
    assert created.state == "In Process"


def test_a_card_payment_of_an_order_without_card_means_is_refused(env):
    uow, gw, clock = env
    with uow:
        uow.merchants.get(MID).payment_means = ["card", "sbp"]
        uow.commit()
    bill = order(env, number="SBP-1", means_flags={"FastPayPayment": "1", "CardPayment": "0"})
    assert open_checkout(uow, clock, bill).means == ("sbp",)
    with pytest.raises(OperationProhibited) as refused:
        pay(env, bill)
    assert refused.value.codes == (15, 218)
    assert gw.count("authorize") == 0


def test_return_url_after_payment_needs_the_merchant_only_without_own_urls(env):
    uow, gw, clock = env
    with_urls = order(env, number="U-1", url_return_ok="http://own/ok")
    assert checkout.return_url_after(uow, pay(env, with_urls)) == "http://own/ok"
    without = order(env, number="U-2")
    assert checkout.return_url_after(uow, pay(env, without)) == "http://shop/any"
    gw.replies["authorize"] = [ProcessingReply(Outcome.UNKNOWN)]
    waiting = order(env, number="U-3", url_return_ok="http://own/ok")
    assert checkout.return_url_after(uow, pay(env, waiting)) is None
