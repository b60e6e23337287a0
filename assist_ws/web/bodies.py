"""JSON request bodies, read one way by every web face (the merchant services and
``payrequest.cfm``): an object, its numbers kept as sent (``10.30`` stays ``10.30``, as a
Checkvalue needs), and every way a body can be unreadable — not JSON, not UTF-8, not an
object, nested deeper than the parser goes — one refusal (4/0) instead of a crash."""

from __future__ import annotations

import json

from ..domain.errors import Second, ValidationError


def json_object(body: bytes) -> dict:
    """The body's JSON object (an empty body is an empty object)."""
    try:
        doc = json.loads(body or b"{}", parse_float=str, parse_int=str, parse_constant=str)
    except RecursionError:
        raise ValidationError("the JSON body is nested too deeply", Second.NONE,
                              firstcode=4) from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ValidationError(f"the JSON body cannot be read: {exc}"[:200], Second.NONE,
                              firstcode=4) from None
    if not isinstance(doc, dict):
        raise ValidationError("the JSON body must be an object", Second.NONE, firstcode=4)
    return doc
