"""Catalogue and locations: what is stocked (Sku) and where (Location).

Invariants: codes are unique and immutable identifiers used by the API and the channels; a
barcode belongs to one SKU; a location's coordinates are both set or both empty, and in range.
"""

from __future__ import annotations

from collections.abc import Collection

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
    "Use letters, digits, '.', '_', '/' and '-', starting with a letter or digit.",
)


class Sku(models.Model):
    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=255)
    barcode = models.CharField(
        max_length=64,
        blank=True,
        validators=[RegexValidator(r"^[0-9A-Za-z-]+$", "A barcode has letters, digits and '-'.")],
        help_text="GTIN/EAN/UPC or an internal barcode; unique when set.",
    )
    weight_grams = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    allow_backorder = models.BooleanField(
        default=False, help_text="Orders may reserve more than is on hand."
    )
    track_inventory = models.BooleanField(
        default=True, help_text="Off for services and digital goods: no stock is kept."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SKU"
        verbose_name_plural = "SKUs"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["barcode"],
                condition=~Q(barcode=""),
                name="sku_barcode_unique",
                violation_error_code="unique",
                violation_error_message="A SKU with this barcode already exists.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        # Django reports a conditional unique constraint as a form-wide error; name the field.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            barcode_errors = [e for e in errors.get(NON_FIELD_ERRORS, []) if e.code == "unique"]
            if barcode_errors:
                errors[NON_FIELD_ERRORS] = [
                    e for e in errors[NON_FIELD_ERRORS] if e not in barcode_errors
                ]
                errors.setdefault("barcode", []).extend(barcode_errors)
                errors = {k: v for k, v in errors.items() if v}
            raise ValidationError(errors) from None


class LocationKind(models.TextChoices):
    WAREHOUSE = "warehouse", "Warehouse"
    STORE = "store", "Store"
    THIRD_PARTY = "3pl", "3PL partner"


class Location(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=LocationKind.choices)
    line1 = models.CharField("address line 1", max_length=255, blank=True)
    line2 = models.CharField("address line 2", max_length=255, blank=True)
    city = models.CharField(max_length=128, blank=True)
    region = models.CharField(max_length=128, blank=True)
    postal_code = models.CharField(max_length=32, blank=True)
    country = CountryField()
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    is_active = models.BooleanField(default=True)
    ships_online = models.BooleanField(default=True, help_text="Online orders may be routed here.")
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Lower numbers are preferred when routing ties."
    )
    daily_capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Shipments per day; empty means unlimited."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="location_coordinates_both_or_neither",
                violation_error_message="Latitude and longitude are both set or both empty.",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="location_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="location_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=LocationKind.values), name="location_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
