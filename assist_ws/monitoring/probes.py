"""The WSGI middlewares of monitoring.

* ``RequestMetrics`` (outermost): counts every request by route and status and times it
  until its answer has been sent (a streamed answer too).  The route is a path the
  application serves (``/orderstate/orderstate.cfm``, ``/pay/static/<path:filename>``),
  never the raw URL: anything else is ``other``.
* ``Probes`` (inside ``serving.edge``, so that ``REMOTE_ADDR`` is the client's address after
  the trusted proxies): ``/health`` (the process answers: 200, nothing asked of the
  database), ``/ready`` (the database answers and the processing centers can be reached:
  200, else 503) and ``/metrics`` (Prometheus' text format).  ``/metrics``, and the details
  of the other two (version, what was checked), are for loopback clients only, or for any
  client sending ``Authorization: Bearer <ASSIST_METRICS_TOKEN>`` when a token is set;
  anyone else gets 403 from ``/metrics`` and a bare status from the others.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import time
from typing import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .metrics import HTTP_DURATION, HTTP_REQUESTS, unwritten
from .readiness import Readiness

#: The paths ``Probes`` answers.
PATHS = ("/health", "/ready", "/metrics")
OTHER = "other"


class _Measured:
    """A response body that reports its request when the server closes it."""

    __slots__ = ("body", "done")

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]):
        self.body, self.done = body, done

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done()


class RequestMetrics:
    """WSGI middleware (see the module doc); ``route(path)`` names a path's route."""

    def __init__(self, app: Callable, route: Callable[[str], str]):
        self.app, self.route = app, route
        self._counters: dict[tuple[str, str], object] = {}
        self._timers: dict[str, object] = {}

    def _record(self, path: str, status: str, started: float) -> None:
        try:
            route = self.route(path)
            key = (route, status)
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = HTTP_REQUESTS.labels(route, status)
            timer = self._timers.get(route)
            if timer is None:
                timer = self._timers[route] = HTTP_DURATION.labels(route)
            counter.inc()  # type: ignore[attr-defined]
            timer.observe(time.perf_counter() - started)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - never fails the request
            unwritten(exc)

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        path = environ.get("PATH_INFO") or "/"
        seen: list[str] = []

        def starting(status, headers, exc_info=None):
            seen.append(status)
            return start_response(status, headers, exc_info)

        def done() -> None:
            self._record(path, seen[-1][:3] if seen else "500", started)

        try:
            body = self.app(environ, starting)
        except BaseException:
            done()
            raise
        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and isinstance(body, wrapper):
            done()  # sent by the server itself (sendfile): counted, not timed to the end
            return body
        return _Measured(body, done)


def loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address((address or "").strip("[]")).is_loopback
    except ValueError:
        return False


def _json(start_response, status: str, value: dict) -> list[bytes]:
    body = json.dumps(value).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store")])
    return [body]


class Probes:
    """WSGI middleware answering ``PATHS`` (see the module doc).

    ``metrics()`` is the exposition (bytes, in Prometheus' text format); ``readiness`` the
    checker of ``/ready``; ``token`` the metrics token (empty: loopback only)."""

    def __init__(self, app: Callable, *, metrics: Callable[[], bytes], readiness: Readiness,
                 token: str = "", version: str = ""):
        self.app, self.metrics, self.readiness = app, metrics, readiness
        self.token = token.encode() if token else b""
        self.version = version

    def privileged(self, environ) -> bool:
        """A loopback client, or one presenting the metrics token."""
        if loopback(environ.get("REMOTE_ADDR", "")):
            return True
        if not self.token:
            return False
        scheme, _, given = (environ.get("HTTP_AUTHORIZATION") or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode("utf-8", "replace"), self.token)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        if path not in PATHS:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"),
                                                      ("Content-Length", "0")])
            return [b""]
        privileged = self.privileged(environ)
        if path == "/health":
            answer = {"status": "ok"}
            if privileged:
                answer["version"] = self.version
            return _json(start_response, "200 OK", answer)
        if path == "/ready":
            verdict = self.readiness.check()
            answer = {"status": "ready" if verdict.ready else "not ready"}
            if privileged:
                answer.update(version=self.version, checks=verdict.checks)
            return _json(start_response, "200 OK" if verdict.ready
                         else "503 Service Unavailable", answer)
        if not privileged:
            body = b"forbidden: /metrics answers loopback clients and the metrics token\n"
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        body = self.metrics()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST),
                                  ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store")])
        return [body]


def exposition(registry) -> Callable[[], bytes]:
    """``Probes(metrics=...)``: ``registry`` in Prometheus' text format."""
    return lambda: generate_latest(registry)
