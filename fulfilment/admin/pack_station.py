"""The pack station: scan a shipment, scan every item, weigh the parcels, pack (keyboard and
scanner only), full screen (no admin sidebar). Nothing is recorded on the shipment until the
last step: the scans live in a signed token in the page, checked against what the shipment
holds, and are kept on the server after each accepted scan (PackProgress), so that a reload or
another browser resumes where the packer stopped ("Start over", a POST, forgets them). Two
packers on one shipment: a scan is applied under the shipment's row lock to the counts kept on
the server, and only if the page showed those counts; else the page shows the current counts
and says the scan was not counted, so no scan is ever lost or counted twice. What a scan
matches and whether it fits is decided by fulfilment.services.packing; this screen parses,
calls it, and renders.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from fulfilment.admin.shared import plural
from fulfilment.models import Shipment, ShipmentLine
from fulfilment.picklists import shipment_code
from fulfilment.services.packing import (
    PackItem,
    pack_complete,
    pack_items,
    pack_progress_clear,
    pack_progress_load,
    pack_progress_locked,
    pack_progress_save,
    pack_refusal,
    pack_scan,
    pack_scans_stale,
    pack_shipment_find,
    pack_weight_estimate,
)
from oms.admin.fields import IntegerField
from oms.admin.tools import ToolAdmin
from oms.errors import DomainError

PACK_SALT = "fulfilment.admin.pack"
PACK_MAX_AGE = 12 * 60 * 60  # a packing session may last a shift
MAX_PARCELS = 20
MAX_SCAN_QUANTITY = 9999


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
        shipment, problem = pack_shipment_find(reference)
        if shipment is None or problem:
            return self._pack_render(request, find_error=problem, reference=reference)
        scanned = pack_progress_load(shipment.pk)
        items = pack_items(shipment, scanned)
        feedback = None
        if scanned and pack_scans_stale(items, scanned):
            pack_progress_clear(shipment.pk)
            scanned, items = {}, pack_items(shipment, {})
            feedback = ("error", "The shipment changed since it was last scanned: scan again.")
        elif scanned:
            done = sum(it.scanned for it in items)
            feedback = ("ok", f"Resumed: {plural(done, 'unit')} scanned before.")
        return self._pack_render(
            request,
            shipment=shipment,
            state=PackState(shipment.pk, scanned),
            items=items,
            feedback=feedback,
        )

    def _packed_shipment(self, request: HttpRequest) -> Shipment | None:
        value = request.GET.get("packed", "")
        if not value.isdigit():
            return None
        return Shipment.objects.select_related("order", "location").filter(pk=int(value)).first()

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
        refusal = pack_refusal(shipment)
        if refusal:
            return self._pack_render(request, find_error=refusal)
        items = pack_items(shipment, state.scanned)
        if pack_scans_stale(items, state.scanned):
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
        if "_restart" in request.POST:
            pack_progress_clear(shipment.pk)
            again = urlencode({"shipment": shipment.pk})
            return HttpResponseRedirect(f"{reverse('admin:fulfilment_shipment_pack')}?{again}")
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
        with transaction.atomic():
            current = pack_progress_locked(shipment.pk)
            if current != state.scanned:
                return self._pack_render(
                    request,
                    shipment=shipment,
                    state=PackState(shipment.pk, current),
                    feedback=("error", self._scanned_elsewhere(current, form)),
                    status=409,
                )
            outcome = pack_scan(
                shipment_id=shipment.pk,
                items=items,
                scanned=state.scanned,
                value=form.cleaned_data["scan"],
                quantity=form.cleaned_data.get("quantity") or 1,
            )
            if not outcome.ok:
                return self._pack_render(
                    request, shipment=shipment, state=state, feedback=("error", outcome.message)
                )
            pack_progress_save(
                shipment_id=shipment.pk, scanned=outcome.scanned, actor=self.actor(request)
            )
        return self._pack_render(
            request,
            shipment=shipment,
            state=PackState(shipment.pk, outcome.scanned),
            items=items,
            feedback=("ok", outcome.message),
        )

    @staticmethod
    def _scanned_elsewhere(current: dict[str, int], form: ScanForm) -> str:
        done = sum(current.values())
        return (
            f"Someone else scanned this shipment meanwhile (or started it over): "
            f"{plural(done, 'unit')} scanned now, shown below. Your scan of "
            f"{form.cleaned_data['scan']} was not counted: scan it again if it is still to scan."
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
                pack_progress_clear(shipment.pk)
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
            # Full screen: the packer needs the scan field, not the admin's navigation.
            is_nav_sidebar_enabled=False,
        )
        if packed is not None:
            slip = reverse("admin:fulfilment_shipment_packing_slip", args=[packed.pk])
            context.update(slip_url=slip, slip_4x6_url=f"{slip}?size=4x6")
        if shipment is not None and state is not None:
            if items is None:
                items = pack_items(shipment, state.scanned)
            complete = pack_complete(items)
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
                estimate=pack_weight_estimate(items),
                units=sum(it.expected for it in items),
                scanned_units=sum(it.scanned for it in items),
                step=3 if complete else 2,
            )
        return TemplateResponse(
            request, "admin/fulfilment/shipment/pack.html", context, status=status
        )
