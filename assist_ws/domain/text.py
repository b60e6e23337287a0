"""Text that comes from the wire or goes out on it.

Numbers on the wire are written in ASCII digits.  Python is more generous: ``str.isdigit``,
``int`` and ``Decimal`` also take ``１００`` (fullwidth), ``١٠٠`` (Arabic-Indic) and, for
``isdigit``, ``²`` (which ``int`` then refuses); every number a request carries is checked
with ``is_digits`` (or an ASCII pattern) before it is converted.

Parameters a shop or a buyer sends are cleaned as Assist cleans them: ``clean_general``
removes ``< > " = ' / \\ ( ) ; #`` and control characters from most of them, ``clean_text``
only ``< > = \\`` from free text (an address, a comment).

Every reply of the web services may be XML, and XML 1.0 cannot hold every character a
Python string can: requests holding such characters are refused (``xml_unfit`` names the
first), and XML writers put U+FFFD in their place (``xml_fit``) for anything else.

A CSV reply is opened in spreadsheets, which run a cell that starts with ``=``, ``+``,
``-`` or ``@`` (or a tab or carriage return before one) as a formula: ``csv_cell`` prefixes
such a cell with ``'``, as is usual, unless it is a plain number (``-5`` is a number to a
spreadsheet too).  Our own values (amounts, codes, dates) never start so.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from .errors import Second, malformed


def is_digits(text: str) -> bool:
    """True for one or more ASCII digits ``0``-``9`` and nothing else."""
    return text.isascii() and text.isdigit()


_GENERAL = re.compile(r"[<>\"='/\\();#]")       # every parameter but those below
_TEXT = re.compile(r"[<>=\\]")                   # free text: an address, a comment
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_general(value: str | None) -> str | None:
    """``value`` without the characters Assist strips from most parameters, and without
    control characters; trimmed."""
    return None if value is None else _CONTROL.sub("", _GENERAL.sub("", value)).strip()


def clean_text(value: str | None) -> str | None:
    """Free text (an address, a comment) without ``< > = \\`` and NULs; line ends as
    ``\\n``; trimmed."""
    if value is None:
        return None
    return _TEXT.sub("", value.replace("\r\n", "\n")).replace("\x00", "").strip()


#: What XML 1.0 cannot hold: anything outside ``#x9 | #xA | #xD | [#x20-#xD7FF] |
#: [#xE000-#xFFFD] | [#x10000-#x10FFFF]`` (control characters, lone surrogates, U+FFFE/F).
_XML_UNFIT = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_unfit(text: str) -> str | None:
    """The first character of ``text`` that XML 1.0 cannot hold, or None."""
    if text.isascii() and text.isprintable():  # most values: no need to search
        return None
    found = _XML_UNFIT.search(text)
    return found.group() if found else None


def xml_fit(text: str) -> str:
    """``text`` with each character XML 1.0 cannot hold replaced by U+FFFD: what every XML
    writer does to a value it did not check itself (a row written before such values were
    refused, a message quoting a request)."""
    return text if xml_unfit(text) is None else _XML_UNFIT.sub("\ufffd", text)


def refuse_unfit_parameters(params: Iterable[tuple[str, Any]],
                            names: Mapping[str, tuple[str, int]]) -> None:
    """Refuse a request one of whose parameters (name, value) holds a character XML cannot
    carry: 4 and the secondcode of the parameter, whose lower-case name ``names`` maps to
    its wire name and secondcode (0 for one it does not know).  Values that are not text
    (JSON numbers) pass."""
    for name, value in params:
        name = str(name)
        if xml_unfit(name) is not None:
            raise malformed("a parameter's name", Second.NONE,
                            "it holds a character XML cannot carry")
        bad = xml_unfit(value) if isinstance(value, str) else None
        if bad is not None:
            label, code = names.get(name.lower(), (name, Second.NONE))
            raise malformed(label, code, f"it holds U+{ord(bad):04X}, a character XML cannot "
                                         f"carry")


#: The first characters of a CSV cell that a spreadsheet may take for a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A plain number, which a spreadsheet reads as a number whatever its sign: left as it is.
PLAIN_NUMBER = r"[+-]?[0-9]+(?:[.,][0-9]+)?"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)


def csv_cell(value: str) -> str:
    """``value`` as a CSV cell no spreadsheet runs: ``'`` before one that starts like a
    formula and is not a plain number."""
    if value[:1] in FORMULA_START and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value
