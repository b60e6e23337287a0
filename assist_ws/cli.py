"""The ``assist-ws`` command line: database, processing centers, merchants, users, rates, the
emulator, the server, settlement and the demo.

Bad arguments get a clear message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys

import click

from .config import Settings
from .domain.customer import FIELDS as CUSTOMER_FIELDS
from .domain.errors import AssistError
from .domain.model import Right
from .domain.money import Money
from .jobs.worker import job_names
from .services import admin

DEFAULT_EMULATOR_URL = "http://127.0.0.1:8081"


def _container():
    from .bootstrap import build
    return build(Settings.from_env())


class _Group(click.Group):
    """Turns refusals and failures into one clear line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AssistError as exc:
            raise click.ClickException(f"{exc.message} (code {exc.firstcode}/{exc.secondcode})")
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place that turns them into a line
            if os.environ.get("ASSIST_DEBUG"):
                raise
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "no such table" in text or "does not exist" in text and "relation" in text:
                text = "the database is not set up: run `assist-ws db upgrade` first"
            raise click.ClickException(text)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """assist-ws: a payment gateway speaking the Assist merchant protocol."""


# -- db -----------------------------------------------------------------------------------
@main.group(cls=_Group)
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    from .db.migrate import upgrade
    url = Settings.from_env().database_url
    upgrade(url)
    click.echo(f"database is up to date ({_safe_url(url)})")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


# -- processing ---------------------------------------------------------------------------
@main.group(cls=_Group)
def processing() -> None:
    """Processing centers."""


@processing.command("add")
@click.option("--name", required=True, help="Unique name of the center.")
@click.option("--url", required=True, help="WSDL URL of the center, e.g. http://h:8081/x?wsdl")
@click.option("--currency", required=True, help="ISO 4217 currency the center works in.")
@click.option("--partial-reversal/--no-partial-reversal", default=True, show_default=True)
@click.option("--hold-days", type=click.IntRange(1, 60), default=7, show_default=True)
@click.option("--cutoff", default="21:00", show_default=True, help="Settlement cut-off, UTC.")
@click.option("--bonus-program/--no-bonus-program", default=False, show_default=True,
              help="The center runs the bonus program (points balance, pay with points, "
                   "accrual).")
@click.option("--replace", is_flag=True, help="Update the center if it exists.")
def processing_add(name, url, currency, partial_reversal, hold_days, cutoff, bonus_program,
                   replace) -> None:
    """Register a processing center."""
    c = _container()
    center = admin.add_center(c.uow, name, url, currency, partial_reversal=partial_reversal,
                              hold_days=hold_days, cutoff=cutoff, bonus_program=bonus_program,
                              replace=replace)
    click.echo(f"processing center {center.name} ({center.currency}) at {center.url}")


@processing.command("list")
def processing_list() -> None:
    """List processing centers."""
    c = _container()
    with c.uow.reader() as uow:
        for center in uow.centers.list():
            click.echo(f"{center.name}\t{center.currency}\t"
                       f"{'partial' if center.partial_reversal else 'full-only'}\t"
                       f"{center.hold_days}d\tcut-off {center.cutoff}\t"
                       f"{'' if center.bonus_program else 'no-'}bonus-program\t{center.url}")


# -- merchant -----------------------------------------------------------------------------
def _processing_pairs(values) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        cur, sep, name = value.partition("=")
        if not sep or not cur or not name:
            raise click.BadParameter(f"{value!r}: use CUR=NAME, e.g. RUB=emulator-rub",
                                     param_hint="--processing")
        pairs.append((cur.strip(), name.strip()))
    return tuple(pairs)


def _merchant_options(fn):
    options = [
        click.option("--name"),
        click.option("--currency", "currencies", multiple=True,
                     help="Accepted currency; the first is the base currency. Repeatable."),
        click.option("--two-stage/--no-two-stage", default=None,
                     help="Allow two-stage payments (Delay=1)."),
        click.option("--secret-word", help="Secret word for Checkvalue."),
        click.option("--check-order-code/--no-check-order-code", default=None,
                     help="Require a correct Checkvalue in authorization requests."),
        click.option("--legacy-checkvalue/--no-legacy-checkvalue", default=None,
                     help="Accept the old unjoined Checkvalue form too (default off: it "
                          "lets digits move between order number and amount)."),
        click.option("--processing", "processing", multiple=True,
                     help="CUR=CENTER: the center taking payments in CUR. Repeatable."),
        click.option("--timeout", "timeout", type=click.IntRange(1, 1440),
                     help="Minutes the buyer has to pay (default 20)."),
        click.option("--test-mode/--no-test-mode", default=None),
        click.option("--url-return"), click.option("--url-return-ok"),
        click.option("--url-return-no"),
        click.option("--customer-fields",
                     help="Comma list of the buyer's data the payment pages ask for when "
                          "the shop's request lacks them: "
                          + ",".join(f.name for f in CUSTOMER_FIELDS)
                          + ". An empty value asks for none."),
        click.option("--customer-required",
                     help="Comma list of those the buyer must fill in (asked too); an "
                          "empty value requires none."),
        click.option("--customer-editable/--no-customer-editable", default=None,
                     help="Let the buyer change the data the shop's request carried "
                          "(default: shown read-only)."),
        click.option("--time-zone", help="The merchant cabinet's time zone, an IANA name "
                                         "(default UTC)."),
        click.option("--bonus-program/--no-bonus-program", default=None,
                     help="Take part in the bonus program: buyers with an enrolled card may "
                          "pay part with points, and earn points (where the center runs it)."),
        click.option("--accrual-rate",
                     help="Bonus points accrued per 100 units of a payment's card part, "
                          "0 to 100 (e.g. 1 for 1 %%; default 0: no accrual)."),
        click.option("--allow-disable-3ds/--no-allow-disable-3ds", default=None,
                     help="Authorize cards without 3-D Secure when the request says "
                          "Disable3DS=1 (default off: the flag is ignored)."),
        click.option("--threeds-unavailable", type=click.Choice(["decline", "authorize"]),
                     help="A card whose 3-D Secure ACS is unavailable: declined (default) "
                          "or authorized without 3-D Secure where the center allows it."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _settings(name, currencies, two_stage, secret_word, check_order_code, legacy_checkvalue,
              processing, timeout, test_mode, url_return, url_return_ok,
              url_return_no, customer_fields, customer_required,
              customer_editable, time_zone, bonus_program, accrual_rate,
              allow_disable_3ds=None, threeds_unavailable=None) -> admin.MerchantSettings:
    return admin.MerchantSettings(
        name=name, currencies=tuple(currencies), two_stage=two_stage, secret_word=secret_word,
        check_order_code=check_order_code, legacy_checkvalue=legacy_checkvalue,
        processing=_processing_pairs(processing),
        timeout_minutes=timeout, test_mode=test_mode, url_return=url_return,
        url_return_ok=url_return_ok, url_return_no=url_return_no,
        customer_fields=customer_fields, customer_required=customer_required,
        customer_editable=customer_editable, time_zone=time_zone,
        bonus_program=bonus_program, accrual_rate=accrual_rate,
        allow_disable_3ds=allow_disable_3ds, threeds_unavailable=threeds_unavailable)


def _notify_options(fn):
    options = [
        click.option("--notify-url", help="Where result notifications go (http/https; ports "
                                          "80, 443, 8080, 8443 unless ASSIST_NOTIFY_PORTS "
                                          "says otherwise; public addresses only unless "
                                          "ASSIST_NOTIFY_ALLOW_PRIVATE=1). An empty value "
                                          "switches them off."),
        click.option("--notify-protocol", type=click.Choice(["post", "soap"]),
                     help="A form POST or a SOAP PushPaymentResult (default post)."),
        click.option("--notify-results",
                     help="Comma list of pay,confirm,cancel,accrual,accrual-cancel "
                          "(default pay)."),
        click.option("--notify-only-success/--no-notify-only-success", default=None,
                     help="Send only successful results."),
        click.option("--notify-reply", type=click.Choice(["http200", "packet"]),
                     help="What counts as delivered: HTTP 2xx (default), or the "
                          "<pushpaymentresult firstcode=\"0\" secondcode=\"0\"> packet."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _notify_settings(kw: dict):
    from .services.notifications.outbox import NotifySettings
    return NotifySettings(url=kw.pop("notify_url"), protocol=kw.pop("notify_protocol"),
                          results=kw.pop("notify_results"),
                          only_success=kw.pop("notify_only_success"),
                          expected_reply=kw.pop("notify_reply"))


def _with_notify(settings: admin.MerchantSettings, notify) -> admin.MerchantSettings:
    settings.notify = notify
    return settings


def _customer_given(kw: dict) -> bool:
    return any(kw.get(name) is not None for name in ("customer_fields", "customer_required",
                                                      "customer_editable"))


def _echo_customer(m, given: bool) -> None:
    """The customer settings as saved (required ones are asked too), when some were given."""
    if given:
        click.echo(f"payment pages ask for: {','.join(m.customer_fields) or 'none'}; "
                   f"required: {','.join(m.customer_required) or 'none'}; the shop's data "
                   f"{'editable' if m.customer_editable else 'read-only'}")


@main.group(cls=_Group)
def merchant() -> None:
    """Merchants (shops)."""


@merchant.command("add")
@click.option("--id", "merchant_id", type=click.IntRange(1, 2147483647), required=True)
@_merchant_options
@_notify_options
def merchant_add(merchant_id, **kw) -> None:
    """Create a merchant."""
    if not kw.get("name"):
        raise click.BadParameter("a merchant needs a name", param_hint="--name")
    notify = _notify_settings(kw)
    customer = _customer_given(kw)
    c = _container()
    m = admin.save_merchant(c.uow, merchant_id, _with_notify(_settings(**kw), notify),
                            create=True, check_notify_url=c.notifier.check_url)
    click.echo(f"merchant {m.merchant_id} {m.name!r}: {', '.join(m.currencies)}")
    _echo_customer(m, customer)


@merchant.command("update")
@click.argument("merchant_id", type=click.IntRange(1, 2147483647))
@_merchant_options
@_notify_options
def merchant_update(merchant_id, **kw) -> None:
    """Change a merchant's settings."""
    notify = _notify_settings(kw)
    customer = _customer_given(kw)
    c = _container()
    m = admin.save_merchant(c.uow, merchant_id, _with_notify(_settings(**kw), notify),
                            create=False, check_notify_url=c.notifier.check_url)
    click.echo(f"merchant {m.merchant_id} {m.name!r} updated")
    _echo_customer(m, customer)


@merchant.command("list")
def merchant_list() -> None:
    """List merchants."""
    c = _container()
    with c.uow.reader() as uow:
        for m in uow.merchants.list():
            centers = ",".join(f"{k}={v}" for k, v in sorted(m.processing.items()))
            click.echo(f"{m.merchant_id}\t{m.name}\t{','.join(m.currencies)}\t"
                       f"{'two-stage' if m.two_stage else 'one-stage'}\t{centers}\t"
                       f"{'' if m.legacy_checkvalue else 'no-'}legacy-checkvalue\t"
                       f"customer-fields={','.join(m.customer_fields) or 'none'}\t"
                       f"customer-required={','.join(m.customer_required) or 'none'}\t"
                       f"{'' if m.customer_editable else 'no-'}customer-editable\t"
                       f"time-zone={m.time_zone}\t"
                       f"{'' if m.bonus_program else 'no-'}bonus-program\t"
                       f"accrual-rate={m.accrual_rate:.2f}")


# -- user ---------------------------------------------------------------------------------
@main.group(cls=_Group)
def user() -> None:
    """Merchant users (logins of people and ERPs)."""


@user.command("add")
@click.option("--merchant", "merchant_id", type=int, required=True)
@click.option("--login", required=True)
@click.option("--password", required=True)
@click.option("--rights", required=True, help="Comma list of monitor,confirm,cancel,export,admin")
@click.option("--replace", is_flag=True, help="Change the password and rights if it exists.")
def user_add(merchant_id, login, password, rights, replace) -> None:
    """Create a merchant user."""
    parsed = Right.parse_list(rights)
    c = _container()
    u = admin.add_user(c.uow, merchant_id, login, password, parsed, replace=replace)
    click.echo(f"user {u.login} of merchant {u.merchant_id}: {','.join(u.rights)}")


# -- rates --------------------------------------------------------------------------------
@main.group(cls=_Group)
def rate() -> None:
    """Currency conversion rates."""


@rate.command("set")
@click.argument("source")
@click.argument("target")
@click.argument("value")
def rate_set(source, target, value) -> None:
    """Set how many TARGET one SOURCE buys, e.g. `rate set USD RUB 90.00`."""
    c = _container()
    r = admin.set_rate(c.uow, c.clock, source, target, value)
    click.echo(f"1 {r.source} = {r.rate} {r.target}")


# -- processes ----------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8081, show_default=True)
@click.option("--data", help="Ledger file (default: ASSIST_EMULATOR_DATA or var/emulator.db).")
@click.option("--center", "centers", multiple=True,
              help="NAME:CUR[:partial|nopartial[:HOLD_DAYS]]; default emulator-rub and "
                   "emulator-usd. Repeatable.")
@click.option("--late-seconds", type=float, help="Delay of the late-answer test card.")
@click.option("--latency", type=click.FloatRange(0, 600), default=0.0, show_default=True,
              help="Seconds every operation takes, as a real bank's 0.2-3 s.")
def emulator(host, port, data, centers, late_seconds, latency) -> None:
    """Run the processing-center emulator."""
    from . import emulator as emu
    settings = Settings.from_env()
    try:
        parsed = tuple(emu.parse_center(s) for s in centers) or emu.DEFAULT_CENTERS
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--center")
    config = emu.EmulatorConfig(data_path=data or settings.emulator_data, centers=parsed,
                                late_seconds=settings.emulator_late_seconds
                                if late_seconds is None else late_seconds, latency=latency)
    click.echo(f"emulator on http://{host}:{port}/ : "
               + ", ".join(f"{c.name} ({c.currency})" for c in parsed)
               + (f"; every operation takes {latency:g} s" if latency else ""))
    emu.serve(config, host, port)


def _logging(settings: Settings) -> None:
    """The process's log lines as the settings say (level, text or JSON), redacted."""
    from .serving.logs import configure
    try:
        configure(settings.log_level, kind=settings.log_format)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _warn_about_database(url: str) -> None:
    """Log what is wrong with the database server's settings (``db.checks``); starting goes
    on either way."""
    import logging

    from .db.checks import settings_warnings
    from .db.engine import make_engine
    try:
        engine = make_engine(url, pool_size=1)
        try:
            found = settings_warnings(engine)
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - reported; the server says more when it runs
        found = [f"the database's settings could not be checked: "
                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"]
    for line in found:
        logging.getLogger("assist_ws.cli").warning("%s", line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64),
              help="gunicorn worker processes (default ASSIST_WEB_WORKERS, 2).")
@click.option("--threads", type=click.IntRange(1, 1024),
              help="Threads per worker: requests answered at once, payments waiting for "
                   "their bank included (default ASSIST_WEB_THREADS, 32).")
def serve(host, port, workers, threads) -> None:
    """Run the gateway under gunicorn."""
    from .gunicorn_config import command
    from .monitoring import multiproc
    settings = Settings.from_env()
    _logging(settings)
    _warn_about_database(settings.database_url)
    args = command(bind=f"{host}:{port}", workers=workers or settings.web_workers,
                   threads=threads or settings.web_threads,
                   log_level=settings.log_level.lower())
    if threads:  # the database pools follow the threads (bootstrap reads the setting)
        os.environ["ASSIST_WEB_THREADS"] = str(threads)
    # The workers' metrics go into files there (cleared of the files of processes gone).
    os.environ[multiproc.ENV] = multiproc.prepare(settings.metrics_directory())
    os.execv(sys.executable, args)


@main.command("settle")
@click.option("--center", help="Only this processing center.")
def settle_cmd(center) -> None:
    """Send the settlement batches of everything due now (not waiting for the cut-off)."""
    c = _container()
    due = c.count_due(center=center)
    with click.progressbar(length=max(due, 1), label=f"settling {due} operations",
                           show_pos=True, file=sys.stderr) as bar:
        def progress(part):
            if bar.pos + part.operations > bar.length:  # more came due meanwhile
                bar.length = bar.pos + part.operations
            bar.update(part.operations)
        summary = c.settle(center=center, progress=progress)
    click.echo(f"{summary.operations} operations in {summary.batches} batches: "
               f"{summary.settled} settled, {summary.declined} declined, "
               f"{summary.unknown} unknown")
    for cur, value in sorted(summary.amounts.items()):
        released = summary.released.get(cur)
        click.echo(f"  {cur}: {Money(value, cur).wire} settled"
                   + (f", {Money(released, cur).wire} of holds released" if released else ""))
    if summary.retried:
        click.echo(f"{summary.retried} batches got no answer from the center; the worker "
                   f"sends them again", err=True)


@main.command("resolve")
def resolve_cmd() -> None:
    """Ask the centers about transactions whose outcome is unknown, and settle them."""
    c = _container()
    s = c.resolve(limit=1000)
    click.echo(f"{s.examined} examined, {s.resolved} resolved, {s.pending} still pending")


@main.command("unresolved")
@click.option("--check", is_flag=True, help="Exit with status 1 when anything is listed.")
def unresolved_cmd(check) -> None:
    """List transactions and settlement batches still without an outcome after the
    resolver's limit of tries (ASSIST_RESOLVE_MAX_ATTEMPTS)."""
    c = _container()
    found = c.unresolved()
    limit = c.settings.resolve_max_attempts
    if not found:
        click.echo(f"nothing unresolved (limit: {limit} tries)")
        return
    for t in found.transactions:
        amount = str(Money(t.amount, t.currency)) if t.amount is not None else t.currency
        click.echo(f"{t.bill_number}.{t.operation_number}\t{t.type}\t{t.state}\t{t.center}\t"
                   f"{amount}\t{t.attempts} tries\tsent {_moment(t.sent_at)}\t"
                   f"next {_moment(t.next_attempt_at)}\t{t.request_id}\t{t.message or ''}")
    for b in found.batches:
        click.echo(f"batch {b.batch_id}\tsettlement\t{b.state}\t{b.center}\t"
                   f"{b.items} items, {Money(b.amount, b.currency)}\t{b.attempts} tries\t"
                   f"sent {_moment(b.created_at)}\tnext {_moment(b.lease_until)}\t"
                   f"{b.message or ''}")
    click.echo(f"{len(found.transactions)} transactions and {len(found.batches)} settlement "
               f"batches unresolved after {limit} tries", err=True)
    if check:
        sys.exit(1)


def _moment(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


@main.command()
@click.option("--once", is_flag=True, help="Run one round of the jobs, then exit.")
@click.option("--interval", type=click.FloatRange(0.05, 86400),
              help="Seconds between rounds (default ASSIST_WORKER_INTERVAL, 30).")
@click.option("--job", "jobs", multiple=True, type=click.Choice(job_names()),
              help="Run only this job. Repeatable.")
def worker(once, interval, jobs) -> None:
    """Run the worker: settlement at each center's cut-off, hold expiry, buyer timeouts and
    resolution of unknown outcomes, every --interval seconds."""
    from .jobs.worker import Worker
    from .monitoring import metrics, multiproc
    settings = Settings.from_env()
    _logging(settings)
    # Its metrics go where the server of this host reads them (``/metrics``).
    multiproc.use(settings.metrics_directory())
    _warn_about_database(settings.database_url)
    w = Worker(_container(), interval=interval, only=jobs, observe=metrics.job_finished)
    w.install_signal_handlers()
    w.run(once=once)


@main.command()
@click.option("--emulator-url", default=DEFAULT_EMULATOR_URL, show_default=True)
@click.option("--orders", type=click.IntRange(0, 1_000_000), default=0, show_default=True,
              help="Give the demo merchant this many orders of history over the last 90 "
                   "days (paid, held, confirmed, canceled, declined); only those missing "
                   "are added.")
def demo(emulator_url, orders) -> None:
    """Migrate and seed the demo merchant (idempotent)."""
    from .db.migrate import upgrade
    settings = Settings.from_env()
    upgrade(settings.database_url)
    c = _container()
    admin.seed_demo(c.uow, c.clock, emulator_url)
    click.echo(f"demo merchant {admin.DEMO_MERCHANT_ID}: login {admin.DEMO_LOGIN}, password "
               f"{admin.DEMO_PASSWORD}, secret word {admin.DEMO_SECRET}; centers at "
               f"{emulator_url}")
    if orders:
        from .db import demo_history
        centers = {currency: name for name, currency, _p, _d in admin.DEMO_CENTERS}
        added = demo_history.fill(c.engine, admin.DEMO_MERCHANT_ID, orders, c.clock.now(),
                                  centers=centers)
        click.echo(f"history: {added} orders added ({orders} wanted) over the last 90 days")


# -- result notifications -----------------------------------------------------------------
@main.group(cls=_Group)
def notify() -> None:
    """Result notifications to merchants."""


def _parse_when(text: str | None, *, end: bool = False):
    """ISO date or date-time, UTC; a bare date as --to means the end of that day."""
    if text is None:
        return None
    from datetime import datetime, time, timezone
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date like 2026-11-27 or "
                                 f"2026-11-27T12:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    if end and len(text.strip()) == 10:
        value = datetime.combine(value.date(), time.max, timezone.utc)
    return value.astimezone(timezone.utc)


def _show_notification(n) -> None:
    nxt = n.next_attempt_at.isoformat(timespec="seconds") if n.next_attempt_at else "-"
    click.echo(f"{n.notification_id}\t{n.merchant_id}\t{n.bill_number}\t#{n.sequence}\t"
               f"{n.kind}\t{'success' if n.success else 'failure'}\t{n.order_state}\t"
               f"{n.state}\ttries {n.attempts}\tnext {nxt}\t{n.last_error or ''}")


@notify.command("deliver")
@click.option("--passes", type=click.IntRange(1, 100000), default=1000, show_default=True,
              help="At most this many passes (each takes up to ASSIST_NOTIFY_BATCH_SIZE).")
def notify_deliver(passes) -> None:
    """Deliver the notifications that are due now, once (the worker does it continuously)."""
    c = _container()
    total = {"tries": 0, "delivered": 0, "failed": 0, "rejected": 0, "expired": 0}
    for _ in range(passes):
        s = c.deliver_notifications()
        for key in total:
            total[key] += getattr(s, key)
        if s.tries == 0:
            break
    click.echo(f"{total['tries']} tries: {total['delivered']} delivered, {total['failed']} "
               f"failed (to be retried), {total['rejected']} rejected by the merchant, "
               f"{total['expired']} expired")


@notify.command("list")
@click.option("--merchant", "merchant_id", type=click.IntRange(1, 2147483647),
              help="Only this merchant's.")
@click.option("--bill", help="All notifications of this billnumber, delivered or not.")
@click.option("--order-number", help="All notifications of this order number.")
@click.option("--from", "since", help="Created at or after (ISO date/time, UTC).")
@click.option("--to", "until", help="Created at or before (ISO date/time, UTC).")
@click.option("--limit", type=click.IntRange(1, 100000), default=1000, show_default=True)
def notify_list(merchant_id, bill, order_number, since, until, limit) -> None:
    """List undelivered notifications (pending, rejected, expired), or all of one order."""
    from .services.notifications import queries as notifications
    c = _container()
    if bill or order_number:
        found = notifications.notifications_of(c.uow, merchant_id, bill_number=bill,
                                               order_number=order_number, limit=limit)
    else:
        found = c.undelivered_notifications(merchant_id, since=_parse_when(since),
                                            until=_parse_when(until, end=True), limit=limit)
    for n in found:
        _show_notification(n)
    click.echo(f"{len(found)} notification(s)", err=True)


@notify.command("replay")
@click.option("--merchant", "merchant_id", type=click.IntRange(1, 2147483647), required=True)
@click.option("--bill", help="The notifications of this billnumber.")
@click.option("--order-number", help="The notifications of this order number (all attempts).")
@click.option("--from", "since", help="Those created from (ISO date/time, UTC) ...")
@click.option("--to", "until", help="... to (ISO date/time, UTC; a date means its end).")
def notify_replay(merchant_id, bill, order_number, since, until) -> None:
    """Send notifications again, as they were, with the same ids."""
    c = _container()
    result = c.replay_notifications(merchant_id, bill_number=bill, order_number=order_number,
                                    since=_parse_when(since), until=_parse_when(until, end=True))
    for n in result.notifications:
        _show_notification(n)
    click.echo(f"{result.count} notification(s) queued again")


@notify.command("show")
@click.argument("notification_id")
def notify_show(notification_id) -> None:
    """One notification: its state, content and delivery journal."""
    import json

    from .services.notifications import queries as notifications
    c = _container()
    n, journal, content = notifications.details(c.uow, notification_id)
    _show_notification(n)
    click.echo(json.dumps(content, ensure_ascii=False, indent=2))
    for a in journal:
        click.echo(f"try {a.number}\t{a.started_at.isoformat(timespec='seconds')}\t"
                   f"{a.verdict}\tHTTP {a.http_status or '-'}\t{a.duration_ms} ms\t{a.url}\t"
                   f"{a.error or ''}\t{(a.reply_excerpt or '')[:80]!r}")


if __name__ == "__main__":  # pragma: no cover
    main()
