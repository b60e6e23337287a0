"""The notification web services' use cases (``services.notifications.merchant``) with fakes
of the ports: what is checked first, what a replay and a listing answer, and the reply rows."""

from __future__ import annotations

from datetime import datetime

import pytest

from assist_ws.domain.errors import AssistError, ValidationError
from assist_ws.domain.model import MerchantUser, Right
from assist_ws.domain.notifications import DeliveryAttempt, Verdict, check_url
from assist_ws.domain.passwords import hash_password
from assist_ws.services import admin
from assist_ws.services.auth import Credentials, SuccessCache
from assist_ws.services.merchant_api import MerchantApi
from assist_ws.services.notifications import merchant as mn
from assist_ws.services.notifications.delivery import deliver_due
from assist_ws.services.notifications.outbox import NotifySettings
from assist_ws.services.notifications.queries import NotificationView

from .test_notification_use_cases import MID, Uow as NotifyUow, paid

GOOD = Credentials(str(MID), "erp", "Secret123")
BAD = Credentials(str(MID), "erp", "Wrong1234")


class Uow(NotifyUow):
    """The notification fakes, with the read models' unit of work."""

    queries = NotifyUow.reader


@pytest.fixture
def env():
    from assist_ws.domain.model import Merchant, ProcessingCenter
    from .fakes import FakeGateway, MovableClock
    clock = MovableClock()
    uow, gw = Uow(clock), FakeGateway()
    with uow:
        uow.centers.add(ProcessingCenter("rub", "http://x/rub?wsdl", "RUB", True, 7))
        uow.merchants.add(Merchant(MID, "Shop", "RUB", ["RUB"], two_stage=True,
                                   secret_word="w", processing={"RUB": "rub"}))
        uow.merchants.add(Merchant(MID + 1, "Other", "RUB", ["RUB"], processing={"RUB": "rub"}))
        uow.users.add(MerchantUser(MID, "erp", hash_password("Secret123", n=2**4),
                                   [Right.MONITOR]))
        uow.commit()
    admin.save_merchant(uow, MID, admin.MerchantSettings(notify=NotifySettings(
        url="https://shop.example/result", results="pay,confirm")), create=False)
    return uow, gw, clock


def api(env) -> MerchantApi:
    uow, gw, clock = env
    return MerchantApi(uow, gw, clock, SuccessCache(ttl=0))


def codes(fn, *args, **kw):
    with pytest.raises(AssistError) as info:
        fn(*args, **kw)
    return info.value.codes


def test_the_login_is_checked_before_anything_else(env):
    a = api(env)
    assert codes(mn.replay, a, BAD) == (7, 141)
    assert codes(mn.replay, a, BAD, "12ab", "X") == (7, 141)
    assert codes(mn.undelivered, a, BAD, {"startyear": "2026", "startmonth": "2",
                                          "startday": "30"}) == (7, 141)
    assert codes(mn.replay, a, GOOD) == (3, 0)
    assert codes(mn.replay, a, GOOD, "12ab") == (4, 143)
    assert codes(mn.replay, a, GOOD, None, "x" * 129) == (4, 107)
    assert codes(mn.replay, a, GOOD, None, "N", {"endyear": "2026"}) == (5, 0)
    assert codes(mn.replay, a, GOOD, "1234567890123456") == (10, 201)


def test_replay_answers_what_it_queued_again(env):
    uow, _, clock = env
    bill = paid(env, delay="1")
    deliver_due(uow, _Sender(), clock)
    clock.move(minutes=5)
    [line] = mn.replay(api(env), GOOD, f"{bill}.1")
    row = mn.replay_row(line)
    assert list(row) == list(mn.REPLAY_FIELDS)
    n = uow.notifications.items[0]
    assert row == {"notificationid": n.notification_id, "notificationseq": 1,
                   "billnumber": bill, "ordernumber": "A-1",
                   "operationbillnumber": f"{bill}.1", "operationtype": 100,
                   "operationstate": "Success", "orderstate": "Delayed",
                   "createdate": n.created_at.replace(microsecond=0), "state": "pending"}
    assert (n.state, n.replays, n.next_attempt_at) == ("pending", 1, clock.now())
    with uow:  # notifications switched off: nothing would be sent
        uow.merchants.get(MID).notify_url = None
        uow.commit()
    assert codes(mn.replay, api(env), GOOD, bill) == (15, 154)
    assert n.replays == 1


def test_no_replay_to_a_url_the_sender_refuses(env):
    uow, gw, clock = env
    bill = paid(env)

    def private(url):  # the host resolves to a private address now
        raise ValidationError("notification URL host shop.example resolves to 10.0.0.1, a "
                              "private address: results go to public addresses only", 154)

    a = MerchantApi(uow, gw, clock, SuccessCache(ttl=0), check_notify_url=private)
    with pytest.raises(AssistError) as info:
        mn.replay(a, GOOD, bill)
    assert info.value.codes == (15, 154) and "10.0.0.1" in info.value.message
    assert uow.notifications.items[0].replays == 0


def test_undelivered_rows_carry_the_last_try(env):
    uow, _, clock = env
    bill = paid(env)
    deliver_due(uow, _Sender(Verdict.FAILED), clock)
    n = uow.notifications.items[0]
    tried_at = n.created_at
    uow.notifications.journal[:] = [
        DeliveryAttempt(n.id, 1, tried_at, "https://shop.example/result", Verdict.FAILED, 9,
                        503, "busy")]
    [line] = mn.undelivered(api(env), GOOD)
    row = mn.undelivered_row(line)
    assert list(row) == list(mn.UNDELIVERED_FIELDS)
    assert (row["billnumber"], row["state"], row["attempts"], row["lasthttpstatus"]) == (
        bill, "pending", 1, 503)
    assert row["lasttrydate"] == tried_at.replace(microsecond=0)
    assert row["nexttrydate"] == n.next_attempt_at.replace(microsecond=0) > clock.now()
    assert row["lasterror"] == n.last_error
    clock.move(days=4)  # out of the default 3 days
    assert mn.undelivered(api(env), GOOD) == ()
    start = {"startyear": "2026", "startmonth": "11", "startday": "27"}
    assert [mn.undelivered_row(x)["billnumber"] for x in mn.undelivered(api(env), GOOD,
                                                                         start)] == [bill]


def test_a_result_without_an_operation_has_no_operation_fields():
    view = NotificationView(
        "id", MID, "1234567890123456", "A-1", 1, "pay", False, None, 100, "Timeout",
        "expired", 19, 0, datetime(2026, 11, 27, 12, 0, 0, 123456), None, None, "HTTP 500")
    row = mn.undelivered_row(view)
    assert (row["operationbillnumber"], row["operationstate"], row["lasttrydate"],
            row["lasthttpstatus"], row["nexttrydate"]) == (None, None, None, None, None)
    assert row["createdate"] == datetime(2026, 11, 27, 12, 0, 0)
    assert (row["attempts"], row["lasterror"]) == (19, "HTTP 500")


class _Sender:
    def __init__(self, verdict=Verdict.DELIVERED):
        self.verdict = verdict

    def check_url(self, url):
        return check_url(url)

    def send(self, target, notice):
        from assist_ws.domain.notifications import PushReply
        status = 200 if self.verdict is Verdict.DELIVERED else 500
        return PushReply(self.verdict, status, "", 5, None, target.url)
