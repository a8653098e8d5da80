"""The shopper's return pages, under /track/ next to the tracking page (included before
fulfilment's tracking page in oms.urls)."""

from __future__ import annotations

from django.urls import URLPattern, path

from returns.public_views import return_detail, return_label_pdf, return_start

urlpatterns: list[URLPattern] = [
    path("<str:token>/return/", return_start, name="return-start"),
    path("<str:token>/return/<str:number>/", return_detail, name="return-detail"),
    path("<str:token>/return/<str:number>/label.pdf", return_label_pdf, name="return-label"),
]
