"""Setting the gateway up: processing centers, merchants, their users, conversion rates, and
the demo merchant."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from ..domain.customer import FIELDS as CUSTOMER_FIELDS, parse_names
from ..domain.errors import Duplicate, NotFound, Second, ValidationError
from ..domain.model import CurrencyRate, Merchant, MerchantUser, ProcessingCenter, Right
from ..domain.money import normalize_currency
from ..domain.notifications import check_url
from ..domain.passwords import hash_password, login_problem, password_problem
from ..domain.ports import Clock, BackOfficeUnitOfWork
from ..domain.settlement import parse_cutoff
from ..domain.urls import check_return_url
from .notifications.outbox import NotifySettings, apply_settings

DEMO_MERCHANT_ID = 100001
DEMO_LOGIN = "demo_erp"
DEMO_PASSWORD = "DemoPass123"
DEMO_SECRET = "demo-secret"
DEMO_CENTERS = (("emulator-rub", "RUB", True, 7), ("emulator-usd", "USD", False, 5))
#: The demo centers running the bonus program (the emulator runs it everywhere).
DEMO_BONUS_CENTERS = ("emulator-rub",)
DEMO_RATES = (("USD", "RUB", "90.00"), ("RUB", "USD", "0.0111"), ("EUR", "RUB", "98.00"))
#: A conversion rate as the command line takes it: ASCII digits, as the table keeps them.
_RATE = re.compile(r"[0-9]{1,14}(?:\.[0-9]{1,10})?")


def _cutoff(text: str) -> str:
    moment = parse_cutoff(text)
    return f"{moment.hour:02d}:{moment.minute:02d}"


def add_center(uow: BackOfficeUnitOfWork, name: str, url: str, currency: str, *,
               partial_reversal: bool = True, hold_days: int = 7, cutoff: str = "21:00",
               bonus_program: bool = False, replace: bool = False) -> ProcessingCenter:
    if not name or len(name) > 64:
        raise ValidationError("a center needs a name of 1 to 64 characters", Second.PROCESSING)
    if not url.startswith(("http://", "https://")):
        raise ValidationError(f"{url!r} is not an http(s) URL", Second.URL)
    if hold_days < 1:
        raise ValidationError("hold days must be at least 1", Second.NONE)
    cur = normalize_currency(currency)
    with uow:
        center = uow.centers.get(name)
        if center is not None and not replace:
            raise Duplicate(f"processing center {name} exists", Second.PROCESSING)
        if center is None:
            center = ProcessingCenter(name, url, cur)
            uow.centers.add(center)
        center.url, center.currency = url, cur
        center.partial_reversal, center.hold_days = partial_reversal, hold_days
        center.cutoff = _cutoff(cutoff)
        center.bonus_program = bonus_program
        uow.commit()
        return center


@dataclass
class MerchantSettings:
    name: str | None = None
    currencies: tuple[str, ...] = ()
    two_stage: bool | None = None
    secret_word: str | None = None
    check_order_code: bool | None = None
    legacy_checkvalue: bool | None = None
    processing: tuple[tuple[str, str], ...] = ()
    timeout_minutes: int | None = None
    test_mode: bool | None = None
    url_return: str | None = None
    url_return_ok: str | None = None
    url_return_no: str | None = None
    #: Result notification settings (URL, protocol, results, only success, expected reply).
    notify: NotifySettings | None = None
    #: Comma lists of customer fields (``domain.customer``): those the payment pages ask
    #: for, those required (asked too); the empty text is none, None leaves them as they are.
    customer_fields: str | None = None
    customer_required: str | None = None
    #: Whether the buyer may change the customer fields the shop's request carried.
    customer_editable: bool | None = None
    #: The IANA time zone of the merchant's cabinet (``Europe/Moscow``).
    time_zone: str | None = None
    #: Whether the merchant takes part in the bonus program, and the points it accrues per
    #: 100 units of a payment's card part (a decimal text such as ``1`` or ``0.5``).
    bonus_program: bool | None = None
    accrual_rate: str | None = None
    #: 3-D Secure: honour ``Disable3DS=1``; an unavailable ACS: ``decline`` or ``authorize``.
    allow_disable_3ds: bool | None = None
    threeds_unavailable: str | None = None


#: An accrual rate as the command line takes it: points per 100 units, up to 100.
_ACCRUAL_RATE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,2})?")


def parse_accrual_rate(text: str) -> Decimal:
    """Points accrued per 100 units of the card part: 0 to 100, at most two decimals."""
    value = (text or "").strip()
    if not _ACCRUAL_RATE.fullmatch(value) or Decimal(value) > 100:
        raise ValidationError(f"accrual rate {text!r} is not a number of points per 100 "
                              f"units from 0 to 100 (e.g. 1 or 0.5)", Second.NONE)
    return Decimal(value).quantize(Decimal("0.01"))


def known_time_zone(name: str) -> bool:
    """Whether ``name`` is a time zone of the system's IANA database."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def save_merchant(uow: BackOfficeUnitOfWork, merchant_id: int, s: MerchantSettings, *,
                  create: bool, check_notify_url: Callable[[str], str] = check_url,
                  record: Callable[[BackOfficeUnitOfWork, Merchant], object] | None = None) -> Merchant:
    """Create (``create``) or update a merchant; refuses what would not work.  A
    notification URL must pass ``check_notify_url`` -- that of the sender that will deliver
    (``NotificationSender.check_url``), refusing ports it does not use and, unless allowed,
    hosts that are or resolve to non-public addresses (5/154).  ``record`` is called with
    the changed merchant just before the commit, in the same transaction (the cabinet's
    audit entry)."""
    if not 0 < merchant_id <= 2147483647:
        raise ValidationError("Merchant_ID is a whole number from 1 to 2147483647",
                              Second.MERCHANT_ID)
    curs = [normalize_currency(c) for c in s.currencies]
    asked = None if s.customer_fields is None else parse_names(s.customer_fields,
                                                               "--customer-fields")
    required = None if s.customer_required is None else parse_names(s.customer_required,
                                                                    "--customer-required")
    if s.timeout_minutes is not None and not 1 <= s.timeout_minutes <= 24 * 60:
        raise ValidationError("timeout is 1 to 1440 minutes", Second.NONE)
    if s.time_zone is not None and not known_time_zone(s.time_zone):
        raise ValidationError(f"unknown time zone {s.time_zone!r}; use an IANA name such as "
                              f"Europe/Moscow", Second.NONE)
    accrual_rate = None if s.accrual_rate is None else parse_accrual_rate(s.accrual_rate)
    with uow:
        merchant = uow.merchants.get(merchant_id)
        if create:
            if merchant is not None:
                raise Duplicate(f"merchant {merchant_id} exists", Second.MERCHANT_ID)
            if not s.name:
                raise ValidationError("a merchant needs a name", Second.MERCHANT_ID)
            merchant = Merchant(merchant_id, s.name, curs[0] if curs else "RUB", curs or None)
            uow.merchants.add(merchant)
        elif merchant is None:
            raise NotFound(f"merchant {merchant_id} not found", Second.MERCHANT_ID)
        if s.name:
            merchant.name = s.name
        if curs and not create:
            merchant.currencies = list(dict.fromkeys([merchant.base_currency] + curs))
        for attr in ("two_stage", "secret_word", "check_order_code", "legacy_checkvalue",
                     "timeout_minutes", "test_mode", "url_return", "url_return_ok",
                     "url_return_no"):
            value = getattr(s, attr)
            if value is not None:
                if attr.startswith("url_return"):  # the pages' rule (empty: none)
                    value = check_return_url(f"--{attr.replace('_', '-')}", value) \
                        if value else None
                setattr(merchant, attr, value)
        if s.processing:
            mapping = dict(merchant.processing)
            for cur, name in s.processing:
                cur = normalize_currency(cur)
                if uow.centers.get(name) is None:
                    raise NotFound(f"processing center {name} is not registered "
                                   f"(assist-ws processing add)", Second.PROCESSING)
                mapping[cur] = name
            merchant.processing = mapping
        if asked is not None or required is not None:
            if required is not None:
                merchant.customer_required = required
            wanted = set(merchant.customer_fields if asked is None else asked)
            wanted |= set(merchant.customer_required)  # required implies asked
            merchant.customer_fields = [f.name for f in CUSTOMER_FIELDS if f.name in wanted]
        if s.customer_editable is not None:
            merchant.customer_editable = s.customer_editable
        if s.time_zone is not None:
            merchant.time_zone = s.time_zone
        if s.bonus_program is not None:
            merchant.bonus_program = s.bonus_program
        if accrual_rate is not None:
            merchant.accrual_rate = accrual_rate
        if s.allow_disable_3ds is not None:
            merchant.allow_disable_3ds = s.allow_disable_3ds
        if s.threeds_unavailable is not None:
            if s.threeds_unavailable not in ("decline", "authorize"):
                raise ValidationError("an unavailable 3-D Secure ACS means decline or "
                                      "authorize", Second.NONE)
            merchant.threeds_unavailable = s.threeds_unavailable
        if s.notify is not None and s.notify.any():
            apply_settings(merchant, s.notify, check_notify_url)
        if merchant.check_order_code and not merchant.secret_word:
            raise ValidationError("checking the order code needs a secret word", Second.NONE)
        if record is not None:
            record(uow, merchant)
        uow.commit()
        return merchant


def add_user(uow: BackOfficeUnitOfWork, merchant_id: int, login: str, password: str,
             rights: list[Right], *, replace: bool = False, shortest_login: int = 3,
             record: Callable[[BackOfficeUnitOfWork], object] | None = None) -> MerchantUser:
    """Add a user (``replace``: or set its password and rights).  ``record`` is called just
    before the commit, in the same transaction (the cabinet's audit entry)."""
    problem = login_problem(login, shortest=shortest_login) or password_problem(password)
    if problem:
        raise ValidationError(problem, Second.LOGIN_PASSWORD)
    with uow:
        if uow.merchants.get(merchant_id) is None:
            raise NotFound(f"merchant {merchant_id} not found", Second.MERCHANT_ID)
        user = uow.users.get(merchant_id, login)
        if user is not None and not replace:
            raise Duplicate(f"user {login} of merchant {merchant_id} exists", Second.LOGIN)
        if user is None:
            user = MerchantUser(merchant_id, login, hash_password(password), rights)
            uow.users.add(user)
        else:
            user.password_hash = hash_password(password)
            user.rights = sorted(r.value for r in rights)
        if record is not None:
            record(uow)
        uow.commit()
        return user


def set_rate(uow: BackOfficeUnitOfWork, clock: Clock, source: str, target: str, rate: str) -> CurrencyRate:
    text = (rate or "").strip()
    if not _RATE.fullmatch(text):
        raise ValidationError(f"rate {rate!r} is not a decimal number like 90.50 (at most 14 "
                              f"digits before the point and 10 after)", Second.CURRENCY_RATE)
    value = Decimal(text)
    if value <= 0:
        raise ValidationError("a rate must be a positive number", Second.CURRENCY_RATE)
    src, dst = normalize_currency(source), normalize_currency(target)
    if src == dst:
        raise ValidationError("a rate converts between two different currencies",
                              Second.CURRENCY_RATE)
    with uow:
        found = uow.rates.get(src, dst)
        if found is None:
            found = CurrencyRate(src, dst, value, clock.now())
            uow.rates.add(found)
        else:
            found.rate, found.updated_at = value, clock.now()
        uow.commit()
        return found


def seed_demo(uow: BackOfficeUnitOfWork, clock: Clock, emulator_url: str) -> None:
    """The demo merchant 100001 with user demo_erp, both emulated centers and demo rates.
    Idempotent: running it again brings everything back to these values."""
    base = emulator_url.rstrip("/")
    for name, cur, partial, days in DEMO_CENTERS:
        add_center(uow, name, f"{base}/{name}?wsdl", cur, partial_reversal=partial,
                   hold_days=days, bonus_program=name in DEMO_BONUS_CENTERS, replace=True)
    with uow:
        exists = uow.merchants.get(DEMO_MERCHANT_ID) is not None
    save_merchant(uow, DEMO_MERCHANT_ID, MerchantSettings(
        name="Demo Shop", currencies=("RUB", "USD"), two_stage=True, secret_word=DEMO_SECRET,
        check_order_code=False, processing=(("RUB", "emulator-rub"), ("USD", "emulator-usd")),
        timeout_minutes=20, test_mode=True, bonus_program=True, accrual_rate="1"),
        create=not exists)
    add_user(uow, DEMO_MERCHANT_ID, DEMO_LOGIN, DEMO_PASSWORD, list(Right), replace=True)
    for src, dst, rate in DEMO_RATES:
        set_rate(uow, clock, src, dst, rate)
