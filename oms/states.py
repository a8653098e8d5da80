"""The shared check of state machines: each app's states.py declares a TRANSITIONS table."""

from __future__ import annotations

from collections.abc import Mapping, Set

from oms.errors import InvalidTransition


def assert_transition(
    transitions: Mapping[str, Set[str]], current: str, target: str, *, what: str
) -> None:
    """Raise InvalidTransition unless `current` -> `target` is in the table."""
    if target not in transitions.get(current, frozenset()):
        raise InvalidTransition(
            f"{what} cannot go from {current!r} to {target!r}.",
            errors={"status": [f"{current} -> {target} is not allowed."]},
        )
