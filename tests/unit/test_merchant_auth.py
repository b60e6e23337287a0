"""Authentication of web-service users (the keyed success cache, the throttling of failed
logins per client, unknown logins answered as known ones) and the parsing of the services'
parameters, with fakes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from assist_ws.domain.errors import AssistError
from assist_ws.domain.model import Merchant, MerchantUser, Right
from assist_ws.domain.money import Money
from assist_ws.domain.passwords import hash_password
from assist_ws.domain.records import LoginKey
from assist_ws.services import auth, throttle
from assist_ws.services.auth import Credentials, SuccessCache, authenticate
from assist_ws.services.merchant_api import (parse_money, parse_success, parse_window,
                                             password_in_query)
from assist_ws.services.throttle import client_of, refusal_until

from .fakes import FakeUnitOfWork, MovableClock

HASH = hash_password("Secret123", n=2**4)   # cheap parameters: these tests count checks
ERP, OTHER = "10.0.0.1", "192.0.2.7"       # the attacker's address, the merchant's ERP's


class Uow(FakeUnitOfWork):
    def reader(self):
        return self

    queries = reader


@pytest.fixture
def uow():
    u = Uow()
    with u:
        u.merchants.add(Merchant(7, "Shop", secret_word="w"))
        u.merchants.add(Merchant(8, "Closed shop"))
        u.users.add(MerchantUser(7, "erp", HASH, [Right.MONITOR]))
        u.users.add(MerchantUser(7, "boss", HASH, [Right.ADMIN]))
        u.users.add(MerchantUser(7, "gone", HASH, [Right.ADMIN], active=False))
        u.users.add(MerchantUser(8, "erp", HASH, [Right.ADMIN]))
        u.data["merchants"][8].active = False
        u.commit()
    return u


@pytest.fixture
def checks(monkeypatch):
    """The passwords checked, in order (the dummy hash made cheap as well)."""
    calls = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "_DUMMY_HASH", hash_password("not-a-password-0", n=2**4))
    monkeypatch.setattr(auth, "verify_password",
                        lambda p, h: calls.append((p, h == auth._DUMMY_HASH)) or real(p, h))
    return calls


def codes(fn, *args, **kw):
    with pytest.raises(AssistError) as info:
        fn(*args, **kw)
    return info.value.codes


def refusal(fn, *args, **kw) -> AssistError:
    with pytest.raises(AssistError) as info:
        fn(*args, **kw)
    return info.value


def login(uow, clock, cache, password="Secret123", user="erp", right=Right.MONITOR,
          merchant="7", client=ERP):
    return authenticate(uow, clock, cache, Credentials(merchant, user, password, client), right)


def rows(uow):
    with uow:
        return dict(uow.data["login_failures"])


def test_success_cache_is_keyed_bounded_and_expires():
    now = [0.0]
    cache = SuccessCache(ttl=10, size=2, monotonic=lambda: now[0])
    cache.remember(1, "a", "pw", "h1")
    assert cache.hit(1, "a", "pw", "h1")
    assert not cache.hit(1, "a", "pw", "h2")        # the stored hash changed
    assert not cache.hit(1, "a", "other", "h1")
    assert not SuccessCache(ttl=10).hit(1, "a", "pw", "h1")  # another key knows nothing
    cache.remember(1, "b", "pw", "h1")
    cache.remember(1, "c", "pw", "h1")
    assert len(cache) == 2 and not cache.hit(1, "a", "pw", "h1")
    now[0] = 11
    assert not cache.hit(1, "c", "pw", "h1")
    assert all(b"pw" not in k for k in cache._entries)


def test_refusal_policy():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert [refusal_until(n, now) for n in range(5)] == [None] * 5
    assert refusal_until(5, now) == now + timedelta(seconds=1)
    assert refusal_until(9, now) == now + timedelta(seconds=16)
    assert refusal_until(10, now) == now + timedelta(minutes=15)


def test_clients_are_addresses_and_ipv6_networks():
    assert client_of("10.0.0.1") == "10.0.0.1"
    assert client_of("::ffff:10.0.0.1") == "10.0.0.1"
    assert client_of("2001:db8:1:2:aaaa::1") == client_of("2001:db8:1:2::ffff") \
        == "2001:db8:1:2::/64"
    assert client_of("2001:db8:1:3::1") != client_of("2001:db8:1:2::1")
    assert client_of(None) == client_of("") == "unknown"
    assert client_of("not an\naddress") == "notanaddress"


def test_a_verified_password_is_checked_once_within_the_ttl(uow, checks):
    clock, cache = MovableClock(), SuccessCache(ttl=60)
    principal = login(uow, clock, cache)
    assert principal.merchant_id == 7 and principal.secret_word == "w"
    login(uow, clock, cache)
    assert len(checks) == 1
    assert codes(login, uow, clock, cache, "Wrong1234") == (7, 141)
    assert len(checks) == 2


def test_failures_slow_down_that_client_and_not_the_merchant(uow):
    clock, cache = MovableClock(), SuccessCache(ttl=0)
    for _ in range(4):
        assert codes(login, uow, clock, cache, "Wrong1234") == (7, 141)
    assert codes(login, uow, clock, cache, "Wrong1234") == (7, 3)     # the 5th: slowed down
    assert codes(login, uow, clock, cache) == (7, 3)                  # even the right one
    assert login(uow, clock, cache, client=OTHER).login == "erp"      # the ERP gets in
    assert rows(uow)[LoginKey(ERP, 7, "erp")].failures == 5
    clock.move(seconds=2)
    login(uow, clock, cache)                                          # and then the client
    assert LoginKey(ERP, 7, "erp") not in rows(uow)                   # its count forgotten
    assert codes(login, uow, clock, cache, "Wrong1234") == (7, 141)


def test_the_tenth_failure_refuses_that_client_for_15_minutes(uow):
    clock, cache = MovableClock(), SuccessCache(ttl=0)
    for _ in range(9):
        codes(login, uow, clock, cache, "Wrong1234")
        clock.move(seconds=60)                                        # each slow-down waited out
    error = refusal(login, uow, clock, cache, "Wrong1234")
    assert error.codes == (7, 3) and "try again after" in error.message
    clock.move(minutes=10)
    assert codes(login, uow, clock, cache) == (7, 3)
    assert login(uow, clock, cache, client=OTHER).login == "erp"
    assert rows(uow)[LoginKey(ERP, 7, "erp")].failures == 10          # refused ones not counted
    clock.move(minutes=6)
    assert login(uow, clock, cache).login == "erp"


def test_failures_count_for_a_day_and_old_ones_are_deleted(uow):
    clock, cache = MovableClock(), SuccessCache(ttl=0)
    for _ in range(3):
        codes(login, uow, clock, cache, "Wrong1234")
    clock.move(hours=25)
    codes(login, uow, clock, cache, "Wrong1234", client=OTHER)        # counting deletes them
    assert set(rows(uow)) == {LoginKey(OTHER, 7, "erp"), LoginKey(OTHER, 0, "")}
    for _ in range(4):                                                # a new day: from 1 again
        assert codes(login, uow, clock, cache, "Wrong1234") == (7, 141)
    assert rows(uow)[LoginKey(ERP, 7, "erp")].failures == 4


def test_a_refused_key_is_not_deleted_while_it_refuses(uow):
    clock, cache = MovableClock(), SuccessCache(ttl=0)
    with uow:
        uow.login_failures.count(LoginKey(ERP, 7, "erp"), clock.now(), clock.now())
        uow.login_failures.refuse(LoginKey(ERP, 7, "erp"), clock.now() + timedelta(days=2))
        uow.commit()
    clock.move(hours=25)
    codes(login, uow, clock, cache, "Wrong1234", client=OTHER)
    assert LoginKey(ERP, 7, "erp") in rows(uow)


def test_one_client_failing_on_many_logins_is_refused_on_all(uow, monkeypatch):
    monkeypatch.setattr(throttle, "CLIENT_LIMIT", 6)
    clock, cache = MovableClock(), SuccessCache(ttl=0)
    for i in range(5):
        assert codes(login, uow, clock, cache, "Wrong1234", user=f"guess{i}") == (7, 141)
    login(uow, clock, cache)                                          # a success forgets none
    error = refusal(login, uow, clock, cache, "Wrong1234", user="guess5")  # the 6th
    assert error.codes == (7, 3) and "from this address" in error.message
    assert codes(login, uow, clock, cache) == (7, 3)                  # every login refused
    assert codes(login, uow, clock, cache, merchant="9", user="x") == (7, 3)
    assert login(uow, clock, cache, client=OTHER).login == "erp"      # to this client only
    clock.move(minutes=16)
    assert login(uow, clock, cache).login == "erp"


def answers(uow, checks, merchant, user, password, client):
    """What eleven tries of a client get, the password checks they cost and the writes they
    make (with the login and merchant left out)."""
    clock, cache = MovableClock(), SuccessCache(ttl=0)
    del checks[:]
    start = len(uow.failure_writes)
    got = []
    for _ in range(11):
        error = refusal(login, uow, clock, cache, password, user=user, merchant=merchant,
                        client=client)
        got.append((error.codes, error.message.replace(user, "<login>")))
        clock.move(seconds=20)
    writes = [(call[0], call[1].client, call[1].merchant_id == 0) if len(call) > 1 else call
              for call in uow.failure_writes[start:]]
    state = rows(uow)[LoginKey(client, int(merchant), user)]
    return got, [dummy for _p, dummy in checks], writes, (state.failures, state.refused_until)


def test_unknown_logins_are_answered_as_known_ones(uow, checks):
    known = answers(uow, checks, "7", "erp", "Wrong1234", "10.1.0.1")
    assert [c for c, _m in known[0]] == [(7, 141)] * 4 + [(7, 3)] * 7
    assert known[1] == [False] * 10                  # the 11th (refused) is not checked
    for merchant, user in (("7", "nobody"), ("9", "erp"), ("7", "gone"), ("8", "erp")):
        other = answers(uow, checks, merchant, user, "Wrong1234", "10.1.0.2")
        assert other[0] == known[0]
        assert other[1] == [True] * 10               # the same checks, on the dummy hash
        assert [(w[0], w[2]) if len(w) > 1 else w for w in other[2]] == \
            [(w[0], w[2]) if len(w) > 1 else w for w in known[2]]   # the same writes
        assert other[3] == known[3]
        with uow:
            uow.data["login_failures"].clear()


def test_a_refusal_is_logged_for_the_operator_without_the_password(uow, caplog):
    clock, cache = MovableClock(), SuccessCache(ttl=0)
    with caplog.at_level(logging.WARNING, logger="assist_ws.services.throttle"):
        for _ in range(5):
            codes(login, uow, clock, cache, "Wrong1234")
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "login refused for a while: client=10.0.0.1 merchant=7 login='erp' failures=5 "
        "until=2026-11-27T12:00:01Z")
    assert "Wrong1234" not in caplog.text


def test_rights_and_unknown_users(uow):
    clock, cache = MovableClock(), SuccessCache()
    assert codes(login, uow, clock, cache, right=Right.CONFIRM) == (8, 350)
    assert login(uow, clock, cache, user="boss", right=Right.CANCEL).login == "boss"
    assert codes(login, uow, clock, cache, user="nobody") == (7, 141)
    assert codes(login, uow, clock, cache, merchant="9") == (7, 141)
    assert codes(login, uow, clock, cache, merchant="x") == (4, 100)
    assert codes(login, uow, clock, cache, user="") == (3, 101)
    assert codes(login, uow, clock, cache, password="") == (3, 102)


def test_windows():
    now = datetime(2026, 5, 10, 12, 30, 15, tzinfo=timezone.utc)
    w = parse_window({}, now, timedelta(hours=3))
    assert w.end - w.start == timedelta(hours=3) and w.end > now
    w = parse_window({"startyear": "2026", "startmonth": "5", "startday": "1",
                      "endyear": 2026, "endmonth": 5, "endday": 2, "endhour": 23,
                      "endmin": 59}, now, timedelta(hours=3))
    assert w.start == datetime(2026, 5, 1, tzinfo=timezone.utc)
    assert w.end == datetime(2026, 5, 3, tzinfo=timezone.utc)   # the end minute included
    assert codes(parse_window, {"startyear": "2026"}, now, timedelta(1)) == (4, 129)
    assert codes(parse_window, {"endyear": "2026", "endmonth": "2", "endday": "30"}, now,
                 timedelta(1)) == (4, 130)
    assert codes(parse_window, {"startyear": "2026", "startmonth": "6", "startday": "1"},
                 now, timedelta(1)) == (5, 129)


def test_amount_currency_pairs_and_flags():
    assert parse_money(None, "") is None
    assert parse_money("10,50", "rub") == Money(Decimal("10.50"), "RUB")
    assert codes(parse_money, "10.00", None) == (3, 105)
    assert codes(parse_money, None, "RUB") == (3, 108)
    assert codes(parse_money, "1.001", "RUB") == (5, 108)
    assert parse_success("2") is False and parse_success(None) is None
    assert codes(parse_success, "3") == (5, 131)
    assert password_in_query("a=1&PASSWORD=x") and not password_in_query("passwordx=1")
