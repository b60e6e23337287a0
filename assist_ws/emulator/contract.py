"""Spyne data types of the processing-center SOAP contract.

Every request and result type of the ``urn:assist-ws:processing:1`` namespace
lives here, with mandatory fields declared ``min_occurs=1, nillable=False``
(Spyne makes everything optional and nillable by default). The WSDL published
by the emulator (and committed as ``wsdl/processing.wsdl``) is generated from
these declarations together with the operations in ``service.py``.
"""

from __future__ import annotations

from spyne import Array, Boolean, ComplexModel, Decimal, Integer32, Unicode

__all__ = [
    "TNS",
    "APP_NAME",
    "SERVICE_NAME",
    "AuthorizeResult",
    "LedgerAuthorization",
    "OperationResult",
    "PointsBalanceResult",
    "ReconcileResult",
    "SettleResult",
    "SettlementItem",
    "SettlementItemResult",
    "StatusResult",
    "RequestId",
    "Amount",
    "OptionalAmount",
    "CurrencyCode",
    "CardNumber",
    "Month",
    "Year",
    "Cardholder",
    "Cvc",
    "Points",
    "Text",
]

TNS = "urn:assist-ws:processing:1"
APP_NAME = "ProcessingCenter"
SERVICE_NAME = "ProcessingService"

_M = {"min_occurs": 1, "nillable": False}   # mandatory
_O = {"min_occurs": 0, "nillable": False}   # optional, omitted when absent
_NS = {"__namespace__": TNS}                 # named simple types live in TNS

# --- simple types -----------------------------------------------------------
RequestId = Unicode(min_len=1, max_len=64, type_name="RequestId", **_NS, **_M)
CurrencyCode = Unicode(min_len=3, max_len=3, pattern="[A-Za-z]{3}",
                       type_name="CurrencyCode", **_NS, **_M)
OptionalCurrencyCode = Unicode(min_len=3, max_len=3, type_name="OptionalCurrencyCode",
                               **_NS, **_O)
CardNumber = Unicode(min_len=1, max_len=64, type_name="CardNumber", **_NS, **_M)
Cardholder = Unicode(max_len=128, type_name="Cardholder", **_NS, **_M)
Cvc = Unicode(max_len=8, type_name="Cvc", **_NS, **_M)
Month = Integer32(**_M)
Year = Integer32(**_M)
Amount = Decimal(**_M)
OptionalAmount = Decimal(**_O)
Points = Integer32(**_M)
Text = Unicode(**_M)
OptionalText = Unicode(**_O)
OptionalFlag = Boolean(**_O)

AuthorizeStatus = Unicode(values=["approved", "declined", "authentication_required"], type_name="AuthorizeStatus",
                          **_NS, **_M)
OperationStatus = Unicode(values=["success", "declined", "not_found"],
                          type_name="OperationStatus", **_NS, **_M)
TransactionState = Unicode(values=["success", "approved", "declined", "not_found",
                                   "in_progress"], type_name="TransactionState", **_NS, **_M)
OperationKind = Unicode(values=["authorize", "reverse", "settle", "refund", "points_pay",
                                "points_accrue", "points_cancel_accrual", "points_return"],
                        type_name="OperationKind", **_NS, **_O)


class _Model(ComplexModel):
    __namespace__ = TNS


# --- results ----------------------------------------------------------------
class AuthorizeResult(_Model):
    """Answer to Authorize."""

    _type_info = [
        ("request_id", RequestId),
        ("status", AuthorizeStatus),
        ("response_code", Text),
        ("message", Text),
        ("approval_code", OptionalText),
        ("reference", OptionalText),
        ("amount", Amount),
        ("currency", CurrencyCode),
        # 3-D Secure: where the buyer goes to authenticate (status authentication_required)
        # with the id the ACS is given, and the result of an enrolled card's authorization.
        ("acs_url", OptionalText),
        ("authentication_id", OptionalText),
        ("eci", OptionalText),
        ("auth_result", OptionalText),
    ]


class OperationResult(_Model):
    """Answer to Reverse, Refund and the points operations."""

    _type_info = [
        ("request_id", RequestId),
        ("status", OperationStatus),
        ("response_code", Text),
        ("message", Text),
        ("reference", OptionalText),
    ]


class SettlementItem(_Model):
    """One item of a Settle batch."""

    _type_info = [
        ("request_id", RequestId),
        ("authorization_request_id", RequestId),
        ("amount", Amount),
    ]


class SettlementItemResult(_Model):
    """Answer for one Settle item."""

    _type_info = [
        ("request_id", RequestId),
        ("status", OperationStatus),
        ("response_code", Text),
        ("message", Text),
    ]


class SettleResult(_Model):
    """Answer to Settle: one result per item, in request order."""

    _type_info = [
        ("batch_id", RequestId),
        ("items", Array(SettlementItemResult, **_M)),
    ]


class StatusResult(_Model):
    """Answer to TransactionStatus."""

    _type_info = [
        ("request_id", RequestId),
        ("status", TransactionState),
        ("kind", OperationKind),
        ("response_code", OptionalText),
        ("reference", OptionalText),
        ("amount", OptionalAmount),
        ("currency", OptionalCurrencyCode),
    ]


class PointsBalanceResult(_Model):
    """Answer to PointsBalance."""

    _type_info = [
        ("enrolled", Boolean(**_M)),
        ("points", Points),
    ]


class LedgerAuthorization(_Model):
    """One authorization as the center's ledger sees it."""

    _type_info = [
        ("request_id", RequestId),
        ("reference", Text),
        ("card", Text),
        ("amount", Amount),
        ("currency", CurrencyCode),
        ("held", Amount),
        ("settled", Amount),
        ("refunded", Amount),
    ]


class ReconcileResult(_Model):
    """Answer to Reconcile: every authorization of this center."""

    _type_info = [
        ("authorizations", Array(LedgerAuthorization, **_M)),
    ]


SettlementItems = Array(SettlementItem, **_M)
