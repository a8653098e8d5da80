from __future__ import annotations

from django.urls import path

from channels.views import channel_webhook

urlpatterns = [
    path("channels/<str:code>/", channel_webhook, name="channel-webhook"),
]
