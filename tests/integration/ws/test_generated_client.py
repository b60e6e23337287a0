"""A JSON client generated from the OpenAPI document by openapi-python-client, as an
integrator would generate one, runs order state, charge and wscancel against the server and
reads every reply -- refusals included -- with its own models.  The document it is
generated from is the committed ``wsdl/openapi.json``, which the server serves byte for byte
at ``/openapi.json`` (``test_json_interface``)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ...openapi_check import DOC_PATH
from ..conftest import MERCHANT
from .conftest import PASSWORD, USERS, paid_order

PACKAGE = "assist_json_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The generated client package, imported (generated once for the module)."""
    where = tmp_path_factory.mktemp("generated")
    config = where / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run over the generated code
    tool = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run([str(tool), "generate", "--path", str(DOC_PATH), "--meta", "none",
                           "--output-path", str(where / PACKAGE), "--config", str(config)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_a_generated_client_runs_orderstate_charge_and_wscancel(gw, server, generated):
    models = importlib.import_module(f"{PACKAGE}.models")
    orderstate, charge, wscancel = (importlib.import_module(
        f"{PACKAGE}.api.default.{name}") for name in ("orderstate", "charge",
                                                                  "wscancel"))
    client = generated.Client(base_url=server.url, raise_on_unexpected_status=True,
                              timeout=30)
    auth = {"merchant_id": str(MERCHANT), "login": "erp_user", "password": PASSWORD}
    number, bill = paid_order(gw, "50.00", delay=True)

    # JSON bodies
    reply = orderstate.sync(client=client, body=models.OrderstateRequest(
        ordernumber=number, **auth))
    assert isinstance(reply, models.OrderStateReply)
    assert (reply.orderstate.billnumber, reply.orderstate.orderstate,
            reply.orderstate.orderamount) == (bill, "Delayed", "50.00")
    assert reply.orderstate.checkdata.checkvalue

    confirmed = charge.sync(client=client, body=models.ChargeRequest(
        billnumber=bill, **auth))
    assert isinstance(confirmed, models.ChargeReply)
    assert (confirmed.charge.billnumber, confirmed.charge.operationtype,
            confirmed.charge.responsecode, confirmed.charge.orderstate) == (
        f"{bill}.2", "200", "AS000", "Approved")

    # A form asking for Format=5
    form_format = models.WscancelFormFormat("5")
    canceled = wscancel.sync(client=client, body=models.WscancelForm(
        billnumber=bill, externalrefundid="gen-" + uuid.uuid4().hex[:16], format_=form_format,
        **auth))
    assert isinstance(canceled, models.WsCancelReply)
    order = canceled.wscancel.order
    assert (order.billnumber, order.orderstate) == (bill, "Canceled")
    assert [(op.operationtype, op.amount) for op in order.operations] == [("300", "50.00")]
    assert canceled.wscancel.checkdata.checkvalue

    # Refusals arrive as the document's Error, by their status.
    missing = orderstate.sync_detailed(client=client, body=models.OrderstateRequest(
        ordernumber="NO-" + number, **auth))
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Error)
    assert (missing.parsed.firstcode, missing.parsed.secondcode) == (10, 201)
    merchant, password, _ = USERS["monitor_only"]
    denied = charge.sync_detailed(client=client, body=models.ChargeRequest(
        billnumber=bill, merchant_id=str(merchant), login="monitor_only", password=password))
    assert denied.status_code == 403 and denied.parsed.firstcode == 8
