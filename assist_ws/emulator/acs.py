"""The emulator's 3-D Secure ACS: the bank's page where the buyer authenticates.

A gateway sends the buyer here with an auto-submitted form (``POST /acs``: ``PaReq``, the
``authentication_id`` the center answered; ``MD``, the gateway's own state, echoed back
unread; ``TermUrl``, where the buyer returns).  The page asks for the one-time code
(``12345`` passes, anything else fails) and posts the buyer back to ``TermUrl`` with ``MD``
and ``PaRes``, the result the ledger signed (the center checks it when the gateway completes
the authorization).  ``GET /acs?cancel=<id>`` abandons the authentication: nothing goes back.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs, urlsplit
from wsgiref.util import application_uri

from .ledger import Ledger

__all__ = ["acs_url", "handle"]

_HTML = "text/html; charset=utf-8"
_MAX_FORM = 16 * 1024


def acs_url(environ) -> str:
    """The absolute URL of the ACS page on the host a request came to."""
    return application_uri(environ).rstrip("/") + "/acs"


def _page(start_response, status: str, title: str, body: str) -> list[bytes]:
    html = (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}"
            f"</body></html>").encode()
    start_response(status, [("Content-Type", _HTML), ("Content-Length", str(len(html))),
                            ("Cache-Control", "no-store")])
    return [html]


def _form(environ) -> dict[str, str]:
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), _MAX_FORM)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def _return_url_ok(url: str) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def handle(ledger: Ledger, environ, start_response) -> list[bytes]:
    """Answer ``/acs`` (see the module doc)."""
    method = (environ.get("REQUEST_METHOD") or "GET").upper()
    if method == "GET":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        auth_id = (query.get("cancel") or [""])[0]
        if ledger.authentication(auth_id) is None:
            return _page(start_response, "404 Not Found", "Unknown authentication",
                         "<p>This authentication request is not known to the bank.</p>")
        ledger.authenticate(auth_id, None)
        return _page(start_response, "200 OK", "Authentication cancelled",
                     "<p id=cancelled>The payment was not authenticated. You may close "
                     "this page.</p>")
    if method != "POST":
        return _page(start_response, "405 Method Not Allowed", "Method not allowed", "")
    form = _form(environ)
    auth_id, md, term = form.get("PaReq", ""), form.get("MD", ""), form.get("TermUrl", "")
    found = ledger.authentication(auth_id)
    if found is None or not _return_url_ok(term):
        return _page(start_response, "400 Bad Request", "Unknown authentication",
                     "<p>This authentication request is not known to the bank.</p>")
    hidden = "".join(f'<input type=hidden name="{name}" value="{escape(value)}">'
                     for name, value in (("PaReq", auth_id), ("MD", md), ("TermUrl", term)))
    if "code" not in form:
        if found["status"] != "pending":
            return _page(start_response, "409 Conflict", "Already answered",
                         "<p>This authentication was already answered.</p>")
        return _page(
            start_response, "200 OK", "3-D Secure",
            f"<p>Payment of <b id=amount>{escape(found['amount'])} "
            f"{escape(found['currency'])}</b> with card <b>{escape(found['card'])}</b>.</p>"
            f'<form method=post action="">{hidden}'
            f"<label>One-time code <input name=code id=code autocomplete=one-time-code "
            f"inputmode=numeric></label> <button type=submit id=confirm>Confirm</button>"
            f'</form><p><a id=cancel href="?cancel={escape(auth_id)}">Cancel</a></p>')
    result = ledger.authenticate(auth_id, form.get("code", ""))
    if result is None:
        return _page(start_response, "409 Conflict", "Authentication cancelled",
                     "<p>This authentication was cancelled.</p>")
    return _page(
        start_response, "200 OK", "Returning to the shop",
        f'<form method=post action="{escape(term)}">'
        f'<input type=hidden name=MD value="{escape(md)}">'
        f'<input type=hidden name=PaRes value="{escape(result)}">'
        f"<noscript><button type=submit>Continue</button></noscript></form>"
        f"<script>document.forms[0].submit()</script>")
