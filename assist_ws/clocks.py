"""Clocks for the ``Clock`` port beyond the system clock.

``OffsetFileClock`` is the system time plus an offset read from a file (seconds, may be
negative or fractional; a missing or empty file means no offset).  It exists so that tests and
drills can move the time of processes they start -- a worker, the server -- by writing one
file: hold expiry, buyer timeouts and cut-offs then happen without waiting for them.  Set
``ASSIST_CLOCK_OFFSET_FILE`` to use it; never in production.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone


class OffsetFileClock:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._offset = timedelta()

    def offset(self) -> timedelta:
        """The offset in the file now (re-read only when the file changes)."""
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            return timedelta()
        with self._lock:
            if stamp != self._stamp:
                with open(self.path) as fh:
                    text = fh.read().strip()
                try:
                    self._offset = timedelta(seconds=float(text or 0))
                except ValueError:
                    raise ValueError(f"clock offset file {self.path}: {text!r} is not a "
                                     f"number of seconds") from None
                self._stamp = stamp
            return self._offset

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset()

    @staticmethod
    def write(path: str, offset: timedelta) -> None:
        """Set the offset (atomically, so a reader never sees half a number)."""
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{offset.total_seconds():.6f}\n")
        os.replace(tmp, path)
