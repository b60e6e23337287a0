"""``scripts/bench pay``: complete card payments per second through the hosted pages.

One payment = ``POST /pay/order.cfm`` (a signed authorization request: the order is written)
-> ``GET`` the card form (its CSRF token) -> ``POST`` the card (the pay operation written,
the authorization at the emulator over SOAP, its answer written) -> the 303 back to the
shop's ``URL_RETURN_OK``.  The gateway runs under gunicorn as ``assist-ws serve`` runs it
(threaded workers, without the access log); the emulator in its own process; the client in a
second process with several threads.  The same run measures the bare Spyne echo service
(``bench/echo.py``) under the same gunicorn settings and the same client, for scale; the
measurements alternate.  Goal: payments per second >= 0.15 x the echo's requests per second.

The client does per request what a browser does and little else (``Browser``), the same for
the echo and the payments: on a machine of two CPUs its own CPU competes with the servers',
and a heavier client would narrow the gap between the two (``--client requests`` runs the
client this benchmark had before, for comparison).  Besides the rates, the CPU per echo
request and per payment of every process (from ``/proc``; on PostgreSQL its backends too):
on a shared machine the steadier figures.

Options: ``--seconds N`` per measurement (default 15), ``--rounds N`` alternating echo and
payment measurements (default 3; the median ratio counts), ``--clients N`` concurrent clients
(default 4), ``--workers N`` gunicorn workers (default 2), ``--sqlite`` to use SQLite even when
PostgreSQL answers (``ASSIST_BENCH_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``), ``--client light|requests``,
``--history N`` paid orders in the database before the run (default 20,000; see ``_seed``).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import subprocess
import tempfile
import threading
import time
import uuid
from urllib.parse import urlencode, urlsplit

import requests

from bench.common import EmulatorProcess, Gunicorn, percentiles

MERCHANT = 100001
SECRET = "bench-secret"
PG_URL = os.environ.get("ASSIST_BENCH_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/postgres")

ECHO_BODY = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:ws="http://www.paysecure.ru/ws/"><soapenv:Body><ws:echo>'
    '<ws:ordernumber>100</ws:ordernumber><ws:merchant_id>100001</ws:merchant_id>'
    '<ws:login>bench_user</ws:login><ws:password>BenchPass123</ws:password>'
    '</ws:echo></soapenv:Body></soapenv:Envelope>')


# -- the client (its own process) ---------------------------------------------------------
class Browser:
    """The client's side of one HTTP request, as little as a browser does: one connection
    per request, the answer read whole, nothing else.  Echo and payments use it alike, so
    that the client's own CPU -- which shares the machine with the servers -- weighs on
    both the same per request.
    (``requests`` spent up to 1.5 ms per request reading the proxy environment and, for a
    303, preparing the redirect it was told not to follow: a payment's client cost five
    echo requests' worth.)"""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None, **headers: str):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            if content_type:
                headers["Content-Type"] = content_type
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Location"), resp.read()
        finally:
            conn.close()


class RequestsBrowser(Browser):
    """The client this benchmark had before (``requests``), kept for comparisons."""

    def __init__(self, base: str):
        self.base, self.session = base, requests.Session()

    def request(self, method, path, body=None, content_type=None, **headers):
        if content_type:
            headers["Content-Type"] = content_type
        resp = self.session.request(method, self.base + path, data=body, headers=headers,
                                    allow_redirects=False, timeout=30)
        return resp.status_code, resp.headers.get("Location"), resp.content


BROWSERS = {"light": Browser, "requests": RequestsBrowser}
FORM = "application/x-www-form-urlencoded"
_CSRF = re.compile(rb'name="csrf" value="([^"]+)"')
_SID = re.compile(rb'name="CFSID" value="([^"]+)"')


def _checkvalue(fields: dict) -> str:
    from assist_ws.domain.checkvalue import checkvalue
    return checkvalue(SECRET, ";".join(fields[k] for k in (
        "Merchant_ID", "OrderNumber", "OrderAmount", "OrderCurrency")))


def _one_payment(http: Browser) -> None:
    fields = {"Merchant_ID": str(MERCHANT), "OrderNumber": "B-" + uuid.uuid4().hex[:12],
              "OrderAmount": "100.00", "OrderCurrency": "RUB",
              "URL_RETURN_OK": "http://shop.invalid/ok", "URL_RETURN_NO": "http://shop.invalid/no"}
    fields["Checkvalue"] = _checkvalue(fields)
    status, location, _ = http.request("POST", "/pay/order.cfm", urlencode(fields).encode(),
                                       FORM)
    if status != 303:
        raise RuntimeError(f"order.cfm answered {status}")
    status, _, page = http.request("GET", location)
    if status != 200:
        raise RuntimeError(f"the card form answered {status}")
    csrf, sid = _CSRF.search(page).group(1).decode(), _SID.search(page).group(1).decode()
    status, location, _ = http.request("POST", "/pay/pay.cfm", urlencode({
        "CFSID": sid, "step": "card", "csrf": csrf, "CardNumber": "4111111111111111",
        "ExpireMonth": "12", "ExpireYear": "2030", "Cardholder": "BENCH USER",
        "CVC2": "123"}).encode(), FORM)
    if status != 303 or not (location or "").startswith("http://shop.invalid/ok?billnumber="):
        raise RuntimeError(f"payment answered {status} {location}")


def _one_echo(http: Browser) -> None:
    status, _, body = http.request("POST", "/", ECHO_BODY.encode(), "text/xml; charset=utf-8",
                                   SOAPAction='"echo"')
    if status != 200 or b"5775486650107611" not in body:
        raise RuntimeError(f"echo answered {status}")


def _drive(kind: str, base: str, clients: int, seconds: float, warmup: float, out,
           browser: str = "light") -> None:
    """Run ``clients`` threads doing ``kind`` for ``warmup + seconds``; report what finished
    inside the measured window."""
    step = _one_payment if kind == "pay" else _one_echo
    start = time.monotonic()
    window = (start + warmup, start + warmup + seconds)
    lock = threading.Lock()
    done: list[float] = []
    errors: list[str] = []

    total = [0]

    def counted():
        http = BROWSERS[browser](base)
        while time.monotonic() < window[1]:
            t0 = time.monotonic()
            try:
                step(http)
            except Exception as exc:  # noqa: BLE001 - counted and shown
                with lock:
                    errors.append(repr(exc)[:200])
                continue
            t1 = time.monotonic()
            with lock:
                total[0] += 1
                if window[0] <= t1 <= window[1]:
                    done.append(t1 - t0)

    cpu0 = time.process_time()
    threads = [threading.Thread(target=counted) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"count": len(done), "latencies": done, "errors": errors[:5],
             "error_count": len(errors), "total": total[0],
             "client_cpu": time.process_time() - cpu0})


def measure(kind: str, base: str, clients: int, seconds: float, warmup: float = 2.0,
            servers: dict | None = None, browser: str = "light") -> dict:
    """Run the client process; ``servers`` (name -> callable giving pids) are charged the CPU
    they spent meanwhile, per completed operation."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    before = {name: _cpu(pids()) for name, pids in (servers or {}).items()}
    proc = ctx.Process(target=_drive, args=(kind, base, clients, seconds, warmup, out, browser))
    proc.start()
    result = out.get(timeout=seconds + warmup + 120)
    proc.join()
    result["rate"] = result["count"] / seconds
    ops = max(result["total"], 1)
    result["cpu_ms"] = {}
    for name, pids in (servers or {}).items():
        after = _cpu(pids(), before[name])
        spent = sum(after[p] - before[name].get(p, 0.0) for p in after)
        result["cpu_ms"][name] = 1000 * spent / ops
    result["cpu_ms"]["client"] = 1000 * result["client_cpu"] / ops
    return result


_HZ = os.sysconf("SC_CLK_TCK")


def _cpu(pids: list[int], known: dict[int, float] | None = None) -> dict[int, float]:
    """CPU seconds (user + system) of each process; those seen before keep their count if
    they have gone since."""
    found = dict(known or {})
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / _HZ
        except (OSError, IndexError, ValueError):
            pass
    return found


def _cpu_sum(found: dict[int, float]) -> float:
    return sum(found.values())


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [pid] + [int(p) for p in out.split()]


def _pg_backends(database: str | None) -> list[int]:
    if not database:
        return []
    import psycopg
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))]


# -- the servers --------------------------------------------------------------------------
def _database(tmp: str, sqlite: bool) -> tuple[str, str | None]:
    if not sqlite:
        try:
            import psycopg
            from sqlalchemy.engine import make_url
            name = "assist_bench_" + uuid.uuid4().hex[:8]
            with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return make_url(PG_URL).set(database=name).render_as_string(
                hide_password=False), name
        except Exception as exc:  # noqa: BLE001 - fall back, and say so
            print(f"PostgreSQL not available ({type(exc).__name__}); using SQLite")
    return f"sqlite:///{tmp}/assist.db", None


def _drop(name: str | None) -> None:
    if name:
        import psycopg
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(url: str, emulator_url: str, history: int = 0) -> None:
    """The merchant and its centers; and ``history`` paid orders of a month ago, with the
    planner's statistics taken: a gateway in service, not a new database (whose tables,
    tiny when the first statements are prepared, would get plans for tiny tables)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text

    from assist_ws.bootstrap import build
    from assist_ws.config import Settings
    from assist_ws.db.migrate import upgrade
    from assist_ws.services import admin

    from bench._due import new_prefix, seed_due_payments
    upgrade(url)
    container = build(Settings(database_url=url, secret_key="bench"))
    for name, cur, partial, days in admin.DEMO_CENTERS:
        admin.add_center(container.uow, name, f"{emulator_url}/{name}?wsdl", cur,
                         partial_reversal=partial, hold_days=days)
    admin.save_merchant(container.uow, MERCHANT, admin.MerchantSettings(
        name="Bench shop", currencies=("RUB",), secret_word=SECRET, check_order_code=True,
        processing=(("RUB", "emulator-rub"),)), create=True)
    if history:
        engine = container.uow.engine
        seed_due_payments(engine, history, prefix=new_prefix(), merchant_id=MERCHANT,
                          center="emulator-rub",
                          approved_at=datetime.now(timezone.utc) - timedelta(days=30))
        if engine.dialect.name == "sqlite":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
    container.close()


def _count_approved(url: str) -> int:
    from sqlalchemy import func, select

    from assist_ws.bootstrap import build
    from assist_ws.config import Settings
    from assist_ws.domain.model import Order
    container = build(Settings(database_url=url, secret_key="bench"))
    with container.uow.reader() as uow:
        n = uow.session.scalar(select(func.count()).select_from(Order).where(
            Order.state == "Approved", Order.order_number.like("B-%")))
    container.close()
    return n


def _median_cpu(results: list[dict]) -> dict[str, float]:
    names = results[0]["cpu_ms"].keys()
    return {n: sorted(r["cpu_ms"][n] for r in results)[len(results) // 2] for n in names}


def _show(name: str, result: dict, unit: str) -> None:
    p50, p95, p99 = (x * 1000 for x in percentiles(result["latencies"], 50, 95, 99))
    print(f"  {name:<26} {result['rate']:8.1f} {unit}/s   latency p50 {p50:6.1f} ms  "
          f"p95 {p95:6.1f} ms  p99 {p99:6.1f} ms   errors {result['error_count']}")
    for e in result["errors"]:
        print(f"      {e}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench pay", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--client", choices=sorted(BROWSERS), default="light")
    parser.add_argument("--history", type=int, default=20_000,
                        help="paid orders in the database before the run (default 20000)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="assist-bench-pay-")
    url, pg_name = _database(tmp, args.sqlite)
    try:
        with EmulatorProcess(f"{tmp}/emulator.db") as emulator:
            emulator_url = emulator.url
            _seed(url, emulator_url, args.history)
            backend = "PostgreSQL" if pg_name else "SQLite"
            print(f"pay: {args.clients} clients ({args.client}) in a second process, gunicorn "
                  f"{args.workers} threaded "
                  f"workers, {backend} with {args.history} paid orders before the run, emulator "
                  f"in its own process, {args.rounds} rounds of "
                  f"{args.seconds:.0f} s each, {os.cpu_count()} CPUs, load average "
                  f"{os.getloadavg()[0]:.1f}")
            env = {"ASSIST_DATABASE_URL": url, "ASSIST_SECRET_KEY": "bench",
                   "ASSIST_VAR_DIR": tmp, "ASSIST_LOG_LEVEL": "WARNING"}
            # Both servers stay up; the measurements alternate, so that a machine whose load
            # changes meanwhile weighs on both alike.
            with Gunicorn("bench.echo:app", workers=args.workers) as echo, \
                    Gunicorn("assist_ws.wsgi:app", workers=args.workers, env=env,
                             health_path="/health") as gateway:
                rounds = []
                echo_servers = {"server": lambda: _children(echo.proc.pid)}
                pay_servers = {"gateway": lambda: _children(gateway.proc.pid),
                               "emulator": lambda: [emulator.pid],
                               "database": lambda: _pg_backends(pg_name)}
                for n in range(args.rounds):
                    echo_result = measure("echo", echo.url, args.clients, args.seconds,
                                          servers=echo_servers, browser=args.client)
                    pay_result = measure("pay", gateway.url, args.clients, args.seconds,
                                         servers=pay_servers, browser=args.client)
                    rounds.append((echo_result, pay_result))
                    print(f"round {n + 1}:")
                    _show("bare Spyne echo", echo_result, "req")
                    _show("complete payments", pay_result, "pay")
                rss = gateway.rss_mb()
            ratios = sorted(p["rate"] / e["rate"] for e, p in rounds if e["rate"])
            ratio = ratios[len(ratios) // 2] if ratios else 0.0
            print(f"  ratio payments / echo (median of {len(ratios)} rounds) {ratio:.3f}   "
                  f"(goal >= 0.15: {'met' if ratio >= 0.15 else 'NOT met'})")
            # Where the CPU goes, per operation (the median round): independent of how busy the
            # machine is, and what the ratio would be on an idle machine where CPU is the limit.
            e_cpu = _median_cpu([e for e, _ in rounds])
            p_cpu = _median_cpu([p for _, p in rounds])
            print("  CPU per echo request:  " + ", ".join(f"{k} {v:.1f} ms" for k, v in
                                                         e_cpu.items())
                  + f" (total {sum(e_cpu.values()):.1f} ms)")
            print("  CPU per payment:       " + ", ".join(f"{k} {v:.1f} ms" for k, v in
                                                         p_cpu.items())
                  + f" (total {sum(p_cpu.values()):.1f} ms)")
            if sum(p_cpu.values()):
                servers = sum(v for k, v in p_cpu.items() if k != "client")
                print(f"  CPU-bound ratio estimate (echo CPU / payment CPU) "
                      f"{sum(e_cpu.values()) / sum(p_cpu.values()):.3f}; servers only "
                      f"{e_cpu['server'] / servers:.3f}" if servers else "")
            approved = _count_approved(url)
            held = emulator.ledger()["centers"]["emulator-rub"]["held"]
            print(f"  gateway memory (master + workers) {rss:.0f} MB; orders Approved {approved}, "
                  f"held at the emulator {held} RUB")
    finally:
        _drop(pg_name)
