"""The cabinet's administration over Flask's test client, on SQLite and PostgreSQL: sessions
kept in the database (a signed-out or ended session refused by another process's app), the
audit log with its filters, users and rights (the same users in the web services, the last
admin kept, a forged POST without ``admin`` refused), and the settings (saved, refused whole
on a bad value, used by the next payment; the secret word shown once)."""

from __future__ import annotations

import random
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assist_ws.domain.cards import parse_card
from assist_ws.domain.errors import AuthenticationError, OperationProhibited
from assist_ws.domain.model import Right
from assist_ws.services import admin, cabinet, cabinet_admin
from assist_ws.services.auth import Credentials

from .conftest import MERCHANT, new_order
from .test_cabinet import PASSWORD, Browser, new_user, pay, text


def new_merchant(gw) -> tuple[int, str]:
    """A merchant of its own (its settings change here) and its admin's login."""
    merchant = random.randrange(300000, 2000000000)
    admin.save_merchant(gw.uow, merchant, admin.MerchantSettings(
        name="Admin shop", currencies=("RUB",), two_stage=True, secret_word="first-word",
        processing=(("RUB", "emulator-rub"),)), create=True)
    login = "boss_" + uuid.uuid4().hex[:8]
    admin.add_user(gw.uow, merchant, login, PASSWORD, [Right.ADMIN])
    return merchant, login


def audit_rows(b, query="") -> list[tuple[str, str, str]]:
    page = text(b.get("/account/audit?lang=EN" + query))
    return re.findall(r'<tr class="audit-row" data-kind="([a-z_]+)">\s*<td>[^<]*</td>'
                      r'<td>([^<]*)</td><td>[^<]*</td>\s*<td>[^<]*</td><td>([^<]*)</td>', page)


def test_a_session_lives_in_the_database_and_ends_on_every_process(gw):
    login = new_user(gw, [Right.MONITOR])
    b = Browser(gw)
    b.sign_in(login)
    cookie = b.client.get_cookie("assist_account", path="/account/").value
    other = Browser(gw)  # another app (another process's memory), the same database
    other.ip = b.ip
    other.client.set_cookie("assist_account", cookie, path="/account/")
    assert other.get("/account/orders").status_code == 200
    assert b.post("/account/logout", {"csrf": b.csrf("/account/orders")}).status_code == 303
    resp = other.get("/account/orders")  # the signed-out cookie, replayed elsewhere
    assert resp.status_code == 303 and "/account/login" in resp.headers["Location"]


def test_a_password_change_ends_the_other_sessions_but_not_its_own(gw):
    login = new_user(gw, [Right.MONITOR])
    first, second = Browser(gw), Browser(gw)
    first.sign_in(login)
    second.sign_in(login)
    resp = first.post("/account/password", {"csrf": first.csrf("/account/password"),
                                            "current": PASSWORD, "new": "Changed123",
                                            "repeat": "Changed123"})
    assert resp.status_code == 200
    assert first.get("/account/orders").status_code == 200
    assert second.get("/account/orders").status_code == 303


def test_the_audit_log_shows_what_was_done_with_filters(gw):
    merchant, boss = new_merchant(gw)
    clerk = "clerk_" + uuid.uuid4().hex[:8]
    admin.add_user(gw.uow, merchant, clerk, PASSWORD, [Right.MONITOR, Right.CONFIRM])
    c = Browser(gw)
    assert c.sign_in(clerk, "Wrong12345", merchant=merchant).status_code == 401
    c.sign_in(clerk, merchant=merchant)
    bill = pay(gw, new_order(gw, "30.00", delay=True, merchant=merchant))
    assert c.post(f"/account/orders/{bill}/confirm", {
        "csrf": c.csrf(f"/account/orders/{bill}/confirm"), "amount": "10.00"}
    ).status_code == 303
    c.post("/account/logout", {"csrf": c.csrf("/account/orders")})
    # A monitor-and-confirm user sees no log, and asking for it is a 403.
    c.sign_in(clerk, merchant=merchant)
    assert "audit-link" not in text(c.get("/account/orders"))
    assert c.get("/account/audit").status_code == 403

    b = Browser(gw)
    b.sign_in(boss, merchant=merchant)
    assert "audit-link" in text(b.get("/account/orders"))
    rows = audit_rows(b)
    kinds = [kind for kind, _who, _what in rows]
    assert kinds[:6] == ["sign_in", "sign_in", "sign_out", "confirm", "sign_in",
                         "sign_in_failed"]
    confirm = next(r for r in rows if r[0] == "confirm")
    assert confirm[1] == clerk and confirm[2] == f"{bill} 10.00 RUB: {bill}.2 Success"
    assert [r[0] for r in audit_rows(b, f"&login={clerk}&kind=sign_in_failed")] == \
        ["sign_in_failed"]
    assert {r[1] for r in audit_rows(b, f"&login={boss}")} == {boss}
    assert audit_rows(b, "&from=2000-01-01&to=2000-01-02") == []
    assert b.get("/account/audit?kind=nonsense").status_code == 400
    # Another merchant's log is not this one's.
    other = Browser(gw)
    other.sign_in("erp_user", "Passw0rd1")
    assert all(who != clerk for _k, who, _w in audit_rows(other))


def test_users_created_in_the_cabinet_work_in_the_web_services(gw):
    merchant, boss = new_merchant(gw)
    b = Browser(gw)
    b.sign_in(boss, merchant=merchant)
    page = b.get("/account/users")
    assert page.status_code == 200 and boss in text(page)
    csrf = b.csrf("/account/users")
    for bad in ("short_1", "has-dash_1", "x" * 21):
        resp = b.post("/account/users", {"csrf": csrf, "login": bad, "password": PASSWORD,
                                         "right": ["monitor"]})
        assert resp.status_code == 422, bad
    assert b.post("/account/users", {"csrf": csrf, "login": "weakpass_1", "password": "short",
                                     "right": "monitor"}).status_code == 422
    login = "erp_" + uuid.uuid4().hex[:8]
    resp = b.post("/account/users", {"csrf": csrf, "login": login, "password": PASSWORD,
                                     "right": ["monitor", "cancel"]})
    assert resp.status_code == 303
    assert b.post("/account/users", {"csrf": csrf, "login": login, "password": PASSWORD,
                                     "right": "monitor"}).status_code == 409
    bill = pay(gw, new_order(gw, "20.00", merchant=merchant))
    with gw.uow.reader() as r:
        number = r.orders.get(bill).order_number
    # The new user asks the order's state over the POST web service.
    reply = b.client.post("/orderstate/orderstate.cfm", data={
        "Merchant_ID": str(merchant), "Login": login, "Password": PASSWORD,
        "Ordernumber": number, "Format": "3"}, environ_base={"REMOTE_ADDR": b.ip})
    assert reply.status_code == 200 and bill in text(reply), text(reply)
    # A password reset: shown once, the old one refused, the new one taken.
    page = b.post(f"/account/users/{login}/password",
                  {"csrf": b.csrf(f"/account/users/{login}")})
    word = re.search(r'id="password-value">([A-Za-z0-9]+)<', text(page))[1]
    assert word not in text(b.get(f"/account/users/{login}"))
    api = gw.merchant_api
    with pytest.raises(AuthenticationError):
        api.results_by_date(Credentials(str(merchant), login, PASSWORD, b.ip), {})
    assert api.results_by_date(Credentials(str(merchant), login, word, b.ip), {}) is not None
    # Rights, then disabled: its sessions end and the services refuse it.
    u = Browser(gw)
    assert u.sign_in(login, word, merchant=merchant).status_code == 303
    assert b.post(f"/account/users/{login}/rights", {"csrf": b.csrf(f"/account/users/{login}"),
                                                    "right": ["monitor", "confirm"]}
                  ).status_code == 303
    assert u.get("/account/orders").status_code == 303
    with gw.uow.reader() as r:
        assert r.users.get(merchant, login).rights == ["confirm", "monitor"]
    assert b.post(f"/account/users/{login}/disable",
                  {"csrf": b.csrf(f"/account/users/{login}")}).status_code == 303
    with pytest.raises(AuthenticationError):
        api.results_by_date(Credentials(str(merchant), login, word, b.ip), {})
    assert b.post(f"/account/users/{login}/delete",
                  {"csrf": b.csrf(f"/account/users/{login}")}).status_code == 303
    with gw.uow.reader() as r:
        assert r.users.get(merchant, login) is None
    kinds = [k for k, _w, _x in audit_rows(b, "&login=" + boss)]
    for kind in ("user_create", "user_password", "user_rights", "user_disable",
                 "user_delete"):
        assert kind in kinds


def test_the_last_admin_keeps_itself_and_its_right(gw):
    merchant, boss = new_merchant(gw)
    b = Browser(gw)
    b.sign_in(boss, merchant=merchant)
    csrf = b.csrf(f"/account/users/{boss}")
    for change, data in (("rights", {"right": ["monitor"]}), ("disable", {}),
                         ("delete", {})):
        resp = b.post(f"/account/users/{boss}/{change}", {"csrf": csrf, **data})
        assert resp.status_code == 409, change
    with gw.uow.reader() as r:
        user = r.users.get(merchant, boss)
        assert user.rights == ["admin"] and user.active
    assert b.get("/account/orders").status_code == 200  # still signed in


def test_without_admin_no_links_and_a_forged_post_changes_nothing(gw):
    login = new_user(gw, [Right.MONITOR, Right.CONFIRM, Right.CANCEL, Right.EXPORT])
    b = Browser(gw)
    b.sign_in(login)
    page = text(b.get("/account/orders"))
    for link in ("users-link", "settings-link", "audit-link"):
        assert link not in page
    for path in ("/account/users", "/account/settings", "/account/audit",
                 "/account/users/erp_user"):
        assert b.get(path).status_code == 403, path
    csrf = b.csrf("/account/orders")
    forged = "forged_" + uuid.uuid4().hex[:8]
    assert b.post("/account/users", {"csrf": csrf, "login": forged, "password": PASSWORD,
                                     "right": "admin"}).status_code == 403
    assert b.post("/account/users/erp_user/delete", {"csrf": csrf}).status_code == 403
    assert b.post("/account/settings/secret", {"csrf": csrf}).status_code == 403
    assert b.post("/account/settings", {"csrf": csrf, "timeout_minutes": "5",
                                        "time_zone": "UTC"}).status_code == 403
    with gw.uow.reader() as r:
        assert r.users.get(MERCHANT, forged) is None
        assert r.users.get(MERCHANT, "erp_user") is not None
        assert r.merchants.get(MERCHANT).secret_word == "s3cret"


def _settings(b, **changes):
    form = {"csrf": b.csrf("/account/settings"), "url_return": "", "url_return_ok": "",
            "url_return_no": "", "timeout_minutes": "20", "time_zone": "UTC",
            "notify_url": "", "notify_protocol": "post", "notify_results": ["pay"],
            "notify_expected_reply": "http200"}
    form.update(changes)
    return b.post("/account/settings", form)


def test_settings_saved_and_used_by_the_next_payment(gw):
    merchant, boss = new_merchant(gw)
    b = Browser(gw)
    b.sign_in(boss, merchant=merchant)
    page = text(b.get("/account/settings"))
    assert "first-word" not in page and 'id="secret-state"' in page
    # A bad value is said, and nothing is saved.
    resp = _settings(b, url_return_ok="https://shop.example/ok", timeout_minutes="0")
    assert resp.status_code == 422 and 'id="error"' in text(resp)
    assert _settings(b, time_zone="Mars/Olympus").status_code == 422
    with gw.uow.reader() as r:
        assert r.merchants.get(merchant).url_return_ok is None
    resp = _settings(b, url_return_ok="https://shop.example/ok", timeout_minutes="45",
                     time_zone="Europe/Moscow", notify_url="http://127.0.0.1:9/notify",
                     notify_protocol="soap", notify_results=["pay", "cancel"],
                     notify_expected_reply="packet", check_order_code="1")
    assert resp.status_code == 303, text(resp)
    with gw.uow.reader() as r:
        m = r.merchants.get(merchant)
        assert (m.url_return_ok, m.timeout_minutes, m.time_zone, m.notify_url,
                m.notify_protocol, m.notify_results, m.notify_expected_reply,
                m.check_order_code) == ("https://shop.example/ok", 45, "Europe/Moscow",
                                        "http://127.0.0.1:9/notify", "soap",
                                        ["pay", "cancel"], "packet", True)
    page = text(b.get("/account/settings"))
    assert 'value="https://shop.example/ok"' in page and 'value="45"' in page
    # The next payment goes back to the URL saved.
    _settings(b, url_return_ok="https://shop.example/ok", timeout_minutes="45",
              time_zone="Europe/Moscow")  # the order code check off again for new_order
    order = new_order(gw, "15.00", merchant=merchant)
    card = parse_card("4111111111111111", "12", "2030", "TEST HOLDER", "123", gw.clock.now())
    result = gw.pay_by_card(order.bill_number, card)
    assert gw.return_url_after(result) == "https://shop.example/ok"
    # A new secret word: shown once, saved, never shown again; the log names no word.
    resp = b.post("/account/settings/secret", {"csrf": b.csrf("/account/settings")})
    word = re.search(r'id="secret-value">([^<]+)<', text(resp))[1]
    with gw.uow.reader() as r:
        assert r.merchants.get(merchant).secret_word == word
    assert word not in text(b.get("/account/settings"))
    rows = audit_rows(b)
    assert [k for k, _w, _x in rows][:2] == ["secret_word", "settings"]
    assert all(word not in what for _k, _w, what in rows)
    assert "url_return_ok" in next(w for k, _x, w in rows if k == "settings"
                                   and "timeout" in w)
    # 3-D Secure: shown, saved through the same use case, refused whole on a bad value.
    page = text(b.get("/account/settings"))
    assert 'id="allow_disable_3ds"' in page and 'id="allow_disable_3ds" checked' not in page
    assert '<option value="decline" selected>' in page
    assert _settings(b, allow_disable_3ds="1", threeds_unavailable="maybe").status_code == 422
    with gw.uow.reader() as r:
        m = r.merchants.get(merchant)
        assert (m.allow_disable_3ds, m.threeds_unavailable) == (False, "decline")
    resp = _settings(b, allow_disable_3ds="1", threeds_unavailable="authorize",
                     url_return_ok="https://shop.example/ok", timeout_minutes="45",
                     time_zone="Europe/Moscow")  # the rest as saved before
    assert resp.status_code == 303, text(resp)
    with gw.uow.reader() as r:
        m = r.merchants.get(merchant)
        assert (m.allow_disable_3ds, m.threeds_unavailable) == (True, "authorize")
    page = text(b.get("/account/settings"))
    assert 'id="allow_disable_3ds" checked' in page
    assert '<option value="authorize" selected>' in page
    assert next(w for k, _x, w in audit_rows(b) if k == "settings") == \
        "allow_disable_3ds, threeds_unavailable"


class _Receiver(BaseHTTPRequestHandler):
    """The merchant's notification endpoint: keeps what it was sent, answers 200."""

    bodies: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", "0"))
        _Receiver.bodies.append(self.rfile.read(length).decode("utf-8", "replace"))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


def test_a_test_notification_is_sent_now_and_its_try_shown(gw):
    merchant, boss = new_merchant(gw)
    b = Browser(gw)
    b.sign_in(boss, merchant=merchant)
    # Without a notification URL there is nothing to send to.
    resp = b.post("/account/settings/test", {"csrf": b.csrf("/account/settings")})
    assert resp.status_code == 409 and 'id="error"' in text(resp)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/results"
        assert _settings(b, notify_url=url).status_code == 303
        _Receiver.bodies.clear()
        resp = b.post("/account/settings/test", {"csrf": b.csrf("/account/settings")})
    finally:
        server.shutdown()
        server.server_close()
    page = text(resp)
    assert resp.status_code == 200
    assert re.search(r'id="test-verdict">delivered<', page), page
    assert re.search(r'id="test-status">200<', page) and url in page
    [body] = _Receiver.bodies
    assert f"merchant_id={merchant}" in body.lower() and "testmode=1" in body.lower()
    [entry] = [r for r in audit_rows(b) if r[0] == "test_notification"]
    assert entry[2] == f"post {url}: delivered HTTP 200"


def test_two_admins_removing_each_other_at_once_leave_one(gw):
    merchant, first = new_merchant(gw)
    second = "boss2_" + uuid.uuid4().hex[:8]
    admin.add_user(gw.uow, merchant, second, PASSWORD, [Right.ADMIN])
    users = {login: cabinet.sign_in(gw.uow, gw.clock, b"key", str(merchant), login, PASSWORD,
                                    "10.9.9.9") for login in (first, second)}
    start, outcomes = threading.Barrier(2), {}

    def demote(who: str, whom: str) -> None:
        start.wait()
        try:
            cabinet_admin.set_rights(gw.uow, gw.clock, users[who], whom, ["monitor"], None)
            outcomes[who] = "done"
        except OperationProhibited:
            outcomes[who] = "refused"

    threads = [threading.Thread(target=demote, args=pair)
               for pair in ((first, second), (second, first))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["done", "refused"]
    with gw.uow.reader() as r:
        admins = [u.login for u in r.users.of_merchant(merchant) if "admin" in u.rights]
    assert len(admins) == 1
