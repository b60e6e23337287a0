"""Assist's MD5 ``checkvalue``.

``checkvalue = upper(md5(upper(md5(salt) + md5(x))))`` where ``salt`` is the merchant's secret
word and ``x`` the fields of the packet.

An authorization request is signed over its fields joined with ``;`` in a fixed order
(``Merchant_ID;OrderNumber;OrderAmount;OrderCurrency;OrderMaxPoints;CustomerNumber;
Disable3DS;Prepayment``), each value exactly as sent; a field that was not sent is left out
together with its ``;`` (an optional one also when it is empty or ``0``).  The old unjoined
form runs the first four fields together without separators, so it does not say where one
ends and the next begins: ``S8255771`` + ``150.00`` and ``S82557711`` + ``50.00`` make the
same string.  Digits can move from the order number to the amount without changing the
signature, which is why that form counts only for a merchant whose settings allow it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=256)
def _salt_md5(salt: str) -> str:
    """md5 of a secret word: the same for every packet of its merchant."""
    return _md5(salt)


def checkvalue(salt: str, x: str) -> str:
    return _md5((_salt_md5(salt) + _md5(x)).upper()).upper()


def order_request_string(merchant_id: str, order_number: str, amount: str,
                         currency: str | None = None,
                         extras: tuple[str | None, ...] = ()) -> str:
    """X of an authorization request: ``Merchant_ID;OrderNumber;OrderAmount``, then
    ``OrderCurrency`` when it was sent, then the extras (``OrderMaxPoints``,
    ``CustomerNumber``, ``Disable3DS``, ``Prepayment``) that were sent and are not ``0``."""
    fields = [merchant_id, order_number, amount]
    if currency:
        fields.append(currency)
    fields += [e for e in extras if e not in (None, "", "0")]
    return ";".join(fields)


def legacy_order_request_string(merchant_id: str, order_number: str, amount: str,
                                currency: str | None = None) -> str:
    """X in the old unjoined form: the first four fields run together (ambiguous; see the
    module's docstring)."""
    return f"{merchant_id}{order_number}{amount}{currency or ''}"


def verify_order_checkvalue(salt: str, given: str, merchant_id: str, order_number: str,
                            amount: str, currency: str | None = None,
                            extras: tuple[str | None, ...] = (), *,
                            legacy: bool = False) -> bool:
    """Whether ``given`` signs the request's values (exactly as sent; ``currency`` None or
    empty when it was not sent).  ``legacy``: the unjoined form counts too."""
    given = (given or "").strip().upper()
    if not given:
        return False
    forms = [order_request_string(merchant_id, order_number, amount, currency, extras)]
    if legacy:
        forms.append(legacy_order_request_string(merchant_id, order_number, amount, currency))
    return any(hmac.compare_digest(checkvalue(salt, x), given) for x in forms)


def result_checkvalue(salt: str, merchant_id: str | int, order_number: str, amount: str,
                      currency: str, state: str) -> str:
    """The checkvalue of orderstate/orderresult replies and notifications."""
    return checkvalue(salt, f"{merchant_id}{order_number}{amount}{currency}{state}")
