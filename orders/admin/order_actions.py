"""The actions of the order list: hold, release, cancel; one service call per order, a message
per order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.contrib import admin, messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from oms.admin.tools import ToolAdmin, action_confirmation, admin_form, each_object
from orders import services
from orders.admin.display import choice_labels
from orders.admin.order_forms import CancelSelectedForm
from orders.models import Order, OrderHold
from orders.states import HoldReason, OrderStatus


class OrderActions(ToolAdmin):
    """The list actions of OrderAdmin (they need orders.change_order: the "care" permission)."""

    def has_care_permission(self, request: HttpRequest) -> bool:
        return self.has_transition_permission(request)

    def _selected(self, queryset: QuerySet[Order]) -> list[Order]:
        active = OrderHold.objects.filter(released_at__isnull=True).order_by("placed_at", "id")
        return list(
            queryset.order_by("pk").prefetch_related(
                Prefetch("holds", queryset=active, to_attr="active_holds")
            )
        )

    def _each(
        self,
        request: HttpRequest,
        orders: Sequence[Order],
        command: Callable[[Order], tuple[str, int]],
        failed: str,
    ) -> None:
        """Run `command` per order; its message (or the DomainError's) is reported per order."""

        def run(order: Order) -> tuple[str, int]:
            text, level = command(order)
            return f"Order {order.number} {text}", level

        each_object(
            self,
            request,
            orders,
            run,
            failed=lambda order, exc: f"Order {order.number} {failed}: {exc}",
        )

    @admin.action(description="Hold (manual)", permissions=["care"])
    def hold_manual(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        actor = self.actor(request)

        def hold(order: Order) -> tuple[str, int]:
            already = any(h.reason == HoldReason.MANUAL for h in order.active_holds)  # type: ignore[attr-defined]
            services.order_hold(
                order=order.pk,
                reason=HoldReason.MANUAL,
                note="Held from the order list.",
                actor=actor,
            )
            if already:
                return "was already on hold (manual).", messages.INFO
            return "is on hold (manual).", messages.SUCCESS

        self._each(request, self._selected(queryset), hold, "not held")

    @admin.action(description="Release holds", permissions=["care"])
    def release_holds(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        actor = self.actor(request)

        def release(order: Order) -> tuple[str, int]:
            reasons = [h.reason for h in order.active_holds]  # type: ignore[attr-defined]
            services.order_release(
                order=order.pk, note="Released from the order list.", actor=actor
            )
            if not reasons:
                return "had no active hold.", messages.INFO
            return f"released: {choice_labels(HoldReason.choices, reasons)}.", messages.SUCCESS

        self._each(request, self._selected(queryset), release, "not released")

    @admin.action(description="Cancel (everything not shipped)", permissions=["care"])
    def cancel_open(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        """Asks for confirmation and a reason first, then cancels order by order."""
        orders = self._selected(queryset.prefetch_related("lines"))
        form = CancelSelectedForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            actor = self.actor(request)
            reason = form.cleaned_data["reason"].strip()

            def cancel(order: Order) -> tuple[str, int]:
                if order.status == OrderStatus.CANCELLED:
                    return "was already cancelled: nothing to do.", messages.WARNING
                after = services.order_cancel(order=order.pk, reason=reason, actor=actor)
                if after.status == OrderStatus.CANCELLED:
                    return "is cancelled.", messages.SUCCESS
                return (
                    f"had its open quantities cancelled; it is now {after.get_status_display()}.",
                    messages.SUCCESS,
                )

            self._each(request, orders, cancel, "not cancelled")
            return None
        context = self.tool_context(
            request,
            "Cancel orders",
            orders=[(o, sum(ln.quantity_open for ln in o.lines.all())) for o in orders],
            form=form,
            adminform=admin_form(form),
            **action_confirmation(
                request,
                "cancel_open",
                (o.pk for o in orders),
                yes=f"Yes, cancel {len(orders)} order{'' if len(orders) == 1 else 's'}",
            ),
        )
        return TemplateResponse(
            request, "admin/orders/order/cancel_selected_confirmation.html", context
        )
