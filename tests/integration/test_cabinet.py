"""The merchant cabinet over Flask's test client, on SQLite and PostgreSQL, with the real
emulator behind: sign-in under the web services' throttling rules, sessions (cookie flags,
idle timeout, a disabled user or changed password ending them), CSRF, rights, another
merchant's order, the monitor's filters, pages and totals, and confirm/cancel through the
web services' use cases, a double submit making one operation."""

from __future__ import annotations

import random
import re
import uuid
from decimal import Decimal

import pytest

from assist_ws.domain.cards import parse_card
from assist_ws.domain.errors import AuthenticationError
from assist_ws.domain.model import OperationType, Right
from assist_ws.services import admin
from assist_ws.services.auth import Credentials
from assist_ws.wsgi import create_app

from .conftest import MERCHANT, RUB_ONLY, new_order

PASSWORD = "Cabinet123"
VISA = "4111111111111111"


def new_user(gw, rights, merchant=MERCHANT) -> str:
    login = "cab_" + uuid.uuid4().hex[:10]
    admin.add_user(gw.uow, merchant, login, PASSWORD, list(rights))
    return login


class Browser:
    """A test client from one address of its own (failed logins count per client)."""

    def __init__(self, gw, *, https: bool = False):
        self.gw = gw
        self.ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        self.client = create_app(gw).test_client()
        self.base = "https://localhost" if https else "http://localhost"

    def get(self, path, **kw):
        return self.client.get(self.base + path, environ_base={"REMOTE_ADDR": self.ip}, **kw)

    def post(self, path, data, **kw):
        return self.client.post(self.base + path, data=data,
                                environ_base={"REMOTE_ADDR": self.ip}, **kw)

    def csrf(self, path) -> str:
        page = self.get(path).get_data(as_text=True)
        return re.search(r'name="csrf" value="([^"]+)"', page)[1]

    def sign_in(self, login, password=PASSWORD, merchant=MERCHANT):
        return self.post("/account/login", {"csrf": self.csrf("/account/login"),
                                            "merchant_id": str(merchant), "login": login,
                                            "password": password})


def pay(gw, view):
    card = parse_card(VISA, "12", "2030", "TEST HOLDER", "123", gw.clock.now())
    gw.pay_by_card(view.bill_number, card)
    return view.bill_number


def order_of(gw, bill):
    with gw.uow.reader() as uow:
        order = uow.orders.get(bill)
        return order.state, [(op.type, op.amount, op.state) for op in order.operations]


def text(resp) -> str:
    return resp.get_data(as_text=True)


def test_sign_in_sets_a_safe_cookie_and_a_wrong_password_is_refused(gw):
    login = new_user(gw, [Right.MONITOR])
    b = Browser(gw, https=True)
    assert b.get("/account/orders").headers["Location"].endswith("/account/login")
    resp = b.sign_in(login, "Wrong12345")
    assert resp.status_code == 401 and "Неверный Merchant_ID" in text(resp)
    assert b.get("/account/orders").status_code == 303  # still signed out
    resp = b.sign_in(login)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/account/orders")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Path=/account/" in cookie
    page = b.get("/account/orders")
    assert page.status_code == 200 and login in text(page)
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in page.headers["Cache-Control"]


def test_cookie_is_not_secure_over_plain_http(gw):
    b = Browser(gw)
    cookie = b.sign_in(new_user(gw, [Right.MONITOR])).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" not in cookie


def test_failed_sign_ins_are_throttled_by_the_web_services_rules(gw):
    login = new_user(gw, [Right.MONITOR])
    b = Browser(gw)
    for _ in range(4):
        assert b.sign_in(login, "Wrong12345").status_code == 401
    # The fifth failure in a row (throttle.SLOW_AFTER) refuses the client for a while ...
    assert b.sign_in(login, "Wrong12345").status_code == 429
    # ... even with the right password ...
    resp = b.sign_in(login)
    assert resp.status_code == 429 and "/account/orders" not in resp.headers.get("Location", "")
    # ... and the web services, asked from the same address, count the same failures.
    with pytest.raises(AuthenticationError) as refused:
        gw.merchant_api.results_by_date(Credentials(str(MERCHANT), login, PASSWORD, b.ip), {})
    assert (refused.value.firstcode, refused.value.secondcode) == (7, 3)
    # Another address is not refused.
    assert Browser(gw).sign_in(login).status_code == 303


def test_a_user_without_monitor_cannot_sign_in(gw):
    b = Browser(gw)
    assert b.sign_in(new_user(gw, [Right.CONFIRM])).status_code == 403
    assert b.get("/account/orders").status_code == 303


def test_forms_without_their_csrf_token_are_refused(gw):
    login = new_user(gw, [Right.MONITOR, Right.CONFIRM])
    b = Browser(gw)
    resp = b.post("/account/login", {"merchant_id": str(MERCHANT), "login": login,
                                     "password": PASSWORD})
    assert resp.status_code == 403
    assert b.get("/account/orders").status_code == 303  # not signed in
    b.sign_in(login)
    bill = pay(gw, new_order(gw, "100.00", delay=True))
    for token in (None, "forged", Browser(gw).csrf("/account/login")):  # another session's
        data = {"amount": "40.00"} if token is None else {"amount": "40.00", "csrf": token}
        assert b.post(f"/account/orders/{bill}/confirm", data).status_code == 403
    # A cross-site POST is refused even with the token.
    good = b.csrf(f"/account/orders/{bill}/confirm")
    assert b.post(f"/account/orders/{bill}/confirm", {"amount": "40.00", "csrf": good},
                  headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert order_of(gw, bill)[0] == "Delayed"
    # Sign-out needs its token too.
    assert b.post("/account/logout", {}).status_code == 403
    assert b.get("/account/orders").status_code == 200


def test_idle_session_ends_and_sign_out_ends_it(gw):
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR]))
    gw.clock.move(minutes=29)
    assert b.get("/account/orders").status_code == 200
    gw.clock.move(minutes=29)  # each request restarts the idle time
    assert b.get("/account/orders").status_code == 200
    gw.clock.move(minutes=31)
    resp = b.get("/account/orders")
    assert resp.status_code == 303 and "expired=1" in resp.headers["Location"]
    assert b.get("/account/orders").status_code == 303
    gw.clock.reset()
    b.sign_in(new_user(gw, [Right.MONITOR]))
    assert b.post("/account/logout", {"csrf": b.csrf("/account/orders")}).status_code == 303
    assert b.get("/account/orders").status_code == 303


def test_a_disabled_user_or_a_new_password_ends_the_session_at_once(gw):
    login = new_user(gw, [Right.MONITOR])
    b = Browser(gw)
    b.sign_in(login)
    admin.add_user(gw.uow, MERCHANT, login, "Another123", [Right.MONITOR], replace=True)
    assert b.get("/account/orders").status_code == 303
    b.sign_in(login, "Another123")
    assert b.get("/account/orders").status_code == 200
    with gw.uow:
        gw.uow.users.get(MERCHANT, login).active = False
        gw.uow.commit()
    assert b.get("/account/orders").status_code == 303


def test_monitor_filters_pages_and_totals(gw):
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR]))
    tag = uuid.uuid4().hex[:8]
    from assist_ws.services.orders import AuthorizationRequest, create_order
    made = [create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(MERCHANT), f"M{tag}-{i}", f"{10 + i}.50", "RUB", delay="1")) for i in range(5)]
    paid = [pay(gw, v) for v in made[:2]]
    other = create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(RUB_ONLY), f"M{tag}-9", "1.00", "RUB"))
    page = text(b.get(f"/account/orders?number=M{tag}-%25"))
    assert page.count('class="order-row"') == 5 and other.bill_number not in page
    exact = text(b.get(f"/account/orders?number=M{tag}-3"))
    assert exact.count('class="order-row"') == 1 and made[3].bill_number in exact
    # An exact number is found whatever the period; a mask only within it.
    exact = text(b.get(f"/account/orders?number=M{tag}-3&from=2020-01-01&to=2020-01-31"))
    assert exact.count('class="order-row"') == 1 and made[3].bill_number in exact
    masked = text(b.get(f"/account/orders?number=M{tag}-%25&from=2020-01-01&to=2020-01-31"))
    assert 'class="order-row"' not in masked
    delayed = text(b.get(f"/account/orders?number=M{tag}-%25&state=Delayed"))
    assert delayed.count('class="order-row"') == 2 and all(p in delayed for p in paid)
    both = text(b.get(f"/account/orders?number=M{tag}-%25&state=Delayed&state=In+Process"))
    assert both.count('class="order-row"') == 5
    amounts = text(b.get(f"/account/orders?number=M{tag}-%25&min=11.50&max=12.50"))
    assert amounts.count('class="order-row"') == 2  # 11.50 and 12.50
    # Totals per currency and state for the filter.
    totals = re.findall(r"<tr><td>RUB</td><td>([^<]+)</td><td class=\"num\">(\d+)</td>",
                        text(b.get(f"/account/orders?number=M{tag}-%25")))
    assert dict(totals) == {"Delayed": "2", "In Process": "3"}
    # Pages walked by key: 2 + 2 + 1, no order twice, newest first.
    from assist_ws.services import cabinet

    def walk(url):
        seen = []
        while url:
            html = text(b.get(url))
            seen += re.findall(r'class="order-row" data-bill="(\d+)"', html)
            found = re.search(r'href="([^"]+)" class="button secondary" id="next-page"', html)
            url = found[1].replace("&amp;", "&") if found else None
        return seen

    cabinet_size, cabinet.PAGE_SIZE = cabinet.PAGE_SIZE, 2
    try:
        newest = walk(f"/account/orders?number=M{tag}-%25")
        oldest = walk(f"/account/orders?number=M{tag}-%25&sort=date")
        # Amounts 10.50 ... 14.50, and two more orders of 11.50 (ties broken by id).
        ties = [create_order(gw.uow, gw.clock, AuthorizationRequest(
            str(MERCHANT), f"M{tag}-t{i}", "11.5", "RUB")).bill_number for i in range(2)]
        cheapest = walk(f"/account/orders?number=M{tag}-%25&sort=amount")
        dearest = walk(f"/account/orders?number=M{tag}-%25&sort=-amount")
    finally:
        cabinet.PAGE_SIZE = cabinet_size
    bills = [v.bill_number for v in made]
    assert newest == bills[::-1] and oldest == bills
    ids = {}
    with gw.uow.reader() as uow:
        for bill in [*bills, *ties]:
            ids[bill] = uow.orders.get(bill).id
    tied = sorted([bills[1], *ties], key=ids.__getitem__)
    assert cheapest == [bills[0], *tied, *bills[2:]]
    assert dearest == cheapest[::-1]
    assert b.get("/account/orders?sort=price").status_code == 400
    assert b.get("/account/orders?min=abc").status_code == 400


def test_monitor_filters_by_customer_card_and_mode(gw):
    from assist_ws.domain.model import Customer
    from assist_ws.services.orders import AuthorizationRequest, create_order
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR]))
    tag = uuid.uuid4().hex[:8]
    ivanov = create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(MERCHANT), f"C{tag}-1", "10.00", "RUB",
        customer=Customer(lastname="Ivanov", firstname="Petr", email=f"{tag}@shop.example")))
    other = create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(MERCHANT), f"C{tag}-2", "10.00", "RUB", customer=Customer(lastname="Sidorov")))
    pay(gw, ivanov)
    declined = parse_card("4000000000000002", "12", "2030", "TEST HOLDER", "123",
                          gw.clock.now())
    gw.pay_by_card(other.bill_number, declined)

    def bills(query):
        return set(re.findall(r'class="order-row" data-bill="(\d+)"',
                              text(b.get(f"/account/orders?number=C{tag}-%25&{query}"))))

    assert bills("customer=IVAN") == {ivanov.bill_number}
    assert bills(f"customer={tag.upper()}%40SHOP") == {ivanov.bill_number}  # the e-mail
    assert bills("customer=sidor") == {other.bill_number}
    assert bills("card=1111") == {ivanov.bill_number}
    assert bills("card=0002") == {other.bill_number}
    assert bills("test=0") == {ivanov.bill_number, other.bill_number}
    assert bills("test=1") == set()
    assert b.get("/account/orders?card=11%25").status_code == 400


def test_order_card_and_another_merchants_order(gw):
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR]))
    bill = pay(gw, new_order(gw, "75.00"))
    card = text(b.get(f"/account/orders/{bill}?lang=EN"))
    assert "Approved" in card and f"{bill}.1" in card and "411111******1111" in card
    assert "Request id" in card and "AS000" in card
    theirs = pay(gw, new_order(gw, "10.00", merchant=RUB_ONLY))
    assert b.get(f"/account/orders/{theirs}").status_code == 404
    assert b.get(f"/account/orders/{theirs}/cancel").status_code in (403, 404)
    assert b.get("/account/orders/not-a-bill").status_code == 404


def test_partial_confirm_through_the_cabinet_once_however_often_submitted(gw):
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR, Right.CONFIRM]))
    bill = pay(gw, new_order(gw, "100.00", delay=True))
    card = text(b.get(f"/account/orders/{bill}"))
    assert 'id="confirm"' in card and 'id="cancel"' not in card  # no cancel right
    step = text(b.get(f"/account/orders/{bill}/confirm?amount=40.00&lang=EN"))
    assert "40.00" in step and "100.00" in step and "released" in step
    token = re.search(r'name="csrf" value="([^"]+)"', step.split('method="post"')[-1])[1]
    data = {"csrf": token, "amount": "40.00"}
    first = b.post(f"/account/orders/{bill}/confirm", data)
    assert first.status_code == 303
    assert "PartialDelayed" in text(b.get(first.headers["Location"]))
    assert b.post(f"/account/orders/{bill}/confirm", data).status_code == 303  # again
    state, ops = order_of(gw, bill)
    assert state == "PartialDelayed"
    assert [op for op in ops if op[0] == OperationType.CONFIRM] == [
        (OperationType.CONFIRM, Decimal("40.00"), "Success")]


def test_partial_cancel_is_a_reversal_and_a_double_submit_makes_one(gw, emulator):
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR, Right.CANCEL]))
    bill = pay(gw, new_order(gw, "100.00"))
    step = text(b.get(f"/account/orders/{bill}/cancel?amount=30&lang=EN"))
    assert "reversed for" in step
    form = step.split('method="post"')[-1]
    data = {name: re.search(rf'name="{name}" value="([^"]+)"', form)[1]
            for name in ("csrf", "amount", "token")}
    data["reason"] = "2"  # declined by the customer
    assert b.post(f"/account/orders/{bill}/cancel", data).status_code == 303
    assert b.post(f"/account/orders/{bill}/cancel", data).status_code == 303
    state, ops = order_of(gw, bill)
    assert state == "PartialCanceled"
    assert [op for op in ops if op[0] == OperationType.CANCEL] == [
        (OperationType.CANCEL, Decimal("30.00"), "Success")]
    with gw.uow.reader() as uow:
        assert [op.cancel_reason for op in uow.orders.get(bill).operations_of(
            OperationType.CANCEL)] == [2]
    with gw.uow.reader() as uow:
        auth = uow.orders.get(bill).card_payment.authorization.request_id
    held = [a for c in emulator.ledger()["centers"].values() for a in c["authorizations"]
            if a["request_id"] == auth]
    assert Decimal(held[0]["held"]) == Decimal("70.00")


def test_a_monitor_only_user_sees_no_buttons_and_a_forged_post_changes_nothing(gw):
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR]))
    bill = pay(gw, new_order(gw, "100.00", delay=True))
    card = text(b.get(f"/account/orders/{bill}"))
    assert 'id="confirm"' not in card and 'id="cancel"' not in card
    assert b.get(f"/account/orders/{bill}/confirm").status_code == 403
    for action in ("confirm", "cancel"):
        token = b.csrf("/account/orders")  # the session's own valid token
        resp = b.post(f"/account/orders/{bill}/{action}",
                      {"csrf": token, "amount": "100.00", "token": "cab-forged-0000"})
        assert resp.status_code == 403 and "Недостаточно прав" in text(resp)
    assert order_of(gw, bill) == ("Delayed", [(OperationType.PAY, Decimal("100.00"),
                                                "Success")])


def test_a_user_changes_its_own_password(gw):
    login = new_user(gw, [Right.MONITOR])
    b, other = Browser(gw), Browser(gw)
    b.sign_in(login)
    other.sign_in(login)

    def change(current, new, repeat=None):
        return b.post("/account/password", {"csrf": b.csrf("/account/password"),
                                            "current": current, "new": new,
                                            "repeat": new if repeat is None else repeat})

    assert change("Wrong12345", "Newpass123").status_code == 401
    assert change(PASSWORD, "Newpass123", "Newpass124").status_code == 422
    assert change(PASSWORD, "short1").status_code == 422
    assert change(PASSWORD, "lettersonly").status_code == 422
    assert change(PASSWORD, PASSWORD).status_code == 422
    assert b.post("/account/password", {"current": PASSWORD, "new": "Newpass123",
                                        "repeat": "Newpass123"}).status_code == 403  # no CSRF
    # Nothing above changed it: the web services still take the old one.
    gw.merchant_api.results_by_date(Credentials(str(MERCHANT), login, PASSWORD, "10.0.0.1"),
                                    {})
    assert change(PASSWORD, "Newpass123").status_code == 200
    assert b.get("/account/orders").status_code == 200  # this session goes on
    assert other.get("/account/orders").status_code == 303  # the other one has ended
    with pytest.raises(AuthenticationError):
        gw.merchant_api.results_by_date(Credentials(str(MERCHANT), login, PASSWORD,
                                                    "10.0.0.2"), {})
    gw.merchant_api.results_by_date(Credentials(str(MERCHANT), login, "Newpass123",
                                                "10.0.0.3"), {})
    assert Browser(gw).sign_in(login, "Newpass123").status_code == 303


def test_bulk_cancel_of_three_orders_with_a_result_each_once(gw):
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR, Right.CANCEL]))
    bills = [pay(gw, new_order(gw, amount)) for amount in ("10.00", "20.00", "30.00")]
    unpaid = new_order(gw, "5.00").bill_number
    theirs = pay(gw, new_order(gw, "10.00", merchant=RUB_ONLY))
    query = "&".join(f"bill={x}" for x in [*bills, unpaid, theirs])
    page = text(b.get(f"/account/bulk?action=cancel&{query}&lang=EN"))
    assert page.count('class="plan"') == 5 and page.count("reversed for") == 3
    assert page.count("Refused") == 2 and "Order not found" in page
    form = page.split('method="post"')[-1]
    data = {"csrf": re.search(r'name="csrf" value="([^"]+)"', form)[1], "action": "cancel",
            "bill": re.findall(r'name="bill" value="(\d+)"', form),
            "token": re.findall(r'name="token" value="([^"]+)"', form)}
    assert data["bill"] == bills  # only those that can be canceled
    data["bill"] = data["bill"] + [theirs]  # a forged addition: refused by the use case
    data["token"] = data["token"] + ["cab-forged-token-0"]
    done = text(b.post("/account/bulk", data))
    assert done.count('class="order-state">Canceled<') == 3
    assert "Order not found" in done or "Заказ не найден" in done
    again = text(b.post("/account/bulk", data))  # a double submit: the stored results
    assert again.count('class="order-state">Canceled<') == 3
    for bill in bills:
        state, ops = order_of(gw, bill)
        assert state == "Canceled" and sum(op[0] == OperationType.CANCEL for op in ops) == 1
    assert order_of(gw, theirs)[0] == "Approved"


def test_bulk_actions_need_their_right(gw):
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR, Right.CONFIRM]))
    bill = pay(gw, new_order(gw, "10.00"))
    orders = text(b.get("/account/orders"))
    assert 'id="bulk-confirm"' in orders and 'id="bulk-cancel"' not in orders
    assert b.get(f"/account/bulk?action=cancel&bill={bill}").status_code == 403
    resp = b.post("/account/bulk", {"csrf": b.csrf("/account/orders"), "action": "cancel",
                                    "bill": bill, "token": "cab-forged-token-1"})
    assert resp.status_code == 403 and order_of(gw, bill)[0] == "Approved"
    assert b.post("/account/bulk", {"action": "confirm", "bill": bill}).status_code == 403
    monitor_only = Browser(gw)
    monitor_only.sign_in(new_user(gw, [Right.MONITOR]))
    page = text(monitor_only.get("/account/orders"))
    assert 'id="bulk' not in page and 'type="checkbox"' not in page


def test_order_card_shows_the_notifications_and_sends_them_again(gw):
    from assist_ws.services.notifications.outbox import NotifySettings
    mid = random.randint(300000, 2_000_000_000)
    admin.save_merchant(gw.uow, mid, admin.MerchantSettings(
        name="Notified shop", currencies=("RUB",), processing=(("RUB", "emulator-rub"),),
        notify=NotifySettings(url="http://127.0.0.1:9/results")), create=True,
        check_notify_url=gw.notifier.check_url)
    try:
        _notifications_shown_and_sent_again(gw, mid)
    finally:  # nothing of this test stays pending (so no other test delivers it)
        from sqlalchemy import text as sql
        with gw.uow as uow:
            uow.session.execute(sql("UPDATE notifications SET state = 'expired', "
                                    "next_attempt_at = NULL WHERE merchant_id = :m"), {"m": mid})
            uow.commit()


def _notifications_shown_and_sent_again(gw, mid):
    from assist_ws.services.notifications import queries as notifications
    login = new_user(gw, [Right.MONITOR], merchant=mid)
    b = Browser(gw)
    b.sign_in(login, merchant=mid)
    bill = pay(gw, new_order(gw, "10.00", merchant=mid))
    [before] = notifications.notifications_of(gw.uow, mid, bill_number=bill)
    card = text(b.get(f"/account/orders/{bill}?lang=EN"))
    assert 'id="notifications"' in card and before.state in card
    resp = b.post(f"/account/orders/{bill}/notify", {"csrf": b.csrf(f"/account/orders/{bill}")})
    assert resp.status_code == 303
    assert "Notifications queued again: 1." in text(b.get(resp.headers["Location"]))
    [after] = notifications.notifications_of(gw.uow, mid, bill_number=bill)
    assert after.notification_id == before.notification_id
    assert after.replays == before.replays + 1
    # Without the token nothing is queued; another merchant's user queues nothing of it.
    assert b.post(f"/account/orders/{bill}/notify", {}).status_code == 403
    stranger = Browser(gw)
    stranger.sign_in(new_user(gw, [Right.MONITOR]))
    resp = stranger.post(f"/account/orders/{bill}/notify",
                         {"csrf": stranger.csrf("/account/orders")})
    assert resp.status_code == 303
    assert stranger.get(resp.headers["Location"]).status_code == 404
    [last] = notifications.notifications_of(gw.uow, mid, bill_number=bill)
    assert last.replays == after.replays


def test_the_monitor_counts_days_and_shows_times_in_the_merchants_time_zone(gw):
    from datetime import datetime, timedelta, timezone

    from assist_ws.services.orders import AuthorizationRequest, create_order
    mid = random.randint(300000, 2_000_000_000)
    admin.save_merchant(gw.uow, mid, admin.MerchantSettings(
        name="Moscow shop", currencies=("RUB",), processing=(("RUB", "emulator-rub"),),
        time_zone="Europe/Moscow"), create=True)
    with pytest.raises(Exception, match="unknown time zone"):
        admin.save_merchant(gw.uow, mid, admin.MerchantSettings(time_zone="Mars/Olympus"),
                            create=False)
    # 22:30 UTC tomorrow is 01:30 the day after in Moscow (UTC+3).
    now = datetime.now(timezone.utc)
    late = (now + timedelta(days=1)).replace(hour=22, minute=30, second=0, microsecond=0)
    gw.clock.move(seconds=(late - now).total_seconds())
    bill = create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(mid), "TZ-1", "10.00", "RUB")).bill_number
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR], merchant=mid), merchant=mid)
    utc_day, moscow_day = f"{late:%Y-%m-%d}", f"{late + timedelta(days=1):%Y-%m-%d}"
    moscow = text(b.get(f"/account/orders?from={moscow_day}&to={moscow_day}"))
    assert bill in moscow and "01:30:00" in moscow and "Europe/Moscow" in moscow
    assert bill not in text(b.get(f"/account/orders?from={utc_day}&to={utc_day}"))
    assert bill in text(b.get("/account/orders"))  # the default period ends today there
    assert "01:30:00 (Europe/Moscow)" in text(b.get(f"/account/orders/{bill}"))
