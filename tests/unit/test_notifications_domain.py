"""Notification rules in the domain: URLs and ports, result kinds, the retry schedule, the
states of a notification, and how orders collect the results a unit of work reached."""

import ipaddress
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from assist_ws.domain.errors import ValidationError
from assist_ws.domain.model import FinishedResult, OperationState, OperationType, Order
from assist_ws.domain.money import Money
from assist_ws.domain.notifications import (ASSIST_PORTS, Notification, ResultKind, Verdict,
                                            address_problem, check_url, host_address,
                                            parse_ports, retry_delay)
from assist_ws.domain.states import OrderEvent

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("url", ["https://shop.example/assist", "http://shop.example:8080/r",
                                 "https://shop.example:8443/r?x=1", "http://93.184.216.34/r",
                                 "https://[2606:4700::1]/r"])
def test_urls_on_assist_ports_are_accepted(url):
    assert check_url(url) == url


@pytest.mark.parametrize("host,address", [
    ("127.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("0x7f000001", "127.0.0.1"),
    ("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("10.0.0.1.", "10.0.0.1"),
    ("0x7f.1", "127.0.0.1"), ("[::1]", "::1"), ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ("shop.example", None), ("1.2.3.4.5", None), ("08.0.0.1", None), ("256.1", None),
    ("4294967296", None), ("1.2.3.x", None)])
def test_a_host_is_an_address_in_any_spelling_a_resolver_takes(host, address):
    found = host_address(host)  # compared as addresses: Python 3.13 writes ::ffff:127.0.0.1
    assert found == (None if address is None else ipaddress.ip_address(address))


@pytest.mark.parametrize("url,problem", [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.0.0.1/", "private"),
    ("http://192.168.1.10:8080/r", "private"),
    ("http://[::1]/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[2002:7f00:1::]/", "loopback"),         # 6to4 of 127.0.0.1
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd00::1]/", "private"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://100.64.0.1/", "not a public address"),  # carrier-grade NAT
    ("http://224.0.0.1/", "multicast"),
])
def test_urls_of_non_public_addresses_are_refused(url, problem):
    with pytest.raises(ValidationError) as exc:
        check_url(url)
    assert exc.value.codes == (5, 154)
    assert problem in exc.value.message and "public addresses only" in exc.value.message
    assert check_url(url, allow_private=True) == url  # where the operator allows them


def test_public_addresses_have_no_problem():
    for address in ("93.184.216.34", "2606:4700::1", "2002:5db8:d822::1"):
        assert address_problem(address) is None
    assert address_problem("127.0.0.1") == "a loopback address"


@pytest.mark.parametrize("url,words", [
    ("http://shop.example:9000/r", "port 9000 is not allowed"),
    ("ftp://shop.example/r", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("https:///r", "with a host"),
    ("https://u:p@shop.example/r", "user or password"),
    ("http://shop.example:99999/r", "malformed"),
    ("https://shop.example/" + "x" * 600, "longer than 512"),
])
def test_other_urls_are_refused_with_a_clear_error(url, words):
    with pytest.raises(ValidationError) as exc:
        check_url(url)
    assert words in exc.value.message and exc.value.secondcode == 154


def test_ports_are_configurable():
    assert parse_ports("80,443,8080,8443") == ASSIST_PORTS
    assert parse_ports("*") is None
    assert check_url("http://127.0.0.1:54321/x", None, allow_private=True)
    assert check_url("http://93.184.216.34:54321/x", parse_ports("54321"))
    with pytest.raises(ValueError):
        parse_ports("80,http")
    with pytest.raises(ValueError):
        parse_ports("0")


def test_result_kinds_parse_in_canonical_order():
    assert ResultKind.parse_list("cancel, PAY,pay") == ["pay", "cancel"]
    assert ResultKind.parse_list("pay,confirm,cancel,accrual,accrual-cancel") == [
        "pay", "confirm", "cancel", "accrual", "accrual-cancel"]
    with pytest.raises(ValidationError, match="refund"):
        ResultKind.parse_list("pay,refund")


def test_retry_intervals_grow_to_an_hour():
    delays = [retry_delay(n) for n in range(1, 15)]
    assert delays[0] == timedelta(seconds=30) and delays[1] == timedelta(minutes=1)
    assert all(a <= b for a, b in zip(delays, delays[1:]))
    assert delays[-1] == timedelta(hours=1) and retry_delay(10_000) == timedelta(hours=1)


def notification():
    return Notification(1, 1, "1234567890123456", "A-1", 1, ResultKind.PAY, True, 1, 100,
                        "Approved", {}, NOW)


def test_a_notification_is_retried_until_the_period_ends_then_expires():
    n = notification()
    period = timedelta(hours=3)
    now = NOW
    while n.state == "pending":
        token = n.claim(now, timedelta(minutes=10))
        assert token and n.claimed_until == now + timedelta(minutes=10)
        n.record(Verdict.FAILED, now, period, "HTTP 500")
        assert n.claim_token is None
        if n.next_attempt_at:
            assert n.next_attempt_at - now == retry_delay(n.failures)
            now = n.next_attempt_at
    assert n.state == "expired" and n.last_error == "HTTP 500"
    assert now <= NOW + period and n.attempts == n.failures > 5


def test_delivered_rejected_and_replayed():
    n = notification()
    n.claim(NOW, timedelta(minutes=10))
    n.record(Verdict.DELIVERED, NOW, timedelta(days=3))
    assert (n.state, n.delivered_at, n.next_attempt_at, n.attempts) == ("delivered", NOW, None, 1)
    later = NOW + timedelta(days=5)
    n.replay(later)
    assert (n.state, n.next_attempt_at, n.queued_at, n.replays) == ("pending", later, later, 1)
    assert n.packet_date == NOW  # the same packet as before
    n.record(Verdict.REJECTED, later, timedelta(days=3), "firstcode=5")
    assert n.state == "rejected" and n.next_attempt_at is None


# -- results an order collects ------------------------------------------------------------
def paid_order(delay=False):
    order = Order(1, "A-1", Money(Decimal("10.00"), "RUB"), NOW, delay=delay)
    pay = order.add_operation(OperationType.PAY, order.money, NOW)
    return order, pay


def test_an_operation_reaching_a_final_state_is_a_result_once():
    order, pay = paid_order()
    assert order.take_results() == []
    pay.finish(OperationState.UNKNOWN, NOW)  # not final: no result yet
    order.apply(OrderEvent.PAY_UNKNOWN, NOW)
    assert order.take_results() == []
    pay.finish(OperationState.SUCCESS, NOW)
    order.apply(OrderEvent.PAY_APPROVED, NOW)
    assert order.take_results() == [FinishedResult(1, None)]
    assert order.take_results() == []  # taken
    pay.finish(OperationState.SUCCESS, NOW)  # already final: nothing new
    assert order.take_results() == []


def test_several_operations_finish_in_one_unit_of_work():
    order, pay = paid_order(delay=True)
    pay.finish(OperationState.SUCCESS, NOW)
    order.apply(OrderEvent.PAY_HELD, NOW)
    confirm = order.add_operation(OperationType.CONFIRM, order.money, NOW)
    confirm.finish(OperationState.SUCCESS, NOW)
    order.apply(OrderEvent.CONFIRM_FULL, NOW)
    assert order.take_results() == [FinishedResult(1, None), FinishedResult(2, None)]


def test_an_order_closed_without_an_operation_is_a_result():
    order = Order(1, "A-1", Money(Decimal("10.00"), "RUB"), NOW)
    order.apply(OrderEvent.BUYER_TIMEOUT, NOW)
    assert order.take_results() == [FinishedResult(None, OrderEvent.BUYER_TIMEOUT)]
    held, pay = paid_order(delay=True)
    pay.finish(OperationState.SUCCESS, NOW)
    held.apply(OrderEvent.PAY_HELD, NOW)
    held.take_results()
    held.apply(OrderEvent.HOLD_EXPIRED, NOW)
    assert held.take_results() == [FinishedResult(None, OrderEvent.HOLD_EXPIRED)]


def test_a_declined_cancel_is_a_result_without_a_state_change():
    order, pay = paid_order()
    pay.finish(OperationState.SUCCESS, NOW)
    order.apply(OrderEvent.PAY_APPROVED, NOW)
    order.take_results()
    cancel = order.add_operation(OperationType.CANCEL, order.money, NOW)
    cancel.finish(OperationState.DECLINED, NOW, response_code="AS100")
    assert order.take_results() == [FinishedResult(2, None)]
