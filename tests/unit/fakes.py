"""Fakes of the ports, for unit tests of the use cases."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from assist_ws.domain.model import (
    OperationType,
    Order,
    Transaction,
    TransactionState,
    TransactionType,
    open_transactions,
)
from assist_ws.domain.ports import (
    OpenTransactionView,
    Outcome,
    ProcessingReply,
    SettlementAnswer,
)
from assist_ws.domain.records import (
    FailureState,
    LoginRecord,
    OperationLine,
    OperationRecord,
    OrderRecord,
)
from assist_ws.domain.settlement import DuePayment


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


class FakeUsers(_Dict):
    """Users, with the login read model over the fake's merchants."""

    def __init__(self, store: dict, merchants: dict):
        super().__init__(store, lambda u: (u.merchant_id, u.login))
        self.merchants = merchants

    def of_merchant(self, merchant_id, *, lock=False):
        return sorted((u for u in self.store.values() if u.merchant_id == merchant_id),
                      key=lambda u: u.login)

    def remove(self, user):
        self.store.pop((user.merchant_id, user.login), None)

    def login_record(self, merchant_id, login):
        user, merchant = self.store.get((merchant_id, login)), self.merchants.get(merchant_id)
        if user is None:
            return None
        return LoginRecord(merchant_id, login, user.password_hash, tuple(user.rights),
                           user.active, merchant.active, merchant.secret_word)


@dataclass
class FailureRow:
    failures: int
    first_failure_at: datetime
    last_failure_at: datetime
    refused_until: datetime | None = None


class FakeLoginFailures:
    """Failed logins by key; ``calls`` gets the writes made, in order."""

    def __init__(self, store: dict, calls: list):
        self.store, self.calls = store, calls

    def state(self, key):
        own, every = self.store.get(key), self.store.get(key.of_client())
        return FailureState(own.failures if own else 0, own.refused_until if own else None,
                            every.refused_until if every else None)

    def count(self, key, now, since):
        self.calls.append(("count", key))
        row = self.store.get(key)
        if row is None or row.first_failure_at < since:
            row = self.store[key] = FailureRow(1, now, now)
        else:
            row.failures += 1
            row.last_failure_at = now
        return row.failures

    def refuse(self, key, until):
        self.calls.append(("refuse", key))
        self.store[key].refused_until = until

    def clear(self, key):
        self.calls.append(("clear", key))
        self.store.pop(key, None)

    def purge(self, before, now, limit):
        self.calls.append(("purge",))
        old = [k for k, r in self.store.items() if r.last_failure_at < before
               and (r.refused_until is None or r.refused_until <= now)][:limit]
        for k in old:
            del self.store[k]
        return len(old)


class FakeOrders:
    def __init__(self, store: dict):
        self.store = store

    def add(self, order: Order):
        self.store[order.bill_number] = order

    def get(self, bill_number, *, merchant_id=None, lock=False):
        o = self.store.get(bill_number)
        return o if o and (merchant_id is None or o.merchant_id == merchant_id) else None

    def by_order_number(self, merchant_id, order_number, **_):
        return sorted((o for o in self.store.values()
                       if o.merchant_id == merchant_id and o.order_number == order_number),
                      key=lambda o: o.created_at)

    def attempts(self, bill_number, **_):
        this = self.store.get(bill_number)
        if this is None:
            return []
        return sorted((o for o in self.store.values() if o.merchant_id == this.merchant_id
                       and o.order_number == this.order_number), key=lambda o: o.created_at)

    def bill_number_taken(self, bill):
        return bill in self.store

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

    def holds_expired(self, now, limit):
        return [o for o in self.store.values() if o.state == "Delayed"
                and o.hold_expires_at <= now and not open_transactions(o)][:limit]

    def abandoned(self, merchant_id, created_before, limit):
        return [o for o in self.store.values() if o.state == "In Process"
                and o.merchant_id == merchant_id and o.created_at < created_before][:limit]

    def loaded(self):
        return list(self.store.values())

    # -- the read models of the merchant's queries ----------------------------------------
    def _created_in(self, merchant_id, window):
        return sorted((o for o in self.store.values() if o.merchant_id == merchant_id
                       and window.start <= o.created_at < window.end),
                      key=lambda o: o.created_at)

    def records_by_order_number(self, merchant_id, order_number, window, *,
                                with_operations=False):
        return [_record(OrderRecord, o, operations=tuple(
                    _record(OperationRecord, op, bill_number=f"{o.bill_number}.{op.number}")
                    for op in o.operations) if with_operations else ())
                for o in self._created_in(merchant_id, window)
                if o.order_number == order_number]

    def login_and_records(self, key, order_number, window):
        record = self.users.login_record(key.merchant_id, key.login)
        return (record, self.login_failures.state(key),
                self.records_by_order_number(key.merchant_id, order_number, window)
                if record else [])

    def operation_lines(self, merchant_id, window, after, limit, *, success=None):
        lines = sorted((_line(o, op) for o in self.store.values()
                        if o.merchant_id == merchant_id for op in o.operations
                        if window.start <= op.created_at < window.end
                        and success in (None, op.state == "Success")),
                       key=lambda line: (line.created_at, line.id))
        return [line for line in lines
                if after is None or (line.created_at, line.id) > after][:limit]

    def renders_csv(self, delimiter):
        return False

    def operation_lines_csv(self, merchant_id, window, delimiter, *, success=None):
        raise RuntimeError("the fake renders no CSV (renders_csv is False)")

    def open_transactions(self, min_attempts):
        return [OpenTransactionView(o.bill_number, op.number, op.type, t.type, t.state,
                                    t.center, t.amount, t.currency, t.attempts, t.sent_at,
                                    t.next_attempt_at, t.message, t.request_id)
                for o in self.store.values() for op in o.operations for t in op.transactions
                if t.state in ("sent", "unknown") and t.attempts >= min_attempts]


def _record(cls, obj, **given):
    """A read model of ``cls`` from the same-named attributes of ``obj`` (and ``given``)."""
    return cls(**{f: given[f] if f in given else getattr(obj, f) for f in cls._fields
                  if f in given or hasattr(obj, f)})


def _line(order, op) -> OperationLine:
    return _record(OperationLine, op, order_number=order.order_number,
                   bill_number=f"{order.bill_number}.{op.number}", test_mode=order.test_mode,
                   order_created_at=order.created_at, order_amount=order.amount,
                   order_currency=order.currency, order_state=order.state,
                   firstname=order.firstname, lastname=order.lastname,
                   middlename=order.middlename, email=order.email)


class FakeNotifications:
    """The outbox and its delivery journal."""

    def __init__(self, data):
        self.items, self.journal = data["notifications"], data["attempts"]

    def add(self, n):
        n.id = len(self.items) + 1
        self.items.append(n)

    def add_attempt(self, a):
        self.journal.append(a)

    def get(self, notification_id, *, merchant_id=None, lock=False):
        return next((n for n in self.items if n.notification_id == notification_id and
                     merchant_id in (None, n.merchant_id)), None)

    def last_sequence(self, order_id):
        return max((n.sequence for n in self.items if n.order_id == order_id), default=0)

    def claimable(self, now, limit):
        due = [n for n in self.items if n.state == "pending" and n.next_attempt_at <= now and
               (n.claimed_until is None or n.claimed_until <= now)]
        return sorted(due, key=lambda n: (n.next_attempt_at, n.id))[:limit]

    def pending_sequences(self, order_ids):
        found = {}
        for n in sorted(self.items, key=lambda n: n.sequence):
            if n.state == "pending" and n.order_id in order_ids:
                found.setdefault(n.order_id, []).append(n.sequence)
        return found

    def find(self, merchant_id=None, *, bill_number=None, order_number=None, since=None,
             until=None, states=None, limit=1000, lock=False):
        return [n for n in self.items
                if merchant_id in (None, n.merchant_id)
                and bill_number in (None, n.bill_number)
                and order_number in (None, n.order_number)
                and (since is None or n.created_at >= since)
                and (until is None or n.created_at <= until)
                and (not states or n.state in states)][:limit]

    def attempts(self, n):
        return [a for a in self.journal if a.notification_id == n.id]

    def last_attempts(self, found):
        ids = {n.id for n in found}
        return {a.notification_id: a for a in self.journal if a.notification_id in ids}


def _key(order, op=None) -> int:
    """Stable integer ids for the fake's rows (the fake copies its objects on commit)."""
    return int(order.bill_number) * 100 + (op.number if op is not None else 0)


class FakeSettlements:
    """The settlement repository over the fake's orders (its batches live beside them)."""

    def __init__(self, orders: dict, batches: dict):
        self.orders, self.batches = orders, batches

    def _due(self, center, due_before):
        for o in sorted(self.orders.values(), key=lambda o: o.created_at):
            if o.center != center or o.state not in ("Approved", "PartialDelayed",
                                                     "PartialCanceled"):
                continue
            pay = o.card_payment
            if o.settlement_batch_id or open_transactions(o) or any(
                    op.succeeded and op.finished_at > due_before
                    for op in o.operations if op.type in (100, 200)):
                continue
            confirm = o.confirmation
            canceled = sum((op.amount for op in o.operations_of(OperationType.CANCEL)
                            if op.succeeded), Decimal(0))
            reversed_ = sum((t.amount for op in o.operations
                             for t in op.transactions_of(TransactionType.REVERSAL)
                             if t.state == "success"), Decimal(0))
            yield o, DuePayment(_key(o), o.bill_number, _key(o, pay),
                                pay.authorization.request_id,
                                pay.currency, pay.amount, confirm.amount if confirm else None,
                                canceled, reversed_)

    def count_due(self, center, due_before):
        return sum(1 for _ in self._due(center, due_before))

    def claim_due(self, center, due_before, limit, batch_id, after=0):
        found = list(self._due(center, due_before))[:limit]
        for order, _ in found:
            order.settlement_batch_id = batch_id
        return [due for _, due in found]

    def add_batch(self, batch, now):
        self.batches[batch.batch_id] = copy.deepcopy(batch)

    def claim_stale(self, now, lease_until, center=None):
        for b in sorted(self.batches.values(), key=lambda b: b.created_at):
            if b.state == "sent" and b.lease_until <= now and center in (None, b.center):
                b.attempts += 1
                b.lease_until = lease_until
                return copy.deepcopy(b)
        return None

    def record(self, batch, results, now):
        entries = {e.request_id: e for e in batch.entries}
        pays = {_key(o, o.card_payment): o.card_payment for o in self.orders.values()
                if o.card_payment is not None}
        for r in results:
            e = entries[r.request_id]
            pay = pays[e.operation_id]
            if any(t.request_id == e.request_id for t in pay.transactions):
                continue
            tx = Transaction(TransactionType.FINANCIAL, batch.center, e.amount.amount,
                             e.amount.currency, batch.created_at,
                             authorization_request_id=e.authorization_request_id,
                             batch_id=batch.batch_id)
            tx.request_id, tx.attempts = e.request_id, batch.attempts
            tx.state = TransactionState(r.state)
            tx.sent_at, tx.response_code, tx.message = batch.created_at, r.response_code, \
                r.message
            tx.next_attempt_at = r.next_attempt_at
            tx.finished_at = now if r.state in ("success", "declined") else None
            pay.add_transaction(tx)
        self.save(batch)

    def save(self, batch):
        self.batches[batch.batch_id] = copy.deepcopy(batch)

    def get(self, batch_id):
        return copy.deepcopy(self.batches.get(batch_id))

    def stale(self, min_attempts):
        return [copy.deepcopy(b) for b in self.batches.values()
                if b.state == "sent" and b.attempts >= min_attempts]


class FakeAudit:
    """The audit log: a list of entries."""

    def __init__(self, store: list):
        self.store = store

    def add(self, entry):
        self.store.append(entry)

    def find(self, query, limit):
        found = [e for e in reversed(self.store) if e.merchant_id == query.merchant_id
                 and query.since <= e.at < query.until
                 and (not query.login or e.login == query.login)
                 and (not query.kinds or e.kind in query.kinds)]
        return found[:limit]


class FakeCabinetSessions:
    """The cabinet's sessions by id."""

    def __init__(self, store: dict):
        self.store = store

    def add(self, s):
        self.store[s.session_id] = s

    def get(self, session_id):
        return self.store.get(session_id)

    def touch(self, session_id, now, stamp=None):
        s = self.store.get(session_id)
        if s is not None:
            self.store[session_id] = dataclasses.replace(
                s, last_seen_at=now, stamp=stamp if stamp is not None else s.stamp)

    def end(self, session_id, now):
        s = self.store.get(session_id)
        if s is not None and s.ended_at is None:
            self.store[session_id] = dataclasses.replace(s, ended_at=now)

    def end_user(self, merchant_id, login, now, *, keep=None):
        ids = [k for k, s in self.store.items() if (s.merchant_id, s.login) ==
               (merchant_id, login) and s.ended_at is None and k != keep]
        for k in ids:
            self.end(k, now)
        return len(ids)

    def open_count(self, merchant_id, login):
        return sum(1 for s in self.store.values() if (s.merchant_id, s.login) ==
                   (merchant_id, login) and s.ended_at is None)


class FakeTwoFactor:
    """The users' TOTP sign-in, by (merchant, login); recovery codes by hash."""

    def __init__(self, store: dict):
        self.store = store

    def get(self, merchant_id, login):
        return self.store.get((merchant_id, login), (None,))[0]

    def save(self, record):
        self.store[(record.merchant_id, record.login)] = (record, {})

    def update(self, merchant_id, login, *, enabled=None, last_step=None):
        record, codes = self.store[(merchant_id, login)]
        record = dataclasses.replace(
            record, enabled=record.enabled if enabled is None else enabled,
            last_step=record.last_step if last_step is None else last_step)
        self.store[(merchant_id, login)] = (record, codes)

    def remove(self, merchant_id, login):
        self.store.pop((merchant_id, login), None)

    def add_codes(self, merchant_id, login, hashes):
        self.store[(merchant_id, login)][1].update({h: None for h in hashes})

    def use_code(self, merchant_id, login, code_hash, now):
        codes = self.store.get((merchant_id, login), (None, {}))[1]
        if code_hash in codes and codes[code_hash] is None:
            codes[code_hash] = now
            return True
        return False

    def codes_left(self, merchant_id, login):
        codes = self.store.get((merchant_id, login), (None, {}))[1]
        return sum(1 for used in codes.values() if used is None)


class FakeUnitOfWork:
    """Every port of a unit of work (``CheckoutUnitOfWork``, ``BackOfficeUnitOfWork``,
    ``WorkerUnitOfWork``; ``queries()`` gives ``MerchantQueries``), in memory.  Commits by
    snapshot: leaving without commit() restores what was there before."""

    def __init__(self):
        self.data = {"merchants": {}, "users": {}, "centers": {}, "rates": {}, "orders": {},
                     "batches": {}, "login_failures": {}, "notifications": [],
                     "attempts": [], "audit": [], "cabinet_sessions": {}, "two_factor": {}}
        self.commits = 0
        #: The writes made to ``login_failures``, committed or not.
        self.failure_writes: list[tuple] = []

    def _bind(self):
        d = self.data
        self.merchants = _Dict(d["merchants"], lambda m: m.merchant_id)
        self.users = FakeUsers(d["users"], d["merchants"])
        self.login_failures = FakeLoginFailures(d["login_failures"], self.failure_writes)
        self.centers = _Dict(d["centers"], lambda c: c.name)
        self.rates = _Dict(d["rates"], lambda r: (r.source, r.target))
        self.orders = FakeOrders(d["orders"])
        self.orders.users, self.orders.login_failures = self.users, self.login_failures
        self.notifications = FakeNotifications(d)
        self.settlements = FakeSettlements(d["orders"], d["batches"])
        self.audit = FakeAudit(d["audit"])
        self.cabinet_sessions = FakeCabinetSessions(d["cabinet_sessions"])
        self.two_factor = FakeTwoFactor(d["two_factor"])

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

    def reader(self) -> FakeReader:
        return FakeReader(self)

    def queries(self) -> FakeReader:
        return FakeReader(self)


class FakeReader:
    """``reader()`` and ``queries()`` of the fake: the committed data, for reading only."""

    def __init__(self, uow: FakeUnitOfWork):
        self.uow = uow

    def __enter__(self):
        self.uow._bind()
        for name in ("merchants", "users", "login_failures", "centers", "rates", "orders",
                     "notifications", "settlements", "audit", "cabinet_sessions",
                     "two_factor"):
            setattr(self, name, getattr(self.uow, name))
        return self

    def __exit__(self, *exc):
        pass

    def commit(self):
        raise RuntimeError("a read-only unit of work writes nothing")

    def rollback(self):
        pass

    def flush(self):
        pass

    def reader(self) -> FakeReader:
        return self

    def queries(self) -> FakeReader:
        return self


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

    def authorize(self, center, request_id, card, amount, skip_authentication=False):
        self.calls.append(("authorize", request_id, amount))
        return self._next("authorize", request_id)

    def complete_authorization(self, center, request_id, authentication_result):
        self.calls.append(("complete_authorization", request_id, authentication_result))
        return self._next("complete_authorization", request_id)

    def reverse(self, center, request_id, authorization_request_id, amount):
        self.calls.append(("reverse", request_id, amount))
        return self._next("reverse", request_id)

    def refund(self, center, request_id, authorization_request_id, amount):
        self.calls.append(("refund", request_id, amount))
        return self._next("refund", request_id)

    def settle(self, center, batch_id, items):
        """``replies["settle_batch"]`` scripts a failure of the whole batch."""
        self.calls.append(("settle", batch_id, [i.amount for i in items],
                           [i.request_id for i in items]))
        failure = (self.replies.get("settle_batch") or [None]).pop(0) \
            if self.replies.get("settle_batch") else None
        if failure is not None:
            return SettlementAnswer({}, failure)
        return SettlementAnswer({i.request_id: self._next("settle", i.request_id)
                                 for i in items})

    def status(self, center, request_id):
        self.calls.append(("status", request_id))
        return self._next("status", request_id)

    def count(self, kind):
        return sum(1 for c in self.calls if c[0] == kind)
