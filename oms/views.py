"""The front door at `/`: what this is, and the ways in (back office, API docs, health).

Invariant: the page reads nothing from the database (it answers even when the database is
down, like /healthz) and is public.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET


@require_GET
def front_door(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "front_door.html",
        {
            "admin_url": reverse("admin:index"),
            "docs_url": reverse("swagger-ui"),
            "schema_url": reverse("schema"),
            "health_url": reverse("healthz"),
            "demo": settings.DEBUG,
        },
    )
