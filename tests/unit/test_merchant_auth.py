"""Authentication of web-service users (throttling, lockout, the keyed success cache) and the
parsing of the services' parameters, with fakes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from assist_ws.domain.errors import AssistError
from assist_ws.domain.model import Merchant, MerchantUser, Right
from assist_ws.domain.money import Money
from assist_ws.domain.passwords import hash_password
from assist_ws.domain.records import LoginRecord
from assist_ws.services import auth
from assist_ws.services.auth import Credentials, SuccessCache, authenticate, refusal_until
from assist_ws.services.merchant_api import (parse_money, parse_success, parse_window,
                                             password_in_query)

from .fakes import FakeUnitOfWork, MovableClock

HASH = hash_password("Secret123", n=2**4)   # cheap parameters: these tests count checks


class Uow(FakeUnitOfWork):
    def reader(self):
        return self

    queries = reader

    def _bind(self):
        super()._bind()
        self.users.get_locked = self.users.get
        self.users.login_record = self._login_record

    def _login_record(self, merchant_id, login):
        user, merchant = self.users.get(merchant_id, login), self.merchants.get(merchant_id)
        if user is None:
            return None
        return LoginRecord(merchant_id, login, user.password_hash, tuple(user.rights),
                           user.active, user.failed_logins, user.locked_until, merchant.active,
                           merchant.secret_word)


@pytest.fixture
def uow():
    u = Uow()
    with u:
        u.merchants.add(Merchant(7, "Shop", secret_word="w"))
        u.users.add(MerchantUser(7, "erp", HASH, [Right.MONITOR]))
        u.users.add(MerchantUser(7, "boss", HASH, [Right.ADMIN]))
        u.commit()
    return u


def codes(fn, *args, **kw):
    with pytest.raises(AssistError) as info:
        fn(*args, **kw)
    return info.value.codes


def login(uow, clock, cache, password="Secret123", user="erp", right=Right.MONITOR,
          merchant="7"):
    return authenticate(uow, clock, cache, Credentials(merchant, user, password), right)


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


def test_a_verified_password_is_checked_once_within_the_ttl(uow, monkeypatch):
    calls = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda p, h: calls.append(p) or real(p, h))
    clock, cache = MovableClock(), SuccessCache(ttl=60)
    principal = login(uow, clock, cache)
    assert principal.merchant_id == 7 and principal.secret_word == "w"
    login(uow, clock, cache)
    assert len(calls) == 1
    assert codes(login, uow, clock, cache, "Wrong1234") == (7, 141)
    assert len(calls) == 2


def test_failures_slow_down_then_lock_and_success_resets(uow):
    clock, cache = MovableClock(), SuccessCache(ttl=0)
    for _ in range(4):
        assert codes(login, uow, clock, cache, "Wrong1234") == (7, 141)
    assert codes(login, uow, clock, cache, "Wrong1234") == (7, 3)
    assert codes(login, uow, clock, cache) == (7, 3)
    clock.move(seconds=2)
    login(uow, clock, cache)
    with uow:
        assert uow.users.get(7, "erp").failed_logins == 0
        assert uow.users.get(7, "erp").locked_until is None


def test_rights_and_unknown_users(uow):
    clock, cache = MovableClock(), SuccessCache()
    assert codes(login, uow, clock, cache, right=Right.CONFIRM) == (8, 350)
    assert login(uow, clock, cache, user="boss", right=Right.CANCEL).login == "boss"
    assert codes(login, uow, clock, cache, user="nobody") == (7, 141)
    assert codes(login, uow, clock, cache, merchant="8") == (7, 141)
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
