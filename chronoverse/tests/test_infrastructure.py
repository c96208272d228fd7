"""The real services the platform runs on, exercised end to end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone

from accounts.models import ApiToken
from accounts.tasks import prune_expired_tokens
from chronoverse.celery import app as celery_app
from conftest import wait_for


def test_the_database_is_postgresql():
    assert connection.vendor == "postgresql"


def test_a_celery_worker_runs_a_task_sent_through_redis(celery_worker, user, make_token):
    stale, _ = make_token(user, name="stale")
    fresh, _ = make_token(user, name="fresh")
    ApiToken.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(days=60))

    prune_expired_tokens.delay()
    wait_for(lambda: not ApiToken.objects.filter(pk=stale.pk).exists(), timeout=30)

    assert not ApiToken.objects.filter(pk=stale.pk).exists()
    assert ApiToken.objects.filter(pk=fresh.pk).exists()


def test_the_channel_layer_carries_messages_through_redis():
    layer = get_channel_layer()
    assert type(layer).__module__.startswith("channels_redis")

    async def round_trip() -> dict:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "test.message", "text": "hello"})
        return await layer.receive(channel)

    assert async_to_sync(round_trip)() == {"type": "test.message", "text": "hello"}


@pytest.mark.parametrize(
    ("image", "command", "expected"),
    [
        ("chronoverse/busybox:latest", ["sh", "-c", "echo hello from busybox"], b"hello from busybox\n"),
        ("chronoverse/python:3.11", ["python3", "-c", "import sys; print(sys.version_info[:2])"], b"(3, 11)\n"),
    ],
)
def test_the_local_images_run_on_the_engine(docker_client, image, command, expected):
    container = docker_client.containers.run(image, command, detach=True, network_mode="none")
    try:
        status = container.wait(timeout=60)
        # The engine may hand the last output to the log store a moment after the exit is reported.
        output = wait_for(lambda: container.logs(), timeout=10)
    finally:
        container.remove(force=True)

    assert status["StatusCode"] == 0
    assert output == expected


def test_the_scheduler_and_maintenance_have_their_own_queue():
    router = celery_app.amqp.router
    for name in (
        "jobs.tasks.scheduler_tick",
        "jobs.tasks.reap",
        "jobs.tasks.prune_logs",
    ):
        assert router.route({}, name)["queue"].name == "control", name
    assert router.route({}, "jobs.tasks.execute_job")["queue"].name == "celery"
