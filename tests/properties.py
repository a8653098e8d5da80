"""Settings shared by the property tests (hypothesis): few examples, always the same ones.

`derandomize=True` draws the examples from a seed derived from the test itself, so CI sees the
same examples on every run and a failure is reproduced by running the test again; no example
database is written. Tests that use the database build one set of rows per test (a fixture) and
run each example inside a transaction rolled back at its end (`rolled_back`), so examples never
see each other's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from hypothesis import HealthCheck, settings


def bounded(max_examples: int, *, stateful_steps: int | None = None) -> settings:
    """Deterministic settings for `max_examples` examples (of at most `stateful_steps` steps)."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        # The fixtures' rows are shared by the examples on purpose: each example rolls back.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        **({"stateful_step_count": stateful_steps} if stateful_steps else {}),
    )


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a transaction (a savepoint inside the test's) that is rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
