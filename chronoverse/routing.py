"""WebSocket routes. Each app that owns a consumer adds its paths here."""

from django.urls import path

from jobs.consumers import JobLogsConsumer

websocket_urlpatterns = [
    path("ws/jobs/<uuid:job_id>/logs/", JobLogsConsumer.as_asgi()),
]
