"""The notification use cases with fakes of their ports: which results become notifications,
how a pass claims, sends, records and keeps an order's notifications in sequence, and what a
replay during a try does."""

from datetime import timedelta

import pytest

from assist_ws.domain.cards import parse_card
from assist_ws.domain.errors import ValidationError
from assist_ws.domain.model import Merchant, ProcessingCenter
from assist_ws.domain.money import Money
from assist_ws.domain.notifications import DeliveryPolicy, PushReply, Verdict, check_url
from assist_ws.domain.ports import Outcome, ProcessingReply
from assist_ws.services import admin, confirm, payment
from assist_ws.services.notifications import delivery, queries
from assist_ws.services.notifications.outbox import NotifySettings, write_outbox
from assist_ws.services.notifications.queries import replay_request
from assist_ws.services.orders import AuthorizationRequest, create_order

from .fakes import FakeGateway, FakeUnitOfWork, MovableClock

MID = 100001
POLICY = DeliveryPolicy(concurrency=1)


class Uow(FakeUnitOfWork):
    """The fake unit of work, with the outbox hook run before each commit as the real one
    does."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def flush(self):
        for i, order in enumerate(self.data["orders"].values(), 1):
            order.id = getattr(order, "id", None) or i

    def commit(self):
        write_outbox(self, clock=self.clock)
        super().commit()

    def reader(self):
        return self


class Sender:
    def __init__(self, *verdicts, side_effect=None):
        self.verdicts = list(verdicts)
        self.sent = []
        self.side_effect = side_effect

    def check_url(self, url):
        return check_url(url)

    def send(self, target, notice):
        self.sent.append((target, notice))
        if self.side_effect:
            self.side_effect()
        verdict = self.verdicts.pop(0) if self.verdicts else Verdict.DELIVERED
        if isinstance(verdict, Exception):
            raise verdict
        return PushReply(verdict, 200 if verdict is Verdict.DELIVERED else 500, "", 5, None,
                         target.url)


@pytest.fixture
def env():
    clock = MovableClock()
    uow, gw = Uow(clock), FakeGateway()
    with uow:
        uow.centers.add(ProcessingCenter("rub", "http://x/rub?wsdl", "RUB", True, 7))
        uow.merchants.add(Merchant(MID, "Shop", "RUB", ["RUB"], two_stage=True,
                                   secret_word="w", processing={"RUB": "rub"}))
        uow.commit()
    admin.save_merchant(uow, MID, admin.MerchantSettings(notify=NotifySettings(
        url="https://shop.example/result", results="pay,confirm")), create=False)
    return uow, gw, clock


def paid(env, delay="0", card="4111111111111111", number=None):
    uow, gw, clock = env
    order = create_order(uow, clock, AuthorizationRequest(str(MID), number or "A-1", "100.00",
                                                          "RUB", delay=delay))
    payment.pay_by_card(uow, gw, clock, order.bill_number,
                        parse_card(card, "12", "2030", "TEST", "123", clock.now()))
    return order.bill_number


def outbox(uow):
    return uow.data["notifications"]


def test_results_become_notifications_per_the_settings(env):
    uow, gw, clock = env
    bill = paid(env, delay="1")
    confirm.confirm_payment(uow, gw, clock, MID, bill)
    assert [(n.kind, n.sequence, n.order_state, n.operation_number) for n in outbox(uow)] == [
        ("pay", 1, "Delayed", 1), ("confirm", 2, "Approved", 2)]
    content = outbox(uow)[1].content
    assert content["order"]["state"] == "Approved"
    assert content["operations"][0]["bill_number"] == bill + ".2"
    assert "4111111111111111" not in repr(content)


def test_nothing_is_written_without_a_url_or_for_unwanted_results(env):
    uow, gw, clock = env
    admin.save_merchant(uow, MID, admin.MerchantSettings(notify=NotifySettings(
        only_success=True)), create=False)
    gw.replies["authorize"] = [ProcessingReply(Outcome.DECLINED, "AS100")]
    paid(env, number="D-1")  # declined: only successes wanted
    assert outbox(uow) == []
    paid(env, number="D-2")  # approved
    assert [n.order_number for n in outbox(uow)] == ["D-2"]
    admin.save_merchant(uow, MID, admin.MerchantSettings(notify=NotifySettings(url="")),
                        create=False)
    paid(env, number="B-1")
    assert len(outbox(uow)) == 1


def test_bad_settings_change_nothing(env):
    uow, _, _ = env
    for bad in (NotifySettings(url="https://shop.example:9999/r"),
                NotifySettings(protocol="xml"), NotifySettings(results="pay,refund"),
                NotifySettings(url="https://new.example/r", expected_reply="json")):
        with pytest.raises(ValidationError):
            admin.save_merchant(uow, MID, admin.MerchantSettings(notify=bad), create=False)
    with uow:
        m = uow.merchants.get(MID)
        assert (m.notify_url, m.notify_protocol, m.notify_results, m.notify_expected_reply) == (
            "https://shop.example/result", "post", ["pay", "confirm"], "http200")


def test_a_url_the_sender_refuses_is_not_set(env):
    uow, _, _ = env
    checked = []

    def private(url):  # the sender's check: the host resolves to a private address
        checked.append(url)
        raise ValidationError("notification URL host new.example resolves to 10.0.0.1, a "
                              "private address: results go to public addresses only", 154)

    for url in ("http://10.0.0.1/r", "http://127.1/r", "http://[::1]/r"):  # by themselves
        with pytest.raises(ValidationError) as info:
            admin.save_merchant(uow, MID, admin.MerchantSettings(notify=NotifySettings(
                url=url)), create=False)
        assert info.value.codes == (5, 154)
    with pytest.raises(ValidationError) as info:
        admin.save_merchant(uow, MID, admin.MerchantSettings(notify=NotifySettings(
            url="https://new.example/r", results="pay")), create=False,
            check_notify_url=private)
    assert info.value.codes == (5, 154) and checked == ["https://new.example/r"]
    with uow:
        m = uow.merchants.get(MID)
        assert (m.notify_url, m.notify_results) == ("https://shop.example/result",
                                                    ["pay", "confirm"])


def test_a_pass_sends_records_and_retries(env):
    uow, gw, clock = env
    paid(env)
    sender = Sender(Verdict.FAILED, RuntimeError("boom"))
    s = delivery.deliver_due(uow, sender, clock, POLICY)
    assert (s.tries, s.failed) == (1, 1)
    [n] = outbox(uow)
    assert (n.state, n.attempts, n.claim_token) == ("pending", 1, None)
    assert n.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert delivery.deliver_due(uow, sender, clock, POLICY).tries == 0  # not yet due
    clock.move(seconds=30)
    s = delivery.deliver_due(uow, sender, clock, POLICY)  # the sender breaks: a try too
    assert s.failed == 1 and "RuntimeError: boom" in outbox(uow)[0].last_error
    clock.move(minutes=1)
    assert delivery.deliver_due(uow, sender, clock, POLICY).delivered == 1
    n = outbox(uow)[0]
    assert (n.state, n.attempts) == ("delivered", 3)
    assert [a.number for a in uow.data["attempts"]] == [1, 2, 3]
    target, notice = sender.sent[0]
    assert target.url == "https://shop.example/result" and target.secret_word == "w"
    assert notice.notification_id == n.notification_id and notice.sequence == 1


def test_an_orders_notifications_go_in_sequence(env):
    uow, gw, clock = env
    bill = paid(env, delay="1")
    confirm.confirm_payment(uow, gw, clock, MID, bill)
    sender = Sender(Verdict.FAILED)
    assert delivery.deliver_due(uow, sender, clock, POLICY).tries == 1
    first, second = outbox(uow)
    assert second.claim_token is None and second.attempts == 0  # released, not tried
    clock.move(minutes=1)
    assert delivery.deliver_due(uow, sender, clock, POLICY).delivered == 2
    assert [n.sequence for _, n in sender.sent] == [1, 1, 2]


def test_a_merchant_that_switched_notifications_off_is_given_up(env):
    uow, gw, clock = env
    paid(env)
    admin.save_merchant(uow, MID, admin.MerchantSettings(notify=NotifySettings(url="")),
                        create=False)
    sender = Sender()
    s = delivery.deliver_due(uow, sender, clock, POLICY)
    assert (s.tries, s.skipped) == (0, 1) and sender.sent == []
    assert outbox(uow)[0].state == "expired"
    assert [n.state for n in queries.undelivered(uow, MID)] == ["expired"]


def test_a_replay_during_a_try_sends_it_again(env):
    uow, gw, clock = env
    bill = paid(env)
    sender = Sender(side_effect=lambda: queries.replay(uow, clock, MID,
                                                       replay_request(bill_number=bill)))
    delivery.deliver_due(uow, sender, clock, POLICY)
    n = outbox(uow)[0]
    # the try was journaled, but the replay decides: it goes again
    assert (n.state, n.attempts, n.replays) == ("pending", 1, 1)
    sender.side_effect = None
    assert delivery.deliver_due(uow, sender, clock, POLICY).delivered == 1
    assert outbox(uow)[0].state == "delivered" and len(sender.sent) == 2
    assert sender.sent[0][1] == sender.sent[1][1]  # the same notice


def test_replay_needs_one_selector(env):
    uow, _, clock = env
    now = clock.now()
    for kw, codes in (({}, (3, 0)), ({"order_number": " "}, (3, 0)),
                      ({"bill_number": "1234567890123456", "order_number": "A-1"}, (5, 0)),
                      ({"since": now}, (3, 104)), ({"since": now, "until": now - timedelta(1)},
                                                   (5, 104)),
                      ({"bill_number": "12x"}, (4, 143)), ({"order_number": "x" * 129},
                                                          (4, 107))):
        with pytest.raises(ValidationError) as info:
            replay_request(**kw)
        assert info.value.codes == codes, kw
    assert replay_request(bill_number=" 1234567890123456.2 ").bill_number == "1234567890123456"
    assert queries.replay(uow, clock, MID, replay_request(order_number="none")).count == 0


def test_money_in_content_is_exact(env):
    uow, gw, clock = env
    paid(env)
    content = outbox(uow)[0].content
    assert content["order"]["amount"] == "100.00"
    assert Money.of(content["operations"][0]["amount"], "RUB") == Money.of("100.00", "RUB")
