from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from chronoverse import ops, views

handler404 = views.not_found
handler500 = views.server_error

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("accounts.urls_api")),
    path("api/v1/", include("workflows.urls_api")),
    path("api/v1/", include("jobs.urls_api")),
    path("api/v1/", include("notifications.urls_api")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("workflows/", include("workflows.urls")),
    path("jobs/", include("jobs.urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("chronoverse.urls_dashboard")),
]
