"""Inbound webhooks of carriers and 3PL partners (signatures checked on the raw body)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
