"""The merchant web services as Assist's form POSTs (and JSON bodies), answering in ``Format``
1 CSV, 3 XML or 5 JSON (``web.formats``).  SOAP requests and ``Format=4`` never reach here:
``soap.dispatch`` hands them to the SOAP face.

Field names are case-insensitive (``Merchant_ID``, ``merchant_id``); a JSON body (an object
of the same names) is answered in JSON.  Refusals carry Assist's ``firstcode``/``secondcode``
and a message, in the asked format: in CSV and XML with HTTP 200, as Assist answers them; in
JSON with the HTTP status of ``web.assist_json``, whose shapes the JSON replies have.
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import parse_qsl

from flask import Blueprint, Response, request

from ..domain.errors import AssistError, Second
from ..services.notifications import merchant as notices
from ..services import replies
from ..services.auth import Credentials
from ..services.merchant_api import (Answer, MerchantApi, refuse_password_in_query,
                                     refuse_unfit_text)
from . import assist_json, formats, openapi
from .bodies import json_object

#: Path (without ``.cfm``) -> (service key, the Format a POST gets by default).
SERVICES = {
    "/orderstate/orderstate": ("orderstate", "4"),
    "/orderresult/orderresult": ("orderresult", "4"),
    "/charge/charge": ("charge", "1"),
    "/cancel/cancel": ("cancel", "4"),
    "/cancel/wscancel": ("wscancel", "4"),
    "/resultbydate/resultbydate": ("resultbydate", "1"),
    "/notification/replay": ("replay", "1"),
    "/notification/undelivered": ("undelivered", "1"),
}
_WINDOW = [p + n for p in ("start", "end") for n in ("year", "month", "day", "hour", "min")]


class _Params:
    """The request's parameters, names in lower case, and the client's address."""

    def __init__(self, values: dict[str, Any]):
        self.values = {str(k).lower(): v for k, v in values.items()}
        self.client: str | None = None

    def get(self, name: str):
        value = self.values.get(name)
        return None if value is None else str(value)

    def creds(self) -> Credentials:
        return Credentials(self.get("merchant_id"), self.get("login"), self.get("password"),
                           self.client)

    def window(self) -> dict[str, Any]:
        return {name: self.get(name) for name in _WINDOW}


def _params() -> tuple[_Params, bool]:
    """(parameters, whether the body was JSON) of the Flask request."""
    if request.mimetype == "application/json":
        return _json_params(request.get_data(cache=False)), True
    values = request.form.to_dict() if request.method == "POST" else {}
    for key, value in request.args.items():
        values.setdefault(key, value)
    return _Params(values), False


def _json_params(body: bytes) -> _Params:
    return _Params(json_object(body))


def _format(params: _Params, is_json: bool, default: str) -> str:
    if is_json:
        return "5"
    fmt = (params.get("format") or "").strip() or default
    if fmt not in ("1", "3", "4", "5"):
        raise AssistError(f"Format {fmt!r} is not supported: use 1 (CSV), 3 (XML), 4 (SOAP) or "
                          f"5 (JSON)", Second.FORMAT, firstcode=5)
    return fmt


def _csv_options(params: _Params) -> formats.CsvOptions:
    delimiter = params.get("delimiter")
    if delimiter is None or delimiter == "":
        delimiter = ";"
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise AssistError("Delimiter is one character, not a quote or a line break",
                          Second.DELIMITER, firstcode=5)
    header = (params.get("header") or "1").strip()
    if header not in ("0", "1"):
        raise AssistError("Header must be 0 or 1", Second.HEADER, firstcode=5)
    return formats.CsvOptions(delimiter, header == "1")


class Reply:
    """A whole reply as a WSGI application: what the POST faces answer.  Lighter than a
    Flask ``Response`` on the hot path of an ERP polling (``soap.dispatch`` calls it
    directly); a Flask view returning it gets it turned into a ``Response``."""

    __slots__ = ("body", "content_type", "status")

    def __init__(self, body: bytes, content_type: str, status: str = "200 OK"):
        self.body, self.content_type, self.status = body, content_type, status

    def __call__(self, environ, start_response):
        start_response(self.status, [("Content-Type", self.content_type),
                                     ("Content-Length", str(len(self.body)))])
        return [self.body]


def _reply(fmt: str, body: bytes, status: str = "200 OK") -> Reply:
    return Reply(body, formats.CONTENT_TYPES[fmt], status)


def _error(fmt: str, exc: AssistError, csv: formats.CsvOptions | None = None) -> Reply:
    if fmt == "5":
        status, body = assist_json.error(exc.firstcode, exc.secondcode, exc.message)
        return _reply("5", body, status)
    if fmt == "1":
        return _reply("1", formats.csv_error(exc.firstcode, exc.secondcode, exc.message,
                                             csv or formats.CsvOptions()))
    return _reply("3", formats.xml_error(exc.firstcode, exc.secondcode, exc.message))


def _rows(answer: Answer, build: Callable) -> list[dict]:
    """The reply's rows as ``services.replies`` builds them (values not yet text)."""
    if answer.operation is not None:
        return [build(answer.orders[0], answer.operation, answer.checkvalues[0],
                      answer.packet_date)]
    return [build(o, cv, answer.packet_date)
            for o, cv in zip(answer.orders, answer.checkvalues)]


def _render(fmt: str, rows: list[dict], row_name: str, csv: formats.CsvOptions,
            wrapper: str | None = None, *, short: bool = False,
            json: Callable[[list[dict]], bytes]) -> Reply:
    """``short``: ``packetdate`` to the minute (order state and order result); ``json``
    writes the JSON reply of the rows (``web.assist_json``)."""
    if fmt == "3":
        return _reply(fmt, formats.xml_reply(rows, row_name, wrapper, short_packetdate=short))
    if fmt == "5":
        return _reply(fmt, json(rows))
    rows = [formats.flat(row, short) for row in rows]
    return _reply(fmt, formats.csv_reply(rows, csv))


def answer(api: MerchantApi, path: str, load: Callable[[], tuple[_Params, bool]],
           query_string: str, client: str | None, json_body: bool = False
           ) -> Reply | Response:
    """The reply to a request for the service at ``path`` (without ``.cfm``) from the
    address ``client``, whatever becomes of it: a refusal is a reply in the asked format
    too (in JSON for a JSON body, even one that cannot be read)."""
    key, default = SERVICES[path]
    fmt, csv = "5" if json_body else "3", formats.CsvOptions()
    try:
        params, is_json = load()
        params.client = client
        fmt = _format(params, is_json, default)
        if fmt == "4":  # a JSON body asking for SOAP: answer in JSON
            fmt = "5"
        refuse_unfit_text(params.values)
        if fmt == "1":
            csv = _csv_options(params)
        refuse_password_in_query(query_string)
        return _SERVICES[key](api, params, fmt, csv)
    except AssistError as exc:
        return _error(fmt, exc, csv)


def post_handler(api: MerchantApi) -> Callable:
    """For ``soap.dispatch``: a POST's reply straight from its body, without a Flask
    request (the hot path of an ERP polling for states); ``client`` is the WSGI
    ``REMOTE_ADDR``."""

    def handle(path: str, body: bytes, is_json: bool, query_string: str, client: str | None):
        def load() -> tuple[_Params, bool]:
            if is_json:
                return _json_params(body), True
            return _Params(dict(parse_qsl(body.decode("utf-8", "replace"),
                                          keep_blank_values=True))), False

        return answer(api, path, load, query_string, client, is_json)

    return handle


def merchant_blueprint(api: MerchantApi) -> Blueprint:
    """The same services as Flask routes (GET and POST), and their OpenAPI document."""
    bp = Blueprint("merchant_services", __name__)

    def handle(path: str) -> Reply | Response:
        return answer(api, path, _params, request.query_string.decode("latin-1"),
                      request.environ.get("REMOTE_ADDR"), request.mimetype == "application/json")

    for path in SERVICES:
        bp.add_url_rule(path + ".cfm", f"ws_{SERVICES[path][0]}",
                        (lambda p: lambda: handle(p))(path), methods=["GET", "POST"])
    document = openapi.document_bytes()

    @bp.get("/openapi.json")
    def openapi_json() -> Reply:
        """The JSON interface's OpenAPI document (``wsdl/openapi.json``)."""
        return Reply(document, "application/json; charset=utf-8")

    return bp


# -- the services ------------------------------------------------------------------------------
def _orderstate(api: MerchantApi, p: _Params, fmt: str, csv) -> Reply:
    answer = api.order_state(p.creds(), p.get("ordernumber"), p.window())
    return _render(fmt, _rows(answer, replies.order_state), "order", csv, short=True,
                   json=lambda rows: assist_json.orderstate(rows, True))


def _orderresult(api: MerchantApi, p: _Params, fmt: str, csv) -> Reply:
    answer = api.order_result(p.creds(), p.get("ordernumber"), p.window(),
                              language=p.get("language"), bill_number=p.get("billnumber"))
    return _render(fmt, _rows(answer, replies.order_result), "order", csv, short=True,
                   json=lambda rows: assist_json.orderresult(rows, True))


def _charge(api: MerchantApi, p: _Params, fmt: str, csv) -> Reply:
    answer = api.confirm(p.creds(), p.get("billnumber"), p.get("amount"), p.get("currency"),
                         auto_deposit=p.get("autodeposit"), client_ip=p.get("clientip"),
                         language=p.get("language"))
    return _render(fmt, _rows(answer, replies.operation_order), "order", csv, "orders",
                   json=lambda rows: assist_json.operation_reply("charge", rows[0]))


def _cancel_answer(api: MerchantApi, p: _Params) -> Answer:
    return api.cancel(p.creds(), p.get("billnumber"), p.get("amount"), p.get("currency"),
                      reason=p.get("cancelreason"), external_id=p.get("externalrefundid"),
                      client_ip=p.get("clientip"), language=p.get("language"))


def _cancel(api: MerchantApi, p: _Params, fmt: str, csv) -> Reply:
    answer = _cancel_answer(api, p)
    return _render(fmt, _rows(answer, replies.operation_order), "order", csv, "orders",
                   json=lambda rows: assist_json.operation_reply("cancel", rows[0]))


def _wscancel(api: MerchantApi, p: _Params, fmt: str, csv) -> Reply:
    answer = _cancel_answer(api, p)
    # In JSON the operation has every field of an order result's (its means type too).
    return _render(fmt, _rows(answer, replies.wscancel_order), "order", csv,
                   json=lambda rows: assist_json.wscancel(dict(
                       rows[0], operation=[replies.result_operation(answer.operation)])))


def _resultbydate(api: MerchantApi, p: _Params, fmt: str, csv) -> Response:
    stream = api.results_by_date(p.creds(), p.window(), success=p.get("success"))
    lines = stream.csv(csv.delimiter) if fmt == "1" else None
    if lines is not None:  # the same CSV, made by the database
        body = formats.stream_csv(replies.RESULT_LINE_FIELDS, lines, csv)
    else:
        rows = (replies.result_line(line) for line in stream)
        body = formats.stream_rows(fmt, replies.RESULT_LINE_FIELDS, rows, csv)
    return Response(body, content_type=formats.CONTENT_TYPES[fmt])  # streamed


def _notifications(fmt: str, key: str, rows: list[dict], names: tuple[str, ...],
                   csv) -> Reply:
    """A list of notifications; in CSV the header is there even when the list is empty."""
    rows = [formats.flat(row, False) for row in rows]
    if fmt != "1":
        return _render(fmt, rows, "notification", csv,
                       json=lambda rows: assist_json.listing(key, "notifications", rows))
    lines = [csv.line(names)] if csv.header else []
    lines += [csv.line(row[name] for name in names) for row in rows]
    return _reply(fmt, "".join(lines).encode("utf-8"))


def _replay(api: MerchantApi, p: _Params, fmt: str, csv) -> Reply:
    lines = notices.replay(api, p.creds(), p.get("billnumber"), p.get("ordernumber"),
                           p.window())
    return _notifications(fmt, "replay", [notices.replay_row(line) for line in lines],
                          notices.REPLAY_FIELDS, csv)


def _undelivered(api: MerchantApi, p: _Params, fmt: str, csv) -> Reply:
    lines = notices.undelivered(api, p.creds(), p.window())
    return _notifications(fmt, "undelivered", [notices.undelivered_row(line) for line in lines],
                          notices.UNDELIVERED_FIELDS, csv)


_SERVICES: dict[str, Callable[..., Reply | Response]] = {
    "orderstate": _orderstate, "orderresult": _orderresult, "charge": _charge,
    "cancel": _cancel, "wscancel": _wscancel, "resultbydate": _resultbydate,
    "replay": _replay, "undelivered": _undelivered,
}
