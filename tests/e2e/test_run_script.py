"""``scripts/run`` as a person runs it, in a fresh clone of the repository: it starts the
emulator, the gateway and the worker, each writing to its own log; a payment made in the demo
shop is settled at the emulator by ``assist-ws settle``; Ctrl-C stops all three, and when one
of them dies the others are stopped and the script fails.

The clone is made with ``git clone`` of this checkout, and what is not committed yet (changed
tracked files, new files git does not ignore) is brought into it, so what is tested is this
working tree.  Instead of a
full install (a minute), the clone's environment (``ASSIST_VENV``) is a virtual environment of
the same Python that sees the running environment's packages through a ``.pth`` file and has
only the clone installed into it (``--no-deps -e``); the running environment's own install of
this checkout is checked to be untouched."""

from __future__ import annotations

import html
import importlib.metadata
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ..support import free_port, wait_http

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _own_install() -> tuple[str | None, str]:
    """How the running environment finds this checkout: its install record and the package
    an interpreter of it imports."""
    try:
        record = importlib.metadata.distribution("assist-ws").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - scripts/test installs
        record = None
    imported = subprocess.run([sys.executable, "-c", "import assist_ws; print(assist_ws.__file__)"],
                              cwd="/", capture_output=True, text=True, check=True).stdout
    return record, imported.strip()


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    dest = tmp_path_factory.mktemp("run-script") / "assist-ws"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True)
    changes = subprocess.run(["git", "-C", str(ROOT), "diff", "--binary", "HEAD"],
                             capture_output=True, check=True).stdout
    if changes:
        subprocess.run(["git", "-C", str(dest), "apply", "--whitespace=nowarn"], input=changes,
                       check=True)
    new_files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--others",
                                "--exclude-standard"], capture_output=True, check=True).stdout
    for name in filter(None, new_files.decode().split("\0")):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def venv(clone, tmp_path_factory) -> Path:
    """A virtual environment of the running Python with the clone installed in it, and the
    running environment's packages seen through a ``.pth`` file."""
    before = _own_install()
    path = tmp_path_factory.mktemp("run-script-venv") / "venv"
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True,
                          check=True).stdout.strip()
    running = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    # Plain lines: the running environment's own .pth files (its install of this checkout
    # among them) are not run in the new one.
    Path(site, "_running_env.pth").write_text("".join(p + "\n" for p in running))
    # --ignore-installed: pip sees the running environment's assist-ws and must not touch it.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                    "--ignore-installed", "--disable-pip-version-check", "-e", str(clone)],
                   cwd=str(path), check=True, capture_output=True)
    (path / ".assist-installed").touch()  # scripts/_venv.sh: installed, nothing to do
    assert _own_install() == before, "the running environment's install was changed"
    found = subprocess.run([str(python), "-c", "import assist_ws; print(assist_ws.__file__)"],
                           cwd="/", capture_output=True, text=True, check=True).stdout
    assert Path(found.strip()).is_relative_to(clone)
    return path


class Demo:
    """One ``scripts/run`` of the clone, on free ports, with its database, ledger and logs in
    its own directory."""

    def __init__(self, clone: Path, venv: Path, tmp: Path):
        self.clone, self.venv, self.tmp = clone, venv, tmp
        self.port, self.emulator_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.emulator_url = f"http://127.0.0.1:{self.emulator_port}"
        self.var = tmp / "var"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_")}
        env.update(ASSIST_PYTHON=BASE_PYTHON, ASSIST_VENV=str(venv),
                   ASSIST_PORT=str(self.port), ASSIST_EMULATOR_PORT=str(self.emulator_port),
                   ASSIST_VAR_DIR=str(self.var),
                   ASSIST_DATABASE_URL=f"sqlite:///{self.var}/assist.db",
                   ASSIST_EMULATOR_DATA=str(self.var / "emulator.db"),
                   ASSIST_WEB_WORKERS="1", ASSIST_WEB_THREADS="4")
        self.env = env
        self.out_path = tmp / "run.out"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Demo":
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen([str(self.clone / "scripts" / "run")], env=self.env,
                                         cwd=str(self.tmp), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        wait_http(self.emulator_url + "/ledger", self.proc, timeout=90)
        wait_http(self.url + "/health", self.proc, timeout=60)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for pid in session_processes(self.proc.pid):  # nothing may outlive a test
            os.kill(pid, signal.SIGKILL)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        """The processes the script says it started: name -> pid."""
        return {name: int(pid) for name, pid in
                re.findall(r"^\s+(emulator|gateway|worker)\s+\S+\.log\s+\(pid (\d+)\)",
                           self.output(), re.M)}

    def log(self, name: str) -> str:
        return (self.var / "log" / f"{name}.log").read_text(errors="replace")

    def wait_for_log(self, name: str, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(name):
            assert time.monotonic() < deadline, f"{text!r} not in the {name}'s log"
            time.sleep(0.2)

    def assist_ws(self, *args: str) -> str:
        done = subprocess.run([str(self.venv / "bin" / "assist-ws"), *args], env=self.env,
                              cwd=str(self.clone), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def wait_exit(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)


def session_processes(sid: int) -> list[int]:
    """The live processes of session ``sid`` (the script and all it started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2:].split()[:4]
        if int(session) == sid and state != "Z":
            found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def pay_in_demo_shop(demo: Demo) -> tuple[str, Decimal]:
    """Buy the first item of the demo shop in roubles with an approving card: (billnumber,
    amount)."""
    http = requests.Session()
    shop = http.get(demo.url + "/demo-shop?lang=EN&currency=RUB", timeout=30)
    assert shop.status_code == 200, shop.text
    form = re.search(r'<form class="product".*?</form>', shop.text, re.S).group(0)
    fields = {html.unescape(n): html.unescape(v) for n, v in
              re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', form)}
    ordered = http.post(demo.url + "/pay/order.cfm", data=fields, allow_redirects=False,
                        timeout=30)
    assert ordered.status_code == 303, ordered.text
    page_url = demo.url + ordered.headers["Location"]
    page = http.get(page_url, timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    sid = parse_qs(urlsplit(page_url).query)["CFSID"][0]
    paid = http.post(demo.url + "/pay/pay.cfm", allow_redirects=False, timeout=60, data={
        "CFSID": sid, "step": "card", "csrf": csrf, "CardNumber": "4111111111111111",
        "ExpireMonth": "12", "ExpireYear": "2030", "Cardholder": "TEST HOLDER", "CVC2": "123"})
    assert paid.status_code == 303, paid.text
    back = paid.headers["Location"]
    assert "/demo-shop/return/ok" in back, back
    bill = parse_qs(urlsplit(back).query)["billnumber"][0]
    return bill, Decimal(fields["OrderAmount"])


def rub_authorizations(demo: Demo) -> list[dict]:
    ledger = requests.get(demo.emulator_url + "/ledger", timeout=10).json()
    return ledger["centers"]["emulator-rub"]["authorizations"]


def test_the_demo_runs_pays_settles_and_stops_on_ctrl_c(clone, venv, tmp_path):
    with Demo(clone, venv, tmp_path) as demo:
        pids = demo.pids()
        assert set(pids) == {"emulator", "gateway", "worker"}, demo.output()
        assert "assist-ws emulator" in cmdline(pids["emulator"])
        assert "gunicorn" in cmdline(pids["gateway"])
        assert "assist-ws worker" in cmdline(pids["worker"])
        for name in pids:
            assert f"{demo.var}/log/{name}.log" in demo.output()
        demo.wait_for_log("worker", "worker started")
        demo.wait_for_log("emulator", "emulator on")

        bill, amount = pay_in_demo_shop(demo)
        assert "/pay/pay.cfm" in demo.log("gateway")  # the gateway's access log
        # The merchant cabinet it names shows the payment to the demo user.
        assert re.search(r"Merchant cabinet: +http://\S+/account/", demo.output())
        cabinet = requests.Session()
        form = cabinet.get(demo.url + "/account/login", timeout=30).text
        orders = cabinet.post(demo.url + "/account/login", timeout=60, data={
            "csrf": re.search(r'name="csrf" value="([^"]+)"', form).group(1),
            "merchant_id": "100001", "login": "demo_erp", "password": "DemoPass123"})
        assert orders.url.endswith("/account/orders") and bill in orders.text
        [held] = rub_authorizations(demo)
        assert Decimal(held["held"]) == amount and Decimal(held["settled"]) == 0

        said = demo.assist_ws("settle")
        assert "settled" in said
        [settled] = rub_authorizations(demo)
        assert Decimal(settled["settled"]) == amount and Decimal(settled["held"]) == 0, \
            f"order {bill} not settled: {settled}; assist-ws settle said {said}"

        demo.proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert demo.wait_exit() == 130
        assert session_processes(demo.proc.pid) == []
        assert "worker stopped" in demo.log("worker")  # it ended its own way, not killed
        with pytest.raises(requests.RequestException):
            requests.get(demo.url + "/health", timeout=2)


def test_when_one_process_dies_the_others_are_stopped_and_the_script_fails(clone, venv,
                                                                           tmp_path):
    with Demo(clone, venv, tmp_path) as demo:
        pids = demo.pids()
        demo.wait_for_log("worker", "worker started")
        os.kill(pids["worker"], signal.SIGKILL)
        assert demo.wait_exit() == 1
        assert session_processes(demo.proc.pid) == []
        out = demo.output()
        assert "the worker ended" in out and f"{demo.var}/log/worker.log" in out
        with pytest.raises(requests.RequestException):
            requests.get(demo.emulator_url + "/ledger", timeout=2)
