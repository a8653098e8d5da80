"""The API's JSON parser: bodies within the size limit, documents within the depth limit.

Invariant: a body over OMS_MAX_BODY_BYTES is 413 `body_too_large` (read no further than the
limit), a document nested deeper than oms.jsonsafe.MAX_DEPTH is 400 `json_too_deep`, anything
else that is not strict JSON (NaN, Infinity, 1e999, bad UTF-8) is 400 `parse_error`; never a
500.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers

from oms import jsonsafe
from oms.api.errors import BodyTooLarge, JsonTooDeep


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = int(settings.OMS_MAX_BODY_BYTES)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise BodyTooLarge(f"At most {limit} bytes are accepted.")
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        try:
            return jsonsafe.loads(text)
        except jsonsafe.JsonTooDeep as exc:
            raise JsonTooDeep(
                f"JSON nested deeper than {exc.max_depth} levels is refused."
            ) from None
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
