"""The gunicorn worker of ``assist-ws serve``: gunicorn's threaded worker (``gthread``), with
every request received whole before a thread takes it.

Threads are what a payment waiting for its bank holds, so they must go to requests that are
ready to be answered.  gunicorn's own ``gthread`` hands a connection to a thread as soon as
a byte arrives, and the thread then reads the rest: a client that sends its headers one byte
at a time, or its headers and never its body, holds a thread as long as it likes.  Here the
worker's main loop, which waits on every socket at once, receives each request itself --
request line, headers and a ``Content-Length`` body -- into memory, without blocking, and
only a request received whole goes to the thread pool.  So:

* a slow or silent client holds a socket and its few buffered bytes, never a thread;
* a request not received within ``request_timeout`` seconds of its first moment is answered
  408 and closed (a connection that sent nothing at all is just closed); one that announces
  a body larger than its path takes (``edge.body_limit``) is answered 413 at once, without
  reading the body (an ``Expect: 100-continue`` client is told to go on only when its body
  is acceptable);
* a chunked body, which cannot be measured beforehand, is read by the thread, under the same
  deadline, and measured by ``edge.Edge``;
* a client that does not take its answer within ``send_timeout`` seconds for each piece is
  cut off.

What the main loop received is handed to gunicorn's HTTP parser as if it had just arrived
on the socket; everything from there on (keep-alive, the WSGI environ, the access log) is
gunicorn's.  TLS and HTTP/2 belong to the proxy in front (see the README): with either
turned on in gunicorn itself, connections go the ``gthread`` way.
"""

from __future__ import annotations

import errno
import re
import selectors
import socket
import time
from concurrent import futures
from functools import partial
from typing import Callable

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import TConn, ThreadWorker

from .edge import body_limit, refusal

_WAIT, _READY = "wait", "ready"
#: The longest request line and headers taken (gunicorn refuses far less: 8 KiB a field).
MAX_HEAD = 64 * 1024
#: How long a refused client is given to read its answer before the connection is closed.
_LINGER = 2.0
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _Receiving:
    """A connection whose request is being received by the main loop."""

    __slots__ = ("conn", "data", "deadline", "need")

    def __init__(self, conn: TConn, deadline: float):
        self.conn, self.deadline = conn, deadline
        self.data = bytearray()
        #: Bytes the whole request takes, once its headers are in (None: not yet known).
        self.need: int | None = None


class _Deadline:
    """The socket as gunicorn's parser reads it in a thread: every read ends by ``deadline``
    (a client that stalls mid-body gives up its thread then); writes keep ``send_timeout``."""

    def __init__(self, sock: socket.socket, deadline: float, send_timeout: float):
        self.sock, self.deadline, self.send_timeout = sock, deadline, send_timeout

    def recv(self, size: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise NoMoreData(b"")
        self.sock.settimeout(left)
        try:
            return self.sock.recv(size)
        except socket.timeout:
            raise NoMoreData(b"") from None
        finally:
            self.sock.settimeout(self.send_timeout)

    def gettimeout(self):
        return self.sock.gettimeout()

    def settimeout(self, value) -> None:
        self.sock.settimeout(value)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def inspect(data: bytes | bytearray, end: int) -> tuple[str, int | None, bool]:
    """What the main loop knows of a request whose headers end at ``end`` (the index of the
    blank line): (``_WAIT`` or ``_READY``, the bytes the whole request takes, whether the
    client waits for ``100 Continue`` before sending its body).  A chunked body, or a length
    that cannot be read, makes the request ready at once: the thread reads the one, the
    parser refuses the other."""
    head = bytes(data[:end]).decode("latin-1")
    length, expect = None, False
    for line in head.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name, value = name.strip().lower(), value.strip()
        if name == "transfer-encoding":
            return _READY, None, False
        if name == "content-length":
            if not (value.isascii() and value.isdigit()) or (
                    length is not None and int(value) != length):
                return _READY, None, False
            length = int(value)
        elif name == "expect" and value.lower() == "100-continue":
            expect = True
    return _WAIT, end + 4 + (length or 0), expect and bool(length)


def request_path(data: bytes | bytearray) -> str:
    """The path of the request line (without the query)."""
    line = bytes(data[:data.find(b"\r\n")]).decode("latin-1")
    target = line.split(" ")[1] if line.count(" ") >= 2 else "/"
    if "://" in target:  # absolute form
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    return target.split("?", 1)[0] or "/"


def _without_expect(data: bytearray) -> bytearray:
    """The request with its ``Expect`` header removed (it has been answered already)."""
    end = data.find(b"\r\n\r\n")
    lines = bytes(data[:end]).split(b"\r\n")
    kept = [lines[0]] + [ln for ln in lines[1:]
                         if ln.split(b":", 1)[0].strip().lower() != b"expect"]
    return bytearray(b"\r\n".join(kept)) + data[end:]


def _answer(status: str, text: str, data: bytes | bytearray) -> bytes:
    """A whole refusal on the wire, in the terms of the request begun in ``data``."""
    head = bytes(data[:data.find(b"\r\n\r\n")]).decode("latin-1").lower()
    found = re.search(r"\r\ncontent-type:([^\r]*)", head)
    ctype, body = refusal(status, text, found.group(1).strip() if found else "")
    return (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


class GatewayWorker(ThreadWorker):
    """gthread, receiving requests in the main loop (see the module doc).  ``gunicorn_config``
    sets the two timeouts from the settings before the workers are forked, and what each
    request thread does first."""

    request_timeout = 10.0
    send_timeout = 30.0
    #: Called in each request thread as it starts (they live as long as the worker).
    thread_initializer: Callable[[], None] | None = None

    def get_thread_pool(self):
        return futures.ThreadPoolExecutor(max_workers=self.cfg.threads,
                                          thread_name_prefix="request",
                                          initializer=self.thread_initializer)

    def init_process(self) -> None:
        self.receiving: dict[TConn, _Receiving] = {}
        self.lingering: dict[TConn, float] = {}
        protocols = getattr(self.cfg, "http_protocols", None) or ["h1"]
        self.receives = not self.cfg.is_ssl and "h2" not in protocols
        super().init_process()

    # -- connections come to the main loop first ------------------------------------------
    def accept(self, listener) -> None:
        if not self.receives:
            return super().accept(listener)
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        conn = TConn(self.cfg, sock, client, listener.getsockname())  # non-blocking
        self._receive(conn, now=True)  # a client usually sends its request at once

    def on_client_socket_readable(self, conn, client) -> None:
        """A kept-alive connection brings its next request."""
        if not self.receives:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._receive(conn, now=True)

    def _receive(self, conn: TConn, now: bool = False) -> None:
        """Receive the connection's next request; ``now``: its first bytes may be there
        already (most requests then arrive whole, and go on to a thread at once)."""
        receiving = _Receiving(conn, time.monotonic() + self.request_timeout)
        self.receiving[conn] = receiving
        if now:
            self._readable(receiving, conn.sock)
            if conn not in self.receiving:  # handed on, refused or gone
                return
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self._readable, receiving))

    def _readable(self, receiving: _Receiving, sock) -> None:
        try:
            chunk = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away
            self._forget(receiving)
            self._close(receiving.conn)
            return
        data = receiving.data
        data += chunk
        if receiving.need is None:
            end = data.find(b"\r\n\r\n", max(0, len(data) - len(chunk) - 3))
            if end < 0:
                if len(data) >= MAX_HEAD:  # the parser refuses it
                    self._ready(receiving)
                return  # the headers are not in yet
            state, need, expect = inspect(data, end)
            if state == _READY or need is None:
                return self._ready(receiving)
            limit = body_limit(request_path(receiving.data))
            head = receiving.data.find(b"\r\n\r\n") + 4
            if need - head > limit:
                self.log.warning("refused a request body of %d bytes for %s from %s "
                                 "(at most %d)", need - head,
                                 request_path(receiving.data), _address(receiving.conn),
                                 limit)
                return self._refuse(receiving, "413 Request Entity Too Large",
                                    f"requests to this address are at most {limit} bytes\n")
            receiving.need = need
            if expect:
                receiving.data = _without_expect(receiving.data)
                receiving.need = receiving.data.find(b"\r\n\r\n") + 4 + (need - head)
                if len(receiving.data) < receiving.need:
                    try:
                        sock.send(_CONTINUE)
                    except OSError:
                        pass
        if len(receiving.data) >= receiving.need:
            self._ready(receiving)

    def _ready(self, receiving: _Receiving) -> None:
        """The request is in: to the thread pool."""
        self._forget(receiving)
        conn = receiving.conn
        conn.data_ready = True  # gthread must not wait for data again
        conn.received = bytes(receiving.data)
        self.enqueue_req(conn)

    def _forget(self, receiving: _Receiving) -> None:
        self.receiving.pop(receiving.conn, None)
        try:
            self.poller.unregister(receiving.conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _refuse(self, receiving: _Receiving, status: str, text: str) -> None:
        """Answer and close, giving the client a moment to read the answer (what it still
        sends meanwhile is read and dropped)."""
        self._forget(receiving)
        conn = receiving.conn
        try:
            conn.sock.send(_answer(status, text, receiving.data))
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        self.lingering[conn] = time.monotonic() + _LINGER
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain, conn))

    def _drain(self, conn: TConn, sock) -> None:
        try:
            if sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._end_linger(conn)

    def _end_linger(self, conn: TConn) -> None:
        self.lingering.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self._close(conn)

    def _close(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """(Called by the main loop about once a second.)  Requests not received in time are
        answered 408 (connections that sent nothing are closed); refused connections that
        linger are closed; a stopping worker drops the connections that have sent nothing."""
        super().murder_pending()
        now = time.monotonic()
        for receiving in list(self.receiving.values()):
            if receiving.deadline <= now and receiving.data:
                self.log.info("closed a connection from %s: no whole request within %ss",
                              _address(receiving.conn), self.request_timeout)
                self._refuse(receiving, "408 Request Timeout",
                             "the request did not arrive in time\n")
            elif not receiving.data and (receiving.deadline <= now or not self.alive):
                self._forget(receiving)  # opened and never used (a browser's spare one)
                self._close(receiving.conn)
        for conn, until in list(self.lingering.items()):
            if until <= now:
                self._end_linger(conn)

    # -- in the thread --------------------------------------------------------------------
    def handle(self, conn):
        received = getattr(conn, "received", None)
        if received is not None:
            conn.received = None
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(received)
        if conn.parser is not None:
            unreader = conn.parser.unreader
            sock = unreader.sock.sock if isinstance(unreader.sock, _Deadline) else unreader.sock
            unreader.sock = _Deadline(sock, time.monotonic() + self.request_timeout,
                                      self.send_timeout)
        return super().handle(conn)

    def handle_request(self, req, conn):
        conn.sock.settimeout(self.send_timeout)
        try:
            return super().handle_request(req, conn)
        except (socket.timeout, TimeoutError):
            self.log.info("closed a connection to %s: the client did not take its answer "
                          "within %ss", _address(conn), self.send_timeout)
            return False


def _address(conn: TConn) -> str:
    client = conn.client
    return client[0] if isinstance(client, tuple) else str(client)
