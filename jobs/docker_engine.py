"""The one module that talks to the Docker engine (through the `docker` SDK).

Callers get two kinds of failure: `EngineUnavailable` when the engine itself cannot be reached
(an infrastructure problem, worth retrying, never the user's fault), and `ImageError` when the
engine answered but the image cannot be had (the user's problem, reported as is).
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator

import docker
import requests
import urllib3
from django.conf import settings
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

# How a broken or timed-out connection to the engine surfaces: requests wraps most of them, but a
# read that times out in the middle of a streamed response arrives as urllib3's or the socket's own.
TRANSPORT_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, TimeoutError)


class EngineUnavailable(Exception):
    pass


class ImageError(Exception):
    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


def engine_client(*, timeout: int = 60) -> docker.DockerClient:
    return docker.DockerClient(base_url=settings.DOCKER_HOST, timeout=timeout)


def engine_ping(*, timeout: int = 3) -> None:
    """Raise if the engine does not answer within `timeout` seconds."""
    client = engine_client(timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def _unavailable(exc: Exception) -> EngineUnavailable:
    return EngineUnavailable(f"Container engine unreachable: {exc}")


def image_present(ref: str) -> bool:
    client = engine_client()
    try:
        client.images.get(ref)
        return True
    except ImageNotFound:
        return False
    except (*TRANSPORT_ERRORS, DockerException) as exc:
        raise _unavailable(exc) from exc
    finally:
        client.close()


def image_pull(ref: str, *, timeout: int) -> None:
    client = engine_client(timeout=timeout)
    try:
        # The SDK splits `name:tag` itself and pulls `latest` when no tag is given.
        client.images.pull(ref)
    except (NotFound, APIError) as exc:
        raise ImageError(f"Image not found: {ref} ({exc.explanation or exc})") from exc
    except (*TRANSPORT_ERRORS, DockerException) as exc:
        raise _unavailable(exc) from exc
    finally:
        client.close()


def build_context(dockerfile: str, files: dict[str, str]) -> bytes:
    """A tar archive holding the Dockerfile and the payload's files, as `docker build` sends it."""
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in {"Dockerfile": dockerfile, **files}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), now, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def image_build(context: bytes, *, tag: str, timeout: int) -> Iterator[str]:
    """Build `context` into `tag`, yielding the build's output line by line.

    Raises ImageError with the failing step's message when the build fails or runs past `timeout`
    seconds (closing the connection makes the engine abandon the build).
    """
    client = engine_client(timeout=timeout)
    deadline = time.monotonic() + timeout
    try:
        # `timeout` bounds each read of the output stream: a silent step cannot outlast the limit.
        stream = client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            timeout=timeout,
        )
        for chunk in stream:
            if "error" in chunk:
                raise ImageError(chunk.get("errorDetail", {}).get("message") or chunk["error"])
            text = chunk.get("stream") or chunk.get("status") or ""
            for line in text.splitlines():
                if line.strip():
                    yield line.rstrip()
            if time.monotonic() > deadline:
                raise ImageError(f"Build timed out after {timeout} s.")
    except TRANSPORT_ERRORS as exc:
        if time.monotonic() > deadline - 1:
            raise ImageError(f"Build timed out after {timeout} s.") from exc
        raise _unavailable(exc) from exc
    except APIError as exc:
        raise ImageError(f"Build refused: {exc.explanation or exc}") from exc
    except DockerException as exc:
        raise _unavailable(exc) from exc
    finally:
        client.close()


def images_remove_repository(repository: str) -> int:
    """Remove every tag of `repository`; returns how many images were removed."""
    client = engine_client()
    removed = 0
    try:
        for image in client.images.list(name=repository):
            for tag in image.tags:
                if tag.startswith(f"{repository}:"):
                    try:
                        client.images.remove(tag, force=True)
                        removed += 1
                    except NotFound:
                        pass
    except (*TRANSPORT_ERRORS, DockerException) as exc:
        raise _unavailable(exc) from exc
    finally:
        client.close()
    return removed
