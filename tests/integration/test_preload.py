"""The server as ``assist-ws serve`` runs it: the application preloaded in gunicorn's master
and forked into the workers (``gunicorn_config``).  A forked process never uses a connection
of its parent (``db.fork.after_fork``); the master opens none; each worker opens its own, and
a worker started later by the master (after one died) answers as well."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from lxml import etree

from assist_ws.db.fork import after_fork

from ..support import Serve
from .conftest import MERCHANT
from .ws.conftest import PASSWORD, paid_order

SOAP_NS = "http://www.paysecure.ru/ws/"


def test_a_forked_process_opens_its_own_connections(gw, dialect):
    with gw.uow.queries() as q:  # the parent keeps a connection (this is its main thread)
        parent = q._conn
        parent_pid = _backend_pid(parent, dialect)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report, never return into pytest
        status = 1
        try:
            after_fork()
            with gw.uow.queries() as q:
                own = q._conn is not parent
                found = q.users.login_record(MERCHANT, "erp_user") is not None
                pid = _backend_pid(q._conn, dialect)
            with gw.uow.reader() as uow:  # the pool's connections are its own too
                uow.users.get(MERCHANT, "erp_user")
            os.write(write, f"{own} {found} {pid}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    _, status = os.waitpid(child, 0)
    report = os.read(read, 200).decode().split()
    os.close(read)
    assert status == 0 and report[:2] == ["True", "True"]
    if dialect == "postgresql":
        assert report[2] != str(parent_pid)  # another server session
    with gw.uow.queries() as q:  # the parent's connection is untouched and still works
        assert q._conn is parent
        assert q.users.login_record(MERCHANT, "erp_user") is not None
        assert _backend_pid(q._conn, dialect) == parent_pid


def _backend_pid(conn, dialect) -> int | None:
    if dialect != "postgresql":
        return None
    return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _order_state(url: str, number: str, bill: str, soap: bool) -> None:
    creds = {"Merchant_ID": str(MERCHANT), "Login": "erp_user", "Password": PASSWORD}
    if soap:
        body = (f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                f'xmlns:ws="{SOAP_NS}"><soapenv:Body><ws:orderstate>'
                f"<ws:ordernumber>{number}</ws:ordernumber><ws:merchant_id>{MERCHANT}"
                f"</ws:merchant_id><ws:login>erp_user</ws:login><ws:password>{PASSWORD}"
                f"</ws:password></ws:orderstate></soapenv:Body></soapenv:Envelope>")
        r = requests.post(url + "/orderstate/orderstate.cfm", data=body.encode(), timeout=30,
                          headers={"Content-Type": "text/xml; charset=utf-8"})
        found = etree.fromstring(r.content).findtext(f".//{{{SOAP_NS}}}billnumber")
    else:
        r = requests.post(url + "/orderstate/orderstate.cfm", timeout=30,
                          data=dict(creds, Ordernumber=number, Format="3"))
        found = etree.fromstring(r.content).findtext("order/billnumber")
    assert r.status_code == 200 and found == bill, r.text


def _database_handles(pid: int, dialect: str, db: str) -> set[str]:
    """What the process has open of the database: its sockets to PostgreSQL (by inode) or the
    SQLite file (its path)."""
    handles = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    targets = []
    for fd in fd_dir.iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:
            pass
    if dialect == "sqlite":
        return {t for t in targets if t.startswith(db)}
    sockets = {t[len("socket:["):-1] for t in targets if t.startswith("socket:[")}
    port = f"{urlsplit(db).port or 5432:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[2].rsplit(":", 1)[1] == port and fields[9] in sockets:
                handles.add(fields[9])
    return handles


@pytest.mark.slow
def test_serve_preloads_and_each_worker_connects_itself(gw, backend, tmp_path):
    container, _, dialect = backend
    url = container.settings.database_url
    db = url.split("///", 1)[1] if dialect == "sqlite" else url
    if dialect == "postgresql" and not urlsplit(url).hostname:
        pytest.skip("the connections are seen over TCP only")
    number, bill = paid_order(gw, "31.00")
    with Serve(url, str(tmp_path)) as server:
        master = server.proc.pid
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda i: _order_state(server.url, number, bill, i % 2 == 0),
                          range(60)))
        workers = server.workers()
        assert len(workers) == 2
        assert _database_handles(master, dialect, db) == set()  # the master never connects
        held = [_database_handles(w, dialect, db) for w in workers]
        assert any(held)
        if dialect == "postgresql":
            assert not (held[0] & held[1])  # no connection shared by two workers
        # A worker that dies is replaced by a new fork of the master, which answers too.
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = server.workers()
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the master did not replace the worker")
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda i: _order_state(server.url, number, bill, i % 2 == 1),
                          range(40)))
        assert _database_handles(master, dialect, db) == set()
