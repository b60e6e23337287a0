"""The cabinet's export and reports over Flask's test client, on SQLite and PostgreSQL: the
export's CSV is the reply of results by date for the same orders (byte for byte, after its
byte order mark), with either delimiter; the XLSX holds the same rows, read back with
openpyxl; only a user with the right ``export`` has the form or gets a file; the daily
report counts the merchant's payments, confirms and cancels on its days, draws them and
offers each day's registry, which is results by date of that day."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from assist_ws.domain.audit import AuditKind, AuditQuery
from assist_ws.domain.cards import parse_card
from assist_ws.domain.model import Customer, Right
from assist_ws.domain.money import Money
from assist_ws.services import admin, replies
from assist_ws.services.cancel import cancel_payment
from assist_ws.services.confirm import confirm_payment
from assist_ws.services.orders import AuthorizationRequest, create_order

from .test_cabinet import PASSWORD, VISA, Browser, text

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def shop(gw):
    """A merchant of its own (Moscow time) with a user for everything, one that may only
    watch, and four orders: paid, held and confirmed in part, paid and canceled in part,
    never paid; a customer's name with a delimiter, a quote and a formula in it."""
    merchant = random.randint(3_000_000, 2_000_000_000)
    admin.save_merchant(gw.uow, merchant, admin.MerchantSettings(
        name="Export shop", currencies=("RUB",), two_stage=True,
        processing=(("RUB", "emulator-rub"),), time_zone="Europe/Moscow"), create=True)
    admin.add_user(gw.uow, merchant, "exporter1", PASSWORD,
                   [Right.MONITOR, Right.EXPORT])
    admin.add_user(gw.uow, merchant, "watcher1", PASSWORD, [Right.MONITOR])
    bills = []
    for i, (amount, delay) in enumerate([("10.00", None), ("20.50", "1"), ("30.00", None),
                                         ("40.00", None)]):
        bills.append(create_order(gw.uow, gw.clock, AuthorizationRequest(
            str(merchant), f"EXP-{i}", amount, "RUB", delay=delay,
            customer=Customer(lastname='=SUM(A1); "the" Ivanov', firstname="Иван",
                              email=f"buyer{i}@example.com"))).bill_number)
    for bill in bills[:3]:
        gw.pay_by_card(bill, parse_card(VISA, "12", "2030", "TEST HOLDER", "123",
                                        gw.clock.now()))
    confirm_payment(gw.uow, gw.gateway, gw.clock, merchant, bills[1], Money.of("5.50", "RUB"))
    cancel_payment(gw.uow, gw.gateway, gw.clock, merchant, bills[2], Money.of("7.00", "RUB"))
    return merchant, bills


def signed_in(gw, merchant, login="exporter1") -> Browser:
    b = Browser(gw)
    assert b.sign_in(login, merchant=merchant).status_code == 303
    return b


def resultbydate(b: Browser, merchant, delimiter=";") -> bytes:
    now = b.gw.clock.now()
    start, end = now - timedelta(hours=2), now + timedelta(hours=2)
    r = b.client.post("/resultbydate/resultbydate.cfm", data={
        "Merchant_ID": str(merchant), "Login": "exporter1", "Password": PASSWORD,
        "Format": "1", "Delimiter": delimiter, "StartYear": start.year,
        "StartMonth": start.month, "StartDay": start.day, "StartHour": start.hour,
        "StartMin": start.minute, "EndYear": end.year, "EndMonth": end.month,
        "EndDay": end.day, "EndHour": end.hour, "EndMin": end.minute},
        environ_base={"REMOTE_ADDR": b.ip})
    assert r.status_code == 200
    return r.get_data()


def rows(body: bytes, delimiter=";") -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline=""),
                           delimiter=delimiter))


@pytest.mark.parametrize("name, delimiter", [("semicolon", ";"), ("comma", ",")])
def test_export_csv_is_resultbydate_for_the_same_orders(gw, shop, name, delimiter):
    merchant, bills = shop
    b = signed_in(gw, merchant)
    r = b.get(f"/account/export?format=csv&delimiter={name}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="operations-')
    body = r.get_data()
    assert body.startswith(BOM)
    expected = resultbydate(b, merchant, delimiter)
    assert body[len(BOM):] == expected
    header, *lines = rows(body[len(BOM):], delimiter)
    assert tuple(header) == replies.RESULT_LINE_FIELDS
    # A pay each for three orders, a confirm and a cancel; the unpaid order has none.
    assert sorted((line[1], line[7], line[9]) for line in lines) == sorted([
        (f"{bills[0]}.1", "100", "10.00"), (f"{bills[1]}.1", "100", "20.50"),
        (f"{bills[2]}.1", "100", "30.00"), (f"{bills[1]}.2", "200", "5.50"),
        (f"{bills[2]}.2", "300", "7.00")])
    assert {line[22] for line in lines} == {'\'=SUM(A1); "the" Ivanov'}


def test_export_follows_the_monitors_filter_and_orders_are_their_payments(gw, shop):
    merchant, bills = shop
    b = signed_in(gw, merchant)
    page = text(b.get("/account/orders?number=EXP-%25&state=Approved&lang=EN"))
    form = re.search(r'<form id="export".*?</form>', page, re.S)[0]
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))
    assert hidden["number"] == "EXP-%" and hidden["state"] == "Approved"
    approved = rows(b.get("/account/export?number=EXP-%25&state=Approved").get_data()[3:])
    assert {line[1] for line in approved[1:]} == {f"{bills[0]}.1"}
    orders = rows(b.get("/account/export?what=orders").get_data()[3:])
    assert sorted(line[1] for line in orders[1:]) == sorted(f"{b}.1" for b in bills[:3])
    # Another period: nothing but the header.
    empty = rows(b.get("/account/export?from=2020-01-01&to=2020-01-02").get_data()[3:])
    assert empty == [list(replies.RESULT_LINE_FIELDS)]
    bad = b.get("/account/export?format=pdf&lang=EN")
    assert bad.status_code == 400 and "format" in text(bad)


def test_export_xlsx_reads_back_as_the_csv(gw, shop, tmp_path):
    merchant, _bills = shop
    b = signed_in(gw, merchant)
    r = b.get("/account/export?format=xlsx")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    path = tmp_path / "export.xlsx"
    path.write_bytes(r.get_data())
    book = openpyxl.load_workbook(path, read_only=True)
    [sheet] = book.worksheets
    got = list(sheet.iter_rows(values_only=True))
    header, *lines = rows(b.get("/account/export").get_data()[3:])
    assert list(got[0]) == header and len(got) == len(lines) + 1
    for cells, line in zip(got[1:], lines):
        by = dict(zip(header, cells))
        want = dict(zip(header, line))
        assert by["billnumber"] == want["billnumber"]
        assert Decimal(str(by["amount"])) == Decimal(want["amount"])
        assert Decimal(str(by["orderamount"])) == Decimal(want["orderamount"])
        assert by["operationdate"].strftime("%d.%m.%Y %H:%M:%S") == want["operationdate"]
        assert str(by["operationtype"]) == want["operationtype"]
        # A text stays the text itself (never a formula) in a workbook.
        assert by["lastname"] == '=SUM(A1); "the" Ivanov'
    book.close()


def test_without_the_right_no_export_form_and_403(gw, shop):
    merchant, _bills = shop
    watcher = signed_in(gw, merchant, "watcher1")
    assert 'id="export"' not in text(watcher.get("/account/orders"))
    for url in ("/account/export", "/account/export?format=xlsx",
                f"/account/reports/registry?day={gw.clock.now():%Y-%m-%d}"):
        assert watcher.get(url).status_code == 403
    assert 'class="registry"' not in text(watcher.get("/account/reports"))
    assert 'id="export"' in text(signed_in(gw, merchant).get("/account/orders"))


def test_daily_report_table_chart_and_the_days_registry(gw, shop):
    merchant, bills = shop
    b = signed_in(gw, merchant)
    today = gw.clock.now().astimezone(ZoneInfo("Europe/Moscow")).date()
    page = text(b.get("/account/reports?lang=EN"))
    row = re.search(rf'<tr class="report-row" data-day="{today}" data-currency="RUB">(.*?)</tr>',
                    page, re.S)[1]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    # payments: 3 of 60.50; confirms: 1 of 5.50; cancels: 1 of 7.00
    assert [c.replace("\xa0", " ") for c in cells] == [
        "3", "60.50 RUB", "1", "5.50 RUB", "1", "7.00 RUB"], cells
    chart = re.search(r'<svg class="bars" id="chart-RUB".*?</svg>', page, re.S)[0]
    assert chart.count('<rect class="bar"') == 3
    assert f"{today:%d.%m.%Y} Payment: 3, 60.50\xa0RUB" in chart
    assert "<script" not in page and "http" not in chart.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    # The day's registry is results by date of the day, as a file.
    link = re.search(r'<a class="registry" href="([^"]+)"', row)[1].replace("&amp;", "&")
    r = b.get(link)
    assert r.status_code == 200 and r.headers["Content-Disposition"] == \
        f'attachment; filename="registry-{today:%Y%m%d}.csv"'
    assert r.get_data() == BOM + resultbydate(b, merchant)
    # Another period: no operations; a period ending before it starts is refused.
    assert 'id="none"' in text(b.get("/account/reports?from=2020-01-01&to=2020-01-31"))
    bad = b.get("/account/reports?from=2020-02-01&to=2020-01-01&lang=EN")
    assert bad.status_code == 400 and "must not end before" in text(bad)
    assert b.get("/account/reports?from=junk").status_code == 400


def test_exports_are_in_the_audit_log(gw, shop):
    merchant, _bills = shop
    b = signed_in(gw, merchant)
    assert b.get("/account/export?what=orders&format=csv").status_code == 200
    day = f"{gw.clock.now():%Y-%m-%d}"
    assert b.get(f"/account/reports/registry?day={day}").status_code == 200
    assert signed_in(gw, merchant, "watcher1").get("/account/export").status_code == 403
    with gw.uow.reader() as r:
        found = r.audit.find(AuditQuery(merchant, gw.clock.now() - timedelta(hours=1),
                                        gw.clock.now() + timedelta(hours=1),
                                        kinds=(AuditKind.EXPORT.value,)), 10)
    assert sorted((e.login, e.what.split(",")[0]) for e in found) == [
        ("exporter1", "orders as csv"), ("exporter1", f"registry of {day}")]
    assert all(e.client == b.ip for e in found)
