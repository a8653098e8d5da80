"""Public pages (no login): the shopper's tracking page."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
