"""Whole units of time between two timestamps, computed by the database (PostgreSQL, SQLite)."""

from __future__ import annotations

from typing import Any

from django.db.models import BigIntegerField, Expression, Func


class Elapsed(Func):
    """max(0, floor((end - start) / unit seconds)) as an integer."""

    output_field = BigIntegerField()

    def __init__(self, end: Any, start: Any, *, unit: int = 1) -> None:
        super().__init__(end, start)
        self.unit = unit

    def _parts(self, compiler: Any, connection: Any) -> tuple[str, str, list[Any]]:
        end: Expression
        start: Expression
        end, start = self.get_source_expressions()
        end_sql, end_params = compiler.compile(end)
        start_sql, start_params = compiler.compile(start)
        return end_sql, start_sql, [*end_params, *start_params]

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError(f"Elapsed is not written for {connection.vendor}")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        end, start, params = self._parts(compiler, connection)
        seconds = (
            f"(CAST(strftime('%%s', {end}) AS INTEGER) - CAST(strftime('%%s', {start}) AS INTEGER))"
        )
        return f"MAX(0, {seconds} / {int(self.unit)})", params

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        end, start, params = self._parts(compiler, connection)
        seconds = f"EXTRACT(EPOCH FROM ({end} - {start}))"
        return f"GREATEST(0, FLOOR({seconds} / {int(self.unit)}))::bigint", params
