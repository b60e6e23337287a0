"""The merchant cabinet's settings page (``/account/settings``), for a user with the right
``admin``: return URLs, payment timeout, time zone, result notifications, checking the order
code, the bonus program and its accrual rate, the 3-D Secure settings, and a new secret word
(shown once, on the page answering its making; the page never shows the current one).

Without ``admin`` the link is not shown and a request, forged or not, is a 403 that changes
nothing; forms carry the session's CSRF token; a bad value is said on the page and nothing
is saved.
"""

from __future__ import annotations

import logging

from flask import g, redirect, request, url_for

from ..domain.errors import AssistError
from ..domain.model import Right
from ..domain.notifications import ExpectedReply, PushProtocol, ResultKind
from ..services import admin, cabinet_settings
from ..services.notifications.outbox import NotifySettings
from . import account_texts as texts
from .account import _container, _needs, _render, bp, signed_in

log = logging.getLogger(__name__)

PROTOCOLS = tuple(p.value for p in PushProtocol)
REPLIES = tuple(r.value for r in ExpectedReply)
RESULTS = tuple(k.value for k in ResultKind)
#: What the gateway does when a card's ACS is unavailable.
THREEDS_UNAVAILABLE = ("decline", "authorize")


def _page(status: int = 200, values: dict | None = None, **kw):
    view = cabinet_settings.current(_container().uow, g.user)
    return _render("settings.html", status, values=values or view.values,
                   has_secret_word=view.has_secret_word, protocols=PROTOCOLS,
                   replies=REPLIES, results=RESULTS, threeds_choices=THREEDS_UNAVAILABLE,
                   **kw)


def _form_settings(form) -> admin.MerchantSettings:
    """The form as ``save_merchant`` takes it (an empty URL: none)."""
    timeout = form.get("timeout_minutes", "").strip()
    return admin.MerchantSettings(
        url_return=form.get("url_return", "").strip(),
        url_return_ok=form.get("url_return_ok", "").strip(),
        url_return_no=form.get("url_return_no", "").strip(),
        timeout_minutes=int(timeout) if timeout.isdigit() and len(timeout) < 6 else -1,
        time_zone=form.get("time_zone", "").strip(),
        check_order_code=form.get("check_order_code") == "1",
        bonus_program=form.get("bonus_program") == "1",
        accrual_rate=form.get("accrual_rate"),
        allow_disable_3ds=form.get("allow_disable_3ds") == "1",
        threeds_unavailable=form.get("threeds_unavailable"),
        notify=NotifySettings(url=form.get("notify_url", "").strip(),
                              protocol=form.get("notify_protocol", ""),
                              results=",".join(form.getlist("notify_results")),
                              only_success=form.get("notify_only_success") == "1",
                              expected_reply=form.get("notify_expected_reply", "")))


def _form_values(form) -> dict:
    return {"url_return": form.get("url_return", ""),
            "url_return_ok": form.get("url_return_ok", ""),
            "url_return_no": form.get("url_return_no", ""),
            "timeout_minutes": form.get("timeout_minutes", ""),
            "time_zone": form.get("time_zone", ""), "notify_url": form.get("notify_url", ""),
            "notify_protocol": form.get("notify_protocol", ""),
            "notify_results": form.getlist("notify_results"),
            "notify_only_success": form.get("notify_only_success") == "1",
            "notify_expected_reply": form.get("notify_expected_reply", ""),
            "check_order_code": form.get("check_order_code") == "1",
            "bonus_program": form.get("bonus_program") == "1",
            "accrual_rate": form.get("accrual_rate", ""),
            "allow_disable_3ds": form.get("allow_disable_3ds") == "1",
            "threeds_unavailable": form.get("threeds_unavailable", "")}


@bp.route("/settings", methods=["GET", "POST"])
@signed_in
def settings():
    refused = _needs(Right.ADMIN)
    if refused:
        return refused
    if request.method == "GET":
        return _page(notice=g.session.pop("n", None))
    c = _container()
    check = c.notifier.check_url if c.notifier is not None else None
    try:
        changed = cabinet_settings.save(c.uow, c.clock, g.user, _form_settings(request.form),
                                        request.remote_addr,
                                        **({"check_notify_url": check} if check else {}))
    except AssistError as exc:
        return _page(422, values=_form_values(request.form), error=exc.message)
    log.info("cabinet: %r changed the settings of merchant %s: %s", g.user.login,
             g.user.merchant_id, ", ".join(changed) or "nothing")
    g.session["n"] = texts.t(g.lang, "settings_saved")
    return redirect(url_for("account.settings"), 303)


@bp.post("/settings/secret")
@signed_in
def secret_word():
    refused = _needs(Right.ADMIN)
    if refused:
        return refused
    c = _container()
    word = cabinet_settings.new_secret_word(c.uow, c.clock, g.user, request.remote_addr)
    log.info("cabinet: %r made a new secret word for merchant %s", g.user.login,
             g.user.merchant_id)
    return _page(new_secret_word=word)


@bp.post("/settings/test")
@signed_in
def test_notification():
    """Send a test notification now and show its try."""
    refused = _needs(Right.ADMIN)
    if refused:
        return refused
    c = _container()
    if c.notifier is None:
        return _page(409, error=texts.t(g.lang, "test_unavailable"))
    try:
        tried = cabinet_settings.test_notification(c.uow, c.clock, c.notifier, g.user,
                                                   request.remote_addr)
    except AssistError as exc:
        return _page(409, error=exc.message)
    log.info("cabinet: %r sent a test notification for merchant %s: %s", g.user.login,
             g.user.merchant_id, tried.reply.verdict.value)
    return _page(tried=tried)
