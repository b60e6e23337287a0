"""The hosted payment pages, ``/pay/*``: the buyer's side of a payment.

* ``/pay/order.cfm`` (GET or POST): Assist's authorization request.  A valid one creates the
  order and sends the buyer (303) to the order's pages; a refused one gets a page that names
  the problem with Assist's ``firstcode``/``secondcode`` and creates nothing.
* ``/pay/payrequest.cfm`` (POST, form or JSON): the same request answered in JSON with the
  URL of the order's pages (as ``URL`` and ``url``: Assist's clients read either), the
  order's state and the time the buyer has until (``expirationtime``); a refusal is
  ``orderstate: "Decline"`` with ``firstcode``/``secondcode``/``message``, HTTP 200 both.
* ``/pay/pay.cfm?CFSID=…``: the order's pages: summary, choice of payment means, card form,
  waiting for the bank, result, and the way back to the shop.  Forms post
  back to ``/pay/pay.cfm`` with the session id and a CSRF token in the body.
* ``/pay/points.cfm`` (POST, the card page's script): for an order that may be paid partly
  with bonus points, the points the typed card may pay (``{"points": N}``, 0 for none); the
  card page then offers them, shows the split, and the buyer may decline.

Card data travels only in the body of the card form's POST, goes to ``pay_by_card`` and is
gone: it is never put in a URL, a log line or the database (the masked number is kept).

The card page shows the buyer's personal data the shop sent and asks for those the merchant
wants and the shop did not send (``domain.customer``).  They travel in the same POST's body,
are checked with the card (a message beside each field; what the buyer typed comes back,
but the card number and the CVC) and saved on the order with the payment's start; no log
line names more than the fields.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from types import SimpleNamespace
from typing import Any

from flask import (Blueprint, Flask, current_app, g, jsonify, redirect, render_template,
                   request, url_for)

from ..domain.cards import card_data_in, card_errors, parse_card
from ..domain.customer import FIELDS as CUSTOMER_FIELDS, CustomerDataRefused, Problem, review
from ..domain.errors import AssistError, NotFound, OperationProhibited
from ..services.checkout import Checkout
from ..services.payment import OrderTimedOut
from ..services.results import about
from . import texts
from .authrequest import Params, authorization_request, language
from .bodies import json_object
from .page_session import PageSessions
from .returns import with_order
from .security import secure_headers

log = logging.getLogger(__name__)

bp = Blueprint("pay", __name__, url_prefix="/pay", template_folder="templates",
               static_folder="static")

#: Payment means this gateway can take on its pages.
SUPPORTED_MEANS = ("card",)
CARD_FIELDS = ("CardNumber", "ExpireMonth", "ExpireYear", "Cardholder", "CVC2")
#: The browser's autofill hint of each customer field, and the input's type.
AUTOCOMPLETE = {"lastname": "family-name", "firstname": "given-name",
                "middlename": "additional-name", "email": "email", "mobilephone": "tel",
                "homephone": "home tel", "workphone": "work tel", "fax": "fax tel",
                "country": "country", "state": "address-level1", "city": "address-level2",
                "zip": "postal-code", "address": "street-address"}
INPUT_TYPES = {"email": ("email", "email"), "phone": ("tel", "tel")}
SESSIONS = "assist_ws.page_sessions"


def register(app: Flask, container) -> None:
    """Mount the payment pages (and, when the settings ask for it, the demo shop)."""
    app.extensions[SESSIONS] = PageSessions(container.settings.secret())
    from . import pay_return  # noqa: F401 - its route (3-D Secure's return) joins ``bp``
    app.register_blueprint(bp)
    if getattr(container.settings, "demo_shop", False):
        from .demo_shop import bp as shop
        app.register_blueprint(shop)


def _container():
    return current_app.config["CONTAINER"]


def _sessions() -> PageSessions:
    return current_app.extensions[SESSIONS]


# -- every response ------------------------------------------------------------------------
@bp.before_request
def _no_card_data_in_urls():
    found = card_data_in(request.args.items(multi=True))
    if found:
        # Refused whatever else the request says; the names only go to the log.
        log.warning("refused a request with card data in its URL (%s)", ", ".join(found))
        return _message(language(request.args.get("Language")), "card_in_url", 400)
    return None


@bp.errorhandler(500)
def _internal_error(error):
    # The traceback goes to the log (it never holds card data: CardData hides it); the buyer
    # gets a page that says no money was taken, in the page's language where known.
    lang = language(request.values.get("lang") or request.values.get("Language"))
    return _message(lang, "server_error", 500)


@bp.after_request
def _headers(response):
    secure_headers(response.headers,
                   form_targets=(*g.get("shop_urls", ()), *g.get("acs_urls", ())),
                   frame_ancestors=g.get("shop_urls", ()), https=request.is_secure,
                   cache=request.endpoint == "pay.static")
    return response


# -- the authorization request -------------------------------------------------------------
@bp.route("/order.cfm", methods=["GET", "POST"])
def order_cfm():
    if request.method == "HEAD":  # a link checker or prefetcher: no order for it
        return "", 204
    params = Params(request.form, request.args)
    lang = language(params.get("Language"))
    try:
        view = _container().create_order(
            authorization_request(params, client_ip=request.remote_addr))
    except AssistError as exc:
        log.info("authorization request refused: %s/%s %s", exc.firstcode, exc.secondcode,
                 exc.message)
        return _error(exc, lang, 400)
    return redirect(_page_url(_sessions().new(view.bill_number)), 303)


@bp.post("/payrequest.cfm")
def payrequest_cfm():
    try:
        body = json_object(request.get_data()) if request.is_json else {}
        params = Params(body, request.form, request.args)
        view = _container().create_order(authorization_request(params))
        checkout = _container().open_checkout(view.bill_number)
    except AssistError as exc:
        return jsonify(orderstate="Decline", URL="", url="", expirationtime="",
                       firstcode=exc.firstcode, secondcode=exc.secondcode, message=exc.message)
    url = _absolute(_page_url(_sessions().new(view.bill_number)))
    return jsonify(URL=url, url=url,
                   expirationtime=checkout.deadline.strftime("%d.%m.%Y %H:%M:%S"),
                   orderstate=view.state, billnumber=view.bill_number,
                   ordernumber=view.order_number, firstcode=0, secondcode=0)


# -- the order's pages ---------------------------------------------------------------------
@bp.get("/pay.cfm")
def page():
    sid = request.args.get("CFSID", "")
    checkout = _open(sid)
    if checkout is None:
        return _message(language(request.args.get("lang")), "session_invalid", 404)
    asked = language(request.args.get("lang"), "") or None  # kept in the page's links
    lang = asked or checkout.order.language
    if checkout.can_pay:
        chosen = request.args.get("means") or (
            checkout.means[0] if len(checkout.means) == 1 else None)
        if chosen not in checkout.means:
            return _means_page(sid, checkout, lang)
        if chosen not in SUPPORTED_MEANS:
            return _means_page(sid, checkout, lang, error="means_unavailable", status=422)
        return _card_page(sid, checkout, lang)
    if checkout.waiting:
        from .pay_return import acs_page  # the payment may wait for the buyer's bank
        trip = acs_page(checkout, partial(_render, sid=sid, checkout=checkout, lang=lang))
        if trip is not None:
            return trip
        return _render("processing.html", sid, checkout, lang,
                       refresh=_page_url(sid, asked, go="1"))
    target = checkout.return_url()
    if request.args.get("go") == "1" and target and not checkout.timed_out:
        return _to_shop(checkout, target)
    return _render("result.html", sid, checkout, lang, target=target and _with_order(
        checkout, target))


@bp.post("/pay.cfm")
def submit():
    sid = request.form.get("CFSID", "")
    step = request.form.get("step", "")
    lang = language(request.form.get("lang"), "") or None
    bill = _sessions().bill_number(sid)
    if bill is None:
        return _message(lang or "RU", "session_invalid", 404)
    if step not in ("means", "card") or not _sessions().csrf_ok(sid, step,
                                                                 request.form.get("csrf")) \
            or request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin",
                                                                            "none"):
        log.warning("order %s: form refused (step %r, bad CSRF token or cross-site)", bill,
                    step[:16], extra=about(bill))
        return _message(lang or "RU", "csrf", 403)
    if step == "card":
        return _pay(sid, bill, lang)
    checkout = _open(sid)
    if checkout is None:
        return _message(lang or "RU", "session_invalid", 404)
    if not checkout.can_pay:  # paid, paying, timed out: a refresh or a second click
        return redirect(_page_url(sid, lang, go="1"), 303)
    page_lang = lang or checkout.order.language
    chosen = request.form.get("means", "")
    if chosen not in checkout.means:
        return _means_page(sid, checkout, page_lang, error="means_choose", status=422)
    if chosen not in SUPPORTED_MEANS:
        return _means_page(sid, checkout, page_lang, error="means_unavailable", status=422)
    return redirect(_page_url(sid, lang, means=chosen), 303)


def _pay(sid: str, bill: str, lang: str | None):
    """The card form's POST.  ``pay_by_card`` itself refuses what may not be paid (paid
    already, paying right now, timed out, closed) and makes one authorization however often
    the form comes; the order is read again only to show a page."""
    form = request.form
    number, month, year, holder, cvc = (form.get(name, "") for name in CARD_FIELDS)
    entered = _entered_customer(form)
    container = _container()
    errors = card_errors(number, month, year, holder, cvc, container.clock.now())
    if errors:
        checkout = _open(sid)
        if checkout is None:
            return _message(lang or "RU", "session_invalid", 404)
        if not checkout.can_pay:
            return redirect(_page_url(sid, lang, go="1"), 303)
        # The customer fields' problems too, all on one page (nothing is paid or written).
        return _card_page(sid, checkout, lang or checkout.order.language, errors=errors,
                          problems=review(checkout.customer, entered)[1], status=422)
    card = parse_card(number, month, year, holder, cvc, container.clock.now())
    points = _points_chosen(form)
    try:
        result = container.pay_by_card(bill, card, client_ip=request.remote_addr,
                                       customer=entered, points=points)
    except CustomerDataRefused as exc:  # a message beside each field; nothing was written
        log.info("order %s: payment refused: the buyer's data (%s)", bill,
                 ", ".join(exc.problems))
        checkout = _open(sid)
        if checkout is None:
            return _message(lang or "RU", "session_invalid", 404)
        if not checkout.can_pay:
            return redirect(_page_url(sid, lang, go="1"), 303)
        return _card_page(sid, checkout, lang or checkout.order.language,
                          problems=exc.problems, status=422)
    except NotFound:
        return _message(lang or "RU", "session_invalid", 404)
    except OrderTimedOut:  # the page says so, and offers the way back
        return redirect(_page_url(sid, lang), 303)
    except OperationProhibited:  # closed meanwhile, or not a card order: the page decides
        return redirect(_page_url(sid, lang, go="1"), 303)
    except AssistError as exc:  # paid by another attempt, no center, no rate
        log.info("order %s: payment refused: %s/%s %s", bill, exc.firstcode, exc.secondcode,
                 exc.message, extra=about(bill))
        checkout = _open(sid)
        return _error(exc, lang or (checkout.order.language if checkout else "RU"), 409,
                      checkout=checkout)
    target = container.return_url_after(result)
    if target:
        return redirect(with_order(target, bill, result.order.order_number), 303)
    return redirect(_page_url(sid, lang), 303)


@bp.post("/points.cfm")
def points_cfm():
    """The points the card typed on the card page may pay the order with (``points``: 0 for
    none).  The card number comes in the body, with the session and the card form's CSRF
    token; it goes to the center's balance query and nowhere else."""
    sid = request.form.get("CFSID", "")
    bill = _sessions().bill_number(sid)
    if bill is None or not _sessions().csrf_ok(sid, "card", request.form.get("csrf")):
        return jsonify(points=0, error="session"), 403
    number = "".join(request.form.get("CardNumber", "").split())
    if not number.isdigit() or not 13 <= len(number) <= 19:
        return jsonify(points=0)
    try:
        offer = _container().points_offer(bill, number)
    except NotFound:
        return jsonify(points=0, error="session"), 403
    return jsonify(points=offer.max_points if offer else 0)


def _points_chosen(form) -> int:
    """The points the buyer chose on the card page (0: none offered, or declined); a value
    that is no whole number is refused by the payment as more than allowed."""
    if form.get("UsePoints") != "1":
        return 0
    text = form.get("Points", "").strip()
    return int(text) if text.isdigit() and len(text) <= 15 else -1


# -- helpers -------------------------------------------------------------------------------
def _open(sid: str) -> Checkout | None:
    bill = _sessions().bill_number(sid)
    if bill is None:
        return None
    try:
        checkout = _container().open_checkout(bill)
    except NotFound:
        return None
    g.shop_urls = (checkout.return_ok, checkout.return_no)  # the CSP takes their origins
    return checkout


def _page_url(sid: str, lang: str | None = None, **extra: str) -> str:
    args: dict[str, Any] = {"CFSID": sid, **{k: v for k, v in extra.items() if v}}
    if lang:
        args["lang"] = lang
    return url_for("pay.page", **args)


def _absolute(path: str) -> str:
    # The scheme and host are the public URL's when one is configured (``serving.edge``).
    return request.host_url.rstrip("/") + path


def _with_order(checkout: Checkout, target: str) -> str:
    return with_order(target, checkout.order.bill_number, checkout.order.order_number)


def _to_shop(checkout: Checkout, target: str):
    return redirect(_with_order(checkout, target), 303)


def _context(lang: str) -> dict:
    return {"lang": lang, "T": partial(texts.t, lang),
            "money": lambda amount, currency: texts.money(amount, currency, lang),
            "means_label": partial(texts.means_label, lang), "when": texts.when,
            "plain": lambda value: format(value.normalize(), "f")}


def _render(template: str, sid: str, checkout: Checkout, lang: str, status: int = 200, **kw):
    other = "EN" if lang == "RU" else "RU"
    return render_template(
        f"pay/{template}", co=checkout, sid=sid, csrf=partial(_sessions().csrf, sid),
        action=url_for("pay.page"), switch_url=_page_url(sid, other, means=request.args.get(
            "means", "")), **_context(lang), **kw), status


def _means_page(sid, checkout, lang, error: str | None = None, status: int = 200):
    return _render("means.html", sid, checkout, lang, status, error=error,
                   supported=SUPPORTED_MEANS)


def _card_page(sid, checkout, lang, errors=(), status: int = 200,
               problems: dict[str, Problem] | None = None):
    form = request.form if request.method == "POST" else {}
    return _render(
        "card.html", sid, checkout, lang, status,
        errors={e.field: texts.field_message(lang, e) for e in errors},
        # What the buyer typed comes back, except the card number and the CVC.
        kept={"ExpireMonth": form.get("ExpireMonth", ""), "ExpireYear": form.get(
            "ExpireYear", ""), "Cardholder": form.get("Cardholder", "")},
        customer=_customer_fields(checkout, lang, form, problems or {}),
        many_means=len(checkout.means) > 1)


def _entered_customer(form) -> dict[str, str]:
    """What the card form carried in its customer fields, by field name (the body only:
    a URL never carries them)."""
    return {f.name: form[f.wire] for f in CUSTOMER_FIELDS if f.wire in form}


def _customer_fields(checkout: Checkout, lang: str, form, problems: dict[str, Problem]
                     ) -> list[SimpleNamespace]:
    """The customer fields of the card page: label, hints, the value (what the buyer typed,
    when the form comes back, else the order's) and the message about it."""
    fields = []
    for item in checkout.customer:
        f = item.field
        kind, mode = INPUT_TYPES.get(f.kind, ("text", None))
        problem = problems.get(f.name)
        fields.append(SimpleNamespace(
            name=f.name, wire=f.wire, label=texts.customer_label(lang, f.name),
            input=item.is_input, required=item.required, type=kind, inputmode=mode,
            autocomplete=AUTOCOMPLETE[f.name], example=texts.CUSTOMER_EXAMPLES.get(f.name),
            maxlength=max(f.longest, 32) if f.kind == "phone" else f.longest,
            value=form.get(f.wire, item.value or "") if item.is_input else item.value,
            error=texts.customer_message(lang, problem) if problem else None))
    return fields


def _error(exc: AssistError, lang: str, status: int, checkout: Checkout | None = None):
    return render_template("pay/error.html", explanation=texts.explain(lang, exc), error=exc,
                           co=checkout, **_context(lang)), status


def _message(lang: str, key: str, status: int):
    return render_template("pay/error.html", explanation=texts.t(lang, key), error=None,
                           co=None, **_context(lang)), status


@bp.app_template_filter("deadline")
def _deadline(moment: datetime) -> str:
    return moment.strftime("%H:%M")
