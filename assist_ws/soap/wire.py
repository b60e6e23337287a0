"""Spyne wire types of the merchant web services (namespace ``http://www.paysecure.ru/ws/``).

Element names and their order follow Assist's; what is always present is declared
``minOccurs=1`` and not nillable, what may be absent ``minOccurs=0`` (and is then left out,
never sent as nil).  Amounts are ``xs:decimal`` written with the currency's digits (``4.00``,
``150``, ``1.500``), times ``xs:dateTime`` in UTC.  Refusals are SOAP faults whose detail is
an ``AssistFault`` element with ``firstcode``, ``secondcode`` and ``message``.
"""

from __future__ import annotations

from spyne import ComplexModel, DateTime, Decimal, Fault, Integer32, Unicode

from ..services.merchant_api import WINDOW_FIELDS

NS = "http://www.paysecure.ru/ws/"

M = {"min_occurs": 1, "nillable": False}   # mandatory
O = {"min_occurs": 0, "nillable": False}   # optional: left out when absent
_NS = {"__namespace__": NS}
MANY = {"min_occurs": 0, "max_occurs": "unbounded", "nillable": False}

# -- simple types --------------------------------------------------------------------------
MerchantId = Integer32(ge=1, type_name="MerchantId", **_NS, **M)
Login = Unicode(min_len=1, max_len=64, type_name="Login", **_NS, **M)
Password = Unicode(min_len=1, max_len=128, type_name="Password", **_NS, **M)
OrderNumber = Unicode(min_len=1, max_len=128, type_name="OrderNumber", **_NS, **M)
BillNumber = Unicode(pattern=r"[0-9]{15,16}(\.[0-9]{1,4})?", type_name="BillNumber", **_NS, **M)
Currency = Unicode(pattern="[A-Z]{3}", type_name="Currency", **_NS, **M)
Amount = Decimal(total_digits=18, fraction_digits=3, ge=0, type_name="Amount", **_NS, **M)


def optional(t):
    """The same named type, in an element that may be absent."""
    return t.customize(min_occurs=0, nillable=False, type_name=t.get_type_name(), **_NS)


OptionalAmount = optional(Amount)
OptionalCurrency = optional(Currency)
OrderStateName = Unicode(values=["In Process", "Delayed", "Approved", "PartialApproved",
                                 "PartialDelayed", "Canceled", "PartialCanceled", "Declined",
                                 "Timeout"], type_name="OrderStateName", **_NS, **M)
OperationStateName = Unicode(values=["In Process", "Success", "Declined", "Unknown"],
                             type_name="OperationStateName", **_NS, **M)
Flag = Integer32(ge=0, le=1, type_name="Flag", **_NS, **M)
OptionalFlag = optional(Flag)
Year = Integer32(ge=1970, le=9999, type_name="Year", **_NS, **O)
Month = Integer32(ge=1, le=12, type_name="Month", **_NS, **O)
Day = Integer32(ge=1, le=31, type_name="Day", **_NS, **O)
Hour = Integer32(ge=0, le=23, type_name="Hour", **_NS, **O)
Minute = Integer32(ge=0, le=59, type_name="Minute", **_NS, **O)
Language = Unicode(values=["RU", "EN", "ru", "en"], type_name="Language", **_NS, **O)
CancelReason = Integer32(ge=1, le=3, type_name="CancelReason", **_NS, **O)
ExternalRefundId = Unicode(pattern="[A-Za-z0-9_-]{10,100}", type_name="ExternalRefundId",
                           **_NS, **O)
ClientIp = Unicode(max_len=45, type_name="ClientIp", **_NS, **O)
Success = Integer32(ge=0, le=2, type_name="SuccessFilter", **_NS, **O)
Text = Unicode(**M)
OptionalText = Unicode(**O)
Time = DateTime(**M)
OptionalTime = DateTime(**O)
Int = Integer32(**M)
OptionalInt = Integer32(**O)
OptionalRate = Decimal(total_digits=24, fraction_digits=10, type_name="Rate", **_NS, **O)

#: The window parameters (``Start*``/``End*``) every query accepts, as (name, type).
WINDOW = list(zip(WINDOW_FIELDS, (Year, Month, Day, Hour, Minute) * 2))


class _Model(ComplexModel):
    __namespace__ = NS


class AssistFault(Fault):
    """The detail of every fault: Assist's codes and the reason."""

    __namespace__ = NS
    __type_name__ = "AssistFault"
    _type_info = [("firstcode", Int), ("secondcode", Int), ("message", Text)]

    def __init__(self, firstcode: int = 1, secondcode: int = 0, message: str = "",
                 faultcode: str = "Client"):
        super().__init__(faultcode=faultcode, faultstring=message)
        self.firstcode, self.secondcode, self.message = firstcode, secondcode, message


# -- orderstate ------------------------------------------------------------------------------
class OrderStateOrder(_Model):
    __type_name__ = "OrderStateOrder"
    _type_info = [
        ("ordernumber", Text), ("billnumber", Text), ("orderamount", Amount),
        ("ordercurrency", Currency), ("orderstate", OrderStateName), ("packetdate", Time),
        ("signature", Text), ("checkvalue", Text),
    ]


class OrderStateResult(_Model):
    __type_name__ = "OrderStateResult"
    _type_info = [("order", OrderStateOrder.customize(**MANY))]


# -- orderresult -----------------------------------------------------------------------------
class OrderResultOperation(_Model):
    __type_name__ = "OrderResultOperation"
    _type_info = [
        ("billnumber", Text), ("operationtype", Int), ("operationstate", OperationStateName),
        ("amount", Amount), ("currency", Currency), ("clientip", OptionalText),
        ("ipaddress", OptionalText), ("meantype_id", OptionalInt),
        ("meantypename", OptionalText), ("meansubtype", OptionalText),
        ("meannumber", OptionalText), ("cardholder", OptionalText),
        ("cardexpirationdate", OptionalText), ("issuebank", OptionalText),
        ("bankcountry", OptionalText), ("responsecode", OptionalText), ("message", OptionalText),
        ("customermessage", OptionalText), ("recommendation", OptionalText),
        ("approvalcode", OptionalText), ("protocoltypename", OptionalText),
        ("processingname", OptionalText), ("operationdate", Time),
        ("authresult", OptionalText), ("authrequired", OptionalText), ("rrn", OptionalText),
        ("extrrn", OptionalText), ("slipno", OptionalText),
    ]


class OrderResultOrder(_Model):
    __type_name__ = "OrderResultOrder"
    _type_info = [
        ("ordernumber", Text), ("billnumber", Text), ("testmode", Flag),
        ("ordercomment", OptionalText), ("orderamount", Amount), ("ordercurrency", Currency),
        ("firstname", OptionalText), ("lastname", OptionalText), ("middlename", OptionalText),
        ("email", OptionalText), ("orderdate", Time), ("orderstate", OrderStateName),
        ("packetdate", Time), ("signature", Text), ("checkvalue", Text),
        ("operation", OrderResultOperation.customize(**MANY)),
    ]


class OrderResultResult(_Model):
    __type_name__ = "OrderResultResult"
    _type_info = [("order", OrderResultOrder.customize(**MANY))]


# -- charge and cancel -----------------------------------------------------------------------
class OperationOrder(_Model):
    """The reply of charge and cancel: the order with the operation just made."""

    __type_name__ = "OperationOrder"
    _type_info = [
        ("ordernumber", Text), ("responsecode", OptionalText), ("recommendation", OptionalText),
        ("message", OptionalText), ("ordercomment", OptionalText), ("orderdate", Time),
        ("amount", Amount), ("currency", Currency), ("meantypename", OptionalText),
        ("meannumber", OptionalText), ("lastname", OptionalText), ("firstname", OptionalText),
        ("middlename", OptionalText), ("issuebank", OptionalText), ("email", OptionalText),
        ("bankcountry", OptionalText), ("rate", OptionalRate), ("approvalcode", OptionalText),
        ("meansubtype", OptionalText), ("cardholder", OptionalText),
        ("cardexpirationdate", OptionalText), ("ipaddress", OptionalText),
        ("protocoltypename", OptionalText), ("testmode", Flag),
        ("customermessage", OptionalText), ("orderstate", OrderStateName),
        ("processingname", OptionalText), ("operationtype", Int), ("billnumber", Text),
        ("orderamount", Amount), ("ordercurrency", Currency), ("slipno", OptionalText),
        ("packetdate", Time), ("signature", Text), ("checkvalue", Text),
    ]


class OperationOrders(_Model):
    __type_name__ = "OperationOrders"
    _type_info = [("order", OperationOrder.customize(min_occurs=1, max_occurs="unbounded",
                                                     nillable=False))]


# -- wscancel --------------------------------------------------------------------------------
class WSCancelCustomer(_Model):
    __type_name__ = "WSCancelCustomer"
    _type_info = [("firstname", OptionalText), ("lastname", OptionalText),
                  ("middlename", OptionalText), ("email", OptionalText)]


class WSCancelOperation(_Model):
    __type_name__ = "WSCancelOperation"
    _type_info = [
        ("billnumber", Text), ("operationtype", Int), ("operationstate", OperationStateName),
        ("amount", Amount), ("currency", Currency), ("ipaddress", OptionalText),
        ("meantype_id", OptionalInt), ("meansubtype", OptionalText),
        ("meannumber", OptionalText), ("cardholder", OptionalText),
        ("cardexpirationdate", OptionalText), ("issuebank", OptionalText),
        ("bankcountry", OptionalText), ("responsecode", OptionalText), ("message", OptionalText),
        ("customermessage", OptionalText), ("recommendation", OptionalText),
        ("approvalcode", OptionalText), ("protocoltypename", OptionalText),
        ("processingname", OptionalText), ("operationdate", Time),
    ]


class WSCancelOrder(_Model):
    __type_name__ = "WSCancelOrder"
    _type_info = [
        ("billnumber", Text), ("ordernumber", Text), ("testmode", Flag),
        ("ordercomment", OptionalText), ("orderamount", Amount), ("ordercurrency", Currency),
        ("rate", OptionalRate), ("orderdate", Time), ("orderstate", OrderStateName),
        ("packetdate", Time), ("checkvalue", Text),
        ("customer", WSCancelCustomer.customize(**M)),
        ("operation", WSCancelOperation.customize(min_occurs=1, max_occurs="unbounded",
                                                  nillable=False)),
    ]


# -- resultbydate ----------------------------------------------------------------------------
class ResultOperation(_Model):
    """One operation of results by date, with its order."""

    __type_name__ = "ResultOperation"
    _type_info = [
        ("ordernumber", Text), ("billnumber", Text), ("testmode", Flag), ("orderdate", Time),
        ("orderamount", Amount), ("ordercurrency", Currency), ("orderstate", OrderStateName),
        ("operationtype", Int), ("operationstate", OperationStateName), ("amount", Amount),
        ("currency", Currency), ("rate", OptionalRate), ("meantypename", OptionalText),
        ("meannumber", OptionalText), ("cardholder", OptionalText),
        ("approvalcode", OptionalText), ("responsecode", OptionalText),
        ("message", OptionalText), ("processingname", OptionalText), ("operationdate", Time),
        ("clientip", OptionalText), ("firstname", OptionalText), ("lastname", OptionalText),
        ("middlename", OptionalText), ("email", OptionalText),
    ]


class ResultByDateResult(_Model):
    __type_name__ = "ResultByDateResult"
    _type_info = [("operation", ResultOperation.customize(**MANY))]


# -- notification replay and undelivered notifications -----------------------------------------
OptionalBillNumber = optional(BillNumber)
OptionalOrderNumber = optional(OrderNumber)
OptionalOperationStateName = optional(OperationStateName)
NotificationStateName = Unicode(values=["pending", "delivered", "rejected", "expired"],
                                type_name="NotificationStateName", **_NS, **M)

_NOTIFICATION = [
    ("notificationid", Text), ("notificationseq", Int), ("billnumber", Text),
    ("ordernumber", Text), ("operationbillnumber", OptionalText), ("operationtype", Int),
    ("operationstate", OptionalOperationStateName), ("orderstate", OrderStateName),
    ("createdate", Time), ("state", NotificationStateName),
]


class ReplayNotification(_Model):
    """A notification queued again: its id and sequence (the same as when first sent), the
    order and operation it tells about, when it was made, and its state (``pending``)."""

    __type_name__ = "ReplayNotification"
    _type_info = list(_NOTIFICATION)


class ReplayResult(_Model):
    __type_name__ = "ReplayResult"
    _type_info = [("notification", ReplayNotification.customize(**MANY))]


class UndeliveredNotification(_Model):
    """A notification not delivered (yet), with its tries so far and the next one."""

    __type_name__ = "UndeliveredNotification"
    _type_info = _NOTIFICATION + [
        ("attempts", Int), ("lasttrydate", OptionalTime), ("lasthttpstatus", OptionalInt),
        ("nexttrydate", OptionalTime), ("lasterror", OptionalText),
    ]


class UndeliveredResult(_Model):
    __type_name__ = "UndeliveredResult"
    _type_info = [("notification", UndeliveredNotification.customize(**MANY))]
