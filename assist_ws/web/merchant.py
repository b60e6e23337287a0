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
from ..services import replies
from ..services.merchant_api import MerchantApi, refuse_password_in_query, refuse_unfit_text
from ..services.merchant_services import BY_PATH, SERVICES, MerchantService, Params
from . import assist_json, formats, openapi
from .bodies import json_object

def _params() -> tuple[Params, bool]:
    """(parameters, whether the body was JSON) of the Flask request."""
    if request.mimetype == "application/json":
        return Params(json_object(request.get_data(cache=False))), True
    values = request.form.to_dict() if request.method == "POST" else {}
    for key, value in request.args.items():
        values.setdefault(key, value)
    return Params(values), False


def _format(params: Params, is_json: bool, default: str) -> str:
    if is_json:
        return "5"
    fmt = (params.get("format") or "").strip() or default
    if fmt not in ("1", "3", "4", "5"):
        raise AssistError(f"Format {fmt!r} is not supported: use 1 (CSV), 3 (XML), 4 (SOAP) or "
                          f"5 (JSON)", Second.FORMAT, firstcode=5)
    return fmt


def _csv_options(params: Params) -> formats.CsvOptions:
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


def answer(api: MerchantApi, path: str, load: Callable[[], tuple[Params, bool]],
           query_string: str, client: str | None, json_body: bool = False
           ) -> Reply | Response:
    """The reply to a request for the service at ``path`` (without ``.cfm``) from the
    address ``client``, whatever becomes of it: a refusal is a reply in the asked format
    too (in JSON for a JSON body, even one that cannot be read)."""
    spec = BY_PATH[path]
    fmt, csv = "5" if json_body else "3", formats.CsvOptions()
    try:
        params, is_json = load()
        params.client = client
        fmt = _format(params, is_json, spec.default_format)
        if fmt == "4":  # a JSON body asking for SOAP: answer in JSON
            fmt = "5"
        refuse_unfit_text(params.values)
        if fmt == "1":
            csv = _csv_options(params)
        refuse_password_in_query(query_string)
        return _serve(spec, api, params, fmt, csv)
    except AssistError as exc:
        return _error(fmt, exc, csv)


def post_handler(api: MerchantApi) -> Callable:
    """For ``soap.dispatch``: a POST's reply straight from its body, without a Flask
    request (the hot path of an ERP polling for states); ``client`` is the WSGI
    ``REMOTE_ADDR``."""

    def handle(path: str, body: bytes, is_json: bool, query_string: str, client: str | None):
        def load() -> tuple[Params, bool]:
            if is_json:
                return Params(json_object(body)), True
            return Params(dict(parse_qsl(body.decode("utf-8", "replace"),
                                         keep_blank_values=True))), False

        return answer(api, path, load, query_string, client, is_json)

    return handle


def merchant_blueprint(api: MerchantApi) -> Blueprint:
    """The same services as Flask routes (GET and POST), and their OpenAPI document."""
    bp = Blueprint("merchant_services", __name__)

    def handle(path: str) -> Reply | Response:
        return answer(api, path, _params, request.query_string.decode("latin-1"),
                      request.environ.get("REMOTE_ADDR"), request.mimetype == "application/json")

    for spec in SERVICES:
        bp.add_url_rule(spec.path + ".cfm", f"ws_{spec.key}",
                        (lambda p: lambda: handle(p))(spec.path), methods=["GET", "POST"])
    document = openapi.document_bytes()

    @bp.get("/openapi.json")
    def openapi_json() -> Reply:
        """The JSON interface's OpenAPI document (``wsdl/openapi.json``)."""
        return Reply(document, "application/json; charset=utf-8")

    return bp


def _serve(spec: MerchantService, api: MerchantApi, p: Params, fmt: str,
           csv: formats.CsvOptions) -> Reply | Response:
    """The service's answer in ``fmt``: its rows (``spec.rows``) in XML or CSV, in JSON in
    the service's own shape (``_JSON``); results by date streamed."""
    answer = spec.call(api, p)
    if spec.rows is None:
        return _stream(answer, fmt, csv)
    rows = spec.rows(answer)
    if fmt == "3":
        return _reply(fmt, formats.xml_reply(rows, spec.row, spec.wrapper,
                                             short_packetdate=spec.short))
    if fmt == "5":
        return _reply(fmt, _JSON[spec.key](rows, answer))
    return _reply(fmt, formats.csv_reply([formats.flat(row, spec.short) for row in rows], csv,
                                         spec.columns))


def _stream(stream, fmt: str, csv: formats.CsvOptions) -> Response:
    names = replies.RESULT_LINE_FIELDS
    lines = stream.csv(csv.delimiter) if fmt == "1" else None
    if lines is not None:  # the same CSV, made by the database
        body = formats.stream_csv(names, lines, csv)
    else:
        body = formats.stream_rows(fmt, names, (replies.result_line(line) for line in stream),
                                   csv)
    return Response(body, content_type=formats.CONTENT_TYPES[fmt])  # streamed


def _listing(key: str) -> Callable[[list[dict], Any], bytes]:
    return lambda rows, _answer: assist_json.listing(
        key, "notifications", [formats.flat(row, False) for row in rows])


#: The JSON reply of each service (``web.assist_json``) from its rows and its answer.
_JSON: dict[str, Callable[[list[dict], Any], bytes]] = {
    "orderstate": lambda rows, _a: assist_json.orderstate(rows, True),
    "orderresult": lambda rows, _a: assist_json.orderresult(rows, True),
    "charge": lambda rows, _a: assist_json.operation_reply("charge", rows[0]),
    "cancel": lambda rows, _a: assist_json.operation_reply("cancel", rows[0]),
    # In JSON the operation has every field of an order result's (its means type too).
    "wscancel": lambda rows, a: assist_json.wscancel(dict(
        rows[0], operation=[replies.result_operation(a.operation)])),
    "replay": _listing("replay"), "undelivered": _listing("undelivered"),
}
