"""The shopper's return pages under the tracking page (no login: the order's unguessable
tracking token is the key).

- `/track/<token>/return/`: choose items, quantities, reasons (and an exchange for the same
  item) and send the return; a POST is CSRF protected and calls one service;
- `/track/<token>/return/<number>/`: the return, and its label once it is authorised;
- `/track/<token>/return/<number>/label.pdf`: the return label (authorised returns only).

Invariants:
- an unknown or malformed token, or a return of another order, is the tracking page's 404;
- bad input (no item chosen, more than can be returned, an unknown reason, a quantity that is
  not a number, a NUL character in any field) re-shows the form with the error (400) and
  writes nothing;
- the pages show what the shopper may see (item names, quantities, statuses), never prices,
  notes or locations; they are private, not indexed, and send the Referer only to this site
  (a CSRF-checked POST needs its Origin; nothing is loaded from elsewhere);
- they are written in the order's language (orders.language.shopper_language); an error the
  services raise is shown as they word it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_safe

from fulfilment.tracking_page import TOKEN, shop_branding, shopper_csp
from oms.errors import DomainError, ValidationFailed
from orders.language import shopper_language
from orders.models import Order
from returns import selectors, services
from returns.labels import return_label
from returns.models import ReturnRequest
from returns.states import LABEL_STATUSES, ReturnSource, ReturnStatus

MAX_COMMENT = 2000
#: The default reasons' labels (returns migration 0003), translated on the shopper's pages; a
#: reason staff added or reworded is shown as they wrote it.
DEFAULT_REASON_LABELS = (
    gettext_noop("Changed my mind"),
    gettext_noop("Wrong size or fit"),
    gettext_noop("Arrived damaged"),
    gettext_noop("Defective or does not work"),
    gettext_noop("Not as described"),
    gettext_noop("Arrived too late"),
)

STATUS_TEXT = {
    ReturnStatus.REQUESTED: (
        gettext_noop("Waiting for review"),
        gettext_noop("We review your request and e-mail you within two working days."),
    ),
    ReturnStatus.AUTHORISED: (
        gettext_noop("Accepted"),
        gettext_noop("Print the label, stick it on the parcel and hand it to the carrier."),
    ),
    ReturnStatus.PARTIALLY_RECEIVED: (
        gettext_noop("Partly received"),
        gettext_noop("Part of your parcel arrived; we are waiting for the rest."),
    ),
    ReturnStatus.RECEIVED: (
        gettext_noop("Received"),
        gettext_noop("Your items are back with us. We settle it shortly."),
    ),
    ReturnStatus.COMPLETED: (gettext_noop("Completed"), gettext_noop("Your return is settled.")),
    ReturnStatus.REJECTED: (
        gettext_noop("Not accepted"),
        gettext_noop("We could not accept this return: see our e-mail."),
    ),
    ReturnStatus.CANCELLED: (gettext_noop("Cancelled"), gettext_noop("This return was cancelled.")),
}


def _private(response: HttpResponse, logo_url: str = "") -> HttpResponse:
    patch_cache_control(response, private=True, no_cache=True, max_age=0)
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    response["Referrer-Policy"] = "same-origin"
    response["Content-Security-Policy"] = shopper_csp(logo_url)
    return response


def _not_found(request: HttpRequest) -> HttpResponse:
    return _private(render(request, "tracking/not_found.html", status=404))


def _order(token: str) -> Order | None:
    if not TOKEN.fullmatch(token or ""):
        return None
    return selectors.order_by_token(token)


def _line_name(line: Any) -> str:
    return line.name or (line.sku.name if line.sku else "") or line.sku_code


@dataclass
class FormItem:
    id: int
    name: str
    shipped: int
    returnable: int
    quantity: int = 0
    reason: str = ""
    exchange: bool = False
    can_exchange: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def options(self) -> range:
        return range(0, self.returnable + 1)


@dataclass
class ReturnSummary:
    number: str
    status: str
    status_label: str
    url: str
    label_url: str
    units: int


def _summaries(order: Order, token: str) -> list[ReturnSummary]:
    result = []
    for ret in selectors.order_returns(order.pk):
        url = reverse("return-detail", args=[token, ret.number])
        result.append(
            ReturnSummary(
                number=ret.number,
                status=ret.status,
                status_label=gettext(STATUS_TEXT[ReturnStatus(ret.status)][0]),
                url=url,
                label_url=f"{url}label.pdf" if ret.status in LABEL_STATUSES else "",
                units=sum(rl.quantity for rl in ret.lines.all()),
            )
        )
    return result


def _items(order: Order) -> list[FormItem]:
    return [
        FormItem(
            id=line.pk,
            name=_line_name(line),
            shipped=line.quantity_shipped,
            returnable=int(line.returnable),  # type: ignore[attr-defined]
            can_exchange=line.sku is not None and line.sku.is_active,
        )
        for line in selectors.returnable_lines(order.pk)
    ]


def _render_form(
    request: HttpRequest,
    order: Order,
    token: str,
    items: list[FormItem],
    *,
    comment: str = "",
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    window = selectors.return_window(order)
    open_items = [it for it in items if it.returnable > 0]
    context = {
        "order_number": order.number or order.external_number,
        "tracking_url": reverse("tracking-page", args=[token]),
        "form_url": reverse("return-start", args=[token]),
        "window": window,
        "window_open": window.is_open(),
        "items": open_items,
        "reasons": [
            {"code": reason.code, "label": gettext(reason.label)}
            for reason in selectors.reason_list()
        ],
        "comment": comment,
        "errors": errors or [],
        "has_errors": bool(errors) or any(it.errors for it in open_items),
        "returns": _summaries(order, token),
        "max_comment": MAX_COMMENT,
    }
    brand = shop_branding(order.channel)
    page = render(request, "returns/start.html", {**context, **brand}, status=status)
    return _private(page, brand["logo_url"])


def _read_form(request: HttpRequest, items: list[FormItem]) -> tuple[list[dict], list[str]]:
    """The lines asked for, and the errors found before asking the service."""
    lines: list[dict[str, Any]] = []
    errors: list[str] = []
    for item in items:
        raw = request.POST.get(f"qty-{item.id}", "0").strip() or "0"
        item.reason = request.POST.get(f"reason-{item.id}", "").strip()
        item.exchange = request.POST.get(f"exchange-{item.id}") == "1"
        try:
            item.quantity = int(raw)
        except ValueError:
            item.errors.append(gettext("Choose how many to return."))
            continue
        if item.quantity < 0:
            item.errors.append(gettext("Choose how many to return."))
            continue
        if item.quantity == 0:
            continue
        if not item.reason:
            item.errors.append(gettext("Tell us why you return it."))
            continue
        lines.append(
            {
                "order_line": item.id,
                "quantity": item.quantity,
                "reason": item.reason,
                "exchange": item.exchange and item.can_exchange,
            }
        )
    if not lines and not any(item.errors for item in items):
        errors.append(gettext("Choose at least one item to return (set its quantity)."))
    return lines, errors


def _service_errors(exc: ValidationFailed, lines: list[dict], items: list[FormItem]) -> list[str]:
    """Put the service's `lines.N.field` errors on the items; the rest are page errors."""
    by_id = {item.id: item for item in items}
    general = []
    for key, messages in exc.errors.items():
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) >= 2 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(lines) and lines[index]["order_line"] in by_id:
                field_name = parts[2] if len(parts) > 2 else ""
                text = " ".join(messages)
                if field_name == "reason":
                    text = gettext("Choose one of the reasons in the list.")
                by_id[lines[index]["order_line"]].errors.append(text)
                continue
        general.extend(messages)
    return general or ([] if exc.errors else [exc.detail])


def _fields_with_nul(request: HttpRequest) -> list[str]:
    """The names of the posted fields that carry a NUL character (no column can hold one)."""
    return [
        name
        for name, values in request.POST.lists()
        if "\x00" in name or any("\x00" in value for value in values)
    ]


@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def return_start(request: HttpRequest, token: str) -> HttpResponse:
    """GET /track/<token>/return/: the return form; POST sends it."""
    order = _order(token)
    if order is None:
        return _not_found(request)
    with translation.override(shopper_language(order=order)):
        return _return_start(request, order, token)


def _return_start(request: HttpRequest, order: Order, token: str) -> HttpResponse:
    items = _items(order)
    if request.method != "POST":
        return _render_form(request, order, token, items)
    comment = request.POST.get("comment", "").strip()[:MAX_COMMENT]
    nul = _fields_with_nul(request)
    if nul:
        errors = [
            gettext("Your comment contains a character that cannot be accepted (NUL); remove it.")
            if "comment" in nul
            else gettext("The form contains a character that cannot be accepted (NUL); remove it.")
        ]
        return _render_form(
            request,
            order,
            token,
            items,
            comment=comment.replace("\x00", ""),
            errors=errors,
            status=400,
        )
    lines, errors = _read_form(request, items)
    if errors or any(item.errors for item in items):
        return _render_form(
            request, order, token, items, comment=comment, errors=errors, status=400
        )
    try:
        ret = services.return_create(
            order=order.pk,
            lines=lines,
            comment=comment,
            source=ReturnSource.SHOPPER,
            actor="shopper",
        )
    except ValidationFailed as exc:
        general = _service_errors(exc, lines, items)
        return _render_form(
            request, order, token, items, comment=comment, errors=general, status=400
        )
    except DomainError as exc:
        return _render_form(
            request, order, token, items, comment=comment, errors=[exc.detail], status=exc.status
        )
    return _private(
        HttpResponseRedirect(reverse("return-detail", args=[token, ret.number]), status=303)
    )


def _return_of(token: str, number: str) -> ReturnRequest | None:
    if not TOKEN.fullmatch(token or ""):
        return None
    return (
        selectors.return_list()
        .select_related("order__channel", "exchange_order")
        .filter(order__tracking_token=token, number=number)
        .first()
    )


@require_safe
def return_detail(request: HttpRequest, token: str, number: str) -> HttpResponse:
    """GET /track/<token>/return/<number>/: the return's status and, once accepted, its label."""
    ret = _return_of(token, number)
    if ret is None:
        return _not_found(request)
    with translation.override(shopper_language(order=ret.order)):
        return _return_detail(request, ret, token)


def _return_detail(request: HttpRequest, ret: ReturnRequest, token: str) -> HttpResponse:
    label, sentence = (gettext(text) for text in STATUS_TEXT[ReturnStatus(ret.status)])
    url = reverse("return-detail", args=[token, ret.number])
    context = {
        "ret": ret,
        "order_number": ret.order.number or ret.order.external_number,
        "status_label": label,
        "status_sentence": sentence,
        "label_url": f"{url}label.pdf" if ret.status in LABEL_STATUSES else "",
        "lines": [
            {
                "name": _line_name(rl.order_line),
                "quantity": rl.quantity,
                "reason": gettext(rl.reason.label),
                "exchange": rl.is_exchange,
                "received": rl.quantity_received,
            }
            for rl in ret.lines.all()
        ],
        "tracking_url": reverse("tracking-page", args=[token]),
        "form_url": reverse("return-start", args=[token]),
        "accepted": ret.status in LABEL_STATUSES,
        "has_exchange": any(rl.is_exchange for rl in ret.lines.all()),
        "requested": ret.status == ReturnStatus.REQUESTED,
    }
    brand = shop_branding(ret.order.channel)
    page = render(request, "returns/detail.html", {**context, **brand})
    return _private(page, brand["logo_url"])


@require_safe
def return_label_pdf(request: HttpRequest, token: str, number: str) -> HttpResponse:
    """GET /track/<token>/return/<number>/label.pdf: the return label (accepted returns)."""
    ret = _return_of(token, number)
    if ret is None or ret.status not in LABEL_STATUSES:
        return _not_found(request)
    try:
        label = return_label(ret)
    except DomainError as exc:
        raise Http404(str(exc)) from None
    response = HttpResponse(label.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="return-label-{ret.number}.pdf"'
    return _private(response)
