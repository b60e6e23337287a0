"""Settings, built from ``ASSIST_*`` environment variables (stdlib only).

Only ``bootstrap.py``, ``wsgi.py`` and ``cli.py`` read the environment; everything else receives
a ``Settings``.  Every variable, its default and meaning is listed in the README.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping


def _bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    #: Any SQLAlchemy URL; a plain ``postgresql://`` URL uses psycopg 3.
    database_url: str = "sqlite:///var/assist.db"
    #: Secret for keyed card fingerprints and page sessions.  Empty: one is made and kept in
    #: ``var/secret.key``.
    secret_key: str = ""
    #: Seconds to connect to a processing center, and to wait for its answer.
    processing_connect_timeout: float = 5.0
    processing_timeout: float = 20.0
    #: Seconds to wait for the answer to a settlement batch.
    settlement_timeout: float = 120.0
    #: Operations per settlement batch.
    settle_batch_size: int = 1000
    #: Seconds a sent transaction may wait for its answer before it is asked about.
    resolve_grace: float = 60.0
    #: The emulator's ledger file and how late it answers for card 4000 0000 0000 0119.
    emulator_data: str = "var/emulator.db"
    emulator_late_seconds: float = 25.0
    #: ``assist-ws serve``: gunicorn worker processes, and threads per process (each thread
    #: answers one request at a time, a payment waiting for its bank included).
    web_workers: int = 2
    web_threads: int = 32
    #: Database connections a process keeps open; beyond them up to ``web_threads`` more are
    #: opened while needed (so no thread waits for a connection).
    db_pool_size: int = 10
    #: Seconds a client has to send a whole request (headers and body); then it is closed.
    request_timeout: float = 10.0
    #: Seconds a client may take to accept each part of an answer; then it is closed.
    send_timeout: float = 30.0
    #: Addresses or networks of the proxies in front (``127.0.0.1,10.0.0.0/8``): only their
    #: ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are believed.
    trusted_proxies: str = ""
    #: Seconds between two rounds of the worker's jobs (``assist-ws worker``).
    worker_interval: float = 30.0
    #: Settlement batches one worker has in flight at once.
    settle_concurrency: int = 3
    #: Seconds a claimed settlement batch belongs to its worker; after that any worker sends
    #: it again (same ids) -- what a worker killed mid-batch leaves is picked up this way.
    settle_lease: float = 300.0
    #: Tries after which a transaction without an outcome is reported as unresolved.
    resolve_max_attempts: int = 8
    #: Tests and drills only: a file holding seconds to add to the system time.
    clock_offset_file: str = ""
    log_level: str = "INFO"
    #: ``text`` (one line per event, for people) or ``json`` (one JSON object per line, for
    #: log collectors), for every line of the server and the worker.
    log_format: str = "text"
    #: ``/metrics`` (and the details of ``/health`` and ``/ready``) answer requests from
    #: loopback; with a token set, also others that send ``Authorization: Bearer <token>``.
    metrics_token: str = ""
    #: Where the processes of one host write their metrics for ``/metrics`` to read
    #: (``PROMETHEUS_MULTIPROC_DIR``); empty: ``<var_dir>/metrics``.
    metrics_dir: str = ""
    #: Seconds a verified web-service login is remembered (0: check the password every time).
    auth_cache_seconds: float = 60.0
    #: Minutes without a request after which a merchant cabinet session ends.
    account_idle_minutes: float = 30.0
    var_dir: str = "var"
    #: The gateway's address as buyers and shops reach it (``https://pay.example.com``), for
    #: every URL the server hands out (``payrequest.cfm``'s payment page URL, the WSDLs'
    #: addresses); empty: taken from each request.
    public_url: str = ""
    #: Serve the demo shop at ``/demo-shop`` (``scripts/run`` turns it on).
    demo_shop: bool = False
    extra: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    #: Result notifications to merchants: seconds to connect and for a whole try, hours to
    #: keep trying, the ports a notification URL may use (``*``: any), whether it may lead
    #: to loopback, private or link-local addresses (tests, private networks), the reply
    #: size cap, how many notifications one worker pass takes and how many it sends at once.
    notify_connect_timeout: float = 5.0
    notify_timeout: float = 10.0
    notify_retry_hours: float = 72.0
    notify_ports: str = "80,443,8080,8443"
    notify_allow_private: bool = False
    notify_max_reply_bytes: int = 65536
    notify_batch_size: int = 20
    notify_concurrency: int = 4

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            key = "ASSIST_" + f.name.upper()
            if key in env and env[key] != "":
                raw = env[key]
                kind: Callable[[str], Any] = type(f.default)
                try:
                    values[f.name] = _bool(raw) if kind is bool else kind(raw)
                except ValueError:
                    raise ValueError(f"{key}={raw!r} is not a valid {kind.__name__}") from None
        return cls(**values)

    def metrics_directory(self) -> str:
        return self.metrics_dir or os.path.join(self.var_dir, "metrics")

    def secret(self) -> bytes:
        if self.secret_key:
            return self.secret_key.encode()
        path = os.path.join(self.var_dir, "secret.key")
        os.makedirs(self.var_dir, exist_ok=True)
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(os.urandom(32).hex())
        with open(path) as fh:
            return fh.read().strip().encode()
