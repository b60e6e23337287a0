"""Every operation of the ``ProcessingGateway`` port through ``SoapProcessingGateway`` against
the emulator over HTTP, those Zeep writes and those written with lxml alike: each reaches the
center and reads its answer."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from assist_ws.domain.cards import CardData
from assist_ws.domain.model import ProcessingCenter
from assist_ws.domain.money import Money
from assist_ws.domain.ports import Outcome
from assist_ws.domain.settlement import SettlementItem
from assist_ws.processing import SoapProcessingGateway, Timeouts

RICH = "4276000000000009"     # enrolled, 1000 points
POOR = "4276000000000017"     # enrolled, 0 points


def _money(amount: str) -> Money:
    return Money(Decimal(amount), "RUB")


def test_every_operation_of_the_port(emulator):
    gw = SoapProcessingGateway(Timeouts(connect=2, read=5, batch_read=10))
    center = ProcessingCenter("emulator-rub", f"{emulator.base}/emulator-rub?wsdl", "RUB")
    card = CardData("4111111111111111", 12, datetime.now(timezone.utc).year + 1, "IVAN IVANOV",
                    "123")
    rid = emulator.rid
    auth = gw.authorize(center, rid("a"), card, _money("30.00"))
    assert auth.outcome is Outcome.SUCCESS
    status = gw.status(center, auth.request_id)
    assert (status.outcome, status.kind, status.reference) == (Outcome.SUCCESS, "authorize",
                                                               auth.reference)
    reverse = gw.reverse(center, rid("v"), auth.request_id, _money("10.00"))
    assert (reverse.outcome, reverse.response_code) == (Outcome.SUCCESS, "AS000")
    settle = gw.settle(center, rid("b"), [SettlementItem(rid("s"), auth.request_id,
                                                         _money("20.00"))])
    assert [r.outcome for r in settle.replies.values()] == [Outcome.SUCCESS]
    refund = gw.refund(center, rid("r"), auth.request_id, _money("5.00"))
    assert refund.outcome is Outcome.SUCCESS
    assert gw.status(center, rid("never")).outcome is Outcome.NOT_FOUND

    assert (gw.points_balance(center, RICH), gw.points_balance(center, card.number)) == (
        1000, None)
    paid = gw.pay_with_points(center, rid("p"), RICH, 300)
    back = gw.return_points(center, rid("pr"), paid.request_id, 100)
    poor = gw.authorize(center, rid("pa"), CardData(POOR, 12, card.expire_year, "IVAN", "123"),
                        _money("1.00"))
    accrued = gw.accrue_points(center, rid("ac"), poor.request_id, 50)
    cancelled = gw.cancel_accrual(center, rid("cc"), accrued.request_id, 50)
    assert [r.outcome for r in (paid, back, accrued, cancelled)] == [Outcome.SUCCESS] * 4
    assert (gw.points_balance(center, RICH), gw.points_balance(center, POOR)) == (800, 0)

    ledger = emulator.ledger()["centers"]["emulator-rub"]
    # held: the 1.00 authorized on the poor card for its accrual
    assert (ledger["held"], ledger["settled"], ledger["refunded"]) == ("1.00", "20.00", "5.00")
