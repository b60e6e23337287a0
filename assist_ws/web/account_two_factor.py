"""The merchant cabinet's two-factor sign-in pages: ``/account/two-factor`` (turn it on with
a QR code made here by ``segno`` as inline SVG -- no external service, nothing fetched --
confirm with a code, see the recovery codes once, turn it off with a code) and
``/account/login/code`` (the code asked after the password).

After a right password the sign-in of a user with two-factor on is only pending: the signed
cookie keeps who it is for (merchant, login, the stamp of its row) and when, for
``PENDING``; the session opens when a code is taken (``services.two_factor.verify``, under
the failed-login rules).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import segno
from flask import current_app, g, redirect, request, url_for
from markupsafe import Markup

from ..domain.errors import AssistError, AuthenticationError, Second
from ..services import cabinet, cabinet_sessions, two_factor
from . import account_texts as texts
from .account import (_container, _ext, _message, _new_session, _now, _render, bp,
                      signed_in)

log = logging.getLogger(__name__)

EXTENSION = "assist_ws.account.totp"
#: How long a sign-in waits for its code after the password.
PENDING = timedelta(minutes=5)


def _box() -> two_factor.SecretBox:
    box = current_app.extensions.get(EXTENSION)
    if box is None:
        box = current_app.extensions[EXTENSION] = two_factor.SecretBox(
            _container().settings.secret())
    return box


def _qr(uri: str) -> Markup:
    """The QR code of ``uri`` as inline SVG (segno escapes nothing of ours: the URI is
    ours)."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff"))


def begin(user) -> bool:
    """After a right password: when the user has two-factor on, make the sign-in pending
    (the caller redirects to the code page) and return True."""
    if not two_factor.is_on(_container().uow, user.merchant_id, user.login):
        return False
    g.session = {**_new_session(g.lang), "p": [user.merchant_id, user.login, user.stamp,
                                               _now().timestamp()]}
    return True


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    pending = g.session.get("p")
    if not (isinstance(pending, list) and len(pending) == 4):
        return redirect(url_for("account.login"), 303)
    merchant_id, login, stamp, since = pending
    if _now().timestamp() - float(since) > PENDING.total_seconds():
        g.session = _new_session(g.lang)
        return redirect(url_for("account.login", expired="1"), 303)
    if request.method == "GET":
        return _render("login_code.html")
    c = _container()
    try:
        two_factor.verify(c.uow, c.clock, _box(), int(merchant_id), str(login),
                          request.form.get("code", ""), request.remote_addr)
    except AuthenticationError as exc:
        key, status = ("refused", 429) if exc.secondcode == Second.RATE else ("code_wrong", 401)
        log.info("cabinet sign-in code refused: %s/%s", exc.firstcode, exc.secondcode)
        return _render("login_code.html", status, error=key)
    user = cabinet.current_user(c.uow, _ext().stamp_key, int(merchant_id), str(login),
                                str(stamp))
    if user is None:  # changed or disabled meanwhile
        g.session = _new_session(g.lang)
        return redirect(url_for("account.login"), 303)
    token = cabinet_sessions.open_session(c.uow, c.clock, user, request.remote_addr)
    g.session, g.user = {**_new_session(g.lang), "k": token}, user
    log.info("cabinet sign-in with a code: merchant %s login %r", user.merchant_id,
             user.login)
    return redirect(url_for("account.orders"), 303)


@bp.get("/two-factor")
@signed_in
def two_factor_page():
    c = _container()
    if two_factor.is_on(c.uow, g.user.merchant_id, g.user.login):
        return _render("two_factor.html", on=True,
                       left=two_factor.codes_left(c.uow, g.user))
    enrolment = two_factor.pending(c.uow, _box(), g.user)
    return _render("two_factor.html", on=False, enrolment=enrolment,
                   qr=_qr(enrolment.uri) if enrolment else None)


@bp.post("/two-factor/<any(start, confirm, off):step>")
@signed_in
def two_factor_step(step: str):
    c, client = _container(), request.remote_addr
    try:
        if step == "start":
            two_factor.start(c.uow, c.clock, _box(), g.user)
            return redirect(url_for("account.two_factor_page"), 303)
        if step == "confirm":
            codes = two_factor.confirm(c.uow, c.clock, _box(), g.user,
                                       request.form.get("code", ""), client)
            log.info("cabinet: %r turned two-factor sign-in on", g.user.login)
            return _render("two_factor.html", on=True, codes=codes, left=len(codes))
        two_factor.turn_off(c.uow, c.clock, _box(), g.user, request.form.get("code", ""),
                            client)
        log.info("cabinet: %r turned two-factor sign-in off", g.user.login)
        return _render("two_factor.html", on=False, enrolment=None, qr=None,
                       notice=texts.t(g.lang, "two_factor_turned_off"))
    except AuthenticationError as exc:
        status = 429 if exc.secondcode == Second.RATE else 401
        key = "refused" if status == 429 else "code_wrong"
        on = step == "off"
        enrolment = None if on else two_factor.pending(c.uow, _box(), g.user)
        return _render("two_factor.html", status, on=on, enrolment=enrolment,
                       qr=_qr(enrolment.uri) if enrolment else None,
                       left=two_factor.codes_left(c.uow, g.user),
                       error=texts.t(g.lang, key))
    except AssistError as exc:
        return _message("refused_action", 409, message=exc.message)
