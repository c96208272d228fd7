from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from conftest import wait_for
from notifications.models import DeliverySettings
from notifications.services import notification_create


@pytest.fixture
def receiver():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"headers": dict(self.headers), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    server.shutdown()


def test_alerts_are_emailed_and_posted_signed_by_a_worker(celery_worker, user, receiver):
    url, received = receiver
    DeliverySettings.objects.create(user=user, email_alerts=True, webhook_url=url, webhook_secret="k3y")

    notification = notification_create(
        user=user, kind="JOB_FAILED", payload={"workflow_name": "etl", "error": "Exited with code 1"}
    )

    wait_for(lambda: received and mail.outbox)
    assert mail.outbox[0].to == [user.email]
    assert mail.outbox[0].subject == "[Chronoverse] Job Failed: etl"
    body = received[0]["body"]
    assert json.loads(body)["id"] == str(notification.id)
    expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert received[0]["headers"]["X-Chronoverse-Signature"] == expected


def test_only_alerts_leave_the_platform_and_none_means_none(celery_worker, user, receiver):
    url, received = receiver
    DeliverySettings.objects.create(user=user, email_alerts=True, webhook_url=url)

    notification_create(user=user, kind="JOB_COMPLETED", payload={})
    user.notification_preference = "NONE"
    user.save()
    notification_create(user=user, kind="JOB_FAILED", payload={})
    user.notification_preference = "ALERTS"
    user.save()
    notification_create(user=user, kind="SYSTEM_ALERT", payload={})

    wait_for(lambda: len(received) == 1)
    assert json.loads(received[0]["body"])["kind"] == "SYSTEM_ALERT"
    assert len(mail.outbox) == 1
