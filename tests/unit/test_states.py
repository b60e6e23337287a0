"""The order state table: every allowed row, and every forbidden (state, event) pair."""

import itertools

import pytest

from assist_ws.domain.errors import StateTransitionRefused
from assist_ws.domain.states import TRANSITIONS, OrderEvent, OrderState, allows, next_state

S, E = OrderState, OrderEvent

# The state table, written out again by hand so that a change to the table has to change this too.
TABLE_ROWS = {
    (S.IN_PROCESS, E.PAY_APPROVED): S.APPROVED,
    (S.IN_PROCESS, E.PAY_HELD): S.DELAYED,
    (S.IN_PROCESS, E.PAY_DECLINED): S.DECLINED,
    (S.IN_PROCESS, E.BUYER_TIMEOUT): S.TIMEOUT,
    (S.IN_PROCESS, E.PAY_UNKNOWN): S.IN_PROCESS,
    (S.DELAYED, E.CONFIRM_FULL): S.APPROVED,
    (S.DELAYED, E.CONFIRM_PART): S.PARTIAL_DELAYED,
    (S.DELAYED, E.CANCEL_REST): S.CANCELED,
    (S.DELAYED, E.HOLD_EXPIRED): S.CANCELED,
    (S.APPROVED, E.CANCEL_REST): S.CANCELED,
    (S.APPROVED, E.CANCEL_PART): S.PARTIAL_CANCELED,
    (S.PARTIAL_DELAYED, E.CANCEL_REST): S.CANCELED,
    (S.PARTIAL_DELAYED, E.CANCEL_PART): S.PARTIAL_CANCELED,
    (S.PARTIAL_CANCELED, E.CANCEL_REST): S.CANCELED,
    (S.PARTIAL_CANCELED, E.CANCEL_PART): S.PARTIAL_CANCELED,
}

FORBIDDEN = [pair for pair in itertools.product(S, E) if pair not in TABLE_ROWS]


def test_the_table_is_exactly_the_spec():
    assert TRANSITIONS == TABLE_ROWS


@pytest.mark.parametrize("state,event", list(TABLE_ROWS), ids=lambda v: str(v))
def test_every_row(state, event):
    assert next_state(state, event) is TABLE_ROWS[(state, event)]
    assert allows(state, event)


@pytest.mark.parametrize("state,event", FORBIDDEN, ids=lambda v: str(v))
def test_every_forbidden_pair_is_refused_with_assist_codes(state, event):
    with pytest.raises(StateTransitionRefused) as info:
        next_state(state, event, bill_number="1234567890123456")
    err = info.value
    assert err.firstcode == 15
    assert err.secondcode in (164, 306, 307, 308)
    assert state.value in err.message and "1234567890123456" in err.message
    assert not allows(state, event)


def test_wire_strings_are_assists():
    assert [s.value for s in S] == ["In Process", "Delayed", "Approved", "PartialApproved",
                                   "PartialDelayed", "Canceled", "PartialCanceled", "Declined",
                                   "Timeout"]


def test_partial_approved_is_unused():
    assert all(S.PARTIAL_APPROVED not in (a, b) for (a, _), b in TRANSITIONS.items())
