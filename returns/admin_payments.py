"""The back office of an order's money: the payments panel of the order page (paid, refunded,
refundable, each payment and refund with its status and provider reference), its "Refund"
(by lines or by amount, the amount previewed) and "Mark as paid" commands, the retry of a
failed or stuck capture, and the payments list.

Invariants: every command calls one service of returns.services (refund_for_lines,
refund_create, order_mark_paid, payment_capture_retry), which checks and writes; nothing here
computes an amount. "Refund" needs `orders.change_order` (like the order page's other
commands) and "refund orders"; "Mark as paid" needs `orders.change_order`; retrying a capture
(money moves) needs `returns.change_payment` and "refund orders". Without them the buttons are
not shown and a forged request gets 403 and changes nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from oms.admin.readonly import ReadOnlyInline
from oms.admin.tools import ToolAdmin, actor_name, admin_form, each_object, show_domain_error
from oms.errors import DomainError
from oms.money import money_problem, parse_money
from oms.roles import REFUND_ORDERS
from orders.admin.display import money
from orders.admin.orders import register_order_inline
from orders.models import Order, OrderLine
from orders.states import HoldReason
from returns import selectors, services
from returns.models import Payment
from returns.states import PaymentKind, PaymentRecordStatus

CHANGE_ORDER = "orders.change_order"


def may_refund(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(CHANGE_ORDER) and request.user.has_perm(REFUND_ORDERS))


def may_mark_paid(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(CHANGE_ORDER))


def may_retry_capture(request: HttpRequest) -> bool:
    return bool(
        request.user.has_perm("returns.change_payment") and request.user.has_perm(REFUND_ORDERS)
    )


def capture_retryable(payment: Payment, payments: list[Payment]) -> bool:
    """A capture staff may ask again: failed, or pending after its provider never answered,
    and not retried already (the latest of its shipment among `payments`, the order's)."""
    if payment.kind != PaymentKind.CAPTURE:
        return False
    if payment.status != PaymentRecordStatus.FAILED and not services.capture_is_stuck(payment):
        return False
    base = payment.key.split("-r", 1)[0]
    return not any(p.pk > payment.pk and p.key.split("-r", 1)[0] == base for p in payments)


def order_payments_panel(request: HttpRequest, order: Order) -> dict[str, Any]:
    """What the order page's payments panel shows (returns.selectors.order_payments and the
    refund service's paid and refundable amounts) and the commands the user may run."""
    data = selectors.order_payments(order_id=order.pk)
    currency = data["currency"]
    paid = services.paid_amount(order)
    refundable = max(services.refundable_amount(order), Decimal(0))
    awaiting_payment = order.holds.filter(
        reason=HoldReason.PAYMENT_PENDING, released_at__isnull=True
    ).exists()
    retry = may_retry_capture(request)
    payments = [
        {
            "payment": p,
            "amount": money(p.amount, p.currency),
            "stuck": services.capture_is_stuck(p),
            "retry_url": (
                reverse("admin:returns_payment_retry", args=[p.pk])
                if retry and capture_retryable(p, data["payments"])
                else ""
            ),
        }
        for p in data["payments"]
    ]
    refunds = [
        {
            "refund": r,
            "amount": money(r.amount, r.currency),
            "url": reverse("admin:returns_refund_change", args=[r.pk]),
        }
        for r in data["refunds"]
    ]
    return {
        "order": order,
        "provider": data["payment_provider"],
        "capture_on_shipment": data["capture_on_shipment"],
        "payment_status": order.get_payment_status_display(),
        "paid": money(paid, currency),
        "refunded": money(data["refunded"], currency),
        "refund_pending": money(data["refund_pending"], currency) if data["refund_pending"] else "",
        "refundable": money(refundable, currency),
        "authorized": money(data["authorized"], currency) if data["authorized"] else "",
        "payments": payments,
        "refunds": refunds,
        "refund_url": (
            reverse("admin:returns_payment_order_refund", args=[order.pk])
            if may_refund(request) and refundable > 0
            else ""
        ),
        "mark_paid_url": (
            reverse("admin:returns_payment_order_mark_paid", args=[order.pk])
            if may_mark_paid(request) and awaiting_payment
            else ""
        ),
    }


class OrderPaymentsPanel(ReadOnlyInline):
    """The order page's payments panel (templates/admin/returns/payment/order_panel.html, filled
    by the `order_payments_panel` tag from order_payments_panel above): an inline only to take
    its place among the order page's sections; its rows are read by the panel, not the formset."""

    model = Payment
    verbose_name_plural = "Payments"
    fields = ("kind",)
    template = "admin/returns/payment/order_inline.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Payment]:
        return Payment.objects.none()  # the panel reads them (one query, with their totals)


register_order_inline(OrderPaymentsPanel)


class RefundLinesForm(forms.Form):
    """Refund units of lines (the amount computed by returns.services.refund_lines_amount,
    previewed) or an amount (an appeasement), with a reason."""

    include_shipping = forms.BooleanField(
        required=False, label="Refund the shipping too", help_text="The order's shipping price."
    )
    amount = forms.CharField(
        required=False,
        max_length=16,
        label="Or an amount",
        help_text="Leave the lines empty and give an amount (an appeasement), in the order's "
        "currency.",
    )
    reason = forms.CharField(
        max_length=255,
        required=False,
        help_text="Shown in the timeline and given to the refund.",
        # As wide as the admin's text fields: a reason is a sentence.
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )

    def __init__(
        self, *args: Any, lines: list[tuple[OrderLine, int]], currency: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lines = lines
        self.currency = currency
        for line, left in lines:
            if left > 0:
                self.fields[self.field_name(line)] = forms.IntegerField(
                    label=f"Refund how many of line {line.line_number} ({line.sku_code})",
                    min_value=0,
                    max_value=left,
                    required=False,
                )

    @staticmethod
    def field_name(line: OrderLine) -> str:
        return f"line_{line.pk}"

    def rows(self) -> list[tuple[OrderLine, int, Any]]:
        return [
            (line, left, self[self.field_name(line)] if left > 0 else None)
            for line, left in self.lines
        ]

    def quantities(self) -> list[tuple[int, int]]:
        return [
            (line.pk, int(self.cleaned_data.get(self.field_name(line)) or 0))
            for line, _ in self.lines
            if self.cleaned_data.get(self.field_name(line))
        ]

    def clean_amount(self) -> Decimal | None:
        text = (self.cleaned_data.get("amount") or "").strip()
        if not text:
            return None
        try:
            amount = parse_money(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        problem = money_problem(amount, self.currency)
        if problem:
            raise forms.ValidationError(problem)
        if amount <= 0:
            raise forms.ValidationError("A refund is positive.")
        return amount

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        by_lines = bool(self.quantities()) or bool(data.get("include_shipping"))
        if by_lines and data.get("amount") is not None:
            raise forms.ValidationError("Refund either lines or an amount, not both.")
        if not by_lines and data.get("amount") is None and not self.errors:
            raise forms.ValidationError("Choose how many units of a line to refund, or an amount.")
        return data


class MarkPaidForm(forms.Form):
    reference = forms.CharField(
        max_length=128,
        help_text="The bank transfer's, receipt's or cheque's reference: recorded with the "
        "payment.",
    )


PROBLEMS = {
    "unknown_to_oms": "The provider made a refund the OMS did not ask for",
    "missing_at_provider": "The OMS says it succeeded; the provider lists none",
    "amount_differs": "The amounts differ",
    "status_differs": "The statuses differ",
    "reference_reused": "One reference confirms several refunds",
    "awaiting_confirmation": "Waiting for staff to pay it and confirm it",
    "not_listed": "Paid by hand on the channel: no connector lists it",
}


class ReconciliationForm(forms.Form):
    provider = forms.ChoiceField(
        choices=[
            ("stripe", "Stripe"),
            ("manual", "Manual (cash, transfers)"),
            ("channel", "Channel"),
        ]
    )
    date = forms.DateField(
        help_text="The day (UTC), YYYY-MM-DD.", widget=forms.DateInput(attrs={"type": "date"})
    )


@admin.register(Payment)
class PaymentAdmin(ToolAdmin):
    """Payments (authorisations, captures, voids) to look at; a failed or stuck capture is
    retried from here or from the order page."""

    list_display = [
        "id",
        "order",
        "kind",
        "provider",
        "amount",
        "currency",
        "status",
        "reference",
        "failure_reason",
        "created_at",
    ]
    list_filter = ["status", "kind", "provider"]
    list_select_related = ["order"]
    search_fields = ["order__number", "reference"]
    readonly_fields = [
        "order",
        "kind",
        "provider",
        "amount",
        "currency",
        "status",
        "reference",
        "key",
        "failure_reason",
        "actor",
        "created_at",
        "updated_at",
    ]
    actions = ["retry_capture"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the page is read-only; the retry is its own command

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return may_retry_capture(request)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "order/<path:order_id>/refund/",
                wrap(self.refund_view),
                name="returns_payment_order_refund",
            ),
            path(
                "order/<path:order_id>/mark-paid/",
                wrap(self.mark_paid_view),
                name="returns_payment_order_mark_paid",
            ),
            path(
                "reconciliation/",
                wrap(self.reconciliation_view),
                name="returns_payment_reconciliation",
            ),
            path("<path:object_id>/retry/", wrap(self.retry_view), name="returns_payment_retry"),
            *super().get_urls(),
        ]

    # --- the order's commands ----------------------------------------------------------------

    def _order(self, request: HttpRequest, order_id: str) -> Order:
        if not request.user.has_perm("orders.view_order"):
            raise PermissionDenied
        order = Order.objects.select_related("channel").filter(pk=_pk(order_id)).first()
        if order is None:
            raise Http404(f"No order {order_id}.")
        return order

    def _order_page(
        self,
        request: HttpRequest,
        order: Order,
        title: str,
        form: forms.BaseForm,
        template: str,
        *,
        status: int = 200,
        **extra: Any,
    ) -> TemplateResponse:
        context = self.tool_context(
            request,
            title,
            order=order,
            original=order,
            active_holds=list(order.holds.filter(released_at__isnull=True)),
            change_url=reverse("admin:orders_order_change", args=[order.pk]),
            # The breadcrumbs lead back to the orders: these are commands of the order page.
            opts=Order._meta,
            changelist_url=reverse("admin:orders_order_changelist"),
            form=form,
            adminform=admin_form(form),
            **extra,
        )
        return TemplateResponse(request, template, context, status=status)

    def _back(self, request: HttpRequest, order: Order, text: str) -> HttpResponse:
        self.message_user(request, f"Order {order.number}: {text}", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def refund_view(self, request: HttpRequest, order_id: str) -> HttpResponse:
        """Refund lines (the amount previewed first) or an amount, through the refund service."""
        if not may_refund(request):
            raise PermissionDenied
        order = self._order(request, order_id)
        refunded = services.line_refunded_units(order.pk)
        lines = [
            (line, services.refundable_units(line, refunded))
            for line in order.lines.order_by("line_number")
        ]
        form = RefundLinesForm(
            request.POST if request.method == "POST" else None,
            lines=lines,
            currency=order.currency,
        )
        status, suggested = 200, None
        if form.is_bound and form.is_valid():
            wanted, amount = form.quantities(), form.cleaned_data["amount"]
            shipping = bool(form.cleaned_data["include_shipping"])
            reason = form.cleaned_data["reason"].strip()
            try:
                if "_preview" in request.POST:
                    suggested = (
                        amount
                        if amount is not None
                        else services.refund_lines_amount(
                            order=order.pk, lines=wanted, include_shipping=shipping
                        )
                    )
                elif amount is not None:
                    refund = services.refund_create(
                        order=order.pk, amount=amount, reason=reason, actor=actor_name(request)
                    )
                    return self._refunded(request, order, refund.amount)
                else:
                    refund = services.refund_for_lines(
                        order=order.pk,
                        lines=wanted,
                        include_shipping=shipping,
                        reason=reason,
                        actor=actor_name(request),
                    )
                    return self._refunded(request, order, refund.amount)
            except DomainError as exc:
                names = {
                    f"lines.{index}.quantity": RefundLinesForm.field_name(line)
                    for index, (line_id, _) in enumerate(wanted)
                    for line, _ in lines
                    if line.pk == line_id
                }
                show_domain_error(form, exc, names)
                status = exc.status
        return self._order_page(
            request,
            order,
            f"Refund order {order.number}",
            form,
            "admin/returns/payment/refund.html",
            status=status,
            rows=form.rows(),
            suggested=money(suggested, order.currency) if suggested is not None else "",
            paid=money(services.paid_amount(order), order.currency),
            refundable=money(max(services.refundable_amount(order), Decimal(0)), order.currency),
        )

    def _refunded(self, request: HttpRequest, order: Order, amount: Decimal) -> HttpResponse:
        return self._back(
            request,
            order,
            f"refund of {money(amount, order.currency)} requested; it succeeds once the "
            "payment provider (or staff, for money paid back by hand) confirms it.",
        )

    def mark_paid_view(self, request: HttpRequest, order_id: str) -> HttpResponse:
        """An order held waiting for its payment is paid (a bank transfer arrived)."""
        if not may_mark_paid(request):
            raise PermissionDenied
        order = self._order(request, order_id)
        form = MarkPaidForm(request.POST if request.method == "POST" else None)
        status = 200
        if form.is_bound and form.is_valid():
            try:
                payment = services.order_mark_paid(
                    order=order.pk,
                    reference=form.cleaned_data["reference"],
                    actor=actor_name(request),
                )
            except DomainError as exc:
                show_domain_error(form, exc)
                status = exc.status
            else:
                return self._back(
                    request,
                    order,
                    f"paid ({money(payment.amount, payment.currency)}, reference "
                    f"{payment.reference}); its payment hold is released.",
                )
        awaiting = order.holds.filter(
            reason=HoldReason.PAYMENT_PENDING, released_at__isnull=True
        ).exists()
        return self._order_page(
            request,
            order,
            f"Mark order {order.number} as paid",
            form,
            "admin/orders/order/action.html",
            status=status,
            submit="Mark as paid",
            intro=(
                "Record the money that arrived (a bank transfer, cash, a cheque) with its "
                "reference: the order is paid and its payment hold is released."
            ),
            nothing_to_do="" if awaiting else "This order is not held waiting for its payment.",
        )

    # --- reconciliation -----------------------------------------------------------------------

    def reconciliation_view(self, request: HttpRequest) -> HttpResponse:
        """The reconciliation report of a provider and day (returns.services.payments_reconcile),
        differences flagged; it reads and writes nothing. Needs "refund orders" (as the API)."""
        if not request.user.has_perm(REFUND_ORDERS):
            raise PermissionDenied
        form = ReconciliationForm(request.GET if "provider" in request.GET else None)
        report, status = None, 200
        if form.is_bound and form.is_valid():
            try:
                report = services.payments_reconcile(
                    provider=form.cleaned_data["provider"], day=form.cleaned_data["date"]
                )
            except DomainError as exc:
                show_domain_error(form, exc)
                status = exc.status
            else:
                for line in report["lines"]:
                    line["problem_label"] = PROBLEMS.get(line["problem"], line["problem"])
        elif form.is_bound:
            status = 400
        context = self.tool_context(
            request,
            "Payment reconciliation",
            form=form,
            adminform=admin_form(form),
            report=report,
        )
        return TemplateResponse(
            request, "admin/returns/payment/reconciliation.html", context, status=status
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {**(extra_context or {})}
        if request.user.has_perm(REFUND_ORDERS):
            extra["reconciliation_url"] = reverse("admin:returns_payment_reconciliation")
        return super().changelist_view(request, extra)

    # --- captures ---------------------------------------------------------------------------

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: ask again for a failed or stuck capture (payment_capture_retry)."""
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        if not may_retry_capture(request):
            raise PermissionDenied
        payment = Payment.objects.filter(pk=_pk(unquote(object_id))).first()
        if payment is None:
            raise Http404(f"No payment {object_id}.")
        try:
            again = services.payment_capture_retry(payment=payment.pk, actor=actor_name(request))
        except DomainError as exc:
            self.message_user(request, f"Payment {payment.pk}: {exc.detail}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Capture {again.pk} asked again: the provider is asked first whether it "
                "already happened.",
                messages.INFO,
            )
        back = request.POST.get("next") or ""
        if back != "order":
            return HttpResponseRedirect(reverse("admin:returns_payment_change", args=[payment.pk]))
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[payment.order_id]))

    @admin.action(
        description="Try the capture again (failed, or the provider never answered)",
        permissions=["retry"],
    )
    def retry_capture(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        actor = actor_name(request)

        def retry(payment: Payment) -> str:
            again = services.payment_capture_retry(payment=payment.pk, actor=actor)
            return f"Payment {payment.pk}: asked again (capture {again.pk}), looked up first."

        each_object(
            self,
            request,
            queryset,
            retry,
            failed=lambda payment, exc: f"Payment {payment.pk}: {exc}",
            failed_level=messages.WARNING,
            done_level=messages.INFO,
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra: dict[str, Any] = {**(extra_context or {})}
        payment = self.get_object(request, unquote(object_id))
        if (
            payment is not None
            and may_retry_capture(request)
            and capture_retryable(payment, list(Payment.objects.filter(order=payment.order_id)))
        ):
            extra["retry_url"] = reverse("admin:returns_payment_retry", args=[payment.pk])
        return super().change_view(request, object_id, form_url, extra)


def _pk(value: str) -> int:
    text = str(value)
    if not text.isdigit() or len(text) > 18:
        raise Http404("No such object.")
    return int(text)
