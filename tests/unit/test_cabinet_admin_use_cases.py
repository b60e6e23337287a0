"""The cabinet's administration use cases with fakes: sessions opened, resumed, idle and
ended; rights and the last admin; the audit entries each change writes (and a refused change
writes none)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from assist_ws.domain.errors import (AuthenticationError, NotFound, OperationProhibited,
                                     PermissionDenied, ValidationError)
from assist_ws.domain.model import Merchant, MerchantUser, Right
from assist_ws.services import cabinet, cabinet_admin, cabinet_sessions

from .fakes import MovableClock
from .test_cabinet_use_cases import HASH, KEY, Uow

IDLE = timedelta(minutes=30)


@pytest.fixture
def uow():
    u = Uow()
    with u:
        u.merchants.add(Merchant(7, "Shop"))
        u.merchants.add(Merchant(8, "Other shop"))
        u.users.add(MerchantUser(7, "watcher", HASH, [Right.MONITOR]))
        u.users.add(MerchantUser(7, "boss", HASH, [Right.ADMIN]))
        u.users.add(MerchantUser(8, "stranger", HASH, [Right.ADMIN]))
        u.commit()
    return u


def signed(uow, clock, login):
    user = cabinet.sign_in(uow, clock, KEY, "7", login, "Secret123", "10.0.0.1")
    return user, cabinet_sessions.open_session(uow, clock, user, "10.0.0.1")


def kinds(uow):
    return [e.kind for e in uow.data["audit"]]


def test_a_session_resumes_until_idle_or_ended(uow):
    clock = MovableClock()
    user, token = signed(uow, clock, "watcher")
    assert kinds(uow) == ["sign_in"]
    assert cabinet_sessions.resume(uow, clock, KEY, token, IDLE).user == user
    clock.move(minutes=29)
    assert cabinet_sessions.resume(uow, clock, KEY, token, IDLE).user == user
    clock.move(minutes=31)
    gone = cabinet_sessions.resume(uow, clock, KEY, token, IDLE)
    assert gone.user is None and gone.expired
    assert cabinet_sessions.resume(uow, clock, KEY, token, IDLE).user is None  # ended
    _user, token = signed(uow, clock, "watcher")
    cabinet_sessions.sign_out(uow, clock, token, user, "10.0.0.1")
    assert cabinet_sessions.resume(uow, clock, KEY, token, IDLE).user is None
    assert kinds(uow)[-1] == "sign_out"
    assert cabinet_sessions.resume(uow, clock, KEY, "never-issued", IDLE).user is None


def test_a_failed_sign_in_is_recorded_without_its_password(uow):
    with pytest.raises(AuthenticationError):
        cabinet.sign_in(uow, MovableClock(), KEY, "7", "watcher", "Wrong9876", "10.0.0.2")
    [entry] = uow.data["audit"]
    assert (entry.kind, entry.merchant_id, entry.login, entry.client) == (
        "sign_in_failed", 7, "watcher", "10.0.0.2")
    assert "Wrong9876" not in repr(entry)


def test_rights_change_ends_the_users_sessions(uow):
    clock = MovableClock()
    boss, _ = signed(uow, clock, "boss")
    _watcher, token = signed(uow, clock, "watcher")
    cabinet_admin.set_rights(uow, clock, boss, "watcher", ["monitor", "confirm"], "10.0.0.1")
    assert uow.data["users"][(7, "watcher")].rights == ["confirm", "monitor"]
    assert cabinet_sessions.resume(uow, clock, KEY, token, IDLE).user is None
    assert kinds(uow)[-1] == "user_rights"
    with pytest.raises(ValidationError):
        cabinet_admin.set_rights(uow, clock, boss, "watcher", ["root"], "10.0.0.1")
    with pytest.raises(ValidationError):
        cabinet_admin.set_rights(uow, clock, boss, "watcher", [], "10.0.0.1")


@pytest.mark.parametrize("change", [
    lambda uow, clock, boss: cabinet_admin.set_rights(uow, clock, boss, "boss", ["monitor"],
                                                      None),
    lambda uow, clock, boss: cabinet_admin.set_active(uow, clock, boss, "boss", False, None),
    lambda uow, clock, boss: cabinet_admin.delete_user(uow, clock, boss, "boss", None),
])
def test_the_last_admin_is_kept(uow, change):
    clock = MovableClock()
    boss, token = signed(uow, clock, "boss")
    written = len(uow.data["audit"])
    with pytest.raises(OperationProhibited):
        change(uow, clock, boss)
    assert uow.data["users"][(7, "boss")].rights == ["admin"]
    assert uow.data["users"][(7, "boss")].active
    assert len(uow.data["audit"]) == written  # nothing recorded either
    assert cabinet_sessions.resume(uow, clock, KEY, token, IDLE).user == boss


def test_a_second_admin_may_go_and_another_merchants_user_is_not_found(uow):
    clock = MovableClock()
    boss, _ = signed(uow, clock, "boss")
    cabinet_admin.create_user(uow, clock, boss, "deputy_01", "Secret123", ["admin"], None)
    cabinet_admin.delete_user(uow, clock, boss, "deputy_01", None)
    assert (7, "deputy_01") not in uow.data["users"]
    with pytest.raises(NotFound):  # another merchant's user
        cabinet_admin.delete_user(uow, clock, boss, "stranger", None)
    assert (8, "stranger") in uow.data["users"]
    with pytest.raises(ValidationError):  # the cabinet's logins have 8 to 20 characters
        cabinet_admin.create_user(uow, clock, boss, "short_1", "Secret123", ["monitor"], None)


def test_without_admin_nothing_is_read_or_changed(uow):
    clock = MovableClock()
    watcher, _ = signed(uow, clock, "watcher")
    for act in (lambda: cabinet_admin.users(uow, watcher),
                lambda: cabinet_admin.create_user(uow, clock, watcher, "sneaky_01",
                                                  "Secret123", ["admin"], None),
                lambda: cabinet_admin.reset_password(uow, clock, watcher, "boss", None)):
        with pytest.raises(PermissionDenied):
            act()
    assert (7, "sneaky_01") not in uow.data["users"]
    assert uow.data["users"][(7, "boss")].password_hash == HASH


def test_a_reset_password_follows_the_policy(uow):
    clock = MovableClock()
    boss, _ = signed(uow, clock, "boss")
    word = cabinet_admin.reset_password(uow, clock, boss, "watcher", None)
    assert len(word) == cabinet_admin.RESET_LENGTH
    assert cabinet.sign_in(uow, clock, KEY, "7", "watcher", word, "10.0.0.3").login == \
        "watcher"
