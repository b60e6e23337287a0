"""The command line, run as a user runs it: clear messages and non-zero exits on bad input,
never a traceback; the demo is idempotent.  The commands run in this process through click's
runner (the same ``main``, arguments, environment, output and exit status: a process each
would cost seconds of start-up); ``program`` runs ``python -m assist_ws.cli`` itself."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from assist_ws.cli import main


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _env(tmp_path) -> dict[str, str | None]:
    return {"ASSIST_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
            "ASSIST_VAR_DIR": str(tmp_path), "ASSIST_DEBUG": None}


def _check(proc, ok: bool):
    assert "Traceback" not in proc.stderr, proc.stderr
    if ok:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0, proc.stdout
    return proc


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(main, list(args), env=_env(tmp_path), prog_name="assist-ws")
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.exc_info
        return _check(Ran(result.exit_code, result.stdout, result.stderr), ok)
    return run


@pytest.fixture
def program(tmp_path):
    env = dict(os.environ, **{k: v for k, v in _env(tmp_path).items() if v is not None})
    env.pop("ASSIST_DEBUG", None)

    def run(*args, ok=True):
        proc = subprocess.run([sys.executable, "-m", "assist_ws.cli", *args], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        return _check(proc, ok)
    return run


def test_setup_commands(cli):
    cli("db", "upgrade")
    cli("processing", "add", "--name", "bank-rub", "--url", "http://127.0.0.1:9/bank?wsdl",
        "--currency", "RUB", "--hold-days", "7")
    cli("processing", "add", "--name", "bank-usd", "--url", "http://127.0.0.1:9/usd?wsdl",
        "--currency", "USD", "--no-partial-reversal", "--hold-days", "5")
    out = cli("merchant", "add", "--id", "777", "--name", "Shop", "--currency", "RUB",
              "--currency", "USD", "--two-stage", "--secret-word", "w", "--check-order-code",
              "--processing", "RUB=bank-rub", "--processing", "USD=bank-usd",
              "--timeout", "15").stdout
    assert "RUB, USD" in out
    cli("user", "add", "--merchant", "777", "--login", "erp_1", "--password", "Secret123",
        "--rights", "monitor,confirm")
    listing = cli("merchant", "list").stdout
    assert "777\tShop\tRUB,USD\ttwo-stage\tRUB=bank-rub,USD=bank-usd\t" \
           "no-legacy-checkvalue" in listing
    cli("merchant", "update", "777", "--legacy-checkvalue")
    assert "\tlegacy-checkvalue" in cli("merchant", "list").stdout
    cli("merchant", "update", "777", "--no-legacy-checkvalue")
    assert "\tno-legacy-checkvalue" in cli("merchant", "list").stdout
    assert "bank-usd\tUSD\tfull-only\t5d" in cli("processing", "list").stdout
    assert "1 USD = 91.5 RUB" in cli("rate", "set", "USD", "RUB", "91.5").stdout


def test_customer_settings(cli):
    cli("db", "upgrade")
    cli("merchant", "add", "--id", "778", "--name", "Shop")
    assert "\tcustomer-fields=none\tcustomer-required=none\tno-customer-editable" in \
        cli("merchant", "list").stdout
    out = cli("merchant", "update", "778", "--customer-fields",
              "email,Lastname,firstname,mobilephone", "--customer-required", "email").stdout
    assert "ask for: lastname,firstname,email,mobilephone; required: email; the shop's " \
           "data read-only" in out
    # Required implies asked; the other settings stay as they were.
    cli("merchant", "update", "778", "--customer-required", "zip", "--customer-editable")
    listing = cli("merchant", "list").stdout
    assert "778\tShop\tRUB\tone-stage\t\tno-legacy-checkvalue\t" \
           "customer-fields=lastname,firstname,email,mobilephone,zip\t" \
           "customer-required=zip\tcustomer-editable" in listing
    refused = cli("merchant", "update", "778", "--customer-fields", "email,phone", ok=False)
    assert "unknown customer field(s) phone; use any of lastname" in refused.stderr
    refused = cli("merchant", "update", "778", "--customer-required", "Surname", ok=False)
    assert "--customer-required: unknown customer field(s) surname" in refused.stderr
    assert cli("merchant", "list").stdout == listing  # refused: nothing changed
    cli("merchant", "update", "778", "--customer-fields", "")  # zip stays: required
    assert "\tcustomer-fields=zip\tcustomer-required=zip\t" in cli("merchant", "list").stdout
    cli("merchant", "update", "778", "--customer-fields", "", "--customer-required", "",
        "--no-customer-editable")
    assert "\tcustomer-fields=none\tcustomer-required=none\tno-customer-editable" in \
        cli("merchant", "list").stdout


def test_time_zone_of_the_merchants_cabinet(cli):
    cli("db", "upgrade")
    cli("merchant", "add", "--id", "779", "--name", "Shop")
    assert "\ttime-zone=UTC" in cli("merchant", "list").stdout
    cli("merchant", "update", "779", "--time-zone", "Europe/Moscow")
    assert "\ttime-zone=Europe/Moscow" in cli("merchant", "list").stdout
    assert "unknown time zone" in cli("merchant", "update", "779", "--time-zone",
                                      "Mars/Olympus", ok=False).stderr


def test_bonus_program_settings(cli):
    cli("db", "upgrade")
    cli("processing", "add", "--name", "bank", "--url", "http://127.0.0.1:9/bank?wsdl",
        "--currency", "RUB", "--bonus-program")
    cli("processing", "add", "--name", "plain", "--url", "http://127.0.0.1:9/plain?wsdl",
        "--currency", "RUB")
    centers = cli("processing", "list").stdout
    assert "\tbonus-program\thttp://127.0.0.1:9/bank" in centers
    assert "\tno-bonus-program\thttp://127.0.0.1:9/plain" in centers
    cli("merchant", "add", "--id", "780", "--name", "Shop")
    assert "\tno-bonus-program\taccrual-rate=0.00" in cli("merchant", "list").stdout
    cli("merchant", "update", "780", "--bonus-program", "--accrual-rate", "1.5")
    assert "\tbonus-program\taccrual-rate=1.50" in cli("merchant", "list").stdout
    for bad in ("-1", "101", "1.234", "x", "1e2"):
        refused = cli("merchant", "update", "780", "--accrual-rate", bad, ok=False)
        assert "accrual rate" in refused.stderr
    assert "\tbonus-program\taccrual-rate=1.50" in cli("merchant", "list").stdout
    cli("merchant", "update", "780", "--no-bonus-program")
    assert "\tno-bonus-program\taccrual-rate=1.50" in cli("merchant", "list").stdout


def test_3ds_settings_of_a_merchant(cli, tmp_path):
    from sqlalchemy import create_engine, text
    cli("db", "upgrade")
    cli("merchant", "add", "--id", "780", "--name", "Shop")

    def settings():
        engine = create_engine(f"sqlite:///{tmp_path}/cli.db")
        with engine.connect() as conn:
            row = conn.execute(text("SELECT allow_disable_3ds, threeds_unavailable FROM "
                                    "merchants WHERE merchant_id = 780")).one()
        engine.dispose()
        return bool(row[0]), row[1]
    assert settings() == (False, "decline")
    cli("merchant", "update", "780", "--allow-disable-3ds", "--threeds-unavailable",
        "authorize")
    assert settings() == (True, "authorize")
    assert "decline, authorize" in cli("merchant", "update", "780", "--threeds-unavailable",
                                       "maybe", ok=False).stderr.replace("'", "")
    assert settings() == (True, "authorize")


@pytest.mark.parametrize("args,message", [
    (("merchant", "add", "--id", "1", "--name", "X", "--processing", "RUB"), "CUR=NAME"),
    (("merchant", "add", "--id", "1", "--name", "X", "--processing", "RUB=none"),
     "not registered"),
    (("merchant", "add", "--id", "1", "--name", "X", "--currency", "XYZ"), "not supported"),
    (("merchant", "add", "--id", "abc", "--name", "X"), "abc"),
    (("merchant", "update", "999"), "not found"),
    (("user", "add", "--merchant", "5", "--login", "a", "--password", "p", "--rights", "x"),
     "unknown right"),
    (("user", "add", "--merchant", "5", "--login", "erp_1", "--password", "short",
      "--rights", "monitor"), "password"),
    (("processing", "add", "--name", "n", "--url", "nope", "--currency", "RUB"), "http"),
    (("processing", "add", "--name", "n", "--url", "http://x", "--currency", "RUB",
      "--cutoff", "25:00"), "cut-off"),
    (("rate", "set", "USD", "RUB", "0"), "positive"),
    (("emulator", "--center", "bad"), "center"),
    (("merchant", "add", "--id", "1", "--name", "X", "--url-return-ok",
      "https://shop.example;sandbox"), "host name"),
    (("merchant", "add", "--id", "1", "--name", "X", "--url-return", "javascript:alert(1)"),
     "http(s) URL"),
])
def test_bad_arguments_get_a_clear_message(cli, args, message):
    cli("db", "upgrade")
    proc = cli(*args, ok=False)
    assert message in proc.stderr


def test_commands_before_migration_say_what_to_do(cli):
    proc = cli("merchant", "list", ok=False)
    assert "assist-ws db upgrade" in proc.stderr


def test_the_program_answers_in_its_exit_status_and_says_why_on_stderr(program):
    proc = program("merchant", "list", ok=False)
    assert proc.returncode == 1 and "assist-ws db upgrade" in proc.stderr
    assert "up to date" in program("db", "upgrade").stdout
    proc = program("merchant", "add", "--id", "abc", "--name", "X", ok=False)
    assert proc.returncode == 2 and "abc" in proc.stderr


def test_demo_is_idempotent(cli):
    first = cli("demo", "--emulator-url", "http://127.0.0.1:18081").stdout
    cli("demo", "--emulator-url", "http://127.0.0.1:18081")
    assert "demo_erp" in first and "DemoPass123" in first
    listing = cli("merchant", "list").stdout
    assert listing.count("100001") == 1
    assert "RUB=emulator-rub,USD=emulator-usd" in listing
    assert "http://127.0.0.1:18081/emulator-usd?wsdl" in cli("processing", "list").stdout
