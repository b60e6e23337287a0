"""``HttpNotificationSender``: one try of a notification over HTTP, safely.

* only ``http``/``https`` URLs on the allowed ports (Assist's 80, 443, 8080, 8443 unless
  configured otherwise), checked before every try;
* a connect timeout and a deadline for the whole try;
* redirects followed only to the same host (and an allowed port), at most three, re-posting
  the same body; a redirect elsewhere is a failed try;
* the reply body read up to a size cap, never more;
* no proxies, ``.netrc`` credentials or cookies from the environment.

It never raises for network or merchant trouble: every outcome is a ``PushReply``.
"""

from __future__ import annotations

import time
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters

from .. import __version__
from ..domain.errors import ValidationError
from ..domain.notifications import (ASSIST_PORTS, PushNotice, PushReply, PushTarget, Verdict,
                                    check_url)
from .wire import judge, request_of

REDIRECTS = (301, 302, 303, 307, 308)
EXCERPT = 500


class HttpNotificationSender:
    def __init__(self, *, connect_timeout: float = 5.0, timeout: float = 10.0,
                 max_reply_bytes: int = 64 * 1024, allowed_ports: frozenset[int] | None =
                 ASSIST_PORTS, max_redirects: int = 3):
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self.allowed_ports = allowed_ports
        self.max_redirects = max_redirects
        # One session for all threads (its connection pool is thread-safe): keep-alive
        # connections to merchants are reused from one pass to the next.
        session = requests.Session()
        session.trust_env = False  # no proxies or .netrc credentials from the environment
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # keep none
        session.headers["User-Agent"] = f"assist-ws/{__version__} (result notification)"
        session.headers["Accept-Encoding"] = "identity"  # the size cap counts real bytes
        adapter = requests.adapters.HTTPAdapter(pool_connections=32, pool_maxsize=16,
                                                max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self._http = session

    def _session(self) -> requests.Session:
        return self._http

    def send(self, target: PushTarget, notice: PushNotice) -> PushReply:
        started = time.monotonic()
        deadline = started + self.timeout
        url = target.url

        def reply(verdict: Verdict, status: int | None = None, excerpt: str | None = None,
                  error: str | None = None) -> PushReply:
            return PushReply(verdict, status, excerpt,
                             int((time.monotonic() - started) * 1000), error, url)

        try:
            check_url(url, self.allowed_ports)
        except ValidationError as exc:
            return reply(Verdict.FAILED, error=exc.message)
        body, headers = request_of(notice, target.protocol.value, target.secret_word)
        session = self._session()
        for hop in range(self.max_redirects + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                return reply(Verdict.FAILED, error=f"no reply within {self.timeout:g} s")
            try:
                resp = session.post(url, data=body, headers=headers, allow_redirects=False,
                                    stream=True, timeout=(min(self.connect_timeout, left), left))
            except requests.exceptions.Timeout:
                return reply(Verdict.FAILED, error=f"no reply within {self.timeout:g} s")
            except requests.exceptions.RequestException as exc:
                return reply(Verdict.FAILED, error=_short(exc))
            try:
                if resp.status_code in REDIRECTS and resp.headers.get("Location"):
                    following = urljoin(url, resp.headers["Location"])
                    problem = self._redirect_problem(url, following)
                    if problem:
                        return reply(Verdict.FAILED, resp.status_code, error=problem)
                    if hop == self.max_redirects:
                        return reply(Verdict.FAILED, resp.status_code,
                                     error=f"more than {self.max_redirects} redirects")
                    url = following
                    continue
                try:
                    data, truncated = self._read(resp, deadline)
                except TimeoutError:
                    return reply(Verdict.FAILED, resp.status_code,
                                 error=f"the reply did not end within {self.timeout:g} s")
                except (requests.exceptions.RequestException, OSError) as exc:
                    return reply(Verdict.FAILED, resp.status_code, error=_short(exc))
                verdict, error = judge(target.expected_reply, resp.status_code, data, truncated,
                                       notice)
                return reply(verdict, resp.status_code, _excerpt(data), error)
            finally:
                resp.close()
        return reply(Verdict.FAILED, error="redirect loop")  # pragma: no cover

    def _redirect_problem(self, current: str, following: str) -> str | None:
        a, b = urlsplit(current), urlsplit(following)
        if b.scheme not in ("http", "https") or (b.hostname or "").lower() != \
                (a.hostname or "").lower():
            return f"redirect to another host not followed ({b.scheme}://{b.hostname})"
        try:
            check_url(following, self.allowed_ports)
        except ValidationError as exc:
            return f"redirect not followed: {exc.message}"
        return None

    def _read(self, resp: requests.Response, deadline: float) -> tuple[bytes, bool]:
        """At most ``max_reply_bytes`` of the body (and whether there was more), within the
        deadline."""
        raw = resp.raw
        read = getattr(raw, "read1", None) or raw.read
        chunks, size = [], 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError
            chunk = read(min(8192, self.max_reply_bytes + 1 - size))
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_reply_bytes:
                return b"".join(chunks)[:self.max_reply_bytes], True


def _excerpt(data: bytes) -> str:
    return data[:EXCERPT * 4].decode("utf-8", "replace")[:EXCERPT]


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "No route to host", "certificate verify failed", "Connection reset"):
        if marker in text:
            return f"{type(exc).__name__}: {marker}"
    return f"{type(exc).__name__}: {text}"[:200]
