"""The forms of the order page's commands (hold, release, note, cancel, address) and of the
list's cancel action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django import forms
from django_countries import countries

from orders.admin.display import ADDRESS_LABELS, NONE
from orders.models import OrderHold, OrderLine
from orders.states import HoldReason

NOTE_MAX_CHARS = 5000
HOLD_NOTE_MAX_CHARS = 500


class HoldForm(forms.Form):
    reason = forms.ChoiceField(
        choices=HoldReason.choices,
        initial=HoldReason.MANUAL,
        help_text="A hold keeps the order from being routed and shipped until it is released.",
    )
    note = forms.CharField(
        max_length=HOLD_NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the order is held: shown in its holds and its timeline.",
    )


class ReleaseForm(forms.Form):
    reason = forms.ChoiceField(
        label="Release",
        required=False,
        help_text="Releasing the last hold hands the order to routing.",
    )
    note = forms.CharField(
        max_length=HOLD_NOTE_MAX_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: why it may go on (shown in the timeline).",
    )

    def __init__(self, *args: Any, active: Sequence[OrderHold] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["reason"])
        field.choices = [("", "Every active hold")] + [
            (hold.reason, f"Only: {hold.get_reason_display()}") for hold in active
        ]


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Internal note",
        max_length=NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For staff only: the customer never sees it. It goes into the timeline.",
    )


class CancelForm(forms.Form):
    """One quantity per line that still has open units, and a reason."""

    reason = forms.CharField(
        max_length=255,
        required=False,
        help_text="Shown in the timeline (and later given to refunds and the channel).",
    )

    def __init__(self, *args: Any, lines: Sequence[OrderLine] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for line in self.lines:
            if line.quantity_open > 0:
                self.fields[self.field_name(line)] = forms.IntegerField(
                    label=f"Cancel how many of line {line.line_number} ({line.sku_code})",
                    min_value=0,
                    max_value=line.quantity_open,
                    required=False,
                )

    @staticmethod
    def field_name(line: OrderLine) -> str:
        return f"line_{line.pk}"

    def rows(self) -> list[tuple[OrderLine, Any]]:
        """Each line with its bound quantity field (None when nothing is left to cancel)."""
        return [
            (line, self[self.field_name(line)] if self.field_name(line) in self.fields else None)
            for line in self.lines
        ]

    def quantities(self) -> list[tuple[int, int]]:
        return [
            (line.pk, int(self.cleaned_data.get(self.field_name(line)) or 0))
            for line in self.lines
            if self.cleaned_data.get(self.field_name(line))
        ]


class AddressForm(forms.Form):
    name = forms.CharField(label=ADDRESS_LABELS["name"], max_length=255, required=False)
    line1 = forms.CharField(label=ADDRESS_LABELS["line1"], max_length=255, required=False)
    line2 = forms.CharField(label=ADDRESS_LABELS["line2"], max_length=255, required=False)
    postal_code = forms.CharField(
        label=ADDRESS_LABELS["postal_code"], max_length=32, required=False
    )
    city = forms.CharField(label=ADDRESS_LABELS["city"], max_length=128, required=False)
    region = forms.CharField(label=ADDRESS_LABELS["region"], max_length=128, required=False)
    country = forms.ChoiceField(label=ADDRESS_LABELS["country"], required=False)
    phone = forms.CharField(label=ADDRESS_LABELS["phone"], max_length=40, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["country"])
        field.choices = [("", NONE), *((code, f"{name} ({code})") for code, name in countries)]

    def address(self, current: Mapping[str, Any]) -> dict[str, Any]:
        new = {k: v.strip() for k, v in self.cleaned_data.items() if v and v.strip()}
        visible = {k: v for k, v in current.items() if k in self.fields and v not in (None, "")}
        if new == {k: str(v) for k, v in visible.items()}:
            return dict(current)  # nothing changed: keep what the form does not show
        return new


class CancelSelectedForm(forms.Form):
    reason = forms.CharField(
        max_length=255, required=False, help_text="Shown in each order's timeline."
    )
