"""The merchant cabinet's administration pages, for a user with the right ``admin``: the
merchant's users and their rights (``/account/users``) and the audit log
(``/account/audit``).

Every page and form needs ``admin``: without it the links are not shown and a request,
forged or not, is a 403 that changes nothing.  Forms carry the session's CSRF token.  A
password reset here is shown once, on the page answering the reset, and never again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import g, redirect, request, url_for

from ..domain.audit import AuditKind, AuditQuery
from ..domain.errors import AssistError, Duplicate, NotFound
from ..domain.model import Right
from ..services import audit, cabinet_admin
from . import account_texts as texts
from .account import (_container, _day, _message, _midnight, _needs, _now,
                      _render, bp, signed_in)

log = logging.getLogger(__name__)

RIGHTS = tuple(r.value for r in Right)
KINDS = tuple(k.value for k in AuditKind)
#: The log's default period: this many days up to today.
AUDIT_DAYS = 7


def _refused():
    """A 403 for a user without ``admin`` (None: it has it)."""
    refused = _needs(Right.ADMIN)
    if refused:
        log.warning("cabinet %s refused: user %r lacks the right 'admin'", request.path,
                    g.user.login)
    return refused


def _users_page(status: int = 200, **kw):
    rows = cabinet_admin.users(_container().uow, g.user)
    return _render("users.html", status, rows=rows, rights=RIGHTS, **kw)


@bp.route("/users", methods=["GET", "POST"])
@signed_in
def users():
    refused = _refused()
    if refused:
        return refused
    if request.method == "GET":
        notice = g.session.pop("n", None)
        return _users_page(notice=notice, form={})
    form = request.form
    login = form.get("login", "").strip()
    c = _container()
    try:
        cabinet_admin.create_user(c.uow, c.clock, g.user, login, form.get("password", ""),
                                  form.getlist("right"), request.remote_addr)
    except AssistError as exc:
        return _users_page(409 if isinstance(exc, Duplicate) else 422, error=exc.message,
                           form={"login": login, "rights": form.getlist("right")})
    log.info("cabinet: %r created user %r of merchant %s", g.user.login, login,
             g.user.merchant_id)
    g.session["n"] = texts.t(g.lang, "user_created", login=login)
    return redirect(url_for("account.users"), 303)


@bp.get("/users/<login>")
@signed_in
def user_page(login: str):
    refused = _refused()
    if refused:
        return refused
    try:
        row = cabinet_admin.user_row(_container().uow, g.user, login)
    except NotFound:
        return _message("user_not_found", 404)
    return _render("user.html", row=row, rights=RIGHTS, notice=g.session.pop("n", None))


@bp.post("/users/<login>/<any(rights, password, disable, enable, delete):change>")
@signed_in
def user_change(login: str, change: str):
    refused = _refused()
    if refused:
        return refused
    c, client, word = _container(), request.remote_addr, None
    try:
        if change == "rights":
            cabinet_admin.set_rights(c.uow, c.clock, g.user, login,
                                     request.form.getlist("right"), client)
        elif change == "password":
            word = cabinet_admin.reset_password(c.uow, c.clock, g.user, login, client)
        elif change in ("disable", "enable"):
            cabinet_admin.set_active(c.uow, c.clock, g.user, login, change == "enable",
                                     client)
        else:
            cabinet_admin.delete_user(c.uow, c.clock, g.user, login, client)
    except NotFound:
        return _message("user_not_found", 404)
    except AssistError as exc:
        return _message("user_refused", 409, message=exc.message)
    log.info("cabinet: %r changed user %r (%s)", g.user.login, login, change)
    if g.user is not None and login == g.user.login and change != "password":
        # Its own rights or state changed: its session ended with the others.
        return redirect(url_for("account.login"), 303)
    if change == "delete":
        g.session["n"] = texts.t(g.lang, "user_deleted", login=login)
        return redirect(url_for("account.users"), 303)
    if word is not None:  # shown once, on this page only
        row = cabinet_admin.user_row(c.uow, g.user, login)
        return _render("user.html", row=row, rights=RIGHTS, new_password=word)
    g.session["n"] = texts.t(g.lang, "user_saved")
    return redirect(url_for("account.user_page", login=login), 303)


# -- the audit log -------------------------------------------------------------------------
@bp.get("/audit")
@signed_in
def audit_log():
    refused = _refused()
    if refused:
        return refused
    args = request.args
    today = _now().astimezone(g.zone).date()
    values = {"from": args.get("from", ""), "to": args.get("to", ""),
              "login": args.get("login", "").strip()[:64],
              "kinds": [k for k in args.getlist("kind") if k]}
    bad = []
    try:
        since = _day(values["from"]) if values["from"] else today - timedelta(days=AUDIT_DAYS)
    except ValueError:
        bad.append("from")
        since = today - timedelta(days=AUDIT_DAYS)
    try:
        until = _day(values["to"]) if values["to"] else today
    except ValueError:
        bad.append("to")
        until = today
    values["from"], values["to"] = f"{since:%Y-%m-%d}", f"{until:%Y-%m-%d}"
    kinds = tuple(k for k in values["kinds"] if k in KINDS)
    if len(kinds) != len(values["kinds"]):
        bad.append("kind")
    before = args.get("before", "")
    query = AuditQuery(g.user.merchant_id, _midnight(since, g.zone),
                       _midnight(until + timedelta(days=1), g.zone),
                       login=values["login"] or None, kinds=kinds,
                       before=int(before) if before.isdigit() and len(before) < 12 else None)
    found, more = audit.entries(_container().uow, g.user, query)
    keep = {k: v for k, v in args.to_dict(flat=False).items() if k not in ("before", "lang")}
    next_url = url_for("account.audit_log", **keep, before=more) if more else None
    return _render("audit.html", 400 if bad else 200, entries=found, values=values,
                   kinds=KINDS, bad=bad, next_url=next_url, kind_name=_kind_name)


def _kind_name(kind: str) -> str:
    key = "kind_" + kind
    return texts.t(g.lang, key) if key in texts.TEXTS[g.lang] else kind
