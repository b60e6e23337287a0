"""The cabinet's use cases with fakes: signing in under the web services' rules, the stamp
that ends a session when the user's row changes, rights, and the monitor held to the user's
own merchant."""

from __future__ import annotations

import pytest

from assist_ws.domain.errors import AuthenticationError, PermissionDenied
from assist_ws.domain.model import Merchant, MerchantUser, Right
from assist_ws.domain.monitor import OrderFilter
from assist_ws.domain.passwords import hash_password
from assist_ws.services import cabinet

from .fakes import FakeUnitOfWork, MovableClock

HASH = hash_password("Secret123", n=2**4)
KEY = b"stamp-key"


class Uow(FakeUnitOfWork):
    def reader(self):
        return self

    queries = reader


class Monitor:
    """The monitor port: what it was asked."""

    def __init__(self):
        self.asked = []

    def page(self, flt, after, limit, *, by="date", descending=True):
        self.asked.append(flt)
        return [], None

    def totals(self, flt):
        return []


@pytest.fixture
def uow():
    u = Uow()
    with u:
        u.merchants.add(Merchant(7, "Shop"))
        u.users.add(MerchantUser(7, "watcher", HASH, [Right.MONITOR]))
        u.users.add(MerchantUser(7, "clerk", HASH, [Right.CONFIRM]))
        u.users.add(MerchantUser(7, "boss", HASH, [Right.ADMIN]))
        u.commit()
    return u


def sign_in(uow, login, password="Secret123", client="10.0.0.1"):
    return cabinet.sign_in(uow, MovableClock(), KEY, "7", login, password, client)


def test_sign_in_needs_the_password_and_the_right_monitor(uow):
    user = sign_in(uow, "watcher")
    assert (user.merchant_id, user.login, user.can(Right.MONITOR),
            user.can(Right.CONFIRM)) == (7, "watcher", True, False)
    assert sign_in(uow, "boss").can(Right.CANCEL)  # admin has every right
    with pytest.raises(AuthenticationError):
        sign_in(uow, "watcher", "Wrong1234")
    with pytest.raises(PermissionDenied):
        sign_in(uow, "clerk")


def test_the_stamp_holds_while_the_row_is_unchanged(uow):
    user = sign_in(uow, "watcher")
    again = cabinet.current_user(uow, KEY, 7, "watcher", user.stamp)
    assert again == user
    assert cabinet.current_user(uow, b"another-key", 7, "watcher", user.stamp) is None
    assert cabinet.current_user(uow, KEY, 7, "boss", user.stamp) is None


@pytest.mark.parametrize("change", [
    lambda u: setattr(u, "password_hash", hash_password("Other1234", n=2**4)),
    lambda u: setattr(u, "rights", ["monitor", "cancel"]),
    lambda u: setattr(u, "active", False),
])
def test_a_changed_user_row_ends_the_session(uow, change):
    user = sign_in(uow, "watcher")
    with uow:
        change(uow.users.get(7, "watcher"))
        uow.commit()
    assert cabinet.current_user(uow, KEY, 7, "watcher", user.stamp) is None


def test_the_monitor_reads_only_the_users_own_merchant(uow):
    user, port = sign_in(uow, "watcher"), Monitor()
    cabinet.monitor(port, user, OrderFilter(7), None)
    with pytest.raises(PermissionDenied):
        cabinet.monitor(port, user, OrderFilter(8), None)
    assert [f.merchant_id for f in port.asked] == [7]


def test_actions_need_their_rights(uow):
    user = sign_in(uow, "watcher")
    for plan in (cabinet.plan_confirm, cabinet.plan_cancel):
        with pytest.raises(PermissionDenied):
            plan(uow, user, "1234567890123456", None)
    with pytest.raises(PermissionDenied):
        cabinet.confirm(uow, None, MovableClock(), user, "1234567890123456", None)
    with pytest.raises(PermissionDenied):
        cabinet.cancel(uow, None, MovableClock(), user, "1234567890123456", None, "cab-x")
