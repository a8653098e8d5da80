"""Customers: the list, a customer's page with their orders, and their personal data (export,
erase) through orders' privacy services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Min, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from oms.admin.services import ServiceModelAdmin
from oms.admin.tools import action_confirmation, actor_name, tool_context
from oms.errors import DomainError
from orders import selectors
from orders.admin.display import NONE, money
from orders.models import Customer, PrivacyRequestSource
from orders.services.customers import customer_update
from orders.services.privacy import (
    ERASABLE_STATUSES,
    ErasureBlocked,
    customer_data_erase,
    customer_data_export,
)

CUSTOMER_ORDER_ROWS = 100


@admin.register(Customer)
class CustomerAdmin(ServiceModelAdmin):
    """One shopper across every channel; care fixes names and phone, never the e-mail."""

    list_display = [
        "email",
        "name_display",
        "phone",
        "order_count",
        "first_order_at",
        "last_order_at",
    ]
    search_fields = ["email", "first_name", "last_name", "phone"]
    search_help_text = "E-mail, first or last name, phone."
    fields = ["email", "first_name", "last_name", "phone", "created_at", "updated_at"]
    readonly_fields = ["email", "created_at", "updated_at"]
    ordering = ["email"]
    list_per_page = 100
    show_full_result_count = False
    actions = ["export_personal_data", "erase_personal_data"]

    def has_manage_personal_data_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("orders.manage_personal_data"))

    @admin.action(
        description="Export personal data (JSON download)", permissions=["manage_personal_data"]
    )
    def export_personal_data(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> HttpResponse | None:
        """One customer at a time: the download is the export (it is not stored)."""
        customers = list(queryset.order_by("pk")[:2])
        if len(customers) != 1:
            self.message_user(request, "Choose exactly one customer to export.", messages.ERROR)
            return None
        _, document = customer_data_export(
            customer=customers[0],
            source=PrivacyRequestSource.ADMIN,
            requested_by=actor_name(request),
        )
        return export_download(document, f"customer-{customers[0].pk}-personal-data.json")

    @admin.action(description="Erase personal data…", permissions=["manage_personal_data"])
    def erase_personal_data(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> HttpResponse | None:
        """Asks for confirmation first, then erases customer by customer (each is recorded)."""
        customers = list(queryset.order_by("pk"))
        if request.POST.get("post") == "yes":
            for customer in customers:
                try:
                    done = customer_data_erase(
                        customer=customer.pk,
                        source=PrivacyRequestSource.ADMIN,
                        requested_by=actor_name(request),
                    )
                except ErasureBlocked as exc:
                    self.message_user(
                        request, f"{customer}: not erased. {exc.detail}", messages.ERROR
                    )
                except DomainError as exc:
                    self.message_user(request, f"{customer}: {exc.detail}", messages.ERROR)
                else:
                    orders = done.summary.get("orders", 0)
                    self.message_user(
                        request,
                        f"Customer {customer.pk}: personal data erased ({orders} orders "
                        "anonymised, kept for the books).",
                        messages.SUCCESS,
                    )
            return None
        rows = []
        for customer in customers:
            orders = list(customer.orders.only("number", "status"))
            still_open = [
                o.number or str(o.pk) for o in orders if o.status not in ERASABLE_STATUSES
            ]
            rows.append((customer, len(orders), ", ".join(still_open)))
        context = tool_context(
            self,
            request,
            "Erase personal data",
            customers=rows,
            **action_confirmation(
                request,
                "erase_personal_data",
                (c.pk for c in customers),
                yes="Yes, erase their personal data",
            ),
        )
        return TemplateResponse(request, "admin/orders/customer/erase_confirmation.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                order_total=Count("orders"),
                first_order=Min("orders__placed_at"),
                last_order=Max("orders__placed_at"),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers arrive with their orders

    @admin.display(description="Name", ordering="last_name")
    def name_display(self, obj: Customer) -> str:
        return obj.name or NONE

    @admin.display(description="Orders", ordering="order_total")
    def order_count(self, obj: Customer) -> str:
        total = int(getattr(obj, "order_total", 0) or 0)
        url = reverse("admin:orders_order_changelist")
        return format_html('<a href="{}?customer__id__exact={}">{}</a>', url, obj.pk, total)

    @admin.display(description="First order", ordering="first_order")
    def first_order_at(self, obj: Customer) -> Any:
        return getattr(obj, "first_order", None)

    @admin.display(description="Last order", ordering="last_order")
    def last_order_at(self, obj: Customer) -> Any:
        return getattr(obj, "last_order", None)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra: dict[str, Any] = {**(extra_context or {})}
        customer = self.get_object(request, unquote(object_id))
        if customer is not None:
            orders = list(selectors.customer_orders(customer)[: CUSTOMER_ORDER_ROWS + 1])
            extra["customer_orders"] = [
                (order, money(order.total, order.currency))
                for order in orders[:CUSTOMER_ORDER_ROWS]
            ]
            extra["customer_orders_more"] = len(orders) > CUSTOMER_ORDER_ROWS
            extra["customer_order_total"] = int(getattr(customer, "order_total", 0) or 0)
            extra["customer_orders_url"] = (
                f"{reverse('admin:orders_order_changelist')}?customer__id__exact={customer.pk}"
            )
        return super().change_view(request, object_id, form_url, extra)

    def service_create(self, data: dict[str, Any]) -> Customer:
        raise PermissionDenied  # unreachable: no add permission

    def service_update(self, instance: Customer, data: dict[str, Any]) -> Customer:
        return customer_update(customer=instance, data=data)


def export_download(document: dict[str, Any], filename: str) -> HttpResponse:
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
