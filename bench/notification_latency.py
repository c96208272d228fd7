"""p50/p99 from `notification_create` to its receipt on `/ws/notifications/`, with N sockets
connected (10 per user) to the web process `make run` starts; the anchor is a raw Redis PUBLISH
to a SUBSCRIBE on the same server."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time

from bench.harness import ROOT, Result, free_port, gunicorn, percentile, scaled, serve, stop

NAME = "notification_latency"
PER_USER = 10


def _anchor(messages: int) -> list[float]:
    from chronoverse.redis_client import get_redis

    redis = get_redis()
    pubsub = redis.pubsub()
    pubsub.subscribe("bench:latency")
    pubsub.get_message(timeout=5)  # the subscription's confirmation
    latencies: list[float] = []

    def listen() -> None:
        while len(latencies) < messages:
            message = pubsub.get_message(timeout=5)
            if message and message["type"] == "message":
                latencies.append((time.time() - float(message["data"])) * 1000)

    listener = threading.Thread(target=listen)
    listener.start()
    for _ in range(messages):
        redis.publish("bench:latency", repr(time.time()))
        time.sleep(0.02)
    listener.join(timeout=30)
    pubsub.close()
    return latencies


def run() -> list[Result]:
    from accounts.models import User
    from accounts.services import token_create
    from notifications.services import notification_create

    sockets = scaled(smoke=20, default=1000, full=1000)
    messages = scaled(smoke=5, default=200, full=1000)
    users = [
        User.objects.create_user(email=f"listener{n}@example.com", password="bench-password")
        for n in range(sockets // PER_USER)
    ]
    tokens = [token_create(user=user, name="bench", scopes=["read"], expires_at=None)[1] for user in users]
    port = free_port()
    server = serve(gunicorn(port), port, DATABASE_POOL_SIZE="10")
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as file:
            file.write("\n".join(token for token in tokens for _ in range(PER_USER)))
            file.flush()
            client = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.sockets_client",
                    f"ws://127.0.0.1:{port}/ws/notifications/",
                    file.name,
                    str(messages * PER_USER),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert client.stdout is not None
            if client.stdout.readline().strip() != "ready":
                raise RuntimeError("the sockets did not open")
            time.sleep(1)
            for n in range(messages):
                notification_create(
                    user=users[n % len(users)], kind="JOB_COMPLETED", payload={"n": n, "sent_at": time.time()}
                )
                time.sleep(0.02)
            output, _ = client.communicate(timeout=120)
        latencies = json.loads(output.strip().splitlines()[-1])
    finally:
        stop(server)
    anchor = _anchor(messages)
    p99 = percentile(latencies, 99)
    return [
        Result(
            NAME,
            f"notification to WebSocket, p99 (p50 {percentile(latencies, 50):.1f} ms), {sockets:,} sockets",
            "ms",
            p99,
            percentile(anchor, 99),
            "<= 25 ms",
            p99 <= 25,
            anchor_is="raw Redis PUBLISH to SUBSCRIBE, same server",
            limit="The row's commit, one PUBLISH, then each web process's relay fans out to its sockets.",
        )
    ]
