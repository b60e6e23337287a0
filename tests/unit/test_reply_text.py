"""The one table of how a reply value becomes text (the POST formats' and SOAP's differ in
times only), the one chunking of streamed replies, and the one list of merchant services
that both faces read."""

from datetime import datetime, timezone
from decimal import Decimal

from assist_ws.domain.model import OperationState
from assist_ws.domain.money import Money
from assist_ws.services.merchant_services import BY_PATH, SERVICES, Params
from assist_ws.services.replies import POST_TEXT, SOAP_TEXT, chunked, text, xml_text

MOMENT = datetime(2026, 5, 1, 9, 5, 7, 123456, tzinfo=timezone.utc)


def test_values_as_post_and_soap_text():
    values = [None, "a", 7, True, Decimal("1.50"), Money(Decimal("4"), "RUB"),
              OperationState.SUCCESS]
    expected = ["", "a", "7", "1", "1.50", "4.00", "Success"]
    assert [text(v) for v in values] == expected
    assert [text(v, SOAP_TEXT) for v in values] == expected
    assert text(MOMENT, POST_TEXT) == "01.05.2026 09:05:07"
    assert text(MOMENT, SOAP_TEXT) == "2026-05-01T09:05:07+00:00"


def test_xml_text_escapes_and_replaces_what_xml_cannot_hold():
    assert xml_text("a<b & c>") == "a&lt;b &amp; c&gt;"
    assert xml_text("bad\x01") == "bad\ufffd"


def test_chunks_join_to_the_whole_and_stay_near_their_size():
    pieces = [f"<row>{i}</row>" for i in range(5000)]
    chunks = list(chunked(pieces, size=1000))
    assert b"".join(chunks) == "".join(pieces).encode()
    assert len(chunks) > 40 and all(len(c) < 1000 + 20 for c in chunks)
    assert list(chunked([])) == []


def test_one_entry_per_path_and_parameters_read_as_text():
    assert len(BY_PATH) == len(SERVICES) == 8
    assert all({"merchant_id", "login", "password"} <= set(s.fields) for s in SERVICES)
    p = Params({"Amount": Decimal("1E+1"), "Merchant_ID": 100001, "Login": "erp"}, "10.0.0.1")
    assert (p.get("amount"), p.get("merchant_id"), p.get("password")) == ("10", "100001", None)
    assert p.creds().client == "10.0.0.1" and p.window()["startyear"] is None
