"""Every number a request carries is written in ASCII digits: ``int``, ``Decimal`` and
``str.isdigit`` take other scripts' digits (``１００``, ``١٠٠``) and ``²``, which must be
refused with the parameter's malformed code, never accepted or turned into a crash."""

from datetime import datetime, timedelta, timezone

import pytest

from assist_ws.domain.cards import card_errors
from assist_ws.domain.errors import AssistError
from assist_ws.domain.model import Merchant
from assist_ws.domain.settlement import parse_cutoff
from assist_ws.services.common import split_bill_number
from assist_ws.services.merchant_api import parse_window
from assist_ws.services.orders import AuthorizationRequest, create_order, parse_merchant_id

from .fakes import FakeUnitOfWork, MovableClock

NOW = datetime(2026, 5, 10, 12, 30, tzinfo=timezone.utc)
OTHER_DIGITS = ["１００００１", "١٠٠٠٠١", "10000²", "²"]


def codes(fn, *args):
    with pytest.raises(AssistError) as info:
        fn(*args)
    return info.value.codes


def points(text):
    uow, clock = FakeUnitOfWork(), MovableClock()
    with uow:
        uow.merchants.add(Merchant(100001, "Tea", "RUB", processing={"RUB": "rub"}))
        uow.commit()
    create_order(uow, clock, AuthorizationRequest("100001", "P-1", "10.00", "RUB",
                                                  max_points=text))
    with uow:
        return uow.orders.by_order_number(100001, "P-1")[0].max_points


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_merchant_id_and_max_points(text):
    assert codes(parse_merchant_id, text) == (4, 100)
    assert codes(points, text) == (4, 108)


def test_max_points_are_bounded():
    assert points(" 150 ") == 150 and points("0") is None
    assert codes(points, "9" * 5000) == (4, 108)
    assert codes(points, "2147483648") == (4, 108)


@pytest.mark.parametrize("bill", ["１２３４５６７８９０１２３４５６", "1234567890123456.²",
                                  "1234567890123456.１", "1234567890123456." + "1" * 5000])
def test_billnumbers(bill):
    assert codes(split_bill_number, bill) == (4, 143)


@pytest.mark.parametrize("part", ["２０２６", "²", "١"])
def test_window_parts(part):
    start = {"startyear": "2026", "startmonth": "5", "startday": "1"}
    for name in start:
        assert codes(parse_window, dict(start, **{name: part}), NOW,
                     timedelta(hours=3)) == (4, 129)
    end = {"endyear": "2026", "endmonth": "5", "endday": "1", "endhour": part}
    assert codes(parse_window, end, NOW, timedelta(hours=3)) == (4, 130)


@pytest.mark.parametrize("month,year,cvc,field", [
    ("¹", "2030", "123", "ExpireMonth"), ("1" * 5000, "2030", "123", "ExpireMonth"),
    ("12", "２０３０", "123", "ExpireYear"), ("12", "2030", "１２３", "CVC2"),
])
def test_card_form(month, year, cvc, field):
    errors = card_errors("4111111111111111", month, year, "A B", cvc, NOW)
    assert [e.field for e in errors] == [field]
    assert [e.field for e in card_errors("４１１１１１１１１１１１１１１１", "12", "2030", "A B",
                                         "123", NOW)] == ["CardNumber"]


def test_cutoffs_and_rates_of_the_command_line():
    from assist_ws.services import admin
    assert codes(parse_cutoff, "²¹:00")[1] == 104
    assert codes(admin.set_rate, FakeUnitOfWork(), MovableClock(), "USD", "RUB",
                 "９０.５") == (5, 167)
