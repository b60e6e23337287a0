"""The buyer's personal data on an order (``model.Customer``): the fields Assist knows, which
of them a merchant's payment pages ask for, and the checks of what a buyer types into them.

A shop may send the fields with its authorization request (``Lastname``, ``Email`` …); the
payment pages show what it sent and ask for the fields the merchant wants
(``Merchant.customer_fields``, of which ``customer_required`` must be filled in) that the
request lacked.  ``FIELDS`` is the one table of the fields -- Assist's parameter name, the
name of the merchant's setting, the longest value an order keeps, the secondcode of a refusal
about it -- for the request and the pages alike, and ``clean`` the one way a value is cleaned
(Assist's rules, ``text.clean_general`` or, for the address, ``text.clean_text``).  A shop's
value is cleaned silently, as Assist does; a buyer's is refused, the characters named, when
cleaning would change it: the buyer sees what the order keeps.

    customer_form(customer, merchant) -> FormField per field shown, editable or asked
    review(form, entered)             -> (changes to the order, problems by field)
    CustomerDataRefused(problems)        a ValidationError carrying the problems
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from .errors import Second, ValidationError
from .model import Customer, Merchant
from .text import clean_general, clean_text, xml_unfit


@dataclass(frozen=True)
class CustomerField:
    #: The merchant setting's name of the field: Assist's parameter name in lower case.
    name: str
    #: Assist's parameter name (the authorization request's, and the page form's).
    wire: str
    #: The attribute of ``Customer`` and ``Order``.
    attr: str
    #: The longest value an order keeps.
    longest: int
    #: The secondcode of a refusal about the field.
    secondcode: int
    #: What the field holds: ``name``, ``email``, ``phone``, ``country``, ``text``, ``address``.
    kind: str = "text"


#: Every customer field, in the order the payment pages show them.
FIELDS: tuple[CustomerField, ...] = (
    CustomerField("lastname", "Lastname", "lastname", 70, 117, "name"),
    CustomerField("firstname", "Firstname", "firstname", 70, 118, "name"),
    CustomerField("middlename", "Middlename", "middlename", 70, 119, "name"),
    CustomerField("email", "Email", "email", 128, 120, "email"),
    CustomerField("mobilephone", "MobilePhone", "mobile_phone", 20, 122, "phone"),
    CustomerField("homephone", "HomePhone", "home_phone", 64, 122, "phone"),
    CustomerField("workphone", "WorkPhone", "work_phone", 20, 122, "phone"),
    CustomerField("fax", "Fax", "fax", 20, 122, "phone"),
    CustomerField("country", "Country", "country", 3, 128, "country"),
    CustomerField("state", "State", "region", 3, 124),
    CustomerField("city", "City", "city", 70, 123),
    CustomerField("zip", "Zip", "zip", 25, 125),
    CustomerField("address", "Address", "address", 256, 121, "address"),
)
BY_NAME: dict[str, CustomerField] = {f.name: f for f in FIELDS}

#: How a field stands on the payment page.
SHOWN = "shown"        # the shop sent it; the buyer sees it and cannot change it
EDITABLE = "editable"  # the shop sent it; the merchant lets the buyer change it
ASKED = "asked"        # the merchant wants it and the shop did not send it

#: What the buyer is told about a value that cannot be kept, by ``Problem.key``.
MESSAGES = {
    "required": "Please fill in this field",
    "too_long": "At most {longest} characters",
    "characters": "These characters are not allowed: {chars}",
    "email": "Enter an e-mail address such as name@example.com",
    "phone": "Enter a phone number of 5 to 15 digits (a + in front is allowed)",
    "country": "Enter the country's code: 2 or 3 Latin letters, such as RU",
}

#: Spaces, hyphens, dots and brackets people write in phone numbers: not kept.
_PHONE_MARKS = re.compile(r"[\s().\-]")
_PHONE = re.compile(r"\+?[0-9]{5,15}")
_COUNTRY = re.compile(r"[A-Za-z]{2,3}")
#: ``local@domain.tld``: a domain of letters (any script), digits and inner hyphens.
_EMAIL = re.compile(r"([^@\s]{1,64})@((?:[^\W_](?:[\w-]*[^\W_])?\.)+"
                    r"(?:[^\W\d_]{2,}|[Xx][Nn]--[\w-]+))")


def clean(field: CustomerField, value: str | None) -> str | None:
    """``value`` cleaned as Assist cleans the field (None stays None)."""
    return clean_text(value) if field.kind == "address" else clean_general(value)


def parse_names(text: str, option: str = "customer fields") -> list[str]:
    """A comma list of field names (any case) as the merchant's setting keeps it: known
    names only, each once, in ``FIELDS`` order; the empty text is none."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in dict.fromkeys(names) if name not in BY_NAME]
    if unknown:
        raise ValidationError(
            f"{option}: unknown customer field(s) {', '.join(unknown)}; use any of "
            f"{', '.join(BY_NAME)}", Second.NONE)
    return [f.name for f in FIELDS if f.name in names]


@dataclass(frozen=True)
class Problem:
    """Why a value the buyer typed cannot be kept: ``key`` names the rule (``MESSAGES``),
    ``detail`` fills in its message.  Never holds the value."""

    field: str
    key: str
    detail: tuple[tuple[str, str], ...] = ()

    @property
    def secondcode(self) -> int:
        return BY_NAME[self.field].secondcode

    @property
    def message(self) -> str:
        return MESSAGES[self.key].format(**dict(self.detail))


class CustomerDataRefused(ValidationError):
    """The buyer's data on the payment page cannot be kept: ``problems`` by field name, in
    ``FIELDS`` order.  The message names the fields and the rules, never the values."""

    def __init__(self, problems: Mapping[str, Problem]):
        self.problems = dict(problems)
        first = next(iter(self.problems.values()))
        super().__init__("the buyer's data cannot be kept: " + "; ".join(
            f"{p.field}: {p.message}" for p in self.problems.values()), first.secondcode,
            firstcode=3 if first.key == "required" else 4)


def _shown(char: str) -> str:
    return char if char.isprintable() else f"U+{ord(char):04X}"


def check(field: CustomerField, typed: str) -> tuple[str | None, Problem | None]:
    """What the buyer typed into ``field``: (the value the order keeps, None), (None, None)
    for nothing typed, or (None, the problem).  Runs of spaces become one space; a phone
    number loses its spaces, hyphens, dots and brackets."""
    text = " ".join(typed.split())
    if field.kind == "phone":
        text = _PHONE_MARKS.sub("", text)
    if not text:
        return None, None
    refused = [c for c in dict.fromkeys(text)
               if not c.isspace() and (xml_unfit(c) is not None or not clean(field, c))]
    if refused:
        return None, Problem(field.name, "characters",
                             (("chars", " ".join(map(_shown, refused))),))
    value = clean(field, text) or ""
    if len(value) > field.longest:
        return None, Problem(field.name, "too_long", (("longest", str(field.longest)),))
    if field.kind == "email":
        found = _EMAIL.fullmatch(value)
        local = found.group(1) if found else ""
        if not found or local.startswith(".") or local.endswith(".") or ".." in local:
            return None, Problem(field.name, "email")
    elif field.kind == "phone" and not _PHONE.fullmatch(value):
        return None, Problem(field.name, "phone")
    elif field.kind == "country":
        if not _COUNTRY.fullmatch(value):
            return None, Problem(field.name, "country")
        value = value.upper()
    return value, None


@dataclass(frozen=True)
class FormField:
    """A customer field as the payment page has it: the field, the order's value, how it
    stands (``SHOWN``, ``EDITABLE``, ``ASKED``) and whether it must be filled in."""

    field: CustomerField
    value: str | None
    mode: str
    required: bool

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def is_input(self) -> bool:
        return self.mode != SHOWN


def customer_form(customer: Customer, merchant: Merchant | None) -> tuple[FormField, ...]:
    """The customer fields of an order's payment page: every field the order holds (shown,
    or editable where the merchant lets the buyer change them) and every field the merchant
    asks for that it lacks.  Required implies asked."""
    required = set(merchant.customer_required if merchant else ())
    asked = set(merchant.customer_fields if merchant else ()) | required
    editable = bool(merchant and merchant.customer_editable)
    form = []
    for f in FIELDS:
        value = getattr(customer, f.attr)
        if value:
            form.append(FormField(f, value, EDITABLE if editable else SHOWN,
                                  f.name in required))
        elif f.name in asked:
            form.append(FormField(f, None, ASKED, f.name in required))
    return tuple(form)


def review(form: Iterable[FormField], entered: Mapping[str, str]
           ) -> tuple[dict[str, str | None], dict[str, Problem]]:
    """What a "Pay" with ``entered`` (what the page's form carried, by field name) does to
    the order's customer fields: (changes, attribute -> value; problems, field name ->
    Problem).  A field shown read-only takes nothing; an editable field the form did not
    carry, or carried back unchanged, keeps the shop's value as it is; a required field left
    empty is a problem."""
    changes: dict[str, str | None] = {}
    problems: dict[str, Problem] = {}
    for item in form:
        f = item.field
        if not item.is_input:
            continue
        typed = entered.get(f.name)
        if item.mode == EDITABLE and (typed is None or " ".join(typed.split()) == " ".join(
                (item.value or "").split())):
            continue
        value, problem = check(f, typed or "")
        if problem is None and value is None and item.required:
            problem = Problem(f.name, "required")
        if problem is not None:
            problems[f.name] = problem
        elif value != item.value:
            changes[f.attr] = value
    return changes, problems
