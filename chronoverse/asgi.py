"""ASGI entry point: Django for HTTP, Channels for WebSockets (session or bearer-token auth)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronoverse.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.ws_auth import WebSocketAuth  # noqa: E402
from chronoverse.ops import answer_liveness_first  # noqa: E402
from chronoverse.routing import websocket_urlpatterns  # noqa: E402
from jobs.ping_ingress import PingIngress  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Liveness and pings are answered before Django: see each one's module.
        "http": answer_liveness_first(PingIngress(django_asgi_app)),
        "websocket": WebSocketAuth(URLRouter(websocket_urlpatterns)),
    }
)
