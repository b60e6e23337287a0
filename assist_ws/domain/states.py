"""The order state table, as data, and the one function that walks it.

Every change of an order's state is one lookup ``(state, event) -> state`` in ``TRANSITIONS``;
any pair not in the table is refused with a ``StateTransitionRefused`` carrying Assist's codes.
"""

from __future__ import annotations

import enum

from .errors import Second, StateTransitionRefused


class OrderState(str, enum.Enum):
    """Order states; the values are Assist's wire strings, exactly."""

    IN_PROCESS = "In Process"
    DELAYED = "Delayed"
    APPROVED = "Approved"
    PARTIAL_APPROVED = "PartialApproved"  # exists in Assist, unused
    PARTIAL_DELAYED = "PartialDelayed"
    CANCELED = "Canceled"
    PARTIAL_CANCELED = "PartialCanceled"
    DECLINED = "Declined"
    TIMEOUT = "Timeout"

    def __str__(self) -> str:
        return self.value


class OrderEvent(str, enum.Enum):
    PAY_APPROVED = "pay approved (one-stage)"
    PAY_HELD = "pay approved (two-stage)"
    PAY_DECLINED = "pay declined"
    PAY_UNKNOWN = "pay outcome unknown"
    BUYER_TIMEOUT = "buyer timeout"
    CONFIRM_FULL = "confirm (full amount)"
    CONFIRM_PART = "confirm (part of the amount)"
    CANCEL_REST = "cancel (the rest)"
    CANCEL_PART = "cancel (part)"
    HOLD_EXPIRED = "hold expired"

    def __str__(self) -> str:
        return self.value


S, E = OrderState, OrderEvent

#: The state an order is created in (the "(new) -> In Process" row).
INITIAL_STATE = S.IN_PROCESS

#: (state, event) -> new state.  Nothing else is allowed.
TRANSITIONS: dict[tuple[OrderState, OrderEvent], OrderState] = {
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

#: Which secondcode a refused event reports (what the refused request was about).
EVENT_SUBJECT: dict[OrderEvent, int] = {
    E.PAY_APPROVED: Second.PAYMENT,
    E.PAY_HELD: Second.PAYMENT,
    E.PAY_DECLINED: Second.PAYMENT,
    E.PAY_UNKNOWN: Second.PAYMENT,
    E.BUYER_TIMEOUT: Second.ORDER_STATE,
    E.CONFIRM_FULL: Second.CONFIRM,
    E.CONFIRM_PART: Second.CONFIRM,
    E.CANCEL_REST: Second.CANCEL,
    E.CANCEL_PART: Second.CANCEL,
    E.HOLD_EXPIRED: Second.ORDER_STATE,
}

#: States in which the order number counts as paid or held: a new payment for it is refused.
PAID_STATES = frozenset({S.APPROVED, S.DELAYED, S.PARTIAL_DELAYED, S.PARTIAL_CANCELED})

#: States after which nothing can happen to the order any more.
FINAL_STATES = frozenset({S.CANCELED, S.DECLINED, S.TIMEOUT})

_REASONS = {
    S.APPROVED: "it is a one-stage payment or is already confirmed",
    S.CANCELED: "it is already canceled",
    S.DECLINED: "its payment was declined",
    S.TIMEOUT: "it was closed by timeout",
    S.IN_PROCESS: "its payment is not finished",
    S.PARTIAL_DELAYED: "it is already confirmed",
    S.PARTIAL_CANCELED: "it is partly canceled",
}


def next_state(state: OrderState, event: OrderEvent, *, bill_number: str = "") -> OrderState:
    """The state after ``event``, or StateTransitionRefused when the table forbids it."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        pass
    who = f"order {bill_number}" if bill_number else "the order"
    reason = _REASONS.get(state, "")
    text = f"{event} is not allowed: {who} is {state.value}"
    if reason:
        text += f" ({reason})"
    raise StateTransitionRefused(text, EVENT_SUBJECT[event], state.value, event.value)


def allows(state: OrderState, event: OrderEvent) -> bool:
    return (state, event) in TRANSITIONS
