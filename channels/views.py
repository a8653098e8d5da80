"""Inbound channel webhooks: verify on the raw bytes, store once, answer at once.

Every error is problem JSON (oms.api.exceptions): 413 `body_too_large` (also answered by
oms.middleware before the view), 400 `json_too_deep`, 401 `signature_invalid`, 404, 503.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.db import DatabaseError, DataError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels.adapters.base import NotSupported, SignatureInvalid
from channels.services.webhooks import webhook_receive
from inventory.models import Channel
from oms.api.exceptions import body_too_large_response, problem_json
from oms.errors import DomainError, NotFound, PermanentError

logger = logging.getLogger(__name__)

_TITLES = {
    400: "Invalid webhook",
    401: "Invalid signature",
    404: "Not found",
    503: "Service unavailable",
}


def _problem(status: int, code: str, detail: str) -> JsonResponse:
    title = _TITLES.get(status, "Webhook refused")
    return problem_json(status_code=status, code=code, title=title, detail=detail)


def _challenge(request: HttpRequest, code: str) -> JsonResponse:
    """eBay validates an endpoint with a GET carrying `challenge_code` (answered with a hash)."""
    from channels.adapters.ebay import challenge_response

    channel = Channel.objects.filter(code=code, is_active=True, kind="ebay").first()
    challenge = request.GET.get("challenge_code", "")
    token = channel.credentials().get("verification_token", "") if channel else ""
    if channel is None or not challenge or not token:
        return _problem(404, "not_found", "No eBay channel expects a challenge here.")
    endpoint = channel.credentials().get("endpoint_url") or request.build_absolute_uri(request.path)
    return JsonResponse({"challengeResponse": challenge_response(challenge, token, endpoint)})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def channel_webhook(request: HttpRequest, code: str) -> JsonResponse:
    if request.method == "GET":
        return _challenge(request, code)
    try:
        body = request.body
    except RequestDataTooBig:
        return body_too_large_response()
    try:
        delivery, created = webhook_receive(
            channel_code=code,
            headers=request.headers,
            body=body,
            url=request.build_absolute_uri(),
        )
    except NotFound as exc:
        return _problem(404, "not_found", str(exc))
    except SignatureInvalid as exc:
        return _problem(401, "signature_invalid", str(exc))
    except NotSupported as exc:
        return _problem(404, "not_supported", str(exc))
    except PermanentError as exc:
        return _problem(400, "invalid", str(exc))
    except DomainError as exc:  # json_too_deep
        return _problem(exc.status, exc.code, exc.detail)
    except DataError:
        # A value the database refuses will be refused again: 400, not "send it again".
        logger.warning("Channel webhook %s carries a value the database refuses", code)
        return _problem(400, "invalid", "The delivery carries a value that cannot be stored.")
    except (DatabaseError, ImproperlyConfigured):
        logger.exception("Channel webhook %s could not be stored", code)
        # 503: the vendor keeps the delivery and sends it again later.
        return _problem(503, "unavailable", "The delivery could not be stored; send it again.")
    return JsonResponse(
        {"status": "accepted" if created else "duplicate", "delivery": delivery.delivery_id}
    )
