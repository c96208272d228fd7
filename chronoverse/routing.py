"""WebSocket routes. Each app that owns a consumer adds its paths here."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
