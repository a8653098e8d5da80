"""Reads of the inventory app shared by the API, the admin and tasks."""

from __future__ import annotations

from django.db.models import QuerySet

from inventory.models import Location, Sku


def sku_list() -> QuerySet[Sku]:
    return Sku.objects.all()


def location_list() -> QuerySet[Location]:
    return Location.objects.all()
