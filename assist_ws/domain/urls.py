"""URLs given to the gateway: the host a URL (or a ``Host`` header) names, and a shop's
origin (``scheme://host[:port]``), parsed and written anew -- never raw text where a header
or a page names it."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .errors import Second, ValidationError
from .text import is_digits

#: The longest return URL a shop may give.
URL_MAX = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


#: A label of a host name: letters, digits and inner hyphens, at most 63.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_name(text: str) -> str | None:
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
    split = _host_and_port(netloc) if "]" in netloc or not netloc.startswith("[") else None
    if split is None:
        return None
    host, port = host_name(split[0]), split[1]
    if host is None:
        return None
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def _host_and_port(text: str) -> tuple[str, int | None] | None:
    """``host[:port]`` (an IPv6 literal in brackets) as (host, port or None); None when the
    brackets or the port (1 to 65535, ASCII digits) are wrong.  The host is not checked."""
    if text.startswith("["):
        host, _, port = text.partition("]")
        host += "]"
        if port and not port.startswith(":"):
            return None
        port = port[1:]
    else:
        host, _, port = text.partition(":")
    if not port:
        return host, None
    if not is_digits(port) or len(port) > 5 or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def valid_host_header(text: str) -> bool:
    """What a ``Host`` (or ``X-Forwarded-Host``) may hold: a host name or an IP literal,
    with an optional port from 1 to 65535."""
    split = _host_and_port(text)
    if not text or split is None:
        return False
    host = split[0]
    return host_name(host.rstrip(".") if host.endswith(".") else host) is not None


def check_return_url(name: str, url: str) -> str:
    """``url``, if it may be a shop's return URL: an absolute http(s) URL of at most
    ``URL_MAX`` characters, without blanks or control characters, whose host is a host name
    or an IP address (with a port, without a user).  Anything else (``javascript:``, a
    relative path, ``https://shop.example;script-src *``) would be a hole: refused (154)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 literal
        parts = None
    if (parts is None or len(url) > URL_MAX or parts.scheme.lower() not in ("http", "https")
            or not parts.netloc or _CONTROL.search(url) or " " in url):
        raise ValidationError(f"{name} must be an absolute http(s) URL of at most {URL_MAX} "
                              f"characters", Second.URL)
    if origin(url) is None:
        raise ValidationError(f"{name} must name its host as a host name or an IP address "
                              f"(with a port from 1 to 65535, without a user or password)",
                              Second.URL)
    return url
