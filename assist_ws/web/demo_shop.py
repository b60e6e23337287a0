"""The demo shop, ``/demo-shop`` (only when ``ASSIST_DEMO_SHOP`` is on, as ``scripts/run``
sets it): a small catalog whose "Pay" buttons post real, signed authorization requests of the
demo merchant to ``/pay/order.cfm``, and the shop's return page, which asks the gateway for
the order's state rather than trusting the redirect (anyone can open a return URL)."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, current_app, render_template, request, url_for

from ..domain.errors import AssistError
from ..services import demo_shop
from . import texts
from .authrequest import language
from .security import secure_headers

bp = Blueprint("demo_shop", __name__, url_prefix="/demo-shop", template_folder="templates")

TEST_CARDS = (("4111 1111 1111 1111", "approved", "одобрена"),
              ("5555 5555 5555 4444", "approved", "одобрена"),
              ("4000 0000 0000 0002", "declined (AS100)", "отклонена (AS100)"),
              ("4000 0000 0000 9995", "insufficient funds (AS102)", "недостаточно средств (AS102)"))


def _container():
    return current_app.config["CONTAINER"]


@bp.after_request
def _headers(response):
    secure_headers(response.headers)
    return response


@bp.get("")
@bp.get("/")
def shop():
    lang = language(request.args.get("lang"))
    container = _container()
    try:
        info = container.demo_shop()
    except AssistError as exc:
        return render_template("demo_shop/shop.html", problem=exc.message, lang=lang,
                               T=partial(texts.t, lang)), 503
    currency = request.args.get("currency", info.currencies[0] if info.currencies else "RUB")
    if currency not in info.currencies:
        currency = info.currencies[0]
    delay = request.args.get("delay") == "1" and info.two_stage
    ok = url_for("demo_shop.back", outcome="ok", _external=True)
    no = url_for("demo_shop.back", outcome="no", _external=True)
    offers = []
    for item in demo_shop.CATALOG:
        fields = container.demo_shop_request(item, currency, delay=delay, language=lang,
                                             url_return_ok=ok, url_return_no=no)
        offers.append((item, item.price(currency), fields))
    return render_template("demo_shop/shop.html", problem=None, info=info, offers=offers,
                           currency=currency, delay=delay, lang=lang, cards=TEST_CARDS,
                           action=url_for("pay.order_cfm"), T=partial(texts.t, lang),
                           money=lambda m: texts.money(m.amount, m.currency, lang))


@bp.get("/return/<outcome>")
def back(outcome: str):
    lang = language(request.args.get("lang"))
    bill = request.args.get("billnumber", "")
    order = problem = None
    try:
        info = _container().demo_shop()
        order = _container().shop_order(info.merchant_id, bill)
    except AssistError as exc:
        problem = exc.message
    return render_template("demo_shop/return.html", outcome=outcome, order=order,
                           problem=problem, ordernumber=request.args.get("ordernumber", ""),
                           billnumber=bill, lang=lang, T=partial(texts.t, lang),
                           money=lambda amount, cur: texts.money(amount, cur, lang))
