"""Small helpers the use cases share: loading the order, the merchant and the center."""

from __future__ import annotations

from ..domain.errors import AssistError, NotFound, ProcessingUnavailable, Second, malformed
from ..domain.model import Order, ProcessingCenter
from ..domain.ports import BackOfficeUnitOfWork, CheckoutUnitOfWork, WorkerUnitOfWork
from ..domain.text import is_digits


def split_bill_number(text: str | None) -> tuple[str, int | None]:
    """``5775486650107611`` or the extended ``5775486650107611.2`` -> (bill, N or None)."""
    raw = (text or "").strip()
    if not raw:
        raise AssistError("Billnumber is required", Second.BILLNUMBER, firstcode=3)
    bill, _, number = raw.partition(".")
    if not is_digits(bill) or not 15 <= len(bill) <= 16 or (
            number and (not is_digits(number) or len(number) > 4)):
        raise malformed("Billnumber", Second.BILLNUMBER,
                        "15-16 digits, optionally followed by .N")
    return bill, int(number) if number else None


#: Any unit of work that finds orders and processing centers.
AnyUnitOfWork = CheckoutUnitOfWork | BackOfficeUnitOfWork | WorkerUnitOfWork


def load_order(uow: AnyUnitOfWork, bill_number: str, merchant_id: int | None = None, *,
               lock: bool = False) -> Order:
    order = uow.orders.get(bill_number, merchant_id=merchant_id, lock=lock)
    if order is None:  # another merchant's order is "not found" too
        raise NotFound(f"order {bill_number} not found", Second.ORDER)
    return order


def load_center(uow: AnyUnitOfWork, name: str | None) -> ProcessingCenter:
    center = uow.centers.get(name) if name else None
    if center is None or not center.active:
        raise ProcessingUnavailable(f"processing center {name or '(none)'} is not configured",
                                    Second.PROCESSING)
    return center
