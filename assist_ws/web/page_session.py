"""Page sessions and CSRF tokens of the payment pages.

A page session id (``CFSID``, as Assist names it) is the order's billnumber and a random nonce,
sealed with an HMAC of the gateway's secret: unguessable, bound to one order, the same in every
worker process, and nothing to store.  Whoever holds it can see the order's pages, as on
Assist; it never carries card data.  A CSRF token is an HMAC of the session id and the form's
name: a form posted without the token its page was served with is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

_MAC_BYTES = 16
_NONCE_BYTES = 8


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageSessions:
    def __init__(self, secret: bytes):
        # Keys of their own, so that nothing else signed with the secret can pass for these.
        self._session_key = hmac.new(secret, b"assist-ws page session", hashlib.sha256).digest()
        self._csrf_key = hmac.new(secret, b"assist-ws csrf", hashlib.sha256).digest()

    def _mac(self, raw: bytes) -> bytes:
        return hmac.new(self._session_key, raw, hashlib.sha256).digest()[:_MAC_BYTES]

    def new(self, bill_number: str) -> str:
        """A new session id for the order ``bill_number`` (16 digits)."""
        raw = int(bill_number).to_bytes(8, "big") + secrets.token_bytes(_NONCE_BYTES)
        return _b64(raw + self._mac(raw))

    def bill_number(self, session_id: str | None) -> str | None:
        """The billnumber a session id was made for, or None when it is not one of ours."""
        text = (session_id or "").strip()
        if not text or len(text) > 64:
            return None
        try:
            blob = _unb64(text)
        except (binascii.Error, ValueError):
            return None
        if len(blob) != 8 + _NONCE_BYTES + _MAC_BYTES or _b64(blob) != text:
            return None  # (only the one canonical spelling of an id is accepted)
        raw, mac = blob[:-_MAC_BYTES], blob[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(raw)):
            return None
        return str(int.from_bytes(raw[:8], "big"))

    def csrf(self, session_id: str, form: str) -> str:
        return _b64(hmac.new(self._csrf_key, f"{session_id}|{form}".encode(),
                             hashlib.sha256).digest()[:_MAC_BYTES])

    def csrf_ok(self, session_id: str, form: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf(session_id, form).encode(),
                                                   (given or "").encode("utf-8"))
