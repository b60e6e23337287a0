"""SQLite ledger and business rules of the emulated processing centers.

:class:`Ledger` owns one SQLite file (WAL mode) holding, per center, the
authorizations (amounts in integer minor units), every answered request
(request_id -> operation kind, canonical parameters, stored answer) which makes
all state-changing operations idempotent, the voided request ids (tombstones
left by a Reverse of an unknown authorization), the bonus-program cards and the
points operations. Each public method runs one transaction and returns plain
dicts; malformed requests raise :class:`ClientError`, the simulated bank outage
raises :class:`ServerError`. The SOAP layer (``service.py``) turns those into
Spyne objects and faults. Full card numbers and CVCs are never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import string
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from . import cards
from .config import Center, currency_exponent

__all__ = [
    "ClientError",
    "Ledger",
    "LedgerError",
    "ServerError",
    "format_minor",
]

# Response codes (AS000..AS104 are fixed by the contract, the rest are ours).
APPROVED = "AS000"
DECLINED = "AS100"
INVALID_CARD = "AS101"
INSUFFICIENT = "AS102"
EXCEEDS = "AS103"
EXPIRED = "AS104"
NOT_ENROLLED = "AS105"
NO_PARTIAL = "AS106"
HOLD_EXPIRED = "AS107"
NOT_FOUND = "AS108"
AUTHENTICATION_REQUIRED = "AS110"
AUTHENTICATION_UNAVAILABLE = "AS111"
AUTHENTICATION_FAILED = "AS112"
#: The one-time code the emulated ACS accepts.
ACS_CODE = "12345"

MAX_MINOR = 10 ** 15          # upper bound of any amount, in minor units
MAX_POINTS = 2 ** 31 - 1
_TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_IN_CHUNK = 500               # ids per "IN (...)" query
_APPROVAL_ALPHABET = string.ascii_uppercase + string.digits


class LedgerError(Exception):
    """A request the center refuses with a SOAP fault."""

    faultcode = "Server"

    def __init__(self, subcode: str, message: str):
        super().__init__(message)
        self.subcode = subcode
        self.message = message

    @property
    def code(self) -> str:
        """Full SOAP faultcode, e.g. ``Client.InvalidAmount``."""
        return f"{self.faultcode}.{self.subcode}" if self.subcode else self.faultcode


class ClientError(LedgerError):
    """The request is malformed or conflicts with an earlier one."""

    faultcode = "Client"


class ServerError(LedgerError):
    """The center failed (simulated); nothing was recorded."""

    faultcode = "Server"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _ts(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_TS_FORMAT)


def format_minor(value: int, currency: str) -> str:
    """Integer minor units as a decimal string with the currency's digits."""
    exp = currency_exponent(currency)
    return str(Decimal(int(value)).scaleb(-exp))


def _to_minor(amount: Decimal, currency: str, field: str = "amount") -> int:
    """Validate a positive amount with at most the currency's digits."""
    if not isinstance(amount, Decimal):
        try:
            amount = Decimal(str(amount))
        except Exception:
            raise ClientError("InvalidAmount", f"{field} is not a decimal number") from None
    if not amount.is_finite():
        raise ClientError("InvalidAmount", f"{field} must be a finite decimal number")
    if amount <= 0:
        raise ClientError("InvalidAmount", f"{field} must be greater than zero")
    exp = currency_exponent(currency)
    scaled = amount.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise ClientError(
            "InvalidAmount",
            f"{field} {amount} has more than {exp} decimal places for {currency}")
    minor = int(scaled)
    if minor > MAX_MINOR:
        raise ClientError("InvalidAmount", f"{field} {amount} is too large")
    return minor


def _check_points(points: int, field: str = "points") -> int:
    if isinstance(points, bool) or not isinstance(points, int):
        raise ClientError("InvalidPoints", f"{field} must be an integer")
    if points <= 0:
        raise ClientError("InvalidPoints", f"{field} must be greater than zero")
    if points > MAX_POINTS:
        raise ClientError("InvalidPoints", f"{field} is too large")
    return points


# One encoder each, built once (``json.dumps`` with options builds one per call, which is
# most of the cost of a big Settle batch).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _digest(kind: str, params: dict) -> str:
    blob = _CANONICAL.encode({"kind": kind, "params": params})
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def _dumps(obj: dict) -> str:
    return _COMPACT.encode(obj)


def _chunks(items: Sequence, size: int = _IN_CHUNK) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS authorizations (
    center           TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    reference        TEXT NOT NULL,
    card_mask        TEXT NOT NULL,
    card_fingerprint TEXT NOT NULL,
    currency         TEXT NOT NULL,
    amount           INTEGER NOT NULL,   -- minor units
    held             INTEGER NOT NULL,
    settled          INTEGER NOT NULL DEFAULT 0,
    refunded         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,      -- UTC, %Y-%m-%dT%H:%M:%SZ
    hold_expires_at  TEXT NOT NULL,
    PRIMARY KEY (center, request_id)
);
CREATE INDEX IF NOT EXISTS authorizations_open_holds
    ON authorizations (center, hold_expires_at) WHERE held > 0;
CREATE TABLE IF NOT EXISTS requests (
    center        TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    params        TEXT NOT NULL,         -- canonical JSON, card data redacted
    params_digest TEXT NOT NULL,         -- SHA-256 of the canonical params (no CVC)
    answer        TEXT NOT NULL,         -- JSON of the stored answer
    answered_at   TEXT NOT NULL,
    PRIMARY KEY (center, request_id)
);
CREATE TABLE IF NOT EXISTS voided (
    center     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    voided_at  TEXT NOT NULL,
    PRIMARY KEY (center, request_id)
);
CREATE TABLE IF NOT EXISTS cards (
    fingerprint TEXT PRIMARY KEY,
    card_mask   TEXT NOT NULL,
    points      INTEGER NOT NULL CHECK (points >= 0)
);
CREATE TABLE IF NOT EXISTS points_ops (
    center      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,           -- pay | accrue
    fingerprint TEXT NOT NULL,
    points      INTEGER NOT NULL,
    undone      INTEGER NOT NULL DEFAULT 0,  -- returned / cancelled so far
    PRIMARY KEY (center, request_id)
);
-- 3-D Secure: an authorization waiting for (or done with) the buyer at the ACS.
CREATE TABLE IF NOT EXISTS authentications (
    authentication_id TEXT PRIMARY KEY,
    center        TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    params        TEXT NOT NULL,         -- canonical JSON, card data redacted
    params_digest TEXT NOT NULL,
    status        TEXT NOT NULL,         -- pending | Y | N | abandoned
    created_at    TEXT NOT NULL,
    UNIQUE (center, request_id)
);
CREATE TABLE IF NOT EXISTS keys (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=30.0)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


class Ledger:
    """The emulator's persistent state and the rules applied to it.

    Thread-safe: all writes go through one connection guarded by a lock, each
    operation in one ``BEGIN IMMEDIATE`` transaction (so two emulator processes
    on one file are safe too). ``clock`` returns the current aware datetime;
    tests may replace it.
    """

    def __init__(self, path: str, clock: Callable[[], datetime] | None = None):
        self.path = str(Path(path).expanduser())
        Path(self.path).resolve().parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock or _utcnow
        self._lock = threading.RLock()
        self._conn = _open(self.path)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._lock:   # executescript manages its own transaction
            self._conn.executescript(_SCHEMA)
        with self._write() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO counters (name, value) VALUES ('reference', ?)",
                (100_000_000_000 + secrets.randbelow(100_000_000_000),))
            cur.executemany(
                "INSERT OR IGNORE INTO cards (fingerprint, card_mask, points) VALUES (?, ?, ?)",
                [(cards.fingerprint(n), cards.mask(n), p) for n, p in cards.BONUS_CARDS.items()])
            cur.execute("INSERT OR IGNORE INTO keys (name, value) VALUES ('acs', ?)",
                        (secrets.token_hex(32),))
            self._acs_key = bytes.fromhex(cur.execute(
                "SELECT value FROM keys WHERE name = 'acs'").fetchone()[0])

    # ------------------------------------------------------------------ infra
    def close(self) -> None:
        """Close the write connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    def _now(self) -> datetime:
        return self.clock()

    def _reference(self, cur: sqlite3.Cursor) -> str:
        cur.execute("UPDATE counters SET value = value + 1 WHERE name = 'reference' "
                    "RETURNING value")
        return str(cur.fetchone()[0])

    @staticmethod
    def _approval_code() -> str:
        while True:
            code = "".join(secrets.choice(_APPROVAL_ALPHABET) for _ in range(6))
            if any(c.isdigit() for c in code) and any(c.isalpha() for c in code):
                return code

    def _release_expired(self, cur: sqlite3.Cursor, center: Center, now: str) -> None:
        cur.execute("UPDATE authorizations SET held = 0 WHERE center = ? AND held > 0 "
                    "AND hold_expires_at <= ?", (center.name, now))

    @staticmethod
    def _prior(cur: sqlite3.Cursor, center: Center, request_id: str,
               kind: str, digest: str) -> dict | None:
        row = cur.execute(
            "SELECT kind, params_digest, answer FROM requests WHERE center = ? AND request_id = ?",
            (center.name, request_id)).fetchone()
        if row is None:
            return None
        _check_same(request_id, kind, digest, row[0], row[1])
        return json.loads(row[2])

    @staticmethod
    def _store(cur: sqlite3.Cursor, center: Center, request_id: str, kind: str,
               params: dict, digest: str, answer: dict, now: str) -> None:
        cur.execute(
            "INSERT INTO requests (center, request_id, kind, params, params_digest, answer, "
            "answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (center.name, request_id, kind, _dumps(params), digest, _dumps(answer), now))

    @staticmethod
    def _auth(cur: sqlite3.Cursor, center: Center, request_id: str) -> tuple | None:
        return cur.execute(
            "SELECT held, settled, refunded, card_fingerprint, hold_expires_at "
            "FROM authorizations WHERE center = ? AND request_id = ?",
            (center.name, request_id)).fetchone()

    # -------------------------------------------------------------- authorize
    def authorize(self, center: Center, request_id: str, card_number: str,
                  expire_month: int, expire_year: int, cardholder: str, cvc: str,
                  amount: Decimal, currency: str,
                  skip_authentication: bool = False) -> tuple[dict, bool]:
        """Authorize (hold) ``amount``. Returns ``(answer, late)``; when
        ``late`` is true the caller must delay the answer (it is recorded).

        A card enrolled in 3-D Secure is not held at once: the answer is
        ``authentication_required`` with an ``authentication_id`` for the ACS, and
        ``complete_authorization`` holds it once the buyer passed (nothing is
        recorded under ``request_id`` until then, so an abandoned one is ``not_found``).
        ``skip_authentication`` authorizes it without 3-D Secure."""
        _check_request_id(request_id)
        currency = (currency or "").strip().upper()
        if currency != center.currency:
            raise ClientError(
                "CurrencyMismatch",
                f"currency {currency or '(empty)'} is not accepted by center "
                f"{center.name}, which works in {center.currency}")
        minor = _to_minor(amount, center.currency)
        if not isinstance(expire_month, int) or not 1 <= expire_month <= 12:
            raise ClientError("InvalidExpiry", "expire_month must be between 1 and 12")
        if not isinstance(expire_year, int) or not 0 <= expire_year <= 9999:
            raise ClientError("InvalidExpiry", "expire_year must be a year, e.g. 2030")
        if expire_year < 100:
            expire_year += 2000
        number = cards.normalize(card_number)
        amount_s = format_minor(minor, center.currency)
        # Nothing derived from the CVC is kept, not even inside the digest, so a
        # repeat that differs only in the CVC gets the stored answer.
        full = {"card": number, "expire_month": expire_month, "expire_year": expire_year,
                "cardholder": cardholder or "", "amount": amount_s,
                "currency": center.currency}
        digest = _digest("authorize", full)
        stored = {"card": cards.mask(number), "fingerprint": cards.fingerprint(number),
                  "expire_month": expire_month, "expire_year": expire_year,
                  "cardholder": cardholder or "", "amount": amount_s,
                  "currency": center.currency}

        def answer(status: str, code: str, message: str,
                   approval: str | None = None, ref: str | None = None) -> dict:
            return {"request_id": request_id, "status": status, "response_code": code,
                    "message": message, "approval_code": approval, "reference": ref,
                    "amount": amount_s, "currency": center.currency}

        moment = self._now()
        now = _ts(moment)
        late = False
        with self._write() as cur:
            prior = self._prior(cur, center, request_id, "authorize", digest)
            if prior is not None:
                return prior, False
            voided = cur.execute("SELECT 1 FROM voided WHERE center = ? AND request_id = ?",
                                 (center.name, request_id)).fetchone()
            if voided:
                result = answer("declined", DECLINED, "voided")
            elif not cards.is_card_number(number):
                result = answer("declined", INVALID_CARD, "invalid card number")
            elif (expire_year, expire_month) < (moment.year, moment.month):
                result = answer("declined", EXPIRED, "card expired")
            else:
                how = cards.behaviour(number)
                if how.outcome == "system_error":
                    raise ServerError("SystemError", "system error")
                if how.outcome == "decline":
                    result = answer("declined", how.response_code, how.message)
                elif how.authentication in ("challenge", "unavailable") and \
                        not skip_authentication:
                    # Not recorded under request_id: the same id may come again.
                    return self._authentication_needed(
                        cur, center, request_id, how.authentication, stored, digest,
                        answer, now), False
                else:
                    ref = self._hold(cur, center, request_id, stored, minor, moment)
                    result = answer("approved", APPROVED, "approved", self._approval_code(), ref)
                    if how.authentication:
                        result.update(_eci(how.authentication == "frictionless"))
                    late = how.outcome == "late"
            self._store(cur, center, request_id, "authorize", stored, digest, result, now)
        return result, late

    def _hold(self, cur: sqlite3.Cursor, center: Center, request_id: str, stored: dict,
              minor: int, moment: datetime) -> str:
        """Hold ``minor`` on the card of ``stored``; the new reference."""
        now = _ts(moment)
        self._release_expired(cur, center, now)
        ref = self._reference(cur)
        expires = _ts(moment + timedelta(days=center.hold_days))
        cur.execute(
            "INSERT INTO authorizations (center, request_id, reference, card_mask, "
            "card_fingerprint, currency, amount, held, settled, refunded, "
            "created_at, hold_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
            (center.name, request_id, ref, stored["card"], stored["fingerprint"],
             center.currency, minor, minor, now, expires))
        return ref

    # ---------------------------------------------------------------- 3-D Secure
    def _authentication_needed(self, cur: sqlite3.Cursor, center: Center, request_id: str,
                               kind: str, stored: dict, digest: str, answer, now: str) -> dict:
        """The answer to an enrolled card's Authorize: the ACS is unavailable, or the buyer
        must pass it (a pending authentication, the same one for a repeated request)."""
        if kind == "unavailable":
            return answer("declined", AUTHENTICATION_UNAVAILABLE, "3-D Secure unavailable")
        row = cur.execute("SELECT authentication_id, params_digest FROM authentications "
                          "WHERE center = ? AND request_id = ?",
                          (center.name, request_id)).fetchone()
        if row is None:
            auth_id = secrets.token_urlsafe(18)
            cur.execute(
                "INSERT INTO authentications (authentication_id, center, request_id, params, "
                "params_digest, status, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                (auth_id, center.name, request_id, _dumps(stored), digest, now))
        else:
            auth_id = row[0]
            _check_same(request_id, "authorize", digest, "authorize", row[1])
        result = answer("authentication_required", AUTHENTICATION_REQUIRED,
                        "3-D Secure authentication required")
        result["authentication_id"] = auth_id
        return result

    def authentication(self, authentication_id: str) -> dict | None:
        """What the ACS page shows of a pending (or decided) authentication."""
        with self._lock:
            row = self._conn.execute(
                "SELECT params, status FROM authentications WHERE authentication_id = ?",
                (authentication_id or "",)).fetchone()
        if row is None:
            return None
        params = json.loads(row[0])
        return {"card": params["card"], "amount": params["amount"],
                "currency": params["currency"], "status": row[1]}

    def authenticate(self, authentication_id: str, code: str | None) -> str | None:
        """The buyer's answer at the ACS: ``code`` (the one-time code) decides Y or N once;
        None (the buyer cancelled) abandons it.  The signed result the ACS sends back, or
        None when there is nothing to send (unknown, abandoned)."""
        with self._write() as cur:
            row = cur.execute(
                "SELECT center, request_id, params, status FROM authentications "
                "WHERE authentication_id = ?", (authentication_id or "",)).fetchone()
            if row is None or row[3] == "abandoned":
                return None
            center, request_id, params, status = row[0], row[1], json.loads(row[2]), row[3]
            if status == "pending":
                status = "abandoned" if code is None else (
                    "Y" if hmac.compare_digest(code.strip(), ACS_CODE) else "N")
                cur.execute("UPDATE authentications SET status = ? WHERE authentication_id = ?",
                            (status, authentication_id))
            if status == "abandoned":
                return None
        return self._sign({"a": authentication_id, "c": center, "r": request_id, "s": status,
                           "m": params["amount"], "u": params["currency"]})

    def _sign(self, body: dict) -> str:
        raw = _CANONICAL.encode(body).encode("ascii")
        mac = hmac.new(self._acs_key, raw, hashlib.sha256).digest()
        return (base64.urlsafe_b64encode(raw).decode("ascii") + "."
                + base64.urlsafe_b64encode(mac).decode("ascii"))

    def _verify(self, token: str) -> dict | None:
        try:
            raw_b64, mac_b64 = (token or "").strip().split(".")
            raw = base64.urlsafe_b64decode(raw_b64.encode("ascii"))
            mac = base64.urlsafe_b64decode(mac_b64.encode("ascii"))
            good = hmac.new(self._acs_key, raw, hashlib.sha256).digest()
            if not hmac.compare_digest(mac, good):
                return None
            body = json.loads(raw)
        except (ValueError, UnicodeError):
            return None
        return body if isinstance(body, dict) else None

    def complete_authorization(self, center: Center, request_id: str,
                               authentication_result: str) -> dict:
        """Finish an authorization after the ACS: ``authentication_result`` is what the ACS
        signed for the buyer's return.  Passed (Y): the amount is held and approved; failed
        (N): declined.  Recorded under ``request_id`` (a repeat gets the same answer); a
        result that is not the ACS's for this request is a fault and changes nothing."""
        _check_request_id(request_id)
        body = self._verify(authentication_result)
        if body is None or body.get("r") != request_id or body.get("c") != center.name \
                or body.get("s") not in ("Y", "N"):
            raise ClientError("InvalidAuthenticationResult",
                              "the authentication result is not the ACS's for this request")
        moment = self._now()
        now = _ts(moment)
        with self._write() as cur:
            row = cur.execute(
                "SELECT params, params_digest, status FROM authentications "
                "WHERE authentication_id = ? AND center = ? AND request_id = ?",
                (body.get("a"), center.name, request_id)).fetchone()
            if row is None or row[2] != body["s"]:
                raise ClientError("InvalidAuthenticationResult",
                                  "no such authentication result at the ACS")
            stored, digest = json.loads(row[0]), row[1]
            prior = self._prior(cur, center, request_id, "authorize", digest)
            if prior is not None:
                return prior
            result = {"request_id": request_id, "approval_code": None, "reference": None,
                      "amount": stored["amount"], "currency": stored["currency"]}
            voided = cur.execute("SELECT 1 FROM voided WHERE center = ? AND request_id = ?",
                                 (center.name, request_id)).fetchone()
            if voided:
                result.update(status="declined", response_code=DECLINED, message="voided")
            elif body["s"] == "Y":
                minor = _to_minor(Decimal(stored["amount"]), center.currency)
                result.update(status="approved", response_code=APPROVED, message="approved",
                              approval_code=self._approval_code(),
                              reference=self._hold(cur, center, request_id, stored, minor,
                                                   moment), **_eci(True))
            else:
                result.update(status="declined", response_code=AUTHENTICATION_FAILED,
                              message="3-D Secure authentication failed", eci="07",
                              auth_result="N")
            self._store(cur, center, request_id, "authorize", stored, digest, result, now)
        return result

    # ---------------------------------------------------------------- reverse
    def reverse(self, center: Center, request_id: str, authorization_request_id: str,
                amount: Decimal | None = None) -> dict:
        """Release ``amount`` (default: all that is left) of a hold."""
        _check_request_id(request_id)
        _check_request_id(authorization_request_id, "authorization_request_id")
        minor = None if amount is None else _to_minor(amount, center.currency)
        params = {"authorization_request_id": authorization_request_id,
                  "amount": None if minor is None else format_minor(minor, center.currency)}
        digest = _digest("reverse", params)
        moment = self._now()
        now = _ts(moment)
        with self._write() as cur:
            prior = self._prior(cur, center, request_id, "reverse", digest)
            if prior is not None:
                return prior
            self._release_expired(cur, center, now)
            auth = self._auth(cur, center, authorization_request_id)
            if auth is None:
                cur.execute("INSERT OR IGNORE INTO voided (center, request_id, voided_at) "
                            "VALUES (?, ?, ?)", (center.name, authorization_request_id, now))
                result = _op(request_id, "not_found", NOT_FOUND,
                             "authorization not found; its request_id is now voided")
            else:
                held, _settled, _refunded, _fp, expires_at = auth
                want = held if minor is None else minor
                if held == 0:
                    if expires_at <= now:
                        result = _op(request_id, "declined", HOLD_EXPIRED, "hold expired")
                    else:
                        result = _op(request_id, "declined", EXCEEDS, "no hold left to reverse")
                elif want > held:
                    result = _op(request_id, "declined", EXCEEDS,
                                 "amount exceeds the remaining hold of "
                                 + format_minor(held, center.currency))
                elif want < held and not center.partial_reversal:
                    result = _op(request_id, "declined", NO_PARTIAL,
                                 "partial reversal not supported")
                else:
                    cur.execute("UPDATE authorizations SET held = held - ? "
                                "WHERE center = ? AND request_id = ?",
                                (want, center.name, authorization_request_id))
                    result = _op(request_id, "success", APPROVED, "reversed",
                                 self._reference(cur))
                    result["amount"] = format_minor(want, center.currency)
                    result["currency"] = center.currency
            self._store(cur, center, request_id, "reverse", params, digest, result, now)
        return result

    # ----------------------------------------------------------------- settle
    def settle(self, center: Center, batch_id: str,
               items: Iterable[tuple[str, str, Decimal]]) -> list[dict]:
        """Settle a batch of ``(request_id, authorization_request_id, amount)``.

        Each item moves its amount from held to settled and releases the rest
        of the hold. One transaction; a malformed item or a request_id reused
        with other parameters faults the whole batch and records nothing."""
        _check_request_id(batch_id, "batch_id")
        prepared = []
        for index, (rid, aid, amount) in enumerate(items, start=1):
            try:
                _check_request_id(rid)
                _check_request_id(aid, "authorization_request_id")
                minor = _to_minor(amount, center.currency)
            except ClientError as exc:
                raise ClientError(exc.subcode, f"item {index}: {exc.message}") from None
            params = {"authorization_request_id": aid,
                      "amount": format_minor(minor, center.currency)}
            prepared.append((rid, aid, minor, params, _digest("settle", params)))
        if not prepared:
            return []
        moment = self._now()
        now = _ts(moment)
        cur_name = center.name
        with self._write() as cur:
            self._release_expired(cur, center, now)
            priors: dict[str, tuple[str, str, str]] = {}
            rids = list({p[0] for p in prepared})
            for chunk in _chunks(rids):
                marks = ",".join("?" * len(chunk))
                for row in cur.execute(
                        f"SELECT request_id, kind, params_digest, answer FROM requests "
                        f"WHERE center = ? AND request_id IN ({marks})", (cur_name, *chunk)):
                    priors[row[0]] = (row[1], row[2], row[3])
            auths: dict[str, list] = {}
            aids = list({p[1] for p in prepared})
            for chunk in _chunks(aids):
                marks = ",".join("?" * len(chunk))
                for row in cur.execute(
                        f"SELECT request_id, held, settled, hold_expires_at FROM authorizations "
                        f"WHERE center = ? AND request_id IN ({marks})", (cur_name, *chunk)):
                    auths[row[0]] = [row[1], row[2], row[3]]
            results: list[dict] = []
            fresh: dict[str, tuple[str, dict]] = {}   # answered in this batch
            dirty: set[str] = set()
            rows_requests = []
            for rid, aid, minor, params, digest in prepared:
                if rid in fresh:
                    _check_same(rid, "settle", digest, "settle", fresh[rid][0])
                    results.append(fresh[rid][1])
                    continue
                if rid in priors:
                    kind, old_digest, old_answer = priors[rid]
                    _check_same(rid, "settle", digest, kind, old_digest)
                    results.append(json.loads(old_answer))
                    continue
                auth = auths.get(aid)
                if auth is None:
                    result = _item(rid, "not_found", NOT_FOUND, "authorization not found")
                else:
                    held, _settled, expires_at = auth
                    if held == 0:
                        if expires_at <= now:
                            result = _item(rid, "declined", HOLD_EXPIRED, "hold expired")
                        else:
                            result = _item(rid, "declined", EXCEEDS, "no hold left to settle")
                    elif minor > held:
                        result = _item(rid, "declined", EXCEEDS,
                                       "amount exceeds the remaining hold of "
                                       + format_minor(held, center.currency))
                    else:
                        auth[0] = 0
                        auth[1] += minor
                        dirty.add(aid)
                        result = _item(rid, "success", APPROVED, "settled")
                        result["amount"] = params["amount"]
                        result["currency"] = center.currency
                        result["batch_id"] = batch_id
                fresh[rid] = (digest, result)
                rows_requests.append((cur_name, rid, "settle", _dumps(params), digest,
                                      _dumps(result), now))
                results.append(result)
            if dirty:
                cur.executemany(
                    "UPDATE authorizations SET held = ?, settled = ? "
                    "WHERE center = ? AND request_id = ?",
                    [(auths[a][0], auths[a][1], cur_name, a) for a in dirty])
            if rows_requests:
                cur.executemany(
                    "INSERT INTO requests (center, request_id, kind, params, params_digest, "
                    "answer, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows_requests)
        return results

    # ----------------------------------------------------------------- refund
    def refund(self, center: Center, request_id: str, authorization_request_id: str,
               amount: Decimal) -> dict:
        """Refund up to what was settled and not yet refunded."""
        _check_request_id(request_id)
        _check_request_id(authorization_request_id, "authorization_request_id")
        minor = _to_minor(amount, center.currency)
        params = {"authorization_request_id": authorization_request_id,
                  "amount": format_minor(minor, center.currency)}
        digest = _digest("refund", params)
        now = _ts(self._now())
        with self._write() as cur:
            prior = self._prior(cur, center, request_id, "refund", digest)
            if prior is not None:
                return prior
            auth = self._auth(cur, center, authorization_request_id)
            if auth is None:
                result = _op(request_id, "not_found", NOT_FOUND, "authorization not found")
            else:
                _held, settled, refunded, fp, _exp = auth
                if fp in cards.NO_REFUND_FINGERPRINTS:
                    result = _op(request_id, "declined", DECLINED,
                                 "refunds are not allowed for this card")
                elif minor > settled - refunded:
                    result = _op(request_id, "declined", EXCEEDS,
                                 "amount exceeds the refundable "
                                 + format_minor(settled - refunded, center.currency))
                else:
                    cur.execute("UPDATE authorizations SET refunded = refunded + ? "
                                "WHERE center = ? AND request_id = ?",
                                (minor, center.name, authorization_request_id))
                    result = _op(request_id, "success", APPROVED, "refunded",
                                 self._reference(cur))
                    result["amount"] = params["amount"]
                    result["currency"] = center.currency
            self._store(cur, center, request_id, "refund", params, digest, result, now)
        return result

    # ----------------------------------------------------------------- status
    def status(self, center: Center, request_id: str) -> dict:
        """What was answered for ``request_id`` (status ``not_found`` if never)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT kind, answer FROM requests WHERE center = ? AND request_id = ?",
                (center.name, request_id)).fetchone()
        if row is None:
            return {"request_id": request_id, "status": "not_found", "kind": None,
                    "response_code": None, "reference": None, "amount": None,
                    "currency": None}
        kind, answer = row[0], json.loads(row[1])
        return {"request_id": request_id, "status": answer["status"], "kind": kind,
                "response_code": answer.get("response_code"),
                "reference": answer.get("reference"),
                "amount": answer.get("amount"), "currency": answer.get("currency")}

    # ----------------------------------------------------------------- points
    def points_balance(self, card_number: str) -> dict:
        """``{"enrolled": bool, "points": int}`` for a card."""
        number = cards.normalize(card_number)
        with self._lock:
            row = self._conn.execute("SELECT points FROM cards WHERE fingerprint = ?",
                                     (cards.fingerprint(number),)).fetchone()
        return {"enrolled": row is not None, "points": row[0] if row else 0}

    def pay_with_points(self, center: Center, request_id: str, card_number: str,
                        points: int) -> dict:
        """Spend points of an enrolled card (declined for a request id voided before, by a
        ``ReturnPoints`` of a payment the center did not know)."""
        _check_request_id(request_id)
        _check_points(points)
        number = cards.normalize(card_number)
        fp = cards.fingerprint(number)
        digest = _digest("points_pay", {"card": number, "points": points})
        params = {"card": cards.mask(number), "fingerprint": fp, "points": points}
        now = _ts(self._now())
        with self._write() as cur:
            prior = self._prior(cur, center, request_id, "points_pay", digest)
            if prior is not None:
                return prior
            voided = cur.execute("SELECT 1 FROM voided WHERE center = ? AND request_id = ?",
                                 (center.name, request_id)).fetchone()
            if voided:
                result = _op(request_id, "declined", DECLINED, "voided")
            elif not cards.is_card_number(number):
                result = _op(request_id, "declined", INVALID_CARD, "invalid card number")
            else:
                result = self._move_points(cur, center, request_id, fp, points, "pay")
            self._store(cur, center, request_id, "points_pay", params, digest, result, now)
        return result

    def accrue_points(self, center: Center, request_id: str, authorization_request_id: str,
                      points: int) -> dict:
        """Add points to the enrolled card of an earlier authorization at this center."""
        _check_request_id(request_id)
        _check_request_id(authorization_request_id, "authorization_request_id")
        _check_points(points)
        params = {"authorization_request_id": authorization_request_id, "points": points}
        digest = _digest("points_accrue", params)
        now = _ts(self._now())
        with self._write() as cur:
            prior = self._prior(cur, center, request_id, "points_accrue", digest)
            if prior is not None:
                return prior
            auth = self._auth(cur, center, authorization_request_id)
            if auth is None:
                result = _op(request_id, "not_found", NOT_FOUND, "authorization not found")
            else:
                result = self._move_points(cur, center, request_id, auth[3], points, "accrue")
            self._store(cur, center, request_id, "points_accrue", params, digest, result, now)
        return result

    def _move_points(self, cur: sqlite3.Cursor, center: Center, request_id: str, fp: str,
                     points: int, kind: str) -> dict:
        """Take (``pay``) or add (``accrue``) points on the card ``fp``, recording the
        points operation; the answer."""
        row = cur.execute("SELECT points FROM cards WHERE fingerprint = ?", (fp,)).fetchone()
        sign = -1 if kind == "pay" else +1
        if row is None:
            return _op(request_id, "declined", NOT_ENROLLED,
                       "card is not enrolled in the bonus program")
        if sign < 0 and points > row[0]:
            return _op(request_id, "declined", INSUFFICIENT, "insufficient points")
        if sign > 0 and row[0] + points > MAX_POINTS:
            return _op(request_id, "declined", DECLINED, "points balance limit reached")
        cur.execute("UPDATE cards SET points = points + ? WHERE fingerprint = ?",
                    (sign * points, fp))
        cur.execute("INSERT INTO points_ops (center, request_id, kind, fingerprint, "
                    "points, undone) VALUES (?, ?, ?, ?, ?, 0)",
                    (center.name, request_id, kind, fp, points))
        result = _op(request_id, "success", APPROVED,
                     "points paid" if sign < 0 else "points accrued", self._reference(cur))
        result["points"] = points
        return result

    def _undo_points(self, center: Center, kind: str, request_id: str,
                     original_request_id: str, points: int, original_kind: str,
                     sign: int) -> dict:
        _check_request_id(request_id)
        _check_request_id(original_request_id, "original request_id")
        _check_points(points)
        params = {"original_request_id": original_request_id, "points": points}
        digest = _digest(kind, params)
        now = _ts(self._now())
        with self._write() as cur:
            prior = self._prior(cur, center, request_id, kind, digest)
            if prior is not None:
                return prior
            op = cur.execute(
                "SELECT fingerprint, points, undone FROM points_ops "
                "WHERE center = ? AND request_id = ? AND kind = ?",
                (center.name, original_request_id, original_kind)).fetchone()
            what = "accrual" if original_kind == "accrue" else "points payment"
            if op is None:
                result = _op(request_id, "not_found", NOT_FOUND, f"{what} not found")
                if original_kind == "pay":  # a late PayWithPoints of that id is refused
                    cur.execute("INSERT OR IGNORE INTO voided (center, request_id, voided_at) "
                                "VALUES (?, ?, ?)", (center.name, original_request_id, now))
            else:
                fp, original, undone = op
                balance = cur.execute("SELECT points FROM cards WHERE fingerprint = ?",
                                      (fp,)).fetchone()[0]
                if points > original - undone:
                    result = _op(request_id, "declined", EXCEEDS,
                                 f"points exceed what is left of the {what} "
                                 f"({original - undone})")
                elif sign < 0 and points > balance:
                    result = _op(request_id, "declined", INSUFFICIENT, "insufficient points")
                else:
                    cur.execute("UPDATE cards SET points = points + ? WHERE fingerprint = ?",
                                (sign * points, fp))
                    cur.execute("UPDATE points_ops SET undone = undone + ? "
                                "WHERE center = ? AND request_id = ?",
                                (points, center.name, original_request_id))
                    result = _op(request_id, "success", APPROVED,
                                 "accrual cancelled" if sign < 0 else "points returned",
                                 self._reference(cur))
                    result["points"] = points
            self._store(cur, center, request_id, kind, params, digest, result, now)
        return result

    def cancel_accrual(self, center: Center, request_id: str, accrual_request_id: str,
                       points: int) -> dict:
        """Take back (part of) an earlier accrual."""
        return self._undo_points(center, "points_cancel_accrual", request_id,
                                 accrual_request_id, points, "accrue", -1)

    def return_points(self, center: Center, request_id: str, payment_request_id: str,
                      points: int) -> dict:
        """Give back (part of) an earlier points payment."""
        return self._undo_points(center, "points_return", request_id,
                                 payment_request_id, points, "pay", +1)

    # ----------------------------------------------------------------- import
    def import_authorizations(self, center: Center,
                              rows: Iterable[tuple[str, Decimal, str]]) -> int:
        """Record approved authorizations in bulk, without the SOAP round trip: rows of
        ``(request_id, amount, card_mask)`` held for the center's hold period from now.

        For benchmarks and tests that need many due settlements at once (a million
        authorizations through ``Authorize`` would take longer than the test).  One
        transaction per 10,000 rows; ids already present are left as they are.
        """
        moment = self._now()
        now, expires = _ts(moment), _ts(moment + timedelta(days=center.hold_days))
        count = 0
        batch: list[tuple] = []

        def flush() -> None:
            with self._write() as cur:
                cur.executemany(
                    "INSERT OR IGNORE INTO authorizations (center, request_id, reference, "
                    "card_mask, card_fingerprint, currency, amount, held, settled, refunded, "
                    "created_at, hold_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
                    batch)
            batch.clear()

        base = None
        for request_id, amount, card_mask in rows:
            _check_request_id(request_id)
            minor = _to_minor(amount, center.currency)
            if base is None:
                with self._write() as cur:
                    cur.execute("UPDATE counters SET value = value + 1000000000 "
                                "WHERE name = 'reference' RETURNING value")
                    base = cur.fetchone()[0] - 1000000000
            batch.append((center.name, request_id, str(base + count), card_mask,
                          "imported", center.currency, minor, minor, now, expires))
            count += 1
            if len(batch) >= 10_000:
                flush()
        if batch:
            flush()
        return count

    # -------------------------------------------------------------- reporting
    def reconcile(self, center: Center) -> list[dict]:
        """All authorizations of ``center`` (held is 0 once a hold expired)."""
        now = _ts(self._now())
        conn = _open(self.path)
        try:
            return list(_authorizations(conn, center, now))
        finally:
            conn.close()

    def snapshot(self, centers: Sequence[Center], with_authorizations: bool = True) -> dict:
        """The ``GET /ledger`` document for ``centers`` (read-only).

        Uses its own connection so a large dump does not block the centers."""
        now = _ts(self._now())
        conn = _open(self.path)
        try:
            conn.execute("BEGIN")   # one consistent read snapshot
            out: dict = {"centers": {}, "cards": []}
            for center in centers:
                held, settled, refunded = conn.execute(
                    "SELECT COALESCE(SUM(CASE WHEN hold_expires_at > ? THEN held ELSE 0 END), 0), "
                    "COALESCE(SUM(settled), 0), COALESCE(SUM(refunded), 0) "
                    "FROM authorizations WHERE center = ?", (now, center.name)).fetchone()
                entry = {
                    "currency": center.currency,
                    "partial_reversal": center.partial_reversal,
                    "hold_days": center.hold_days,
                    "held": format_minor(held, center.currency),
                    "settled": format_minor(settled, center.currency),
                    "refunded": format_minor(refunded, center.currency),
                }
                if with_authorizations:
                    entry["authorizations"] = list(_authorizations(conn, center, now))
                out["centers"][center.name] = entry
            out["cards"] = [
                {"card": m, "points": p, "paid": paid, "returned": returned,
                 "accrued": accrued, "cancelled": cancelled}
                for m, p, paid, returned, accrued, cancelled in conn.execute(
                    "SELECT c.card_mask, c.points, "
                    "COALESCE(SUM(CASE WHEN o.kind = 'pay' THEN o.points END), 0), "
                    "COALESCE(SUM(CASE WHEN o.kind = 'pay' THEN o.undone END), 0), "
                    "COALESCE(SUM(CASE WHEN o.kind = 'accrue' THEN o.points END), 0), "
                    "COALESCE(SUM(CASE WHEN o.kind = 'accrue' THEN o.undone END), 0) "
                    "FROM cards c LEFT JOIN points_ops o ON o.fingerprint = c.fingerprint "
                    "GROUP BY c.fingerprint, c.card_mask, c.points "
                    "ORDER BY c.card_mask, c.fingerprint")]
            conn.execute("COMMIT")
            return out
        finally:
            conn.close()


def _authorizations(conn: sqlite3.Connection, center: Center, now: str) -> Iterator[dict]:
    for row in conn.execute(
            "SELECT request_id, reference, card_mask, amount, currency, "
            "CASE WHEN hold_expires_at > ? THEN held ELSE 0 END, settled, refunded "
            "FROM authorizations WHERE center = ? ORDER BY rowid", (now, center.name)):
        cur = row[4]
        yield {"request_id": row[0], "reference": row[1], "card": row[2],
               "amount": format_minor(row[3], cur), "currency": cur,
               "held": format_minor(row[5], cur), "settled": format_minor(row[6], cur),
               "refunded": format_minor(row[7], cur)}


def _eci(authenticated: bool) -> dict:
    """The 3-D Secure fields of an approved enrolled card: authenticated (ECI 05, ``Y``), or
    authorized without it (ECI 07, ``U``)."""
    return {"eci": "05", "auth_result": "Y"} if authenticated else \
        {"eci": "07", "auth_result": "U"}


def _check_request_id(value: str, field: str = "request_id") -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise ClientError("InvalidRequestId", f"{field} must be 1 to 64 characters")


def _check_same(request_id: str, kind: str, digest: str,
                old_kind: str, old_digest: str) -> None:
    if old_kind != kind or old_digest != digest:
        raise ClientError(
            "RequestIdReused",
            f"request_id reused with other parameters: {request_id!r} was already "
            f"answered (operation {old_kind})")


def _op(request_id: str, status: str, code: str, message: str,
        reference: str | None = None) -> dict:
    return {"request_id": request_id, "status": status, "response_code": code,
            "message": message, "reference": reference}


def _item(request_id: str, status: str, code: str, message: str) -> dict:
    return {"request_id": request_id, "status": status, "response_code": code,
            "message": message}
