"""The authorization request on the wire.

Assist's parameter names, matched without regard to case, from the query string and the form
(the form wins); refused when a value holds a character XML cannot carry (the order's fields
go out again in the merchant's XML replies); cleaned of the characters Assist strips; checked
for the lengths the order can keep (the customer fields' as ``domain.customer.FIELDS`` gives
them); turned into the use case's ``AuthorizationRequest``.
Card data never belongs in such a request, and never in a URL.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterable, Mapping

from werkzeug.datastructures import MultiDict

from ..domain.customer import FIELDS as CUSTOMER_FIELDS, clean as clean_customer
from ..domain.errors import Second, ValidationError
from ..domain.model import Customer
from ..domain.text import clean_text, refuse_unfit_parameters
from ..domain.urls import check_return_url
from ..services.orders import MEANS_FLAGS, AuthorizationRequest

URL_PARAMS = ("URL_RETURN", "URL_RETURN_OK", "URL_RETURN_NO")

#: The request's parameters by their lower-case names: Assist's name and the secondcode of a
#: refusal about it (0 for a name the request does not know).
PARAMETERS: dict[str, tuple[str, int]] = {
    name.lower(): (name, code) for name, code in (
        ("Merchant_ID", Second.MERCHANT_ID), ("OrderNumber", Second.ORDERNUMBER),
        ("OrderAmount", Second.AMOUNT), ("OrderCurrency", Second.CURRENCY),
        ("Delay", Second.DELAY), ("Language", Second.LANGUAGE),
        ("OrderComment", Second.COMMENT), ("ClientIP", Second.CLIENT_IP),
        ("OrderMaxPoints", Second.AMOUNT), ("Prepayment", Second.AMOUNT),
        *((f.wire, f.secondcode) for f in CUSTOMER_FIELDS),
        *((name, Second.URL) for name in URL_PARAMS),
        *((name, Second.PAYMENT_MEANS) for name in MEANS_FLAGS))}

_URL = re.compile(r"<|>|%3c|%3e", re.IGNORECASE)  # URL parameters


class Params:
    """Request parameters by name, case-insensitive; the first source that has a name wins."""

    def __init__(self, *sources: Mapping[str, str] | Iterable[tuple[str, str]]):
        self._values: dict[str, str] = {}
        for source in sources:
            items: Iterable[tuple[str, str]]
            if isinstance(source, MultiDict):
                items = source.items(multi=True)
            elif isinstance(source, Mapping):
                items = source.items()
            else:
                items = source
            for name, value in items:
                key = str(name).strip().lower()
                if key not in self._values:
                    self._values[key] = "" if value is None else str(value)

    def get(self, name: str) -> str | None:
        return self._values.get(name.lower())

    def names(self) -> set[str]:
        return set(self._values)

    def items(self):
        """(lower-case name, value) pairs."""
        return self._values.items()


def clean_url(name: str, value: str | None) -> str | None:
    """A return URL as Assist cleans it, if it may be one (``domain.urls.check_return_url``:
    refused with 154 otherwise)."""
    if value is None or not value.strip():
        return None
    return check_return_url(name, _URL.sub("", value.strip()).replace('&&"', '&"'))


def _client_ip(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValidationError(f"ClientIP {value!r} is not an IP address",
                              Second.CLIENT_IP) from None


def _customer(params: Params) -> Customer:
    values = {}
    for f in CUSTOMER_FIELDS:
        value = clean_customer(f, params.get(f.wire))
        if value and len(value) > f.longest:
            raise ValidationError(f"{f.wire} is longer than {f.longest} characters",
                                  f.secondcode)
        values[f.attr] = value or None
    return Customer(**values)


def authorization_request(params: Params, *, client_ip: str | None = None
                          ) -> AuthorizationRequest:
    """The request as the use case takes it.  ``client_ip`` is the buyer's address when the
    buyer's browser itself brought the request (``ClientIP`` wins when sent)."""
    refuse_unfit_parameters(params.items(), PARAMETERS)
    flags = {name: params.get(name) for name in MEANS_FLAGS if params.get(name) is not None}
    return AuthorizationRequest(
        merchant_id=params.get("Merchant_ID"),
        order_number=params.get("OrderNumber"),
        order_amount=params.get("OrderAmount"),
        order_currency=params.get("OrderCurrency"),
        delay=params.get("Delay"),
        language=params.get("Language"),
        comment=clean_text(params.get("OrderComment")) or None,
        customer=_customer(params),
        client_ip=_client_ip(params.get("ClientIP")) or client_ip,
        url_return=clean_url("URL_RETURN", params.get("URL_RETURN")),
        url_return_ok=clean_url("URL_RETURN_OK", params.get("URL_RETURN_OK")),
        url_return_no=clean_url("URL_RETURN_NO", params.get("URL_RETURN_NO")),
        means_flags=flags,
        max_points=params.get("OrderMaxPoints"),
        customer_number=params.get("CustomerNumber"),
        disable_3ds=params.get("Disable3DS"),
        prepayment=params.get("Prepayment"),
        checkvalue=params.get("Checkvalue"),
    )


def language(value: str | None, default: str = "RU") -> str:
    """``RU`` or ``EN`` for the pages (an unknown value falls back to ``default``)."""
    text = (value or "").strip().upper()
    return text if text in ("RU", "EN") else default
