"""The JSON shapes and refusal statuses of ``web.assist_json``, without a server, and the OpenAPI
document as committed."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from openapi_spec_validator import validate

from assist_ws.domain.money import Money
from assist_ws.web import assist_json
from assist_ws.web.openapi import document_bytes

from ..openapi_check import DOC_PATH, check

T = datetime(2026, 12, 8, 9, 30, 5, tzinfo=timezone.utc)


def _state(bill: str, state: str) -> dict:
    return {"ordernumber": "N-1", "billnumber": bill, "orderamount": Money(Decimal("4"), "RUB"),
            "ordercurrency": "RUB", "orderstate": state, "packetdate": T, "signature": "",
            "checkvalue": "AB"}


def test_order_state_is_the_latest_attempt_with_its_checkdata():
    body = assist_json.orderstate([_state("1" * 16, "Declined"), _state("2" * 16, "Approved")],
                                  True)
    assert json.loads(body) == {"orderstate": {
        "ordernumber": "N-1", "billnumber": "2" * 16, "orderamount": "4.00",
        "ordercurrency": "RUB", "orderstate": "Approved",
        "checkdata": {"packetdate": "08.12.2026 09:30", "signature": "", "checkvalue": "AB"}}}
    assert check("/orderstate/orderstate.cfm", 200, body) == []


def test_refusals_have_the_status_of_their_kind():
    assert [assist_json.status_of(code) for code in (3, 4, 5, 7, 8, 10, 15, 17, 19, 2)] == [
        400, 400, 400, 401, 403, 404, 400, 400, 403, 503]
    status, body = assist_json.error(10, 201, "no order")
    assert status == "404 Not Found"
    assert json.loads(body) == {"firstcode": 10, "secondcode": 201, "message": "no order"}


def test_the_committed_document_is_the_generated_one_and_valid():
    assert DOC_PATH.read_bytes() == document_bytes(), "run scripts/regen-openapi"
    validate(json.loads(document_bytes()))
