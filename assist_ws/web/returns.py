"""The way back to the shop: the shop's return URL with ``billnumber`` and ``ordernumber``
appended, encoded as Assist encodes them (letters and digits, ``-`` and ``_`` stay; a space
becomes ``+``; everything else is ``%XX`` of its UTF-8 bytes); and the shop's origin, the
one form of a return URL's host the page's headers may name."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from ..domain.text import is_digits


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


#: A label of a host name: letters, digits and inner hyphens, at most 63.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host(text: str) -> str | None:
    """A URL's host as an origin names it — a host name (a Unicode one in its IDNA form) or
    an IP literal, lower case — or None when it is neither."""
    if text.startswith("[") and text.endswith("]") and "%" not in text:  # no zone id
        try:
            return f"[{ipaddress.IPv6Address(text[1:-1]).compressed}]"
        except ValueError:
            return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    try:
        name = text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels) or \
            labels[-1].isdigit():  # a name ending in a number is an IPv4 address to browsers
        return None
    return name


def origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, parsed and written anew (lower
    case, an IDNA host name, the port only when it is not the scheme's own); None unless the
    host is a valid host name or IP literal, the port (if any) a number from 1 to 65535, and
    there is no user or password.  What the page's CSP names, and what makes a return URL
    acceptable."""
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        return None
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in netloc:
        return None
    if netloc.startswith("["):
        if "]" not in netloc:
            return None
        host, _, port = netloc.partition("]")
        host += "]"
        if port and not port.startswith(":"):
            return None
        port = port[1:]
    else:
        host, _, port = netloc.partition(":")
    host = _host(host)
    if host is None:
        return None
    if port:
        if not is_digits(port) or len(port) > 5 or not 0 < int(port) < 65536:
            return None
        if int(port) != _DEFAULT_PORTS[scheme]:
            host = f"{host}:{int(port)}"
    return f"{scheme}://{host}"
