"""A SKU typed or scanned on a stock screen: its code or its barcode, cleaned to the SKU."""

from __future__ import annotations

from typing import Any

from django import forms

from inventory.models import Sku
from inventory.selectors import sku_find


class SkuField(forms.CharField):
    """A SKU code or barcode; cleans to the Sku (None when left empty and not required)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "SKU code or barcode")
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Sku | None:
        text = super().clean(value)
        if not text:
            return None
        sku = sku_find(code_or_barcode=text)
        if sku is None:
            raise forms.ValidationError(f"No SKU has the code or barcode “{text}”.")
        return sku
