"""Inbound confirmations of 3PL partners: `POST /webhooks/3pl/<location code>/`.

Invariants: the Standard Webhooks signature is checked on the raw body with that partner's
secret before anything is stored; a missing, stale or wrong signature answers 401 problem JSON
and stores nothing; a delivery already received answers 200 and does nothing more.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from fulfilment.services.partners import partner_confirmation_receive
from oms.api.exceptions import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from oms.errors import DomainError


def _problem(exc: DomainError) -> JsonResponse:
    response = JsonResponse(
        {
            "type": PROBLEM_TYPE_BASE + exc.code,
            "title": exc.title,
            "status": exc.status,
            "detail": exc.detail,
            "code": exc.code,
            "errors": exc.errors,
        },
        status=exc.status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Webhook-Signature realm="3pl"'
    return response


@csrf_exempt
@require_POST
def partner_webhook(request: HttpRequest, location_code: str) -> JsonResponse:
    try:
        received = partner_confirmation_receive(
            location_code=location_code, headers=request.headers, body=request.body
        )
    except DomainError as exc:
        return _problem(exc)
    return JsonResponse(
        {
            "status": "accepted" if received.created else "duplicate",
            "id": received.webhook.delivery_id,
        }
    )
