"""``HttpNotificationSender``: one try of a notification over HTTP, safely.

* only ``http``/``https`` URLs on the allowed ports (Assist's 80, 443, 8080, 8443 unless
  configured otherwise), checked before every try;
* only public addresses: the sender resolves the host itself and refuses the try when any
  address it gets is loopback, private, link-local or otherwise not public (unless private
  addresses are allowed: tests, private networks); then it connects to an address it
  checked, never resolving the name again, so a name that points elsewhere a moment later
  (DNS rebinding) cannot take the try to an internal host.  On https the certificate is
  verified for the host name, which goes out as SNI (and as ``Host``);
* a connect timeout and a deadline for the whole try;
* redirects followed only to the same host (and an allowed port), each checked and resolved
  as the first URL is, at most three, re-posting the same body; a redirect elsewhere is a
  failed try;
* the reply body read up to a size cap, never more;
* no proxies, credentials or cookies from the environment (urllib3 reads none).

Connections are kept alive between tries in a pool per checked address (and host name).
It never raises for network or merchant trouble: every outcome is a ``PushReply``.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Callable, Sequence
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from .. import __version__
from ..domain.errors import ValidationError
from ..domain.notifications import (ASSIST_PORTS, PushNotice, PushReply, PushTarget, Verdict,
                                    check_url, host_address, refuse_address)
from .wire import judge, request_of

REDIRECTS = (301, 302, 303, 307, 308)
EXCERPT = 500
#: ``resolve(host, port)``: the addresses of a host name (raises OSError when it has none).
Resolver = Callable[[str, int], Sequence[str]]


def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host``, in the order the system prefers, each once."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class _Destination:
    """Where one request goes: the URL's parts and the checked addresses of its host."""

    scheme: str
    host: str
    port: int
    netloc: str
    target: str
    addresses: tuple[str, ...]


class HttpNotificationSender:
    def __init__(self, *, connect_timeout: float = 5.0, timeout: float = 10.0,
                 max_reply_bytes: int = 64 * 1024, allowed_ports: frozenset[int] | None =
                 ASSIST_PORTS, allow_private: bool = False, max_redirects: int = 3,
                 resolver: Resolver = resolve, ca_certs: str | None = None):
        """``allow_private``: merchants' servers may be on loopback, private or link-local
        addresses (tests, private networks).  ``resolver`` and ``ca_certs`` (a CA bundle;
        default certifi's) are for tests."""
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self.allowed_ports = allowed_ports
        self.allow_private = allow_private
        self.max_redirects = max_redirects
        self._resolve = resolver
        self._headers = {"User-Agent": f"assist-ws/{__version__} (result notification)",
                         "Accept-Encoding": "identity"}  # the size cap counts real bytes
        # One pool manager for all threads (thread-safe): a pool per address, port and
        # host name, keeping connections alive from one pass to the next.
        self._pools = urllib3.PoolManager(num_pools=64, maxsize=16, block=False, retries=False,
                                          cert_reqs="CERT_REQUIRED",
                                          ca_certs=ca_certs or certifi.where())

    def check_url(self, url: str) -> str:
        text = check_url(url, self.allowed_ports, allow_private=self.allow_private)
        if not self.allow_private:
            try:
                self._destination(text)
            except OSError:
                pass  # not resolvable now: each try resolves and checks again
        return text

    def _destination(self, url: str) -> _Destination:
        """The URL checked, its host resolved and every address checked.  Raises
        ValidationError (refused) or OSError (the host does not resolve)."""
        text = check_url(url, self.allowed_ports, allow_private=self.allow_private)
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        literal = host_address(host)
        if literal is not None:
            addresses: Sequence[str] = (str(literal),)
        else:
            try:
                addresses = self._resolve(host, port)
            except UnicodeError as exc:
                raise OSError(f"cannot resolve {host}: {exc}") from None
            if not addresses:
                raise OSError(f"cannot resolve {host}: no address")
            if not self.allow_private:
                for address in addresses:
                    refuse_address(f"notification URL host {host} resolves to", address)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return _Destination(parts.scheme, host, port, parts.netloc, target, tuple(addresses))

    def send(self, target: PushTarget, notice: PushNotice) -> PushReply:
        started = time.monotonic()
        deadline = started + self.timeout
        url = target.url

        def reply(verdict: Verdict, status: int | None = None, excerpt: str | None = None,
                  error: str | None = None) -> PushReply:
            return PushReply(verdict, status, excerpt,
                             int((time.monotonic() - started) * 1000), error, url)

        try:
            dest = self._destination(url)
        except ValidationError as exc:
            return reply(Verdict.FAILED, error=exc.message)
        except OSError as exc:
            return reply(Verdict.FAILED, error=_short(exc))
        body, headers = request_of(notice, target.protocol.value, target.secret_word)
        headers = {**self._headers, **headers, "Host": dest.netloc}
        for hop in range(self.max_redirects + 1):
            try:
                resp = self._post(dest, body, headers, deadline)
            except NewConnectionError as exc:  # (a kind of timeout error for urllib3)
                return reply(Verdict.FAILED, error=_short(exc))
            except (Urllib3Timeout, TimeoutError):
                return reply(Verdict.FAILED, error=f"no reply within {self.timeout:g} s")
            except (HTTPError, OSError) as exc:
                return reply(Verdict.FAILED, error=_short(exc))
            whole = False
            try:
                if resp.status in REDIRECTS and resp.headers.get("Location"):
                    following = urljoin(url, resp.headers["Location"])
                    found = self._redirect(url, following)
                    if isinstance(found, str):
                        return reply(Verdict.FAILED, resp.status, error=found)
                    if hop == self.max_redirects:
                        return reply(Verdict.FAILED, resp.status,
                                     error=f"more than {self.max_redirects} redirects")
                    url, dest = following, found
                    headers["Host"] = dest.netloc
                    continue
                try:
                    data, truncated = self._read(resp, deadline)
                except (TimeoutError, Urllib3Timeout):
                    return reply(Verdict.FAILED, resp.status,
                                 error=f"the reply did not end within {self.timeout:g} s")
                except (HTTPError, OSError) as exc:
                    return reply(Verdict.FAILED, resp.status, error=_short(exc))
                whole = not truncated
                verdict, error = judge(target.expected_reply, resp.status, data, truncated,
                                       notice)
                return reply(verdict, resp.status, _excerpt(data), error)
            finally:
                if not whole:
                    resp.close()  # unread data: the connection is not reused
                resp.release_conn()
        return reply(Verdict.FAILED, error="redirect loop")  # pragma: no cover

    def _redirect(self, current: str, following: str) -> _Destination | str:
        """Where a redirect from ``current`` to ``following`` goes, checked as the first URL
        was, or why it is not followed: another host, or a URL or address refused."""
        a, b = urlsplit(current), urlsplit(following)
        if b.scheme not in ("http", "https") or (b.hostname or "").lower() != \
                (a.hostname or "").lower():
            return f"redirect to another host not followed ({b.scheme}://{b.hostname})"
        try:
            return self._destination(following)
        except ValidationError as exc:
            return f"redirect not followed: {exc.message}"
        except OSError as exc:
            return f"redirect not followed: {_short(exc)}"

    def _post(self, dest: _Destination, body: bytes, headers: dict[str, str],
              deadline: float) -> urllib3.BaseHTTPResponse:
        """POST to the first of the destination's addresses that takes the connection
        (the request goes out once, to one address)."""
        failure: BaseException | None = None
        for address in dest.addresses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            pool = self._pools.connection_from_host(
                address, dest.port, dest.scheme,
                pool_kwargs={"server_hostname": dest.host} if dest.scheme == "https" else None)
            try:
                return pool.urlopen(
                    "POST", dest.target, body=body, headers=headers, retries=False,
                    redirect=False, assert_same_host=False, preload_content=False,
                    decode_content=False, release_conn=False,
                    timeout=urllib3.Timeout(connect=min(self.connect_timeout, left), read=left))
            except (NewConnectionError, ConnectTimeoutError) as exc:
                failure = exc  # nothing was sent: the next address may answer
        assert failure is not None
        raise failure

    def _read(self, resp: urllib3.BaseHTTPResponse, deadline: float) -> tuple[bytes, bool]:
        """At most ``max_reply_bytes`` of the body (and whether there was more), within the
        deadline."""
        read = getattr(resp, "read1", None) or resp.read
        chunks: list[bytes] = []
        size = 0
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
