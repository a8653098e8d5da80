"""Django's PostgreSQL compilers; SQLInsertCompiler sends a bulk INSERT's JSON columns as one
JSON array each (see the package's docstring)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db.backends.postgresql.compiler import (
    InsertUnnest,
    SQLAggregateCompiler,
    SQLCompiler,
    SQLDeleteCompiler,
    SQLUpdateCompiler,
)
from django.db.backends.postgresql.compiler import SQLInsertCompiler as _InsertCompiler
from psycopg.types.json import Jsonb

__all__ = [
    "SQLAggregateCompiler",
    "SQLCompiler",
    "SQLDeleteCompiler",
    "SQLInsertCompiler",
    "SQLUpdateCompiler",
]

#: The column's rows from one JSON array parameter, in order; JSON null is SQL NULL (Django
#: writes None as SQL NULL, and a JSON null only through an expression, never through UNNEST).
JSON_ROWS = (
    "ARRAY(SELECT NULLIF(j.value, 'null'::jsonb) FROM jsonb_array_elements(%s::jsonb) "
    "WITH ORDINALITY AS j(value, n) ORDER BY j.n)"
)


class SQLInsertCompiler(_InsertCompiler):
    def assemble_as_sql(self, fields: Sequence[Any], value_rows: Sequence[Sequence[Any]]) -> Any:
        placeholders, params = super().assemble_as_sql(fields, value_rows)
        if not isinstance(placeholders, InsertUnnest):
            return placeholders, params
        columns = params[0]
        for index, field in enumerate(fields):
            target = field.target_field if field.is_relation else field
            values = columns[index]
            if target.get_internal_type() != "JSONField" or not all(
                value is None or isinstance(value, Jsonb) for value in values
            ):
                continue
            columns[index] = "[" + ",".join(_json_text(value) for value in values) + "]"
            placeholders[index] = JSON_ROWS
        return placeholders, params


def _json_text(value: Jsonb | None) -> str:
    if value is None:
        return "null"
    text = (value.dumps or json.dumps)(value.obj)
    return text.decode() if isinstance(text, bytes | bytearray | memoryview) else text
