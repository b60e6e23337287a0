"""Tables and the imperative mapping of the domain classes onto them.

The domain classes stay plain Python; ``start_mappers()`` teaches SQLAlchemy to load and
save them.  Alembic migrations (``migrations/``) create exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, MetaData,
                        SmallInteger, String, Table, Text, UniqueConstraint, false)
from sqlalchemy.orm import registry, relationship

from ..domain import model
from ..domain import notifications as notices
from ..domain.states import OrderState
from .types import Amount, Enumerated, UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)
mapper_registry = registry(metadata=metadata)

processing_centers = Table(
    "processing_centers", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("url", String(512), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("partial_reversal", Boolean, nullable=False),
    Column("hold_days", Integer, nullable=False),
    Column("cutoff", String(5), nullable=False),
    Column("active", Boolean, nullable=False),
    # The latest cut-off whose due payments were all settled (the settlement lag's start).
    Column("settled_through", UtcDateTime),
    # Whether the center runs the bonus program (points balance, pay with points, accrual).
    Column("bonus_program", Boolean, nullable=False, server_default=false()),
)

merchants = Table(
    "merchants", metadata,
    Column("merchant_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(256), nullable=False),
    Column("base_currency", String(3), nullable=False),
    Column("currencies", JSON, nullable=False),
    Column("test_mode", Boolean, nullable=False),
    Column("timeout_minutes", Integer, nullable=False),
    Column("url_return", String(256)),
    Column("url_return_ok", String(256)),
    Column("url_return_no", String(256)),
    Column("secret_word", String(128)),
    Column("check_order_code", Boolean, nullable=False),
    Column("legacy_checkvalue", Boolean, nullable=False, server_default=false()),
    Column("two_stage", Boolean, nullable=False),
    Column("payment_means", JSON, nullable=False),
    Column("processing", JSON, nullable=False),
    Column("bonus_program", Boolean, nullable=False),
    Column("notify_url", String(512)),
    Column("notify_protocol", String(8), nullable=False),
    Column("notify_results", JSON, nullable=False),
    Column("notify_only_success", Boolean, nullable=False),
    Column("notify_expected_reply", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    # The customer fields the payment pages ask for, the required ones, and whether the
    # buyer may change those the shop sent (``domain.customer``).
    Column("customer_fields", JSON, nullable=False, server_default="[]"),
    Column("customer_required", JSON, nullable=False, server_default="[]"),
    Column("customer_editable", Boolean, nullable=False, server_default=false()),
    #: The merchant's time zone (IANA name): its cabinet's days and times.
    Column("time_zone", String(64), nullable=False, server_default="UTC"),
    #: Bonus points accrued per 100 units of a payment's card part (0: no accrual).
    Column("accrual_rate", Amount(7, 2), nullable=False, server_default="0"),
    #: 3-D Secure: ``Disable3DS=1`` honoured; what an unavailable ACS means (decline/authorize).
    Column("allow_disable_3ds", Boolean, nullable=False, server_default=false()),
    Column("threeds_unavailable", String(16), nullable=False, server_default="decline"),
)

merchant_users = Table(
    "merchant_users", metadata,
    Column("id", Integer, primary_key=True),
    Column("merchant_id", BigInteger, ForeignKey("merchants.merchant_id"), nullable=False),
    Column("login", String(64), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("rights", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    UniqueConstraint("merchant_id", "login", name="uq_merchant_users_login"),
)

#: Failed logins of the web services, per client (address), merchant and login -- unknown
#: ones too, hence no foreign key; merchant 0 with the empty login counts a client's
#: failures on every login.  Rows whose last failure is old are deleted as new ones come.
login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True),
    Column("client", String(64), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("login", String(64), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("first_failure_at", UtcDateTime, nullable=False),
    Column("last_failure_at", UtcDateTime, nullable=False),
    Column("refused_until", UtcDateTime),
    UniqueConstraint("client", "merchant_id", "login", name="uq_login_failures_key"),
    Index("ix_login_failures_last", "last_failure_at"),
)

currency_rates = Table(
    "currency_rates", metadata,
    Column("source", String(3), primary_key=True),
    Column("target", String(3), primary_key=True),
    Column("rate", Amount(24, 10), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

orders = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True),
    Column("bill_number", String(16), nullable=False, unique=True),
    Column("merchant_id", BigInteger, ForeignKey("merchants.merchant_id"), nullable=False),
    Column("order_number", String(128), nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("delay", Boolean, nullable=False),
    Column("language", String(2), nullable=False),
    Column("comment", Text),
    Column("lastname", String(70)),
    Column("firstname", String(70)),
    Column("middlename", String(70)),
    Column("email", String(128)),
    Column("address", String(256)),
    Column("home_phone", String(64)),
    Column("work_phone", String(20)),
    Column("mobile_phone", String(20)),
    Column("fax", String(20)),
    Column("country", String(3)),
    Column("region", String(3)),
    Column("city", String(70)),
    Column("zip", String(25)),
    Column("client_ip", String(45)),
    Column("url_return", String(256)),
    Column("url_return_ok", String(256)),
    Column("url_return_no", String(256)),
    Column("max_points", Integer),
    Column("disable_3ds", Boolean, nullable=False, server_default=false()),
    Column("state", Enumerated(OrderState, String(16)), nullable=False),
    Column("payment_means", JSON, nullable=False),
    Column("test_mode", Boolean, nullable=False),
    Column("center", String(64)),
    Column("hold_expires_at", UtcDateTime),
    Column("state_reason", String(256)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("settlement_batch_id", String(32)),
    Index("ix_orders_merchant_order_number", "merchant_id", "order_number"),
    Index("ix_orders_state_created", "state", "created_at"),
    # The cabinet's orders monitor walks a merchant's orders by this key, and sums a
    # period's totals from the index alone (PostgreSQL).
    Index("ix_orders_merchant_created", "merchant_id", "created_at", "id",
          postgresql_include=["currency", "state", "amount"]),
    # Order number masks that start with their own characters (``CAB-12%``), whatever the
    # collation (PostgreSQL).
    Index("ix_orders_merchant_number_pattern", "merchant_id", "order_number",
          postgresql_ops={"order_number": "text_pattern_ops"}),
)

#: States in which an order's payment is owed to the merchant (settled at the cut-off).
SETTLEABLE_STATES = ("Approved", "PartialDelayed", "PartialCanceled")

#: The claim of due settlements walks only the orders not yet in a batch.
_SETTLEMENT_DUE = (orders.c.settlement_batch_id.is_(None)
                   & orders.c.state.in_(SETTLEABLE_STATES))
Index("ix_orders_settlement_due", orders.c.center, orders.c.id,
      postgresql_where=_SETTLEMENT_DUE, sqlite_where=_SETTLEMENT_DUE)

operations = Table(
    "operations", metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("number", SmallInteger, nullable=False),
    Column("type", Enumerated(model.OperationType, SmallInteger()), nullable=False),
    Column("state", Enumerated(model.OperationState, String(16)), nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rate", Amount(24, 10)),
    Column("means", String(8), nullable=False),
    Column("means_type", String(16)),
    Column("means_number", String(24)),
    Column("card_fingerprint", String(64)),
    Column("cardholder", String(64)),
    Column("card_expiry", String(7)),
    Column("response_code", String(8)),
    Column("approval_code", String(16)),
    Column("message", String(256)),
    Column("processing_name", String(64)),
    Column("client_ip", String(45)),
    Column("external_id", String(100)),
    Column("cancel_reason", SmallInteger),
    Column("points", Integer),
    Column("auto_deposit", Boolean, nullable=False, default=False),
    # 3-D Secure (``Operation``): the result, and the buyer's trip to the ACS.
    Column("eci", String(2)),
    Column("auth_result", String(1)),
    Column("acs_url", String(512)),
    Column("acs_request", String(64)),
    Column("acs_nonce", String(32)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    UniqueConstraint("order_id", "number", name="uq_operations_order_number"),
    UniqueConstraint("order_id", "external_id", name="uq_operations_external_id"),
    Index("ix_operations_created", "created_at"),
)

transactions = Table(
    "transactions", metadata,
    Column("id", Integer, primary_key=True),
    Column("operation_id", Integer, ForeignKey("operations.id", ondelete="CASCADE"),
           nullable=False),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("type", Enumerated(model.TransactionType, String(24)), nullable=False),
    Column("state", Enumerated(model.TransactionState, String(12)), nullable=False),
    Column("center", String(64), nullable=False),
    Column("amount", Amount()),
    Column("currency", String(3), nullable=False),
    Column("points", Integer),
    Column("authorization_request_id", String(64)),
    Column("batch_id", String(64)),
    Column("processing_reference", String(64)),
    Column("response_code", String(8)),
    Column("message", String(256)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Index("ix_transactions_open", "state", "next_attempt_at"),
    Index("ix_transactions_operation", "operation_id"),
)

notifications = Table(
    "notifications", metadata,
    Column("id", Integer, primary_key=True),
    Column("notification_id", String(32), nullable=False, unique=True),
    Column("merchant_id", BigInteger, ForeignKey("merchants.merchant_id"), nullable=False),
    Column("order_id", Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("bill_number", String(16), nullable=False),
    Column("order_number", String(128), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("success", Boolean, nullable=False),
    Column("operation_number", SmallInteger),
    Column("operation_type", SmallInteger, nullable=False),
    Column("order_state", String(16), nullable=False),
    Column("content", JSON, nullable=False),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("replays", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("queued_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
    Column("claimed_until", UtcDateTime),
    Column("claim_token", String(16)),
    Column("last_error", String(256)),
    UniqueConstraint("order_id", "sequence", name="uq_notifications_order_sequence"),
    Index("ix_notifications_due", "state", "next_attempt_at"),
    Index("ix_notifications_merchant_created", "merchant_id", "created_at"),
    Index("ix_notifications_bill_number", "bill_number"),
)

notification_attempts = Table(
    "notification_attempts", metadata,
    Column("id", Integer, primary_key=True),
    Column("notification_id", Integer, ForeignKey("notifications.id", ondelete="CASCADE"),
           nullable=False),
    Column("number", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("url", String(512), nullable=False),
    Column("verdict", String(12), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("http_status", SmallInteger),
    Column("reply_excerpt", String(512)),
    Column("error", String(256)),
    Index("ix_notification_attempts_notification", "notification_id"),
)

settlement_batches = Table(
    "settlement_batches", metadata,
    Column("batch_id", String(32), primary_key=True),
    Column("center", String(64), nullable=False),
    Column("state", String(8), nullable=False),
    Column("cutoff_at", UtcDateTime),
    Column("items", Integer, nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("settled", Integer, nullable=False),
    Column("declined", Integer, nullable=False),
    Column("unknown", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_until", UtcDateTime, nullable=False),
    Column("message", String(256)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    # [[request_id, operation_id, authorization_request_id, amount, currency], ...]: what
    # was sent, written before it goes out.
    Column("entries", Text, nullable=False),
    Index("ix_settlement_batches_open", "state", "lease_until"),
)

#: The merchant cabinet's signed-in browsers (``domain.audit.CabinetSession``): the digest of
#: the cookie's token, the user, the stamp of its row, the last request; ended ones stay a
#: day and go as new sessions come.
cabinet_sessions = Table(
    "cabinet_sessions", metadata,
    Column("session_id", String(64), primary_key=True),
    Column("merchant_id", BigInteger, nullable=False),
    Column("login", String(64), nullable=False),
    Column("stamp", String(64), nullable=False),
    Column("client", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Index("ix_cabinet_sessions_user", "merchant_id", "login"),
    Index("ix_cabinet_sessions_last_seen", "last_seen_at"),
)

#: The cabinet's audit log (``domain.audit.AuditEntry``); a failed sign-in of an unknown
#: merchant is kept under the number given (0 when it was none), hence no foreign key.
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("merchant_id", BigInteger, nullable=False),
    Column("login", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("client", String(64), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("what", String(512), nullable=False),
    Index("ix_audit_log_merchant_at", "merchant_id", "at", "id"),
)

#: A cabinet user's TOTP sign-in (``domain.audit.TwoFactor``): the secret encrypted with a
#: key derived from the gateway's secret, confirmed or not yet, the last time step taken.
cabinet_two_factor = Table(
    "cabinet_two_factor", metadata,
    Column("merchant_id", BigInteger, primary_key=True, autoincrement=False),
    Column("login", String(64), primary_key=True),
    Column("secret", String(256), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_step", BigInteger),
)

#: A user's recovery codes for the TOTP sign-in, hashed; each is taken once.
cabinet_recovery_codes = Table(
    "cabinet_recovery_codes", metadata,
    Column("id", Integer, primary_key=True),
    Column("merchant_id", BigInteger, nullable=False),
    Column("login", String(64), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", UtcDateTime),
    Index("ix_cabinet_recovery_codes_user", "merchant_id", "login"),
)

_started = False


def start_mappers() -> None:
    """Map the domain classes (once per process)."""
    global _started
    if _started:
        return
    _started = True
    mapper_registry.map_imperatively(model.ProcessingCenter, processing_centers)
    mapper_registry.map_imperatively(model.Merchant, merchants)
    mapper_registry.map_imperatively(model.MerchantUser, merchant_users)
    mapper_registry.map_imperatively(model.CurrencyRate, currency_rates)
    mapper_registry.map_imperatively(model.Transaction, transactions)
    mapper_registry.map_imperatively(model.Operation, operations, properties={
        "transactions": relationship(model.Transaction, order_by=transactions.c.id,
                                     cascade="all, delete-orphan", lazy="selectin"),
    })
    mapper_registry.map_imperatively(model.Order, orders, properties={
        "operations": relationship(model.Operation, order_by=operations.c.number,
                                   cascade="all, delete-orphan", lazy="selectin"),
    })
    mapper_registry.map_imperatively(notices.Notification, notifications)
    mapper_registry.map_imperatively(notices.DeliveryAttempt, notification_attempts)
