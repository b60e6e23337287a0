"""How ``assist-ws serve`` runs gunicorn (``gunicorn -c python:assist_ws.gunicorn_config``):
threaded workers that receive each request whole before a thread takes it
(``serving.worker.GatewayWorker``), redacted logs (``serving.logs.AccessLog``), and the
application loaded once, in the master, before the workers are forked (``preload_app``).

**Threads.**  Each worker answers up to ``ASSIST_WEB_THREADS`` requests at once; a payment
holds its thread while its bank answers (0.2 to 3 s), so payments in flight are limited by
``ASSIST_WEB_WORKERS`` x ``ASSIST_WEB_THREADS``, and a web service call never waits behind
them.  Everything that outlives a request is shared by the threads and safe for it: the
database pools (sized in ``bootstrap``), the HTTP clients to processing centers, the caches.

**Preloading** lets the workers share the imported code and the built application with the
master, copy-on-write, instead of each holding its own copy of them: the server's memory is
one copy of the application plus what each worker allocates while it answers.  Three things
keep it that way and keep it safe:

* ``pre_fork`` freezes the garbage collector's view of everything the master has made
  (``gc.freeze``), so collections in a worker never write to those objects' pages;
* big allocations are always given back to the system when freed (``_map_big_allocations``):
  glibc would otherwise keep the 16 MiB of each scrypt password check in the heap of every
  worker for good;
* ``post_fork`` makes each worker forget the database pools and kept connections it
  inherited (``db.fork.after_fork``), without touching them: a worker opens its own
  connections.  The master never opens one (nothing runs a query while the application is
  built), and a test checks that no connection is shared.

**Proxies.**  gunicorn itself believes no forwarded header (``forwarded_allow_ips`` empty):
``serving.edge`` decides, from ``ASSIST_TRUSTED_PROXIES``.

**Metrics.**  The workers write their metrics into the directory ``assist-ws serve`` set up
(``monitoring.multiproc``; ``PROMETHEUS_MULTIPROC_DIR``, which gunicorn run by hand needs
set to an empty directory of its own), where ``/metrics`` reads them all; ``child_exit``
drops what only a live worker may show.

**Logs** are written as text or, with ``ASSIST_LOG_FORMAT=json``, as JSON lines -- gunicorn's
error and access logs as well as the application's (``serving.logs``).

Code changes need a restart of the server, not a HUP: the master holds the code.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

from .config import Settings
from .monitoring import multiproc
from .serving.logs import ACCESS_FORMAT, AccessLog, formatter
from .serving.worker import GatewayWorker

#: The WSGI application ``assist-ws serve`` runs.
APP = "assist_ws.wsgi:app"

#: glibc's ``mallopt`` parameter of the size from which an allocation is mapped on its own.
_M_MMAP_THRESHOLD = -3


def _map_big_allocations(threshold: int = 128 * 1024) -> bool:
    """Fix glibc's mmap threshold at its initial 128 KiB.  By default glibc raises it to the
    size of any mapped block freed, so after the first scrypt check (16 MiB, ``hashlib``) the
    next ones come from the heap, which then keeps them: each worker would hold 16 MiB it
    does not use.  With the threshold fixed they are mapped and unmapped every time (a few
    microseconds beside the check's tens of milliseconds).  Elsewhere than glibc: nothing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


# -- settings gunicorn reads from this module (imported before the application is loaded) --
_settings = Settings.from_env()
worker_class = GatewayWorker
threads = max(1, _settings.web_threads)
preload_app = True
http_protocols = "h1"
control_socket_disable = True  # not used; it would be one socket for every server of a user
logger_class = AccessLog
access_log_format = ACCESS_FORMAT
forwarded_allow_ips = ""
secure_scheme_headers: dict = {}
GatewayWorker.request_timeout = _settings.request_timeout
GatewayWorker.send_timeout = _settings.send_timeout
AccessLog.level = _settings.log_level
AccessLog.kind = _settings.log_format.strip().lower() or "text"
formatter(AccessLog.kind)  # an unknown format stops the server here, saying so
_map_big_allocations()


def _request_thread() -> None:
    """In each request thread of a worker, as it starts: it lives as long as the worker, so
    it may keep its database connection between requests."""
    if "assist_ws.db.uow" in sys.modules:  # the application uses our database layer
        from assist_ws.db.uow import keep_connections
        keep_connections()


GatewayWorker.thread_initializer = staticmethod(_request_thread)


def pre_fork(server, worker) -> None:
    """In the master, just before a worker is forked."""
    gc.freeze()


def post_fork(server, worker) -> None:
    """In a new worker, before it takes its first request."""
    if "assist_ws.db.engine" in sys.modules:  # the application uses our database layer
        from assist_ws.db.fork import after_fork
        after_fork()


def child_exit(server, worker) -> None:
    """In the master, when a worker has exited."""
    multiproc.process_dead(worker.pid)


def command(app: str = APP, *, bind: str, workers: int, threads: int | None = None,
            timeout: int = 60, log_level: str = "info", access_log: bool = True,
            config: str = f"python:{__name__}") -> list[str]:
    """The command line of a gunicorn server with these settings (``config``: gunicorn's
    ``--config``, this module or a file of settings that imports it)."""
    args = [sys.executable, "-m", "gunicorn", "--config", config, app,
            "--bind", bind, "--workers", str(workers), "--timeout", str(timeout),
            "--graceful-timeout", "20", "--log-level", log_level]
    if threads is not None:
        args += ["--threads", str(threads)]
    if access_log:
        args += ["--access-logfile", "-"]
    return args
