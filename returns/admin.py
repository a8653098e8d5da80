"""The back office of returns. Reasons are edited here; returns and refunds are read-only
pages whose workflow runs through services: list actions (authorise, reject, cancel, refund,
exchange order), the "add return" screen, the receiving station and its queue
(returns.admin_receiving) and the return-rate report (returns.admin_reports).

Invariant: the refund action needs "refund orders" (oms.roles.REFUND_ORDERS) besides `change`:
without it the action is not offered and a forged POST of it changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from oms.admin.columns import datetime_column
from oms.admin.export import CsvExportMixin
from oms.admin.readonly import ReadOnlyInline
from oms.admin.tools import ToolAdmin, admin_form, each_object, show_domain_error
from oms.errors import DomainError
from oms.money import parse_money
from oms.roles import REFUND_ORDERS
from orders.admin.order_page import register_order_button
from orders.models import Order
from returns import (
    admin_timeline,  # noqa: F401  (registers returns' timeline sentences)
    selectors,
    services,
)
from returns.labels import return_label
from returns.models import (
    RECEIPT_COUNTS,
    Refund,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
)
from returns.states import LABEL_STATUSES, RefundStatus, ReturnSource


@admin.register(ReturnReason)
class ReturnReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "restocking_fee_percent", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "label"]


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = (
        "order_line",
        "quantity",
        "reason",
        *RECEIPT_COUNTS,
        "exchange_sku",
        "exchange_quantity",
        "exchange_unit_price",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReturnLine]:
        return super().get_queryset(request).select_related("order_line", "reason", "exchange_sku")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("amount", "currency", "status", "reason", "provider_reference", "created_at")


@admin.register(ReturnRequest)
class ReturnRequestAdmin(CsvExportMixin, ToolAdmin):
    csv_columns = [
        ("number", "number"),
        ("order", "order__number"),
        ("channel", "order__channel__code"),
        ("status", "status"),
        ("source", "source"),
        ("units", "units_total"),
        ("exchange_order", "exchange_order__number"),
        ("created_at", "created_at"),
        ("updated_at", "updated_at"),
    ]
    list_display = [
        "number",
        "order",
        "status",
        "source",
        "units",
        "exchange_order_link",
        "created",
    ]
    created = datetime_column("created_at", "Created")
    list_filter = ["status", "source", "order__channel"]
    list_select_related = ["order", "exchange_order"]
    search_fields = ["number", "order__number", "order__email"]
    fields = (
        "number",
        "order_link",
        "status",
        "source",
        "comment",
        "override_reason",
        "exchange_order_link",
        "suggested_refund",
        "label_link",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [ReturnLineInline, RefundInline]
    actions = ["authorise", "reject", "cancel", "refund_suggested", "exchange_order_create"]
    change_list_template = "admin/returns/returnrequest/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReturnRequest]:
        return super().get_queryset(request).annotate(units_total=Sum("lines__quantity"))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_refund_permission(self, request: HttpRequest) -> bool:
        """Paying money back is its own permission: `change` on returns is not enough."""
        return bool(self.has_change_permission(request) and request.user.has_perm(REFUND_ORDERS))

    # --- display ---------------------------------------------------------------------------------

    @admin.display(description="Units", ordering="units_total")
    def units(self, obj: ReturnRequest) -> int:
        return int(getattr(obj, "units_total", 0) or 0)

    @admin.display(description="Order")
    def order_link(self, obj: ReturnRequest) -> str:
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.order))

    @admin.display(description="Exchange order")
    def exchange_order_link(self, obj: ReturnRequest) -> str:
        if obj.exchange_order_id is None:
            return "-"
        url = reverse("admin:orders_order_change", args=[obj.exchange_order_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.exchange_order))

    @admin.display(description="Suggested refund")
    def suggested_refund(self, obj: ReturnRequest) -> str:
        amount = services.refund_suggested_amount(return_request=obj)
        return f"{amount} {obj.order.currency}"

    @admin.display(description="Return label")
    def label_link(self, obj: ReturnRequest) -> str:
        if obj.status not in LABEL_STATUSES:
            return "-"
        url = reverse("admin:returns_returnrequest_label", args=[obj.pk])
        return format_html('<a href="{}">Return label (PDF)</a>', url)

    # --- pages -----------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        from returns.admin_receiving import receive_view

        info = (self.opts.app_label, self.opts.model_name)
        wrap = self.admin_site.admin_view
        return [
            path(
                "receive/",
                wrap(lambda request: receive_view(self, request)),
                name="{}_{}_receive".format(*info),
            ),
            path(
                "<int:object_id>/label.pdf",
                wrap(self.label_view),
                name="{}_{}_label".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {
            "receive_url": reverse("admin:returns_returnrequest_receive"),
            "queue_url": reverse("admin:returns_receivingqueue_changelist"),
            "report_url": reverse("admin:returns_returnratereport_changelist"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def label_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The return label of an authorised return (as the shopper gets it)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        ret = ReturnRequest.objects.select_related("order").filter(pk=object_id).first()
        if ret is None:
            raise Http404(f"No return {object_id}.")
        try:
            label = return_label(ret)
        except DomainError as exc:
            raise Http404(str(exc)) from None
        response = HttpResponse(label.pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="return-label-{ret.number}.pdf"'
        return response

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Staff create a return: find the order, then choose lines, quantities and reasons."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        # NUL characters cannot be in an order number (and PostgreSQL refuses to look for one).
        reference = (request.POST.get("order") or request.GET.get("order") or "").strip()
        reference = reference.replace("\x00", "")
        context = self.tool_context(
            request,
            "Add return",
            reference=reference,
            reasons=list(selectors.reason_list()),
            errors=[],
        )
        if not reference:
            return TemplateResponse(request, "admin/returns/returnrequest/add.html", context)
        order = (
            Order.objects.select_related("channel").filter(number=reference).first()
            or Order.objects.select_related("channel").filter(external_id=reference).first()
        )
        if order is None:
            context["errors"] = [f"There is no order {reference}."]
            return TemplateResponse(
                request, "admin/returns/returnrequest/add.html", context, status=404
            )
        lines = list(selectors.returnable_lines(order.pk))
        window = selectors.return_window(order)
        context.update(
            order=order,
            window=window,
            window_open=window.is_open(),
            lines=lines,
            order_url=reverse("admin:orders_order_change", args=[order.pk]),
            posted=request.POST if request.method == "POST" else {},
        )
        if request.method != "POST" or "_create" not in request.POST:
            return TemplateResponse(request, "admin/returns/returnrequest/add.html", context)
        wanted, errors = _add_lines(request, lines)
        if errors:
            context["errors"] = errors
            return TemplateResponse(
                request, "admin/returns/returnrequest/add.html", context, status=400
            )
        try:
            ret = services.return_create(
                order=order.pk,
                lines=wanted,
                comment=request.POST.get("comment", "").strip(),
                source=ReturnSource.STAFF,
                override_reason=request.POST.get("override_reason", "").strip(),
                authorise=request.POST.get("authorise") == "1",
                actor=self.actor(request),
            )
        except DomainError as exc:
            context["errors"] = [
                exc.detail,
                *(f"{k}: {' '.join(v)}" for k, v in exc.errors.items()),
            ]
            return TemplateResponse(
                request, "admin/returns/returnrequest/add.html", context, status=exc.status
            )
        self.message_user(
            request,
            f"Return {ret.number} created ({ret.get_status_display().lower()}).",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:returns_returnrequest_change", args=[ret.pk]))

    # --- actions: one service call per return ----------------------------------------------------

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[ReturnRequest],
        command: Callable[[ReturnRequest], str],
    ) -> None:
        each_object(
            self,
            request,
            queryset.select_related("order").order_by("pk"),
            lambda ret: f"Return {ret.number}: {command(ret)}",
            failed=lambda ret, exc: f"Return {ret.number}: {exc}",
        )

    @admin.action(description="Authorise (the shopper gets the label)", permissions=["change"])
    def authorise(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        actor = self.actor(request)

        def command(ret: ReturnRequest) -> str:
            services.return_authorise(return_request=ret, actor=actor)
            return "authorised."

        self._each(request, queryset, command)

    @admin.action(description="Reject", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        actor = self.actor(request)

        def command(ret: ReturnRequest) -> str:
            services.return_reject(return_request=ret, reason="rejected by staff", actor=actor)
            return "rejected."

        self._each(request, queryset, command)

    @admin.action(description="Cancel (nothing received yet)", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        actor = self.actor(request)

        def command(ret: ReturnRequest) -> str:
            services.return_cancel(return_request=ret, reason="cancelled by staff", actor=actor)
            return "cancelled."

        self._each(request, queryset, command)

    @admin.action(description="Refund the suggested amount", permissions=["refund"])
    def refund_suggested(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        actor = self.actor(request)

        def command(ret: ReturnRequest) -> str:
            refund = services.return_refund(return_request=ret, reason="return", actor=actor)
            return f"refund of {refund.amount:.2f} {refund.currency} requested."

        self._each(request, queryset, command)

    @admin.action(description="Create the exchange order now", permissions=["change"])
    def exchange_order_create(
        self, request: HttpRequest, queryset: QuerySet[ReturnRequest]
    ) -> None:
        actor = self.actor(request)

        def command(ret: ReturnRequest) -> str:
            order = services.return_exchange_order_create(return_request=ret, actor=actor)
            return f"exchange order {order.number}."

        self._each(request, queryset, command)


def _add_lines(request: HttpRequest, lines: list[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The lines of the add form (quantity, reason, optional exchange per line)."""
    wanted: list[dict[str, Any]] = []
    errors: list[str] = []
    for line in lines:
        raw = request.POST.get(f"qty-{line.pk}", "").strip() or "0"
        try:
            quantity = int(raw)
        except ValueError:
            errors.append(f"{line.sku_code}: the quantity is a whole number.")
            continue
        if quantity <= 0:
            continue
        item: dict[str, Any] = {
            "order_line": line.pk,
            "quantity": quantity,
            "reason": request.POST.get(f"reason-{line.pk}", ""),
        }
        if request.POST.get(f"exchange-{line.pk}") == "1":
            item["exchange"] = True
            code = request.POST.get(f"exchange_sku-{line.pk}", "").strip()
            if code:
                item["exchange_sku"] = code
            price = request.POST.get(f"exchange_price-{line.pk}", "").strip()
            if price:
                try:
                    item["exchange_unit_price"] = parse_money(price)
                except ValueError as exc:
                    errors.append(f"{line.sku_code}: the replacement's price: {exc}")
        wanted.append(item)
    if not wanted and not errors:
        errors.append("Set the quantity of at least one line.")
    return wanted, errors


@admin.register(Refund)
class RefundAdmin(ToolAdmin):
    list_display = [
        "id",
        "order",
        "return_request",
        "amount",
        "currency",
        "status",
        "provider",
        "waiting_for",
        "needs_attention",
        "created_at",
    ]
    list_filter = ["status", "waiting_for", "provider", "needs_attention"]
    list_select_related = ["order", "return_request"]
    search_fields = ["order__number", "provider_reference"]
    readonly_fields = [
        "order",
        "return_request",
        "amount",
        "currency",
        "status",
        "reason",
        "provider",
        "waiting_for",
        "action_url",
        "idempotency_key",
        "provider_key",
        "provider_reference",
        "failure_reason",
        "attempts",
        "retries",
        "needs_attention",
        "attention_message",
        "actor",
        "created_at",
    ]
    actions = ["execute_again"]

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(REFUND_ORDERS))

    def get_urls(self) -> list[URLPattern]:
        confirm = path(
            "<path:object_id>/confirm/",
            self.admin_site.admin_view(self.confirm_view),
            name="returns_refund_confirm",
        )
        return [confirm, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra: dict[str, Any] = {**(extra_context or {})}
        refund = self.get_object(request, unquote(object_id))
        waiting = (
            refund is not None
            and refund.status == RefundStatus.PENDING
            and refund.waiting_for == "staff"
        )
        if refund is not None and waiting and self.has_refund_permission(request):
            extra["confirm_url"] = reverse("admin:returns_refund_confirm", args=[refund.pk])
            extra["action_url"] = refund.action_url
        return super().change_view(request, object_id, form_url, extra)

    def confirm_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Staff paid the refund back by hand: they confirm it with the reference
        (returns.services.refund_confirm)."""
        if not self.has_refund_permission(request):
            raise PermissionDenied
        refund = self.get_object(request, unquote(object_id))
        if refund is None:
            raise Http404(f"No refund {object_id}.")
        change_url = reverse("admin:returns_refund_change", args=[refund.pk])
        form = RefundConfirmForm(request.POST if request.method == "POST" else None)
        status = 200
        if form.is_bound and form.is_valid():
            try:
                services.refund_confirm(
                    refund=refund.pk,
                    reference=form.cleaned_data["reference"],
                    actor=self.actor(request),
                )
            except DomainError as exc:
                show_domain_error(form, exc)
                status = exc.status
            else:
                self.message_user(request, f"Refund {refund.pk}: confirmed.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = self.tool_context(
            request,
            "Confirm the refund",
            refund=refund,
            change_url=change_url,
            form=form,
            adminform=admin_form(form),
        )
        return TemplateResponse(
            request, "admin/returns/refund/confirm.html", context, status=status
        )

    @admin.action(
        description="Try again (failed refunds, or pending ones the provider never confirmed)",
        permissions=["refund"],
    )
    def execute_again(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        actor = self.actor(request)

        def execute(refund: Refund) -> str:
            services.refund_retry(refund=refund, actor=actor)
            return (
                f"Refund {refund.pk}: asked again; the provider is asked first whether it "
                "already happened."
            )

        each_object(
            self,
            request,
            queryset,
            execute,
            failed=lambda refund, exc: f"Refund {refund.pk}: {exc}",
            failed_level=messages.WARNING,
            done_level=messages.INFO,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RefundConfirmForm(forms.Form):
    reference = forms.CharField(
        max_length=128, help_text="The bank transfer's, receipt's or channel's reference."
    )


from returns import admin_payments, admin_receiving, admin_reports  # noqa: E402, F401


@register_order_button
def start_return_button(request: HttpRequest, order: Order) -> tuple[str, str] | None:
    """ "Start a return" on the order page, once something shipped (the add screen checks the
    window and the returnable quantities)."""
    if not request.user.has_perm("returns.add_returnrequest") or not order.number:
        return None
    if order.status not in ("shipped", "partially_shipped", "delivered", "completed"):
        return None
    url = reverse("admin:returns_returnrequest_add")
    return f"{url}?{urlencode({'order': order.number})}", "Start a return"
