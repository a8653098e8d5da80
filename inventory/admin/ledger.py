"""The stock ledger: every movement, read-only."""

from __future__ import annotations

from django.contrib import admin

from inventory.models import StockMovement
from oms.admin.columns import datetime_column
from oms.admin.export import CsvExportMixin
from oms.admin.readonly import ReadOnlyModelAdmin


@admin.register(StockMovement)
class StockMovementAdmin(CsvExportMixin, ReadOnlyModelAdmin):
    """The immutable stock ledger: viewable, never added, changed or deleted here."""

    list_display = [
        "sku_code",
        "location_code",
        "kind",
        "on_hand_delta",
        "reserved_delta",
        "quarantined_delta",
        # One column for what caused the movement (a ledger row has one or two of them), not
        # four mostly empty ones: the list fits a laptop's screen.
        "references",
        "actor",
        "reason",
        "created",
    ]
    created = datetime_column("created_at", "Created")
    csv_columns = [
        ("id", "pk"),
        ("sku", "sku__code"),
        ("location", "location__code"),
        ("kind", "kind"),
        ("on_hand_delta", "on_hand_delta"),
        ("reserved_delta", "reserved_delta"),
        ("quarantined_delta", "quarantined_delta"),
        ("order_id", "order_id"),
        ("order_line_id", "order_line_id"),
        ("shipment_id", "shipment_id"),
        ("return_id", "return_id"),
        ("transfer_id", "transfer_id"),
        ("actor", "actor"),
        ("reason", "reason"),
        ("created_at", "created_at"),
    ]
    list_select_related = ["sku", "location", "transfer"]
    list_filter = ["kind", "location"]
    date_hierarchy = "created_at"
    search_fields = ["sku__code"]
    list_per_page = 100
    show_full_result_count = False

    @admin.display(description="SKU", ordering="sku__code")
    def sku_code(self, obj: StockMovement) -> str:
        return obj.sku.code

    @admin.display(description="Location", ordering="location__code")
    def location_code(self, obj: StockMovement) -> str:
        return obj.location.code

    @admin.display(description="Order line, shipment, return, transfer")
    def references(self, obj: StockMovement) -> str:
        parts = [
            f"{label} {value}"
            for label, value in (
                ("Line", obj.order_line_id),
                ("Shipment", obj.shipment_id),
                ("Return", obj.return_id),
            )
            if value is not None
        ]
        if obj.transfer is not None:
            parts.append(str(obj.transfer))
        return ", ".join(parts) or "-"
