"""The way back to the shop: the shop's return URL with ``billnumber`` and ``ordernumber``
appended, encoded as Assist encodes them (letters and digits, ``-`` and ``_`` stay; a space
becomes ``+``; everything else is ``%XX`` of its UTF-8 bytes).  The shop's origin, the one
form of a return URL's host the page's headers may name, is ``domain.urls.origin``."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..domain.urls import origin  # noqa: F401 - the shop's origin, for the pages' headers


def assist_quote(value: str) -> str:
    out = []
    for ch in value:
        if ch.isascii() and (ch.isalnum() or ch in "-_"):
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def with_order(url: str, bill_number: str, order_number: str) -> str:
    """``url`` with ``billnumber`` and ``ordernumber`` added to its query (kept before any
    ``#fragment``)."""
    parts = urlsplit(url)
    added = f"billnumber={assist_quote(bill_number)}&ordernumber={assist_quote(order_number)}"
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
