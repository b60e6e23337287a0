"""Fakes of the ports, for unit tests of the use cases."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from assist_ws.domain.model import Order
from assist_ws.domain.ports import Outcome, ProcessingReply


class MovableClock:
    def __init__(self, start: datetime | None = None):
        self.current = start or datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.current

    def move(self, **delta) -> None:
        self.current += timedelta(**delta)


class _Dict:
    def __init__(self, store: dict, key):
        self.store, self.key = store, key

    def get(self, *key):
        return self.store.get(key if len(key) > 1 else key[0])

    def add(self, obj):
        self.store[self.key(obj)] = obj

    def list(self):
        return list(self.store.values())


class FakeOrders:
    def __init__(self, store: dict):
        self.store = store

    def add(self, order: Order):
        self.store[order.bill_number] = order

    def get(self, bill_number, *, merchant_id=None, lock=False):
        o = self.store.get(bill_number)
        return o if o and (merchant_id is None or o.merchant_id == merchant_id) else None

    def by_order_number(self, merchant_id, order_number, **_):
        return [o for o in self.store.values()
                if o.merchant_id == merchant_id and o.order_number == order_number]

    def attempts(self, bill_number, **_):
        this = self.store.get(bill_number)
        if this is None:
            return []
        return sorted((o for o in self.store.values() if o.merchant_id == this.merchant_id
                       and o.order_number == this.order_number), key=lambda o: o.created_at)

    def bill_number_taken(self, bill):
        return bill in self.store

    def due_for_settlement(self, center, limit):
        due = [o for o in self.store.values()
               if o.center == center and o.state in ("Approved", "PartialDelayed",
                                                     "PartialCanceled")
               and o.card_payment is not None and o.card_payment.succeeded
               and o.card_payment.financial is None]
        return due[:limit]

    def with_open_transactions(self, now, limit, older_than):
        found = []
        for o in self.store.values():
            for op in o.operations:
                for t in op.transactions:
                    waiting = (t.state == "sent" and t.sent_at < older_than) or \
                        t.state == "unknown"
                    if waiting and (t.next_attempt_at is None or t.next_attempt_at <= now):
                        found.append(o)
                        break
                else:
                    continue
                break
        return found[:limit]


class FakeUnitOfWork:
    """Commits by snapshot: leaving without commit() restores what was there before."""

    def __init__(self):
        self.data = {"merchants": {}, "users": {}, "centers": {}, "rates": {}, "orders": {}}
        self.commits = 0

    def _bind(self):
        d = self.data
        self.merchants = _Dict(d["merchants"], lambda m: m.merchant_id)
        self.users = _Dict(d["users"], lambda u: (u.merchant_id, u.login))
        self.centers = _Dict(d["centers"], lambda c: c.name)
        self.rates = _Dict(d["rates"], lambda r: (r.source, r.target))
        self.orders = FakeOrders(d["orders"])

    def __enter__(self):
        self._saved = copy.deepcopy(self.data)
        self._bind()
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            self.data = self._saved
            self._bind()

    def commit(self):
        self.commits += 1
        self._saved = copy.deepcopy(self.data)

    def rollback(self):
        self.data = copy.deepcopy(self._saved)
        self._bind()

    def flush(self):
        pass


class FakeGateway:
    """Answers from a script: ``replies[kind]`` is a list consumed in order (default success)."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.replies: dict[str, list[ProcessingReply]] = {}

    def _next(self, kind, request_id):
        queue = self.replies.get(kind) or []
        reply = queue.pop(0) if queue else ProcessingReply(Outcome.SUCCESS, "AS000",
                                                           approval_code="A1B2C3",
                                                           reference="R" + request_id[:6])
        return reply

    def authorize(self, center, request_id, card, amount):
        self.calls.append(("authorize", request_id, amount))
        return self._next("authorize", request_id)

    def reverse(self, center, request_id, authorization_request_id, amount):
        self.calls.append(("reverse", request_id, amount))
        return self._next("reverse", request_id)

    def refund(self, center, request_id, authorization_request_id, amount):
        self.calls.append(("refund", request_id, amount))
        return self._next("refund", request_id)

    def settle(self, center, batch_id, items):
        self.calls.append(("settle", batch_id, [i.amount for i in items]))
        return {i.request_id: self._next("settle", i.request_id) for i in items}

    def status(self, center, request_id):
        self.calls.append(("status", request_id))
        return self._next("status", request_id)

    def count(self, kind):
        return sum(1 for c in self.calls if c[0] == kind)
