from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from oms.api.exceptions import api_not_found
from oms.health import healthz
from oms.metrics import metrics_view
from oms.views import front_door

api_v1 = [
    path("", include("inventory.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("fulfilment.api.urls")),
    path("", include("returns.api.urls")),
    path("", include("subscriptions.api.urls")),
    path("", include("channels.api.urls")),
    path("", include("reports.api.urls")),
    path("", include("webhooks.api.urls")),
]

urlpatterns = [
    path("", front_door, name="front-door"),
    # The Channel moved from the channels app to inventory (issue 15): old bookmarks still work.
    re_path(
        r"^admin/channels/channel/(?P<rest>.*)$",
        RedirectView.as_view(
            url="/admin/inventory/channel/%(rest)s", permanent=True, query_string=True
        ),
    ),
    # The channels' and fulfilment's webhook inboxes are one in the kernel (issue 15): the old
    # pages lead to it (a fulfilment delivery kept its id; a channel delivery's may have moved).
    re_path(
        r"^admin/channels/channelwebhookdelivery/",
        RedirectView.as_view(url="/admin/oms/inboundwebhook/?kind__exact=channel", permanent=True),
    ),
    re_path(
        r"^admin/fulfilment/inboundwebhook/(?P<rest>.*)$",
        RedirectView.as_view(
            url="/admin/oms/inboundwebhook/%(rest)s", permanent=True, query_string=True
        ),
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("track/", include("subscriptions.public_urls")),
    path("track/", include("returns.public_urls")),
    path("track/", include("fulfilment.public_urls")),
    path("webhooks/", include("fulfilment.webhook_urls")),
    path("webhooks/", include("channels.webhook_urls")),
    re_path(r"^api/", api_not_found),
]
