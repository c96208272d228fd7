"""WebSocket routes. Each app that owns a consumer adds its paths here."""

from typing import TYPE_CHECKING

from django.urls import path

from jobs.consumers import ClientSocketConsumer, DashboardConsumer, JobLogsConsumer
from notifications.consumers import NotificationsConsumer

if TYPE_CHECKING:
    from channels.routing import URLRouter, _ExtendedURLPattern

# Django's path() takes a consumer's ASGI application, but its stubs only know views (no overload
# for an ASGI app), and Channels' URLRouter wants the route type of its own stubs: hence the ignores.
websocket_urlpatterns: "list[_ExtendedURLPattern | URLRouter]" = [
    path("ws/jobs/<uuid:job_id>/logs/", JobLogsConsumer.as_asgi()),  # type: ignore[arg-type, list-item]
    path("ws/notifications/", NotificationsConsumer.as_asgi()),  # type: ignore[arg-type, list-item]
    path("ws/clients/", ClientSocketConsumer.as_asgi()),  # type: ignore[arg-type, list-item]
    path("ws/dashboard/", DashboardConsumer.as_asgi()),  # type: ignore[arg-type, list-item]
]
