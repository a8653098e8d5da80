"""The order page's commands: hold, release, cancel lines, add a note, edit the shipping
address; each a form on the tool template that calls one service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from oms.admin.tools import ToolAdmin, actor_name, admin_form, show_domain_error
from oms.errors import DomainError
from orders import services
from orders.admin.display import choice_labels
from orders.admin.order_forms import AddressForm, CancelForm, HoldForm, NoteForm, ReleaseForm
from orders.admin.timeline import timeline
from orders.models import Order
from orders.services.capture import ADDRESS_FIELDS
from orders.services.lifecycle import EDITABLE_ADDRESS_STATUSES
from orders.states import HoldReason, OrderStatus

#: Timeline entries shown before "older events" (the page fits a laptop screen).
TIMELINE_SHOWN = 8

OrderButton = Callable[[HttpRequest, Order], "tuple[str, str] | None"]
#: Buttons of higher apps on the order page ("Start a return"): register_order_button.
ORDER_BUTTONS: list[OrderButton] = []


def register_order_button(button: OrderButton) -> OrderButton:
    """Let a higher app add a command to the order page: `button(request, order)` returns
    (url, label), or None where the command does not apply or the user may not use it."""
    if button not in ORDER_BUTTONS:
        ORDER_BUTTONS.append(button)
    return button


CLOSED_STATUSES = frozenset(
    {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CANCELLED}
)


class OrderPage(ToolAdmin):
    """The commands of an order's page, for customer care (orders.change_order)."""

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        views = [
            ("hold", self.hold_view),
            ("release", self.release_view),
            ("cancel", self.cancel_view),
            ("note", self.note_view),
            ("address", self.address_view),
        ]
        return [
            *(
                path(f"<path:object_id>/{name}/", wrap(view), name=f"orders_order_{name}")
                for name, view in views
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra: dict[str, Any] = {**(extra_context or {})}
        order = self.get_object(request, unquote(object_id))
        if order is not None:
            events = timeline(order, order.events.all())
            extra["timeline_recent"] = events[:TIMELINE_SHOWN]
            extra["timeline_older"] = events[TIMELINE_SHOWN:]
            buttons = [b for button in ORDER_BUTTONS if (b := button(request, order))]
            if self.has_transition_permission(request):
                buttons = self._care_links(order) + buttons
                extra["note_form"] = NoteForm()
                extra["note_url"] = reverse("admin:orders_order_note", args=[order.pk])
            extra["care_links"] = buttons
        return super().change_view(request, object_id, form_url, extra)

    def _care_links(self, order: Order) -> list[tuple[str, str]]:
        def url(name: str) -> str:
            return reverse(f"admin:orders_order_{name}", args=[order.pk])

        links = []
        if order.status not in CLOSED_STATUSES:
            links.append((url("hold"), "Hold"))
        if order.is_on_hold:
            links.append((url("release"), "Release holds"))
        if order.status not in CLOSED_STATUSES:
            links.append((url("cancel"), "Cancel…"))
        if order.status in EDITABLE_ADDRESS_STATUSES:
            links.append((url("address"), "Edit shipping address"))
        links.append((url("note"), "Add a note"))
        return links

    def _care_order(self, request: HttpRequest, object_id: str) -> Order:
        if not self.has_transition_permission(request):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404(f"No order {object_id}.")
        return order

    def _page(
        self,
        request: HttpRequest,
        order: Order,
        title: str,
        form: forms.BaseForm,
        *,
        template: str = "admin/orders/order/action.html",
        status: int = 200,
        **extra: Any,
    ) -> TemplateResponse:
        context = self.tool_context(
            request,
            title,
            subtitle=None,
            order=order,
            original=order,
            active_holds=list(order.holds.filter(released_at__isnull=True)),
            change_url=reverse("admin:orders_order_change", args=[order.pk]),
            form=form,
            adminform=admin_form(form),
            **extra,
        )
        return TemplateResponse(request, template, context, status=status)

    def _done(self, request: HttpRequest, order: Order, text: str, level: int) -> HttpResponse:
        self.message_user(request, f"Order {order.number}: {text}", level)
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def hold_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        status = 200
        form = HoldForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                hold = services.order_hold(
                    order=order.pk,
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"].strip(),
                    actor=actor_name(request),
                )
            except DomainError as exc:
                show_domain_error(form, exc)
                status = exc.status
            else:
                return self._done(
                    request, order, f"on hold ({hold.get_reason_display()}).", messages.SUCCESS
                )
        closed = order.status in CLOSED_STATUSES
        return self._page(
            request,
            order,
            f"Hold order {order.number}",
            form,
            status=status,
            submit="Hold",
            nothing_to_do=(
                f"This order is {order.get_status_display().lower()}: it can no longer be held."
                if closed
                else ""
            ),
        )

    def release_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        active = list(order.holds.filter(released_at__isnull=True))
        status = 200
        form = ReleaseForm(request.POST if request.method == "POST" else None, active=active)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"] or None
            try:
                after = services.order_release(
                    order=order.pk,
                    reason=reason,
                    note=form.cleaned_data["note"].strip(),
                    actor=actor_name(request),
                )
            except DomainError as exc:
                show_domain_error(form, exc)
                status = exc.status
            else:
                if not active:
                    return self._done(request, order, "had no active hold.", messages.INFO)
                released = [h.reason for h in active if reason in (None, h.reason)]
                still = "; it is still on hold." if after.is_on_hold else "."
                text = f"released {choice_labels(HoldReason.choices, released)}{still}"
                return self._done(request, order, text, messages.SUCCESS)
        return self._page(
            request,
            order,
            f"Release holds of order {order.number}",
            form,
            status=status,
            submit="Release",
            nothing_to_do="This order has no active hold." if not active else "",
        )

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        status = 200
        form = NoteForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.order_note_add(
                    order=order.pk, text=form.cleaned_data["text"], actor=actor_name(request)
                )
            except DomainError as exc:
                show_domain_error(form, exc)
                status = exc.status
            else:
                return self._done(request, order, "note added to the timeline.", messages.SUCCESS)
        return self._page(
            request,
            order,
            f"Add a note to order {order.number}",
            form,
            status=status,
            submit="Add note",
        )

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        lines = list(order.lines.order_by("line_number"))
        status = 200
        form = CancelForm(request.POST if request.method == "POST" else None, lines=lines)
        if form.is_bound and form.is_valid():
            everything = "_cancel_all" in request.POST
            wanted = None if everything else form.quantities()
            if wanted == []:
                form.add_error(
                    None,
                    "Enter how many to cancel on at least one line, or cancel everything that "
                    "has not shipped.",
                )
                status = 400
            else:
                try:
                    after = services.order_cancel(
                        order=order.pk,
                        lines=wanted,
                        reason=form.cleaned_data["reason"].strip(),
                        actor=actor_name(request),
                    )
                except DomainError as exc:
                    # The service numbers the lines it was given; the form names them by id.
                    names = {
                        f"lines.{index}.quantity": f"line_{line_id}"
                        for index, (line_id, _) in enumerate(wanted or [])
                    }
                    show_domain_error(form, exc, names)
                    status = exc.status
                else:
                    if after.status == OrderStatus.CANCELLED:
                        return self._done(request, order, "cancelled.", messages.SUCCESS)
                    units = sum(q for _, q in wanted or [])
                    text = (
                        f"{units} unit(s) cancelled; it is now {after.get_status_display()}."
                        if wanted
                        else f"open quantities cancelled; it is now {after.get_status_display()}."
                    )
                    return self._done(request, order, text, messages.SUCCESS)
        return self._page(
            request,
            order,
            f"Cancel order {order.number}",
            form,
            template="admin/orders/order/cancel.html",
            status=status,
            nothing_to_do=(
                ""
                if any(line.quantity_open for line in lines)
                else "Nothing is left to cancel: this order is "
                f"{order.get_status_display().lower()}."
            ),
            rows=form.rows(),
            reason_field=form["reason"],
        )

    def address_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        current = dict(order.shipping_address or {})
        status = 200
        if request.method == "POST":
            form = AddressForm(request.POST)
            if form.is_valid():
                try:
                    after = services.order_shipping_address_update(
                        order=order.pk, address=form.address(current), actor=actor_name(request)
                    )
                except DomainError as exc:
                    show_domain_error(form, exc)
                    status = exc.status
                else:
                    return self._address_done(request, after)
        else:
            form = AddressForm(
                initial={k: v for k, v in current.items() if k in ADDRESS_FIELDS and v}
            )
        locked = (
            ""
            if order.status in EDITABLE_ADDRESS_STATUSES
            else f"This order is {order.get_status_display().lower()}: its address can no "
            "longer change."
        )
        return self._page(
            request,
            order,
            f"Shipping address of order {order.number}",
            form,
            status=status,
            submit="Save address",
            nothing_to_do=locked,
            intro=(
                "An incomplete address is saved anyway and puts the order on hold (address "
                "incomplete) until it is fixed; a complete one releases that hold."
            ),
        )

    def _address_done(self, request: HttpRequest, order: Order) -> HttpResponse:
        hold = order.holds.filter(
            reason=HoldReason.ADDRESS_INCOMPLETE, released_at__isnull=True
        ).first()
        if hold is not None:
            return self._done(
                request,
                order,
                f"address saved, but it is incomplete ({hold.note}): the order is on hold "
                "(address incomplete) until it is fixed.",
                messages.WARNING,
            )
        return self._done(request, order, "shipping address saved.", messages.SUCCESS)
