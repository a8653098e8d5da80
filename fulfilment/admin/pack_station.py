"""The pack station: scan a shipment, scan every item, weigh the parcels, pack (keyboard and
scanner only). Nothing is recorded until the last step: the scans live in a signed token in
the page, checked against what the shipment holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from fulfilment import services
from fulfilment.admin.shared import SHIPMENT_REF, held_problem, plural
from fulfilment.models import Shipment, ShipmentLine
from fulfilment.picklists import shipment_code
from fulfilment.states import ShipmentStatus
from inventory.selectors import sku_find
from oms.admin.fields import IntegerField
from oms.admin.tools import ToolAdmin
from oms.errors import DomainError

PACK_SALT = "fulfilment.admin.pack"
PACK_MAX_AGE = 12 * 60 * 60  # a packing session may last a shift
MAX_PARCELS = 20
MAX_SCAN_QUANTITY = 9999


@dataclass
class PackItem:
    """One SKU of the shipment at the pack station: how many to pack, how many scanned."""

    sku_code: str
    name: str
    barcode: str
    weight_grams: int | None
    expected: int
    scanned: int = 0
    lines: list[tuple[int, int]] = field(default_factory=list)  # (order line id, quantity)

    @property
    def remaining(self) -> int:
        return self.expected - self.scanned


@dataclass
class PackState:
    shipment_id: int
    scanned: dict[str, int]

    def token(self) -> str:
        return signing.dumps({"s": self.shipment_id, "c": self.scanned}, salt=PACK_SALT)

    @classmethod
    def load(cls, token: str) -> PackState | None:
        try:
            data = signing.loads(token, salt=PACK_SALT, max_age=PACK_MAX_AGE)
            return cls(
                int(data["s"]),
                {str(k): int(v) for k, v in dict(data.get("c") or {}).items() if int(v) > 0},
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return None


class ScanForm(forms.Form):
    scan = forms.CharField(
        label="Scan an item",
        max_length=64,
        strip=True,
        help_text="Scan the item's barcode, or type its SKU code, and press Enter.",
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "enterkeyhint": "send",
            }
        ),
    )
    quantity = forms.IntegerField(
        label="Quantity",
        min_value=1,
        max_value=MAX_SCAN_QUANTITY,
        initial=1,
        required=False,
        help_text="Units counted by this scan (1 unless you count a stack).",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class ParcelForm(forms.Form):
    weight_grams = forms.IntegerField(
        label="Weight (g)", min_value=1, max_value=1_000_000, required=False
    )
    length_mm = IntegerField(label="Length (mm)", min_value=1, required=False)
    width_mm = IntegerField(label="Width (mm)", min_value=1, required=False)
    height_mm = IntegerField(label="Height (mm)", min_value=1, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        dimensions = [cleaned.get(k) for k in ("length_mm", "width_mm", "height_mm")]
        if any(dimensions) and not cleaned.get("weight_grams") and not self.errors:
            self.add_error("weight_grams", "Weigh this parcel too.")
        return cleaned


class BaseParcelFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        if not any(form.cleaned_data.get("weight_grams") for form in self.forms):
            raise ValidationError("Weigh the parcel: enter its weight in grams.")


ParcelFormSet = formset_factory(
    ParcelForm, formset=BaseParcelFormSet, extra=0, max_num=MAX_PARCELS, validate_max=True
)


class PackStation(ToolAdmin):
    """The pack station screen of ShipmentAdmin, on the tool template (admin/oms/tool.html)."""

    def pack_view(self, request: HttpRequest) -> HttpResponse:
        """Scan a shipment, scan every item, weigh the parcels, pack: keyboard and scanner only."""
        if not self.has_transition_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            return self._pack_post(request)
        reference = request.GET.get("shipment", "").strip()
        if not reference:
            return self._pack_render(request, packed=self._packed_shipment(request))
        shipment, problem = self._pack_find(reference)
        if shipment is None or problem:
            return self._pack_render(request, find_error=problem, reference=reference)
        return self._pack_render(request, shipment=shipment, state=PackState(shipment.pk, {}))

    def _packed_shipment(self, request: HttpRequest) -> Shipment | None:
        value = request.GET.get("packed", "")
        if not value.isdigit():
            return None
        return Shipment.objects.select_related("order", "location").filter(pk=int(value)).first()

    def _pack_find(self, reference: str) -> tuple[Shipment | None, str]:
        match = SHIPMENT_REF.match(reference)
        if match is None:
            return None, (
                f"“{reference}” is not a shipment number: scan the barcode on the pick list or "
                "packing slip (SH-123), or type the number."
            )
        pk = int(match[1])
        shipment = Shipment.objects.select_related("order", "location").filter(pk=pk).first()
        if shipment is None:
            return None, f"There is no shipment {shipment_code(pk)}."
        return shipment, self._pack_refusal(shipment)

    def _pack_refusal(self, shipment: Shipment) -> str:
        label = shipment_code(shipment.pk)
        if shipment.status == ShipmentStatus.PICKING:
            held = held_problem(shipment)
            return f"{label} cannot be packed: {held}. Release the order first." if held else ""
        if shipment.status == ShipmentStatus.PENDING:
            return (
                f"{label} is pending: it has not been picked yet. Pick it, confirm it with "
                "“Mark picked” in the shipment list, then scan it here."
            )
        if shipment.status == ShipmentStatus.PACKED:
            return f"{label} is already packed."
        return f"{label} is {shipment.get_status_display().lower()}: there is nothing to pack."

    def _pack_items(self, shipment: Shipment, scanned: dict[str, int]) -> list[PackItem]:
        items: dict[str, PackItem] = {}
        lines = (
            ShipmentLine.objects.filter(shipment=shipment)
            .select_related("order_line__sku")
            .order_by("order_line__line_number", "id")
        )
        for line in lines:
            sku = line.order_line.sku
            code = sku.code if sku else line.order_line.sku_code
            # In picking, picked is what was found; zero means not confirmed: all of it.
            quantity = line.quantity_picked or line.quantity
            item = items.setdefault(
                code,
                PackItem(
                    sku_code=code,
                    name=(sku.name if sku else "") or line.order_line.name,
                    barcode=sku.barcode if sku else "",
                    weight_grams=sku.weight_grams if sku else None,
                    expected=0,
                ),
            )
            item.expected += quantity
            item.lines.append((line.order_line_id, line.quantity))
        for code, count in scanned.items():
            if code in items:
                items[code].scanned = count
        return list(items.values())

    @staticmethod
    def _match(items: Sequence[PackItem], value: str) -> PackItem | None:
        for same in (
            lambda it: it.sku_code == value,
            lambda it: bool(it.barcode) and it.barcode == value,
            lambda it: (
                it.sku_code.casefold() == value.casefold()
                or (bool(it.barcode) and it.barcode.casefold() == value.casefold())
            ),
        ):
            found = next((it for it in items if same(it)), None)
            if found is not None:
                return found
        return None

    def _pack_post(self, request: HttpRequest) -> HttpResponse:
        state = PackState.load(request.POST.get("token", ""))
        if state is None:
            return self._pack_render(
                request,
                find_error="This packing session is not valid any more (too old, or changed): "
                "scan the shipment again. Nothing was recorded.",
                status=400,
            )
        shipment = (
            Shipment.objects.select_related("order", "location")
            .filter(pk=state.shipment_id)
            .first()
        )
        if shipment is None:
            return self._pack_render(
                request, find_error=f"There is no shipment {shipment_code(state.shipment_id)}."
            )
        refusal = self._pack_refusal(shipment)
        if refusal:
            return self._pack_render(request, find_error=refusal)
        items = self._pack_items(shipment, state.scanned)
        known = {it.sku_code for it in items}
        if any(code not in known for code in state.scanned) or any(
            it.remaining < 0 for it in items
        ):
            return self._pack_render(
                request,
                shipment=shipment,
                state=PackState(shipment.pk, {}),
                feedback=(
                    "error",
                    f"{shipment_code(shipment.pk)} changed while it was being scanned: scan "
                    "its items again.",
                ),
            )
        if "_pack" in request.POST or "_add_parcel" in request.POST:
            return self._pack_parcels(request, shipment, state, items)
        return self._pack_scan(request, shipment, state, items)

    def _pack_scan(
        self, request: HttpRequest, shipment: Shipment, state: PackState, items: list[PackItem]
    ) -> HttpResponse:
        form = ScanForm(request.POST)
        if not form.is_valid():
            message = "Scan an item's barcode or type its SKU code."
            if "quantity" in form.errors:
                message = f"The quantity is a whole number from 1 to {MAX_SCAN_QUANTITY}."
            return self._pack_render(
                request, shipment=shipment, state=state, feedback=("error", message)
            )
        value = form.cleaned_data["scan"]
        quantity = form.cleaned_data.get("quantity") or 1
        item = self._match(items, value)
        if item is None:
            if SHIPMENT_REF.match(value) and value.upper().startswith("SH"):
                message = (
                    f"{value} is a shipment: finish {shipment_code(shipment.pk)} first, or "
                    "choose “Another shipment”."
                )
            else:
                sku = sku_find(code_or_barcode=value)
                message = (
                    f"{sku.code} is not in this shipment."
                    if sku is not None
                    else f"“{value}” is not in this shipment (no SKU has this code or barcode)."
                )
            return self._pack_render(
                request, shipment=shipment, state=state, feedback=("error", message)
            )
        if item.scanned + quantity > item.expected:
            if item.remaining == 0:
                message = f"All {item.expected} of {item.sku_code} are already scanned."
            else:
                message = (
                    f"Only {item.remaining} more of {item.sku_code} "
                    f"{'belongs' if item.remaining == 1 else 'belong'} in this shipment, "
                    f"not {quantity}."
                )
            return self._pack_render(
                request, shipment=shipment, state=state, feedback=("error", message)
            )
        item.scanned += quantity
        state = PackState(shipment.pk, {**state.scanned, item.sku_code: item.scanned})
        message = f"{item.sku_code}: {item.scanned} of {item.expected} scanned."
        if all(it.remaining == 0 for it in items):
            message += " Everything is scanned: weigh the parcel."
        return self._pack_render(
            request, shipment=shipment, state=state, items=items, feedback=("ok", message)
        )

    def _pack_parcels(
        self, request: HttpRequest, shipment: Shipment, state: PackState, items: list[PackItem]
    ) -> HttpResponse:
        if any(it.remaining for it in items):
            return self._pack_render(
                request,
                shipment=shipment,
                state=state,
                items=items,
                feedback=("error", "Scan every item before packing."),
            )
        data = request.POST.copy()
        if "_add_parcel" in request.POST:
            total = int(data.get("parcels-TOTAL_FORMS") or 1)
            data["parcels-TOTAL_FORMS"] = str(min(total + 1, MAX_PARCELS))
            formset = ParcelFormSet(data, prefix="parcels")
            return self._pack_render(
                request, shipment=shipment, state=state, items=items, parcels=formset
            )
        formset = ParcelFormSet(data, prefix="parcels")
        if not formset.is_valid():
            return self._pack_render(
                request, shipment=shipment, state=state, items=items, parcels=formset
            )
        parcels: list[dict[str, int | None]] = [
            {k: form.cleaned_data.get(k) for k in ParcelForm.base_fields}
            for form in formset.forms
            if form.cleaned_data.get("weight_grams")
        ]
        actor = self.actor(request)
        try:
            with transaction.atomic():  # the pick a pack confirms and the pack: both or neither
                if not ShipmentLine.objects.filter(
                    shipment=shipment, quantity_picked__gt=0
                ).exists():
                    services.shipment_pick(
                        shipment=shipment.pk,
                        lines=[line for it in items for line in it.lines],
                        actor=actor,
                    )
                services.shipment_pack(shipment=shipment.pk, parcels=parcels, actor=actor)
        except DomainError as exc:
            return self._pack_render(
                request,
                shipment=shipment,
                state=state,
                items=items,
                parcels=formset,
                feedback=("error", f"{shipment_code(shipment.pk)} was not packed: {exc}"),
                status=exc.status,
            )
        units = sum(it.expected for it in items)
        self.message_user(
            request,
            f"{shipment_code(shipment.pk)} packed: {plural(units, 'unit')} in "
            f"{plural(len(parcels), 'parcel')}.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            f"{reverse('admin:fulfilment_shipment_pack')}?{urlencode({'packed': shipment.pk})}"
        )

    def _pack_render(
        self,
        request: HttpRequest,
        *,
        shipment: Shipment | None = None,
        state: PackState | None = None,
        items: list[PackItem] | None = None,
        parcels: Any = None,
        feedback: tuple[str, str] | None = None,
        find_error: str = "",
        reference: str = "",
        packed: Shipment | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context = self.tool_context(
            request,
            "Pack station",
            pack_url=reverse("admin:fulfilment_shipment_pack"),
            find_error=find_error,
            reference=reference,
            packed=packed,
            feedback=feedback,
            step=1,
        )
        if packed is not None:
            slip = reverse("admin:fulfilment_shipment_packing_slip", args=[packed.pk])
            context.update(slip_url=slip, slip_4x6_url=f"{slip}?size=4x6")
        if shipment is not None and state is not None:
            if items is None:
                items = self._pack_items(shipment, state.scanned)
            complete = all(it.remaining == 0 for it in items)
            weights = [it.weight_grams for it in items]
            estimate = (
                sum((it.weight_grams or 0) * it.expected for it in items)
                if weights and all(w is not None for w in weights)
                else None
            )
            if complete and parcels is None:
                parcels = ParcelFormSet(prefix="parcels", initial=[{}])
            if complete and parcels.forms:
                # Focus the first parcel with an error, else the one added last.
                target = next((f for f in parcels.forms if f.is_bound and f.errors), None)
                target = target or parcels.forms[-1]
                target.fields["weight_grams"].widget.attrs["autofocus"] = True
            context.update(
                shipment=shipment,
                shipment_label=shipment_code(shipment.pk),
                token=state.token(),
                items=items,
                complete=complete,
                scan_form=ScanForm(initial={"quantity": 1}),
                parcels=parcels,
                estimate=estimate,
                units=sum(it.expected for it in items),
                scanned_units=sum(it.scanned for it in items),
                step=3 if complete else 2,
                restart_url=(
                    f"{reverse('admin:fulfilment_shipment_pack')}?"
                    f"{urlencode({'shipment': shipment.pk})}"
                ),
            )
        return TemplateResponse(
            request, "admin/fulfilment/shipment/pack.html", context, status=status
        )
