"""The merchant cabinet, ``/account/*``: a merchant's users sign in with ``Merchant_ID``,
login and password and watch, confirm and cancel their orders in a browser.

* The session is kept in the database (``services.cabinet_sessions``); the cookie, signed
  with the gateway's secret (``itsdangerous``, Flask's own signer), carries its random token,
  the language and a random id for the forms' CSRF tokens.  ``HttpOnly``, ``SameSite=Lax``,
  ``Secure`` when the request came over HTTPS, scoped to ``/account/``.  Every request finds
  its session and user again; ``account_idle_minutes`` without a request end the session.
* Every form carries the session's CSRF token, made like the payment pages'
  (``PageSessions.csrf`` of the session's random id; a new id at each sign-in and sign-out),
  and a cross-site POST is refused (``Sec-Fetch-Site``); either refusal is a 403 that
  changes nothing, made in one place for every form of every page (``_refuse_forged_forms``).
* Pages: sign-in, own password, the orders monitor (filters in the URL), the order card
  (with "send the notifications again"), confirm or cancel of one order (all or part) and of
  several selected ones (all of each), each after a page that says what will happen.
* Rights: ``monitor`` to sign in and see orders, ``confirm`` and ``cancel`` for those
  actions (``admin`` has all).  A button shows only with its right; a POST without it is a
  403.  Another merchant's order is a 404.
* Responses carry the payment pages' security headers (``security.secure_headers``).
* More pages add their routes to this blueprint from their own modules: users and the audit
  log (``account_admin``), the settings (``account_settings``), two-factor sign-in
  (``account_two_factor``, which also takes the code a sign-in asks after the password).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import partial, wraps
from types import SimpleNamespace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from typing import Any

from flask import (Blueprint, Flask, current_app, g, redirect, render_template, request,
                   url_for)
from itsdangerous import BadSignature, URLSafeSerializer

from ..domain.errors import AssistError, AuthenticationError, NotFound, PermissionDenied, Second
from ..domain.model import Right
from ..domain.money import normalize_currency, parse_amount
from ..domain.monitor import Cursor, OrderFilter
from ..domain.states import OrderState
from ..services import cabinet, cabinet_sessions
from . import account_texts as texts
from . import texts as pay_texts
from .page_session import PageSessions
from .security import secure_headers

log = logging.getLogger(__name__)

bp = Blueprint("account", __name__, url_prefix="/account", template_folder="templates",
               static_folder="static")

COOKIE = "assist_account"
EXTENSION = "assist_ws.account"
STATES = tuple(s.value for s in OrderState)
#: The monitor's default period: this many days up to today.
DEFAULT_DAYS = 30
_CURSOR = re.compile(r"(?:a(\d{1,17}(?:\.\d{1,3})?)~)?(\d{8}T\d{6}\.\d{6})_(\d{1,18})")


def register(app: Flask, container) -> None:
    """Mount the cabinet."""
    secret = container.settings.secret()
    app.extensions[EXTENSION] = SimpleNamespace(
        cookies=URLSafeSerializer(secret, salt="assist-ws account session"),
        forms=PageSessions(secret),
        stamp_key=hmac.new(secret, b"assist-ws account stamp", hashlib.sha256).digest(),
        idle=timedelta(minutes=container.settings.account_idle_minutes))
    app.register_blueprint(bp)


def _ext():
    return current_app.extensions[EXTENSION]


def _container():
    return current_app.config["CONTAINER"]


def _now() -> datetime:
    return _container().clock.now()


# -- the session ---------------------------------------------------------------------------
def _new_session(lang: str = "RU") -> dict:
    return {"c": secrets.token_urlsafe(16), "lang": lang}


@bp.before_request
def _load_session():
    if request.endpoint == "account.static":
        return None
    try:
        session = _ext().cookies.loads(request.cookies.get(COOKIE, ""))
        if not isinstance(session, dict) or not isinstance(session.get("c"), str):
            raise BadSignature("not a session")
    except BadSignature:
        session = _new_session()
    asked = (request.args.get("lang") or "").upper()
    if asked in texts.TEXTS:
        session["lang"] = asked
    g.session, g.user, g.expired, g.zone = session, None, False, timezone.utc
    g.lang = session.get("lang") if session.get("lang") in texts.TEXTS else "RU"
    if isinstance(session.get("k"), str):
        c = _container()
        resumed = cabinet_sessions.resume(c.uow, c.clock, _ext().stamp_key, session["k"],
                                          _ext().idle)
        if resumed.user is None:
            g.expired = resumed.expired
            _sign_out()
            return None
        g.user = resumed.user
        g.zone = _zone(cabinet.time_zone(c.uow, resumed.user))
    return None


#: The forms posted without a signed-in user: their CSRF token is the signed-out session's.
_SIGNED_OUT_FORMS = frozenset(("account.login", "account.logout", "account.login_code"))


@bp.before_request
def _refuse_forged_forms():
    """Every form posted to the cabinet carries the session's CSRF token and comes from this
    site, or is refused here with a 403 that changes nothing.  A signed-in page's form whose
    session has ended goes on to ``signed_in``, which sends the browser to the sign-in page."""
    if request.method != "POST" or (g.user is None
                                    and request.endpoint not in _SIGNED_OUT_FORMS):
        return None
    if not _csrf_ok():
        log.warning("cabinet %s refused: bad CSRF token or cross-site", request.endpoint)
        return _message("csrf", 403)
    return None


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # removed from the system's database
        return timezone.utc


def _sign_out() -> None:
    g.session = _new_session(g.session.get("lang", "RU"))
    g.user = None


@bp.after_request
def _finish(response):
    secure_headers(response.headers, https=request.is_secure,
                   cache=request.endpoint == "account.static")
    session = g.get("session")
    if session is not None:
        response.set_cookie(COOKIE, _ext().cookies.dumps(session), path="/account/",
                            httponly=True, samesite="Lax", secure=request.is_secure)
    return response


def _csrf() -> str:
    return _ext().forms.csrf(g.session["c"], "account")


def _csrf_ok() -> bool:
    return _ext().forms.csrf_ok(g.session["c"], "account", request.form.get("csrf")) \
        and request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def signed_in(view):
    @wraps(view)
    def wrapper(*args, **kw):
        if g.user is None:
            return redirect(url_for("account.login", expired="1" if g.expired else None), 303)
        return view(*args, **kw)
    return wrapper


def _needs(right: Right):
    if not g.user.can(right):
        return _message("forbidden", 403)
    return None


# -- pages ---------------------------------------------------------------------------------
def _context() -> dict:
    lang = g.lang
    return {"lang": lang, "T": partial(texts.t, lang), "user": g.user, "csrf": _csrf,
            "Right": Right, "op_type": partial(texts.operation_type, lang),
            "money": lambda amount, currency: pay_texts.money(amount, currency, lang),
            "when": lambda moment: moment.astimezone(g.zone).strftime("%d.%m.%Y %H:%M:%S")
            if moment else "", "zone": str(g.zone),
            "switch_url": _switch_url()}


def _switch_url() -> str:
    args: dict[str, Any] = request.args.to_dict(flat=False)
    args["lang"] = ["EN" if g.lang == "RU" else "RU"]
    return url_for(request.endpoint or "account.orders", **(request.view_args or {}), **args)


def _render(template: str, status: int = 200, **kw):
    return render_template(f"account/{template}", **_context(), **kw), status


def _message(key: str, status: int, **kw):
    return _render("message.html", status, text=texts.t(g.lang, key, **kw))


@bp.get("/")
def index():
    return redirect(url_for("account.orders" if g.user else "account.login"), 303)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if g.user is not None:
            return redirect(url_for("account.orders"), 303)
        notice = "expired" if request.args.get("expired") else \
            "signed_out" if request.args.get("bye") else None
        return _render("login.html", notice=notice, form={})
    form = request.form
    try:
        user = cabinet.sign_in(_container().uow, _container().clock, _ext().stamp_key,
                               form.get("merchant_id"), form.get("login"),
                               form.get("password"), request.remote_addr)
    except AssistError as exc:
        if isinstance(exc, AuthenticationError) and exc.secondcode == Second.RATE:
            key, status = "refused", 429
        elif isinstance(exc, PermissionDenied):
            key, status = "no_right", 403
        else:
            key, status = "wrong", 401
        log.info("cabinet sign-in refused: %s/%s", exc.firstcode, exc.secondcode)
        return _render("login.html", status, error=key, form={
            "merchant_id": form.get("merchant_id", ""), "login": form.get("login", "")})
    if account_two_factor.begin(user):  # the code is asked next
        return redirect(url_for("account.login_code"), 303)
    token = cabinet_sessions.open_session(_container().uow, _container().clock, user,
                                          request.remote_addr)
    g.session = {**_new_session(g.lang), "k": token}
    g.user = user
    log.info("cabinet sign-in: merchant %s login %r", user.merchant_id, user.login)
    return redirect(url_for("account.orders"), 303)


@bp.post("/logout")
def logout():
    if isinstance(g.session.get("k"), str):
        cabinet_sessions.sign_out(_container().uow, _container().clock, g.session["k"],
                                  g.user, request.remote_addr)
    _sign_out()
    return redirect(url_for("account.login", bye="1"), 303)


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def password():
    if request.method == "GET":
        return _render("password.html")
    form = request.form
    new = form.get("new", "")
    if new != form.get("repeat", ""):
        return _render("password.html", 422, error=texts.t(g.lang, "password_mismatch"))
    try:
        user = cabinet.change_password(_container().uow, _container().clock, _ext().stamp_key,
                                       g.user, form.get("current"), new, request.remote_addr,
                                       session=cabinet_sessions.digest(g.session["k"]))
    except AssistError as exc:
        if isinstance(exc, AuthenticationError):
            key = "refused" if exc.secondcode == Second.RATE else "password_wrong"
            return _render("password.html", 429 if key == "refused" else 401,
                           error=texts.t(g.lang, key))
        return _render("password.html", 422, error=texts.t(g.lang, "password_policy"))
    g.user = user
    log.info("cabinet: merchant %s login %r changed its password", user.merchant_id,
             user.login)
    return _render("password.html", notice=texts.t(g.lang, "password_changed"))


# -- the orders monitor --------------------------------------------------------------------
def _day(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()


def _midnight(day: date, zone) -> datetime:
    """The moment (UTC) a day begins in ``zone``."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)


def _decimal(text: str | None) -> Decimal | None:
    if not text:
        return None
    value = Decimal(text.replace(",", "."))
    if not value.is_finite():
        raise InvalidOperation(text)
    return value


def parse_filter(args, merchant_id: int, now: datetime, zone=timezone.utc):
    """(filter, the form's values, names of the fields refused) from the monitor's URL; the
    period's days are the merchant's (``zone``), ``to`` included."""
    values = {"from": args.get("from", ""), "to": args.get("to", ""),
              "number": args.get("number", "").strip(), "bill": args.get("bill", "").strip(),
              "states": [s for s in args.getlist("state") if s], "min": args.get("min", ""),
              "max": args.get("max", ""), "currency": args.get("currency", "").strip(),
              "customer": args.get("customer", "").strip()[:128],
              "card": args.get("card", "").strip(), "test": args.get("test", "")}
    bad: list[str] = []
    today = now.astimezone(zone).date()

    def read(name, parse, default=None):
        try:
            return parse(values[name]) if values[name] else default
        except (ValueError, InvalidOperation, AssistError):
            bad.append(name)
            return default

    since = read("from", _day, today - timedelta(days=DEFAULT_DAYS))
    until = read("to", _day, today)
    if not values["from"]:
        values["from"] = f"{since:%Y-%m-%d}"
    if not values["to"]:
        values["to"] = f"{until:%Y-%m-%d}"
    states = tuple(s for s in values["states"] if s in STATES)
    if len(states) != len(values["states"]):
        bad.append("states")
    number = values["number"][:128] or None
    bill = values["bill"] or None
    if bill is not None and not (bill.isdigit() and 15 <= len(bill) <= 16):
        bad.append("bill")
        bill = None
    card = values["card"] or None
    if card is not None and not (card.isdigit() and len(card) == 4):
        bad.append("card")
        card = None
    if values["test"] not in ("", "0", "1"):
        bad.append("test")
    test_mode = {"1": True, "0": False}.get(values["test"])
    flt = OrderFilter(merchant_id, since=_midnight(since, zone),
                      until=_midnight(until + timedelta(days=1), zone), order_number=number, bill_number=bill, states=states,
                      amount_from=read("min", _decimal), amount_to=read("max", _decimal),
                      currency=read("currency", normalize_currency),
                      customer=values["customer"] or None, card_last4=card,
                      test_mode=test_mode)
    return flt, values, bad


def _cursor(text: str | None, by: str) -> Cursor | None:
    """The cursor of a page's link (``after``), as ``_cursor_text`` writes it; a cursor of
    another sort, or none at all, is the first page."""
    found = _CURSOR.fullmatch(text or "")
    if not found or (found[1] is not None) != (by == "amount"):
        return None
    moment = datetime.strptime(found[2], "%Y%m%dT%H%M%S.%f").replace(tzinfo=timezone.utc)
    return Cursor(moment, int(found[3]), Decimal(found[1]) if found[1] is not None else None)


def _cursor_text(cursor: Cursor) -> str:
    amount = f"a{cursor.amount:f}~" if cursor.amount is not None else ""
    return f"{amount}{cursor.created_at.astimezone(timezone.utc):%Y%m%dT%H%M%S.%f}_{cursor.id}"


#: ``sort``: the column and the direction (``-``: descending); newest first by default.
SORTS = {"-date": ("date", True), "date": ("date", False), "-amount": ("amount", True),
         "amount": ("amount", False)}


@bp.get("/orders")
@signed_in
def orders():
    flt, values, bad = parse_filter(request.args, g.user.merchant_id, _now(), g.zone)
    sort = request.args.get("sort", "-date")
    if sort not in SORTS:
        bad.append("sort")
        sort = "-date"
    by, descending = SORTS[sort]
    after = _cursor(request.args.get("after"), by)
    # The totals are the filter's, the same on every page: shown on the first one.
    page = cabinet.monitor(_container().order_monitor, g.user, flt, after, by=by,
                           descending=descending, totals=after is None)
    args: dict[str, Any] = {k: v for k, v in request.args.to_dict(flat=False).items()
                            if k not in ("after", "lang")}
    next_url = url_for("account.orders", **args, after=_cursor_text(page.next)) \
        if page.next else None
    first_url = url_for("account.orders", **args) if request.args.get("after") else None
    # A column's link sorts by it, descending first; a second click turns it round.
    sort_urls = {column: url_for("account.orders", **{
        **args, "sort": column if sort == "-" + column else "-" + column})
        for column in ("date", "amount")}
    return _render("orders.html", 400 if bad else 200, page=page, values=values, bad=bad,
                   states=STATES, next_url=next_url, first_url=first_url, sort_urls=sort_urls,
                   sort=sort)


# -- the order card ------------------------------------------------------------------------
@bp.get("/orders/<bill>")
@signed_in
def order(bill: str):
    try:
        card = cabinet.order_card(_container().uow, g.user, bill)
    except NotFound:
        return _message("not_found", 404)
    except AssistError:  # not a billnumber at all
        return _message("not_found", 404)
    notice = g.session.pop("n", None)
    return _render("order.html", card=card, notice=notice)


@bp.post("/orders/<bill>/notify")
@signed_in
def notify_again(bill: str):
    """Send the order's result notifications again."""
    try:
        count = cabinet.notify_again(_container().uow, _container().clock, g.user, bill)
    except AssistError:
        return _message("not_found", 404)
    g.session["n"] = texts.t(g.lang, "notified_again", count=count)
    return redirect(url_for("account.order", bill=bill), 303)


# -- confirm and cancel --------------------------------------------------------------------
ACTIONS = {"confirm": Right.CONFIRM, "cancel": Right.CANCEL}


def _amount(text: str | None, currency: str):
    text = (text or "").strip()
    return parse_amount(text, currency) if text else None


@bp.get("/orders/<bill>/<any(confirm, cancel):action>")
@signed_in
def action_page(bill: str, action: str):
    refused = _needs(ACTIONS[action])
    if refused:
        return refused
    plan_of = cabinet.plan_confirm if action == "confirm" else cabinet.plan_cancel
    try:
        card = cabinet.order_card(_container().uow, g.user, bill)
        plan = plan_of(_container().uow, g.user, bill,
                       _amount(request.args.get("amount"), card.amount.currency))
    except NotFound:
        return _message("not_found", 404)
    except AssistError as exc:
        return _message("refused_action", 409, message=exc.message)
    return _render("action.html", plan=plan, card=card)


@bp.post("/orders/<bill>/<any(confirm, cancel):action>")
@signed_in
def act(bill: str, action: str):
    refused = _needs(ACTIONS[action])
    if refused:
        log.warning("cabinet %s of %s refused: user %r lacks the right", action, bill[:16],
                    g.user.login)
        return refused
    c = _container()
    try:
        card = cabinet.order_card(c.uow, g.user, bill)
        amount = _amount(request.form.get("amount"), card.amount.currency)
        if action == "confirm":
            result = cabinet.confirm(c.uow, c.gateway, c.clock, g.user, bill, amount,
                                     client_ip=request.remote_addr)
        else:
            reason = request.form.get("reason", "1")
            result = cabinet.cancel(c.uow, c.gateway, c.clock, g.user, bill, amount,
                                    request.form.get("token") or cabinet.new_token(),
                                    reason=int(reason) if reason in ("1", "2", "3") else 1,
                                    client_ip=request.remote_addr)
    except NotFound:
        return _message("not_found", 404)
    except AssistError as exc:
        return _message("refused_action", 409, message=exc.message)
    op = result.operation
    key = "repeated" if result.repeated else "done"
    log.info("cabinet %s of %s by %r: %s", action, op.bill_number, g.user.login, op.state)
    g.session["n"] = texts.t(g.lang, key, bill=op.bill_number, state=op.state,
                             order_state=result.order.state)
    return redirect(url_for("account.order", bill=card.bill_number), 303)


# -- several orders at once ----------------------------------------------------------------
#: The most orders one bulk action takes.
BULK_LIMIT = 50


def _bulk_action() -> str | None:
    action = request.values.get("action", "")
    return action if action in ACTIONS else None


@bp.get("/bulk")
@signed_in
def bulk_page():
    """What a confirm or cancel of each selected order (all of it) will do."""
    action = _bulk_action()
    if action is None:
        return _message("not_found", 404)
    refused = _needs(ACTIONS[action])
    if refused:
        return refused
    bills = list(dict.fromkeys(b.strip() for b in request.args.getlist("bill") if b.strip()))
    if not bills or len(bills) > BULK_LIMIT:
        return _message("bulk_count", 400, limit=BULK_LIMIT)
    plan_of = cabinet.plan_confirm if action == "confirm" else cabinet.plan_cancel
    items = []
    for bill in bills:
        try:
            items.append((bill, plan_of(_container().uow, g.user, bill, None), None))
        except NotFound:
            items.append((bill, None, texts.t(g.lang, "not_found")))
        except AssistError as exc:
            items.append((bill, None, exc.message))
    return _render("bulk.html", action=action, items=items,
                   ready=[plan for _bill, plan, _error in items if plan is not None])


@bp.post("/bulk")
@signed_in
def bulk_act():
    """Confirm or cancel (all of it) each order of the confirmation page; a result each."""
    action = _bulk_action()
    if action is None:
        return _message("not_found", 404)
    refused = _needs(ACTIONS[action])
    if refused:
        log.warning("cabinet bulk %s refused: user %r lacks the right", action, g.user.login)
        return refused
    bills, tokens = request.form.getlist("bill")[:BULK_LIMIT], request.form.getlist("token")
    c, results = _container(), []
    for bill, token in zip(bills, tokens):
        try:
            if action == "confirm":
                result = cabinet.confirm(c.uow, c.gateway, c.clock, g.user, bill, None,
                                         client_ip=request.remote_addr)
            else:
                result = cabinet.cancel(c.uow, c.gateway, c.clock, g.user, bill, None,
                                        token or cabinet.new_token(),
                                        client_ip=request.remote_addr)
        except NotFound:
            results.append((bill, None, texts.t(g.lang, "not_found")))
            continue
        except AssistError as exc:
            results.append((bill, None, exc.message))
            continue
        log.info("cabinet bulk %s of %s by %r: %s", action, result.operation.bill_number,
                 g.user.login, result.operation.state)
        results.append((bill, result, None))
    return _render("bulk.html", action=action, results=results)


# Pages in modules of their own add their routes to ``bp``: the administration pages (users,
# audit log), the settings page, two-factor sign-in, export and reports.
from . import account_admin  # noqa: E402,F401
from . import account_settings  # noqa: E402,F401
from . import account_two_factor  # noqa: E402
from . import account_export  # noqa: E402,F401
from . import account_reports  # noqa: E402,F401
