from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import urls as accounts_urls
from chronoverse import ops, views
from jobs import urls as jobs_urls
from jobs import views as jobs_views
from notifications import urls as notifications_urls
from workflows import urls as workflows_urls

handler403 = views.permission_denied
handler404 = views.not_found
handler500 = views.server_error

admin.site.site_header = "Chronoverse administration"
admin.site.site_title = "Chronoverse admin"
admin.site.index_title = "Operations"

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    # The users' own jobs call these (a dead man's switch); the key is the only credential.
    path("ping/<str:key>", jobs_views.ping_view, name="ping"),
    path("ping/<str:key>/<str:signal>", jobs_views.ping_view, name="ping-signal"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("accounts.urls_api")),
    path("api/v1/", include("workflows.urls_api")),
    path("api/v1/", include("jobs.urls_api")),
    path("api/v1/", include("notifications.urls_api")),
    path("api/v1/", include("analytics.urls_api")),
    path("admin/", admin.site.urls),
    path(
        "accounts/",
        include((accounts_urls.urlpatterns + notifications_urls.account_urlpatterns, accounts_urls.app_name)),
    ),
    # The workflow pages that touch its jobs are the jobs app's (workflows knows nothing of jobs).
    path(
        "workflows/",
        include((workflows_urls.urlpatterns + jobs_urls.workflow_urlpatterns, workflows_urls.app_name)),
    ),
    path("jobs/", include("jobs.urls")),
    path("notifications/", include("notifications.urls")),
    path("analytics/", include("analytics.urls")),
    path("", include("chronoverse.urls_dashboard")),
]
