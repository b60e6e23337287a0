"""Two-factor sign-in to the cabinet over Flask's test client, on SQLite and PostgreSQL:
enrolment with a QR code drawn on the server and a code, recovery codes shown once and
taken once, the code asked after the password (a code taken once, wrong codes throttled
like passwords), the secret stored encrypted, turning it off."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from sqlalchemy import text as sql

from assist_ws.domain.model import Right

from .test_cabinet import PASSWORD, Browser, new_user, text


def enrol(gw, b) -> tuple[str, list[str]]:
    """Turn two-factor on for the signed-in user; (its TOTP secret, recovery codes)."""
    page = b.post("/account/two-factor/start", {"csrf": b.csrf("/account/two-factor")})
    assert page.status_code == 303
    page = text(b.get("/account/two-factor"))
    assert '<svg' in page and 'class="segno"' in page  # the QR code, drawn here
    secret = re.search(r'id="totp-key">([A-Z2-7]+)<', page)[1]
    wrong = b.post("/account/two-factor/confirm", {"csrf": b.csrf("/account/two-factor"),
                                                   "code": "000000"})
    assert wrong.status_code == 401
    code = pyotp.TOTP(secret).at(gw.clock.now())
    done = b.post("/account/two-factor/confirm", {"csrf": b.csrf("/account/two-factor"),
                                                  "code": code})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", text(done))
    assert len(codes) == 10
    assert codes[0] not in text(b.get("/account/two-factor"))  # shown once
    return secret, codes


def password_step(gw, b, login):
    resp = b.sign_in(login)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/account/login/code")
    assert b.get("/account/orders").status_code == 303  # not signed in yet


def send_code(b, code):
    return b.post("/account/login/code", {"csrf": b.csrf("/account/login/code"), "code": code})


def test_enrol_and_sign_in_with_a_code_or_a_recovery_code(gw):
    login = new_user(gw, [Right.MONITOR])
    b = Browser(gw)
    b.sign_in(login)
    secret, codes = enrol(gw, b)
    with gw.uow.reader() as r:
        stored = r.session.execute(sql(
            "select secret from cabinet_two_factor where login = :l"), {"l": login}).scalar()
        hashes = [row[0] for row in r.session.execute(sql(
            "select code_hash from cabinet_recovery_codes where login = :l"), {"l": login})]
    assert secret not in stored and len(hashes) == 10
    assert not set(codes) & set(hashes)

    b = Browser(gw)
    password_step(gw, b, login)
    assert send_code(b, "123456").status_code == 401
    gw.clock.move(seconds=31)  # the enrolment's code is taken; the next step's is new
    code = pyotp.TOTP(secret).at(gw.clock.now())
    assert send_code(b, code).status_code == 303
    assert b.get("/account/orders").status_code == 200
    # The same code again (another browser, the same step) is refused.
    again = Browser(gw)
    password_step(gw, again, login)
    assert send_code(again, code).status_code == 401
    # A recovery code works once.
    assert send_code(again, codes[3]).status_code == 303
    third = Browser(gw)
    password_step(gw, third, login)
    assert send_code(third, codes[3]).status_code == 401
    # The code page waits five minutes at most.
    late = Browser(gw)
    password_step(gw, late, login)
    gw.clock.move(minutes=6)
    resp = late.get("/account/login/code")
    assert resp.status_code == 303 and "expired=1" in resp.headers["Location"]


def test_wrong_codes_are_throttled_like_passwords(gw):
    login = new_user(gw, [Right.MONITOR])
    b = Browser(gw)
    b.sign_in(login)
    secret, _codes = enrol(gw, b)
    b = Browser(gw)
    password_step(gw, b, login)
    statuses = [send_code(b, f"{n:06d}").status_code for n in range(5)]
    assert statuses[:4] == [401] * 4 and statuses[4] == 429
    # The next step's code (allowed for drift) is right, but refused for a while.
    good = pyotp.TOTP(secret).at(gw.clock.now() + timedelta(seconds=30))
    assert send_code(b, good).status_code == 429
    # The password step from that client is refused too: one count for both.
    assert b.sign_in(login).status_code == 429


def test_turn_off_needs_a_code_and_the_password_alone_signs_in_again(gw):
    login = new_user(gw, [Right.MONITOR])
    b = Browser(gw)
    b.sign_in(login)
    secret, _codes = enrol(gw, b)
    csrf = b.csrf("/account/two-factor")
    assert b.post("/account/two-factor/off", {"csrf": csrf, "code": "999999"}
                  ).status_code == 401
    gw.clock.move(seconds=31)
    assert b.post("/account/two-factor/off", {
        "csrf": csrf, "code": pyotp.TOTP(secret).at(gw.clock.now())}).status_code == 200
    resp = Browser(gw).sign_in(login, PASSWORD)
    assert resp.headers["Location"].endswith("/account/orders")
