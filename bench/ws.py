"""``scripts/bench ws``: throughput and latency of the merchant web services under gunicorn
as ``assist-ws serve`` runs it (2 threaded workers by default), against the bare Spyne echo
service (``bench/echo.py``) under the same settings and load, on SQLite and PostgreSQL.

Three loads, one after the other, each on its own freshly started server:

* ``echo``         SOAP call of the bare Spyne service (one method, a 15-field reply);
* ``soap``         ``orderstate`` over SOAP (authentication, a query, the Spyne reply);
* ``post-xml``     ``orderstate`` as a form POST with ``Format=3``.

The load tool is wrk (Debian package ``wrk``: ``apt-get install wrk``) when installed, else a
light Python client in separate processes (its own CPU, on the same CPUs as the servers, narrows
the gaps a little: the figures of record are wrk's).  Besides requests per second and latency, the workers' CPU time per
request is shown (from ``/proc``): on a shared machine it is the steadier comparison.  On
PostgreSQL the database server's own CPU is not in it.  Goals: SOAP orderstate >= 0.6x the echo's requests per second, POST
Format=3 >= 1.2x, p99 <= 2x the echo's.

Options: ``--seconds N`` per load and round (default 5), ``--rounds N`` (default 3; the
median round is reported), ``--connections N`` (default 4), ``--workers N`` (default 2),
``--backend sqlite|postgresql|both`` (default both).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing import Pool
from urllib.parse import urlencode, urlsplit

import requests

from .common import Gunicorn, percentiles

MERCHANT, LOGIN, PASSWORD = 700001, "bench_erp", "BenchPass123"
ORDER = "BENCH-ORDER-1"
NS = "http://www.paysecure.ru/ws/"
PG_URL = os.environ.get("ASSIST_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


def _envelope(inner: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            f'"http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="{NS}"><soapenv:Body>'
            f"{inner}</soapenv:Body></soapenv:Envelope>")


CREDS = (f"<ws:merchant_id>{MERCHANT}</ws:merchant_id><ws:login>{LOGIN}</ws:login>"
         f"<ws:password>{PASSWORD}</ws:password>")
ECHO_BODY = _envelope(f"<ws:echo><ws:ordernumber>{ORDER}</ws:ordernumber>{CREDS}</ws:echo>")
SOAP_BODY = _envelope(f"<ws:orderstate><ws:ordernumber>{ORDER}</ws:ordernumber>{CREDS}"
                      f"</ws:orderstate>")
FORM_BODY = urlencode({"Ordernumber": ORDER, "Merchant_ID": MERCHANT, "Login": LOGIN,
                       "Password": PASSWORD, "Format": "3"})
XML_TYPE = "text/xml; charset=utf-8"
FORM_TYPE = "application/x-www-form-urlencoded"


# -- databases -----------------------------------------------------------------------------------
def prepare(url: str, var_dir: str, orders: int = 300) -> None:
    """Migrate, and add a merchant, a user with the monitor right and some orders (a few of
    them for the order number the load asks for)."""
    from assist_ws.bootstrap import build
    from assist_ws.config import Settings
    from assist_ws.db.migrate import upgrade
    from assist_ws.domain.model import Right
    from assist_ws.services import admin
    from assist_ws.services.orders import AuthorizationRequest, create_order

    upgrade(url)
    c = build(Settings(database_url=url, secret_key="bench", var_dir=var_dir))
    try:
        admin.save_merchant(c.uow, MERCHANT, admin.MerchantSettings(
            name="Bench shop", currencies=("RUB",), secret_word="bench-secret"), create=True)
        admin.add_user(c.uow, MERCHANT, LOGIN, PASSWORD, [Right.MONITOR])
        for i in range(orders):
            number = ORDER if i % 100 == 0 else f"BENCH-{i}"
            create_order(c.uow, c.clock, AuthorizationRequest(str(MERCHANT), number,
                                                              f"{100 + i}.00", "RUB"))
    finally:
        c.close()


def create_pg(admin_url: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url
    name = "assist_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def drop_pg(admin_url: str, name: str) -> None:
    import psycopg
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- load ----------------------------------------------------------------------------------------
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk_threads(connections: int) -> int:
    """wrk's threads: one per CPU (at most one per connection).  With a single thread, on a
    machine whose CPUs the servers keep busy, wrk answers its connections late -- a sync
    worker waits for the client's close after each answer -- and the faster a server, the
    more of its time goes to that wait: one thread narrowed the gap between the gateway and
    the echo (PostgreSQL, POST ``Format=3``: 1.14x the echo with one thread, 1.25x with two,
    the echo itself the same)."""
    return max(1, min(os.cpu_count() or 1, connections))


def _wrk(url: str, body: str, ctype: str, seconds: int, connections: int) -> dict:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    quoted = body.replace("\\", "\\\\").replace('"', '\\"')
    script.write(f'wrk.method = "POST"\nwrk.body = "{quoted}"\n'
                 f'wrk.headers["Content-Type"] = "{ctype}"\n')
    script.close()
    try:
        out = subprocess.run(["wrk", f"-t{wrk_threads(connections)}", f"-c{connections}",
                              f"-d{seconds}s", "--latency",
                              "-s", script.name, url], capture_output=True, text=True,
                             check=True).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        lat[pct] = float(m.group(1)) * _UNITS[m.group(2)]
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"], "requests": total,
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else ""}


def _client(args) -> list[float]:
    """One connection's load without wrk: the light client of ``bench pay`` (``Browser``: a
    connection per request, as wrk makes one after each ``Connection: close``), whose own
    CPU -- on the same two CPUs as the servers -- is a small part of a request's."""
    from .pay import Browser
    url, body, ctype, deadline = args
    parts = urlsplit(url)
    http, path, data = Browser(f"{parts.scheme}://{parts.netloc}"), parts.path or "/", body.encode()
    samples = []
    while time.time() < deadline:
        t = time.perf_counter()
        status, _location, _answer = http.request("POST", path, data, ctype)
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def _python_load(url: str, body: str, ctype: str, seconds: int, connections: int) -> dict:
    deadline = time.time() + seconds
    with Pool(connections) as pool:
        results = pool.map(_client, [(url, body, ctype, deadline)] * connections)
    samples = [s for r in results for s in r]
    p50, p99 = percentiles(samples, 50, 99)
    return {"rps": len(samples) / seconds, "p50": p50, "p99": p99, "non2xx": 0,
            "requests": len(samples),
            "socket_errors": ""}


def warm_up(url: str, body: str, ctype: str, connections: int) -> None:
    """Check the answer is a success, then warm the workers (imports, caches, pools)."""
    r = requests.post(url, data=body.encode(), headers={"Content-Type": ctype}, timeout=30)
    if r.status_code != 200 or (b"<result" in r.content and b'firstcode="0"' not in r.content):
        raise RuntimeError(f"{url} answered {r.status_code}: {r.text[:300]}")
    load(url, body, ctype, 2, connections)


def cpu_seconds(master_pid: int) -> float:
    """User + system CPU time of a gunicorn master's workers so far."""
    total = 0
    try:
        with open(f"/proc/{master_pid}/task/{master_pid}/children") as fh:
            pids = [int(p) for p in fh.read().split()]
    except OSError:
        return 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def load(url: str, body: str, ctype: str, seconds: int, connections: int,
         master_pid: int | None = None) -> dict:
    """The load's figures; with ``master_pid``, also the workers' CPU time per request, which
    other processes on a shared machine disturb much less than requests per second."""
    runner = _wrk if shutil.which("wrk") else _python_load
    before = cpu_seconds(master_pid) if master_pid else 0.0
    result = runner(url, body, ctype, seconds, connections)
    if master_pid:
        used = cpu_seconds(master_pid) - before
        result["cpu_ms"] = used * 1000 / max(1, result["requests"])
    return result


def run_backend(name: str, url: str, var_dir: str, a) -> dict:
    """Both servers run side by side, idle but for the load on one of them; the loads take
    turns in ``--rounds`` rounds (this machine is shared: turns spread its noise evenly) and
    each figure is the round with the median requests per second."""
    env = {"ASSIST_DATABASE_URL": url, "ASSIST_SECRET_KEY": "bench", "ASSIST_VAR_DIR": var_dir,
           "ASSIST_LOG_LEVEL": "WARNING"}
    runs: dict[str, list[dict]] = {"echo": [], "soap": [], "post-xml": []}
    with Gunicorn("bench.echo:app", workers=a.workers, env=env) as echo, \
            Gunicorn("assist_ws.wsgi:app", workers=a.workers, env=env,
                     health_path="/health") as gw:
        target = gw.url + "/orderstate/orderstate.cfm"
        loads = {"echo": (echo.url + "/", ECHO_BODY, XML_TYPE, echo.proc.pid),
                 "soap": (target, SOAP_BODY, XML_TYPE, gw.proc.pid),
                 "post-xml": (target, FORM_BODY, FORM_TYPE, gw.proc.pid)}
        for key, (u, body, ctype, _pid) in loads.items():
            warm_up(u, body, ctype, a.connections)
        for _ in range(a.rounds):
            for key, (u, body, ctype, pid) in loads.items():
                runs[key].append(load(u, body, ctype, a.seconds, a.connections, pid))
    out = {k: sorted(v, key=lambda r: r["rps"])[len(v) // 2] for k, v in runs.items()}
    for k, v in runs.items():
        out[k] = dict(out[k], cpu_ms=sorted(r["cpu_ms"] for r in v)[len(v) // 2])
    return out


def report(name: str, results: dict) -> None:
    echo = results["echo"]
    pad = " " * (len(name) + 1)
    print(f"\n{name}: {'load':10s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s} "
          f"{'CPU ms/req':>10s}  vs echo")
    for key in ("echo", "soap", "post-xml"):
        r = results[key]
        extra = f"  non-2xx {r['non2xx']}" if r["non2xx"] else ""
        print(f"{pad} {key:10s} {r['rps']:7.0f} {r['p50']:7.2f} {r['p99']:7.2f} "
              f"{r['cpu_ms']:10.2f}  {r['rps'] / echo['rps']:4.2f}x req/s, "
              f"{r['p99'] / echo['p99']:4.2f}x p99, {echo['cpu_ms'] / r['cpu_ms']:4.2f}x by "
              f"CPU{extra}")
    soap, post = results["soap"], results["post-xml"]
    print(f"{pad} goals: soap >= 0.60x ({soap['rps'] / echo['rps']:.2f} req/s, "
          f"{echo['cpu_ms'] / soap['cpu_ms']:.2f} by CPU), post-xml >= 1.20x "
          f"({post['rps'] / echo['rps']:.2f}, {echo['cpu_ms'] / post['cpu_ms']:.2f} by CPU), "
          f"p99 <= 2x ({max(soap['p99'], post['p99']) / echo['p99']:.2f})")


def main() -> None:
    p = argparse.ArgumentParser(prog=sys.argv[0])
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    a = p.parse_args(sys.argv[1:])
    tool = f"wrk ({wrk_threads(a.connections)} threads)" if shutil.which("wrk") else \
        "python clients (apt-get install wrk for the figures of record)"
    print(f"load tool: {tool}; gunicorn threaded "
          f"workers: {a.workers}; {a.connections} connections; {a.rounds} rounds of "
          f"{a.seconds} s per load, median shown; load average {os.getloadavg()[0]:.1f}")
    tmp = tempfile.mkdtemp(prefix="assist-bench-")
    try:
        if a.backend in ("sqlite", "both"):
            url = f"sqlite:///{tmp}/bench.db"
            prepare(url, tmp)
            report("sqlite", run_backend("sqlite", url, tmp, a))
        if a.backend in ("postgresql", "both"):
            url, name = create_pg(PG_URL)
            try:
                prepare(url, tmp)
                report("postgresql", run_backend("postgresql", url, tmp, a))
            finally:
                drop_pg(PG_URL, name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
