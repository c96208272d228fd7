"""The one module that talks to the Docker engine (through the `docker` SDK)."""

from __future__ import annotations

import docker
from django.conf import settings


def engine_client(*, timeout: int = 60) -> docker.DockerClient:
    return docker.DockerClient(base_url=settings.DOCKER_HOST, timeout=timeout)


def engine_ping(*, timeout: int = 3) -> None:
    """Raise if the engine does not answer within `timeout` seconds."""
    client = engine_client(timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
