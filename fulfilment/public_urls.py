"""Public pages (no login): the shopper's tracking page."""

from django.urls import URLPattern, path

from fulfilment.tracking_page import tracking_page

urlpatterns: list[URLPattern] = [
    path("<str:token>/", tracking_page, name="tracking-page"),
]
