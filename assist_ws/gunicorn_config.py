"""How ``assist-ws serve`` runs gunicorn (``gunicorn -c python:assist_ws.gunicorn_config``):
sync workers, and the application loaded once, in the master, before the workers are forked
(``preload_app``).

Preloading lets the workers share the imported code and the built application with the
master, copy-on-write, instead of each holding its own copy of them: the server's memory is
one copy of the application plus what each worker allocates while it answers.  Two things
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

Code changes need a restart of the server, not a HUP: the master holds the code.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

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
worker_class = "sync"
preload_app = True
_map_big_allocations()


def pre_fork(server, worker) -> None:
    """In the master, just before a worker is forked."""
    gc.freeze()


def post_fork(server, worker) -> None:
    """In a new worker, before it takes its first request."""
    if "assist_ws.db.engine" in sys.modules:  # the application uses our database layer
        from assist_ws.db.fork import after_fork
        after_fork()


def command(app: str = APP, *, bind: str, workers: int, timeout: int = 60,
            log_level: str = "info", access_log: bool = True) -> list[str]:
    """The command line of a gunicorn server with these settings."""
    args = [sys.executable, "-m", "gunicorn", "--config", f"python:{__name__}", app,
            "--bind", bind, "--workers", str(workers), "--timeout", str(timeout),
            "--graceful-timeout", "20", "--log-level", log_level]
    if access_log:
        args += ["--access-logfile", "-"]
    return args
