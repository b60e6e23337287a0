"""The CSV, XML and SOAP replies of the merchant services, byte for byte: what changes from
one request to the next (the order's numbers, times, checkvalues, approval codes) is put
back to a placeholder and the rest compared with ``golden/replies.json``, written from the
replies as they were before the JSON interface took Assist's shapes.

``ASSIST_WRITE_GOLDEN=1`` writes the file anew instead of comparing (then review the diff)."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import requests

from ..conftest import MERCHANT
from .conftest import PASSWORD, paid_order

GOLDEN = Path(__file__).with_name("golden") / "replies.json"
AUTH = {"Merchant_ID": str(MERCHANT), "Login": "erp_user", "Password": PASSWORD}
_DATE = re.compile(r"\d\d\.\d\d\.\d{4} \d\d:\d\d(:\d\d)?")
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_HEX = re.compile(r"\b[0-9A-Fa-f]{32}\b")


def _normal(text: str, values: dict[str, str]) -> str:
    for name, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
        text = text.replace(value, "{" + name + "}")
    text = _DATE.sub(lambda m: "{DATE}" if m.group(1) else "{MINUTE}", text)
    text = _ISO.sub("{ISODATE}", text)
    return _HEX.sub("{MD5}", text)


def _post(server, name: str, fmt: str, **fields) -> str:
    r = requests.post(server.cfm(name), data=dict(AUTH, Format=fmt, **fields), timeout=30)
    return f"{r.status_code} {r.headers['Content-Type']}\n{r.content.decode('utf-8')}"


def test_csv_xml_and_soap_replies_are_as_before(gw, server):
    number = "GOLD-" + uuid.uuid4().hex[:10]
    got: dict[str, str] = {}
    _, bill = paid_order(gw, "40.00", delay=True, number=number)
    ext = [uuid.uuid4().hex[:20] for _ in range(2)]
    values = {"NUMBER": number, "BILL": bill, "EXT1": ext[0], "EXT2": ext[1]}
    for fmt in ("1", "3", "4"):
        got[f"orderstate-{fmt}"] = _post(server, "orderstate", fmt, Ordernumber=number)
        got[f"orderresult-{fmt}"] = _post(server, "orderresult", fmt, Ordernumber=number)
    for fmt in ("1", "3", "4"):  # the first confirms, the others get its stored result
        got[f"charge-{fmt}"] = _post(server, "charge", fmt, Billnumber=bill)
    for fmt in ("1", "3", "4"):
        got[f"cancel-{fmt}"] = _post(server, "cancel", fmt, Billnumber=bill, Amount="10.00",
                                     Currency="RUB", Externalrefundid=ext[0])
    for fmt in ("1", "3", "4"):
        got[f"wscancel-{fmt}"] = _post(server, "wscancel", fmt, Billnumber=bill,
                                       Externalrefundid=ext[1])
    for fmt in ("1", "3", "4"):  # refusals
        got[f"refused-{fmt}"] = _post(server, "orderstate", fmt, Ordernumber="NO-" + number)
    with gw.uow as uow:
        order = uow.orders.get(bill)
        codes = {op.approval_code for op in order.operations if op.approval_code}
    values.update((f"APPROVAL{i}", code) for i, code in enumerate(sorted(codes)))
    normal = {key: _normal(text, values) for key, text in got.items()}
    if os.environ.get("ASSIST_WRITE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(normal, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert normal.keys() == expected.keys()
    for key in expected:
        assert normal[key] == expected[key], key
