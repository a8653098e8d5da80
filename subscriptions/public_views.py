"""The shopper's subscription page, `/track/subscription/<token>/`: no login, the subscription's
unguessable `manage_token` (in every subscription e-mail) is the key.

- GET shows the status, the next date (in the channel's time zone), the items and the address;
- POST (CSRF protected) runs one command through the services: skip the next renewal, pause,
  resume, change quantities, change the address, cancel with a reason; then 303 back to the page.

Invariants (those of the tracking page, whose rate limits and 404 budget apply under /track/):
- an unknown or malformed token is the tracking page's 404, which says nothing about which
  tokens exist;
- bad input (a quantity that is not a whole number from 1 to 99, an incomplete address, a NUL
  character, an unknown command) re-shows the page with the error (400) and writes nothing;
  a command the state table refuses is 409 with its reason;
- the page is private, not indexed, and sends the Referer only to this site (a CSRF-checked
  POST needs its Origin); it shows prices as agreed, never the payment method;
- it is written in the channel's language (orders.language.shopper_language), its dates and
  prices in that language's format (oms.i18n).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext, gettext_noop, ngettext
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from fulfilment.tracking_page import TOKEN, shop_branding, shopper_csp
from oms.errors import DomainError
from orders.language import shopper_language
from orders.services.capture import address_problems
from subscriptions import selectors, services
from subscriptions.calendar import zone
from subscriptions.models import Subscription
from subscriptions.states import SKIPPABLE, SubscriptionStatus

S = SubscriptionStatus
MAX_QUANTITY = 99
ADDRESS_FIELDS = ("name", "line1", "line2", "postal_code", "city", "country")
CANCEL_REASONS = (
    ("too_much", gettext_noop("I have too much of it")),
    ("too_expensive", gettext_noop("It is too expensive")),
    ("not_needed", gettext_noop("I do not need it any more")),
    ("other", gettext_noop("Another reason")),
)
STATUS_TEXT: dict[str, str] = {
    S.ACTIVE: gettext_noop("Active"),
    S.PAUSED: gettext_noop("Paused"),
    S.CANCELLED: gettext_noop("Cancelled"),
    S.FAILED: gettext_noop("On hold"),
}
DONE_TEXT = {
    "skip": gettext_noop("Done: the next delivery is skipped."),
    "pause": gettext_noop("Done: your subscription is paused."),
    "resume": gettext_noop("Done: your subscription is running again."),
    "quantities": gettext_noop("Done: your quantities are saved."),
    "address": gettext_noop("Done: your address is saved."),
    "cancel": gettext_noop("Your subscription is cancelled. Thank you for staying with us."),
}


def _private(response: HttpResponse, logo_url: str = "") -> HttpResponse:
    patch_cache_control(response, private=True, no_cache=True, max_age=0)
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    # Same-origin only: a CSRF-checked POST needs its Origin; the token never leaves the site.
    response["Referrer-Policy"] = "same-origin"
    response["Content-Security-Policy"] = shopper_csp(logo_url)
    return response


def _subscription(token: str) -> Subscription | None:
    if not TOKEN.fullmatch(token or ""):
        return None
    return selectors.subscription_by_token(token)


def _every(interval: str, count: int) -> str:
    """ "every week", "every 2 months" in the active language."""
    if interval == "day":
        return ngettext("every day", "every %(count)d days", count) % {"count": count}
    if interval == "week":
        return ngettext("every week", "every %(count)d weeks", count) % {"count": count}
    return ngettext("every month", "every %(count)d months", count) % {"count": count}


def _context(sub: Subscription, **extra: Any) -> dict[str, Any]:
    tz = zone(selectors.channel_settings(sub.channel_id).time_zone)
    return {
        "sub": sub,
        "token": sub.manage_token,
        "status_text": gettext(STATUS_TEXT.get(sub.status, sub.get_status_display())),
        "next_date": sub.next_order_at.astimezone(tz),
        "every": _every(sub.interval, sub.interval_count),
        "lines": [
            {
                "id": line.pk,
                "name": line.sku.name,
                "sku": line.sku.code,
                "quantity": line.quantity,
                "price": selectors.line_price_text(line, sub.currency),
                "price_text": selectors.line_price_text(line, sub.currency),
            }
            for line in sub.lines.all()
        ],
        "address": sub.shipping_address,
        "can_skip": sub.status in SKIPPABLE,
        "can_pause": sub.status == S.ACTIVE,
        "can_resume": sub.status in (S.PAUSED, S.FAILED),
        "can_change": sub.status != S.CANCELLED,
        "cancel_reasons": [(code, gettext(label)) for code, label in CANCEL_REASONS],
        "errors": [],
        "done": "",
        **shop_branding(sub.channel),
        **extra,
    }


def _page(
    request: HttpRequest, sub: Subscription, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = _context(sub, **extra)
    page = render(request, "subscriptions/manage.html", context, status=status)
    return _private(page, context["logo_url"])


def _quantities(request: HttpRequest, sub: Subscription) -> tuple[list[dict[str, Any]], str]:
    lines = []
    for line in sub.lines.all():
        raw = request.POST.get(f"quantity-{line.pk}", str(line.quantity)).strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_QUANTITY:
            return [], gettext("Quantities are whole numbers from 1 to {max}.").format(
                max=MAX_QUANTITY
            )
        lines.append({"sku": line.sku.code, "quantity": int(raw), "unit_price": line.unit_price})
    return lines, ""


def _address(request: HttpRequest) -> tuple[dict[str, str], str]:
    address = {name: request.POST.get(name, "").strip()[:200] for name in ADDRESS_FIELDS}
    address["country"] = address["country"].upper()[:2]
    problems = address_problems(address)
    if problems:
        names = ", ".join(f"{k.replace('_', ' ')} ({v})" for k, v in problems.items())
        return {}, gettext("Please check the address: {problems}.").format(problems=names)
    return address, ""


def _run(request: HttpRequest, sub: Subscription, command: str) -> str:
    """Run `command` through its service; the error text of bad input, else ""."""
    actor = "shopper"
    if command == "skip":
        services.subscription_skip(subscription=sub, actor=actor)
    elif command == "pause":
        services.subscription_pause(subscription=sub, reason="By the shopper.", actor=actor)
    elif command == "resume":
        services.subscription_resume(subscription=sub, actor=actor)
    elif command == "quantities":
        lines, error = _quantities(request, sub)
        if error:
            return error
        services.subscription_update(subscription=sub, data={"lines": lines}, actor=actor)
    elif command == "address":
        address, error = _address(request)
        if error:
            return error
        services.subscription_update(
            subscription=sub, data={"shipping_address": address}, actor=actor
        )
    elif command == "cancel":
        code = request.POST.get("reason", "")
        labels = dict(CANCEL_REASONS)
        if code not in labels:
            return gettext("Please tell us why you cancel.")
        detail = request.POST.get("comment", "").strip()[:300]
        reason = labels[code] + (f": {detail}" if detail else "")  # for staff: English
        services.subscription_cancel(subscription=sub, reason=reason, actor=actor)
    else:
        return gettext("Unknown request.")
    return ""


@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def subscription_manage(request: HttpRequest, token: str) -> HttpResponse:
    """GET /track/subscription/<token>/: the shopper's page; POST runs one command."""
    sub = _subscription(token)
    if sub is None:
        return _private(render(request, "tracking/not_found.html", status=404))
    with translation.override(shopper_language(channel=sub.channel)):
        return _manage(request, sub, token)


def _manage(request: HttpRequest, sub: Subscription, token: str) -> HttpResponse:
    if request.method != "POST":
        done = DONE_TEXT.get(request.GET.get("done", ""), "")
        done = gettext(done) if done else ""
        return _page(request, sub, done=done)
    if any("\x00" in value for value in request.POST.values()):
        return _page(
            request, sub, status=400, errors=[gettext("The form contains a NUL character.")]
        )
    command = request.POST.get("command", "")
    try:
        error = _run(request, sub, command)
    except DomainError as exc:
        fresh = selectors.subscription_by_token(token) or sub
        return _page(request, fresh, status=exc.status, errors=[exc.detail])
    if error:
        return _page(request, sub, status=400, errors=[error])
    url = reverse("subscription-manage", args=[token]) + f"?done={command}"
    return _private(HttpResponseRedirect(url, status=303))
