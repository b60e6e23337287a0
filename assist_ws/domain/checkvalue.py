"""Assist's MD5 ``checkvalue`` (reference §1.5, §2.3, §3.1).

``checkvalue = upper(md5(upper(md5(salt) + md5(x))))`` where ``salt`` is the merchant's secret
word and ``x`` the fields of the packet.
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


def order_request_strings(merchant_id: str, order_number: str, amount: str, currency: str,
                          extras: tuple[str | None, ...] = ()) -> tuple[str, str]:
    """The two accepted forms of X for an authorization request, exactly as sent: the
    current ``;``-joined one (extras appended only when given and not zero) and the legacy
    unjoined one."""
    base = [merchant_id, order_number, amount, currency]
    joined = ";".join(base + [e for e in extras if e not in (None, "", "0")])
    return joined, "".join(base)


def verify_order_checkvalue(salt: str, given: str, merchant_id: str, order_number: str,
                            amount: str, currency: str, extras: tuple[str | None, ...] = ()) -> bool:
    given = (given or "").strip().upper()
    if not given:
        return False
    return any(hmac.compare_digest(checkvalue(salt, x), given)
               for x in order_request_strings(merchant_id, order_number, amount, currency, extras))


def result_checkvalue(salt: str, merchant_id: str | int, order_number: str, amount: str,
                      currency: str, state: str) -> str:
    """The checkvalue of orderstate/orderresult replies and notifications."""
    return checkvalue(salt, f"{merchant_id}{order_number}{amount}{currency}{state}")
