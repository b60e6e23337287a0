"""The demo shop: what a shop does before it sends the buyer to ``/pay/order.cfm``.

A small catalog, an order number of the shop's own, and the authorization request signed with
the merchant's secret word (``Checkvalue``, the ``;``-joined form), so that a
newcomer can try the whole flow in a browser.  It signs only its own catalog's amounts for the
demo merchant: it is not a signing service.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..domain.checkvalue import checkvalue, order_request_string
from ..domain.errors import NotFound, Second, ValidationError
from ..domain.money import Money
from ..domain.ports import BackOfficeUnitOfWork
from .admin import DEMO_MERCHANT_ID


@dataclass(frozen=True)
class Product:
    code: str
    name_ru: str
    name_en: str
    prices: dict[str, str]

    def name(self, language: str) -> str:
        return self.name_ru if language == "RU" else self.name_en

    def price(self, currency: str) -> Money:
        return Money.of(self.prices[currency], currency)


CATALOG: tuple[Product, ...] = (
    Product("tea", "Чай улун, 100 г", "Oolong tea, 100 g", {"RUB": "450.00", "USD": "5.00"}),
    Product("mug", "Кружка с логотипом", "Logo mug", {"RUB": "1290.00", "USD": "14.50"}),
    Product("kettle", "Чайник из глины", "Clay teapot", {"RUB": "8990.50", "USD": "99.90"}),
)


def product(code: str) -> Product:
    for item in CATALOG:
        if item.code == code:
            return item
    raise ValidationError(f"no product {code!r} in the demo catalog", Second.NONE)


@dataclass(frozen=True)
class DemoShop:
    merchant_id: int
    merchant_name: str
    currencies: tuple[str, ...]
    two_stage: bool
    signed: bool  # the merchant has a secret word, so requests carry a Checkvalue
    check_required: bool


def demo_merchant(uow: BackOfficeUnitOfWork, merchant_id: int = DEMO_MERCHANT_ID) -> DemoShop:
    with uow.reader() as r:
        m = r.merchants.get(merchant_id)
        if m is None or not m.active:
            raise NotFound(f"the demo merchant {merchant_id} is not set up: run "
                           f"`assist-ws demo`", Second.MERCHANT_ID)
        return DemoShop(m.merchant_id, m.name, tuple(c for c in m.currencies
                                                     if any(c in p.prices for p in CATALOG)),
                        m.two_stage, bool(m.secret_word), m.check_order_code)


def authorization_request(uow: BackOfficeUnitOfWork, item: Product, currency: str, *, delay: bool,
                          language: str, url_return_ok: str, url_return_no: str,
                          merchant_id: int = DEMO_MERCHANT_ID) -> dict[str, str]:
    """The form fields of an authorization request for one catalog item, with a fresh order
    number and the ``Checkvalue`` of the merchant's secret word (when it has one)."""
    shop = demo_merchant(uow, merchant_id)
    if currency not in shop.currencies or currency not in item.prices:
        raise ValidationError(f"the demo shop does not sell in {currency}", Second.CURRENCY)
    if delay and not shop.two_stage:
        raise ValidationError("the demo merchant has no two-stage payments", Second.DELAY)
    amount = item.price(currency)
    fields = {
        "Merchant_ID": str(shop.merchant_id),
        "OrderNumber": "DEMO-" + secrets.token_hex(4).upper(),
        "OrderAmount": amount.wire,
        "OrderCurrency": amount.currency,
        "Delay": "1" if delay else "0",
        "Language": language,
        "OrderComment": item.name(language),
        "URL_RETURN_OK": url_return_ok,
        "URL_RETURN_NO": url_return_no,
    }
    with uow.reader() as r:
        merchant = r.merchants.get(shop.merchant_id)
    if merchant is None:
        raise NotFound(f"the demo merchant {shop.merchant_id} is not set up", Second.MERCHANT_ID)
    secret = merchant.secret_word
    if secret:
        fields["Checkvalue"] = checkvalue(secret, order_request_string(
            fields["Merchant_ID"], fields["OrderNumber"], fields["OrderAmount"],
            fields["OrderCurrency"]))
    return fields
