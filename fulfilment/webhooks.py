"""Inbound webhooks of carriers: plain Django views (no session, no CSRF, no DRF parsing).

Invariants: the signature is checked by the carrier's adapter on the raw body before anything
is stored (401 problem JSON and nothing stored when it is bad or missing); a delivery is stored
once per (carrier, delivery id) and a redelivery answers 200 and does nothing more; the answer
comes at once, the events are recorded by a task after commit.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from fulfilment.services.tracking import carrier_webhook_receive
from oms.api.exceptions import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from oms.errors import DomainError, PermanentError


def problem(status: int, code: str, title: str, detail: str) -> JsonResponse:
    """An RFC 9457 problem document, as the API answers."""
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": {},
    }
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


@csrf_exempt
def carrier_webhook(request: HttpRequest, carrier: str) -> HttpResponse:
    """POST /webhooks/carriers/<carrier>/: a carrier's tracking events."""
    if request.method != "POST":
        response = problem(
            405, "method_not_allowed", "Method not allowed", "Carrier webhooks are POSTed."
        )
        response["Allow"] = "POST"
        return response
    try:
        delivery, created = carrier_webhook_receive(
            carrier=carrier, headers=request.headers, body=request.body
        )
    except PermanentError:
        return problem(
            401,
            "invalid_signature",
            "Invalid signature",
            "The signature is missing or does not match the body.",
        )
    except DomainError as exc:
        return problem(exc.status, exc.code, exc.title, exc.detail)
    return JsonResponse(
        {"status": "accepted" if created else "duplicate", "delivery_id": delivery.delivery_id}
    )
