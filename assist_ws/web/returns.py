"""The way back to the shop (reference §1.3): the shop's return URL with ``billnumber`` and
``ordernumber`` appended, encoded as Assist encodes them (letters and digits, ``-`` and ``_``
stay; a space becomes ``+``; everything else is ``%XX`` of its UTF-8 bytes)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


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


def origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, for the page's CSP."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme.lower()}://{host.lower()}"
