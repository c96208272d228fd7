"""WebSocket routes. Each app that owns a consumer adds its paths here."""

from django.urls import path

from jobs.consumers import JobLogsConsumer
from notifications.consumers import NotificationsConsumer

websocket_urlpatterns = [
    path("ws/jobs/<uuid:job_id>/logs/", JobLogsConsumer.as_asgi()),
    path("ws/notifications/", NotificationsConsumer.as_asgi()),
]
