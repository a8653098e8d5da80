"""Kernel helpers that services use to create and change models.

Invariants: nothing is saved that fails `full_clean()` (field validators, choices, unique and
check constraints), and such a failure is a ValidationFailed naming the fields; a unique
violation that slips past validation under a race is a Conflict, never a 500.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction

from oms.errors import Conflict, ValidationFailed

M = TypeVar("M", bound=models.Model)


def model_full_clean(instance: models.Model) -> None:
    """Run Django's model validation, raising ValidationFailed with per-field messages."""
    try:
        instance.full_clean()
    except DjangoValidationError as exc:
        errors = {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
        raise ValidationFailed("Invalid input.", errors=errors) from None


def _save(instance: models.Model, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            instance.save(**kwargs)
    except IntegrityError as exc:
        raise Conflict(
            f"{instance._meta.verbose_name} conflicts with an existing one: {exc}", code="duplicate"
        ) from None


def model_create(model: type[M], *, data: Mapping[str, Any]) -> M:
    """Validate and insert one row built from `data` (field name -> value)."""
    instance = model(**data)
    model_full_clean(instance)
    _save(instance, force_insert=True)
    return instance


def model_update(
    *, instance: M, fields: Iterable[str], data: Mapping[str, Any]
) -> tuple[M, list[str]]:
    """Apply the allowed `fields` present in `data`, validate, and save only what changed.

    Returns the instance and the names of the fields that changed.
    """
    changed: list[str] = []
    for field in fields:
        if field in data and getattr(instance, field) != data[field]:
            setattr(instance, field, data[field])
            changed.append(field)
    if changed:
        model_full_clean(instance)
        update_fields = list(changed)
        if any(f.name == "updated_at" for f in instance._meta.concrete_fields):
            update_fields.append("updated_at")
        _save(instance, update_fields=update_fields)
    return instance, changed
