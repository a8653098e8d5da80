"""JSON from outside (the API's bodies, vendors' webhooks): parsed within limits.

Invariants:
- NaN, Infinity and floats that overflow (1e999) are refused: jsonb cannot store them;
- nesting deeper than MAX_DEPTH is refused before the parser sees it (Python's parser recurses
  and dies of RecursionError around a thousand levels: a 500 and, for a webhook, a vendor that
  retries forever); the check does not recurse and does not build the document;
- NUL characters, which PostgreSQL's jsonb and text refuse, are stripped from what a vendor
  sent (`strip_nul` says whether there were any, so the stored record can note it); our own
  API refuses them instead (oms.api.serializers).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: The deepest nesting accepted. Our API's deepest document (an order) is 3 levels; vendors'
#: webhooks stay well under 20.
MAX_DEPTH = 64

# A JSON string (with its escapes) or one bracket. Strings are matched whole so that brackets
# inside them are not counted; the regular expression engine does the scanning, not Python.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


class JsonTooDeep(ValueError):
    """The document nests deeper than allowed."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels.")
        self.max_depth = max_depth


def check_depth(data: bytes | str, max_depth: int = MAX_DEPTH) -> None:
    """Raise JsonTooDeep when `data` nests arrays and objects deeper than `max_depth`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return  # not enough brackets to be too deep: the common case costs two counts
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if len(token) != 1:
            continue  # a string
        if token[0] in _OPENERS:
            depth += 1
            if depth > max_depth:
                raise JsonTooDeep(max_depth)
        else:
            depth -= 1


def refuse_too_deep(data: bytes | str, max_depth: int = MAX_DEPTH) -> None:
    """check_depth for a service: ValidationFailed `json_too_deep` (a 400 naming the limit)."""
    from oms.errors import ValidationFailed

    try:
        check_depth(data, max_depth)
    except JsonTooDeep as exc:
        raise ValidationFailed(str(exc), code="json_too_deep") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value.")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"The number {text[:40]} is too large.")
    return value


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Strict json.loads: refuses documents deeper than `max_depth` (JsonTooDeep), NaN and
    Infinity, and numbers too large for a float (1e999), all as ValueError: none of them can
    be stored in jsonb."""
    check_depth(data, max_depth)
    return json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)


def without_nul(value: Any) -> Any:
    """JSON without NUL characters in its strings and keys."""
    return strip_nul(value)[0]


def strip_nul(value: Any) -> tuple[Any, bool]:
    """(value without NUL characters, whether any was stripped)."""
    if isinstance(value, str):
        return (value.replace("\x00", ""), True) if "\x00" in value else (value, False)
    if isinstance(value, dict):
        stripped = False
        result: dict[Any, Any] = {}
        for key, item in value.items():
            clean_key, key_stripped = strip_nul(key)
            clean_item, item_stripped = strip_nul(item)
            result[clean_key] = clean_item
            stripped = stripped or key_stripped or item_stripped
        return result, stripped
    if isinstance(value, list | tuple):
        items = [strip_nul(item) for item in value]
        return [item for item, _ in items], any(flag for _, flag in items)
    return value, False
