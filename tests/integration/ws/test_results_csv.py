"""Results by date in CSV made by PostgreSQL (``db.results_csv``, COPY) are byte for byte the
CSV written from the rows in Python (``web.formats.stream_rows``): every kind of value the
reply has, quoting, empty and absent values, every delimiter, the Success filter, over HTTP
too; SQLite, and delimiters PostgreSQL cannot take, go through Python."""

from __future__ import annotations

import csv
import io
import random
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import delete, insert, select

from assist_ws.db.tables import operations, orders
from assist_ws.domain.cards import parse_card
from assist_ws.domain.model import Customer, Right
from assist_ws.domain.records import Window
from assist_ws.services import admin, replies
from assist_ws.services.auth import Principal
from assist_ws.services.merchant_api import ResultStream
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.web import formats

from ..conftest import MERCHANT
from .conftest import PASSWORD

NAMES = replies.RESULT_LINE_FIELDS
#: (order fields, [operation fields]) of the orders written straight into the tables.
ODD = ['semi;colon', 'comma,here', 'tab\there', 'pipe|here', 'quote"inside', '"quoted"',
       'line\nbreak', 'carriage\rreturn', 'both\r\n', '  spaces  ', 'Иван Петров', '', None,
       '\\N', 'x' * 70, 'emoji 🙂', "it's", '=HYPERLINK("http://x.example","y")', '+7 999',
       '-5', '-2+3', '@SUM(A1)', '\t=1', '\r@x', '+1.5']


@pytest.fixture
def odd_merchant(gw):
    """A merchant of its own with orders and operations holding every kind of value."""
    merchant = random.randint(3_000_000, 2_000_000_000)
    admin.save_merchant(gw.uow, merchant, admin.MerchantSettings(
        name="CSV shop", currencies=("RUB", "JPY", "KWD", "USD")), create=True)
    admin.add_user(gw.uow, merchant, "csv_erp", "CsvPass123", [Right.MONITOR])
    now = gw.clock.now().replace(microsecond=654321)
    start = now - timedelta(hours=1)
    cases = [("RUB", Decimal("100.00")), ("JPY", Decimal("150")), ("KWD", Decimal("1.500")),
             ("USD", Decimal("0.10"))]
    with gw.engine.begin() as conn:
        for i in range(40):
            cur, amount = cases[i % len(cases)]
            text = ODD[i % len(ODD)]
            created = start + timedelta(seconds=i * 7, microseconds=i)
            order_id = conn.execute(insert(orders).values(
                bill_number=str(7_000_000_000_000_000 + merchant % 10**8 * 100 + i),
                merchant_id=merchant, order_number=(text or "N") + f"-{i}", amount=amount,
                currency=cur, delay=False, language="RU",
                state=["Approved", "Canceled", "In Process", "Declined"][i % 4],
                payment_means=["card"], test_mode=i % 3 == 0, created_at=created,
                updated_at=created, lastname=text, firstname=ODD[(i + 3) % len(ODD)],
                middlename=None if i % 2 else "", email=ODD[(i + 5) % len(ODD)])
            ).inserted_primary_key[0]
            for n in range(1, 1 + i % 3 + 1):
                state = ["Success", "Declined", "In Process", "Unknown"][(i + n) % 4]
                conn.execute(insert(operations).values(
                    order_id=order_id, number=n, type=[100, 200, 300][n - 1], state=state,
                    amount=amount, currency=cur,
                    rate=[None, Decimal("90.5"), Decimal("0.0000000001"), Decimal("12")][i % 4],
                    means="card", means_type=["VISA", None, ""][i % 3],
                    means_number="411111******1111" if i % 2 else None,
                    cardholder=(ODD[(i + n) % len(ODD)] or '')[:64] or None,
                    card_expiry="12/2030",
                    response_code=[None, "", "AS000", "AS100"][(i * n) % 4],
                    approval_code=(ODD[(i + 7) % len(ODD)] or '')[:16] if i % 5 else None,
                    message=ODD[(i + n + 1) % len(ODD)], processing_name="emulator-rub",
                    client_ip=None if i % 4 else "10.0.0.1", auto_deposit=False,
                    created_at=created + timedelta(seconds=n, microseconds=n * 999)))
    yield merchant, Window(start - timedelta(minutes=1), now + timedelta(hours=1))
    with gw.engine.begin() as conn:
        ids = select(orders.c.id).where(orders.c.merchant_id == merchant)
        conn.execute(delete(operations).where(operations.c.order_id.in_(ids)))
        conn.execute(delete(orders).where(orders.c.merchant_id == merchant))


def _stream(gw, merchant, window, success=None) -> ResultStream:
    principal = Principal(merchant, "csv_erp", frozenset({"monitor"}), None)
    return ResultStream(gw.uow, principal, window, success, gw.clock.now(), page_size=7)


def _python_csv(stream: ResultStream, options: formats.CsvOptions) -> bytes:
    rows = (replies.result_line(line) for line in stream)
    return b"".join(formats.stream_rows("1", NAMES, rows, options))


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|", "x", " "])
def test_the_database_writes_the_same_csv(gw, dialect, odd_merchant, delimiter):
    merchant, window = odd_merchant
    options = formats.CsvOptions(delimiter, header=False)
    for success in (None, True, False):
        stream = _stream(gw, merchant, window, success)
        expected = _python_csv(stream, options)
        made = stream.csv(delimiter)
        if dialect != "postgresql":
            assert made is None  # SQLite: through Python
            continue
        got = b"".join(made)
        assert got == expected
        assert got.count(b"\r\n") >= len(list(stream)) > 0
    if dialect == "postgresql":
        # The quoting cases are really there.
        text = b"".join(_stream(gw, merchant, window).csv(delimiter)).decode()
        assert '"quote""inside"' in text and '"line\nbreak"' in text and "Иван Петров" in text
        assert ";;" in text or delimiter != ";"  # empty fields stay unquoted
        assert "\\N" in text and '"\\N"' not in text


def test_delimiters_the_database_cannot_take_go_through_python(gw, dialect, odd_merchant):
    merchant, window = odd_merchant
    for delimiter in ("§", "\x01", '"'):
        assert _stream(gw, merchant, window).csv(delimiter) is None


@pytest.mark.parametrize("fields", [{}, {"Delimiter": ",", "Header": "0"},
                                     {"Delimiter": "§"}, {"Success": "2"}])
def test_over_http_the_reply_is_the_same(gw, server, odd_merchant, fields):
    merchant, window = odd_merchant
    start, end = window.start, window.end - timedelta(minutes=1)
    data = {"Merchant_ID": str(merchant), "Login": "csv_erp", "Password": "CsvPass123",
            "Format": "1", "StartYear": start.year, "StartMonth": start.month,
            "StartDay": start.day, "StartHour": start.hour, "StartMin": start.minute,
            "EndYear": end.year, "EndMonth": end.month, "EndDay": end.day,
            "EndHour": end.hour, "EndMin": end.minute, **fields}
    r = requests.post(server.cfm("resultbydate"), data=data, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    options = formats.CsvOptions(fields.get("Delimiter", ";"), fields.get("Header") != "0")
    success = {"2": False}.get(fields.get("Success", ""))
    expected = _python_csv(_stream(gw, merchant, window, success), options)
    assert r.content == expected and len(expected.splitlines()) > 10


def _csv(r: requests.Response) -> list[dict[str, str]]:
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv"), r.text
    header, *lines = csv.reader(io.StringIO(r.text, newline=""), delimiter=";")
    return [dict(zip(header, line)) for line in lines]


def test_cells_a_spreadsheet_would_run_are_neutralised_in_every_csv(gw, server):
    number = "=1+2-" + uuid.uuid4().hex[:10]
    comment = '=HYPERLINK("http://evil.example","refund")'
    view = create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(MERCHANT), number, "5.00", "RUB", comment=comment,
        customer=Customer(lastname="@SUM(A1)", firstname="-5", middlename="+7 999")))
    bill = view.bill_number
    gw.pay_by_card(bill, parse_card("4111111111111111", "12", "2030", "TEST HOLDER", "123",
                                    gw.clock.now()))
    auth = {"Merchant_ID": str(MERCHANT), "Login": "erp_user", "Password": PASSWORD,
            "Format": "1"}
    [row] = _csv(requests.post(server.cfm("orderstate"), timeout=30,
                               data=dict(auth, Ordernumber=number)))
    assert row["ordernumber"] == "'" + number
    assert (row["orderamount"], row["billnumber"]) == ("5.00", bill)  # ours: unchanged
    [row] = _csv(requests.post(server.cfm("orderresult"), timeout=30,
                               data=dict(auth, Ordernumber=number)))
    assert (row["ordernumber"], row["ordercomment"]) == ("'" + number, "'" + comment)
    assert (row["lastname"], row["middlename"]) == ("'@SUM(A1)", "'+7 999")
    assert row["firstname"] == "-5"  # a plain number is a number to a spreadsheet too
    rows = [r for r in _csv(requests.post(server.cfm("resultbydate"), timeout=30, data=auth))
            if r["billnumber"].startswith(bill)]  # on PostgreSQL, written by the database
    assert [(r["ordernumber"], r["lastname"], r["firstname"]) for r in rows] == [
        ("'" + number, "'@SUM(A1)", "-5")]
    [row] = _csv(requests.post(server.cfm("cancel"), timeout=30,
                               data=dict(auth, Billnumber=bill)))
    assert (row["ordernumber"], row["ordercomment"], row["amount"]) == (
        "'" + number, "'" + comment, "5.00")
