"""The shopper's subscription page, under /track/ (its rate limits and 404 budget apply)."""

from __future__ import annotations

from django.urls import URLPattern, path

from subscriptions.public_views import subscription_manage

urlpatterns: list[URLPattern] = [
    path("subscription/<str:token>/", subscription_manage, name="subscription-manage"),
]
