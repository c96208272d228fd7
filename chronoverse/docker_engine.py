"""The one module that talks to the Docker engine (through the `docker` SDK).

Callers get two kinds of failure: `EngineUnavailable` when the engine itself cannot be reached
(an infrastructure problem, worth retrying, never the user's fault), and `ImageError` when the
engine answered but the image cannot be had (the user's problem, reported as is).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import requests
import urllib3
from django.conf import settings
from django.db import connections
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.tls import TLSConfig
from docker.types import LogConfig, Mount

# How a broken or timed-out connection to the engine surfaces: requests wraps most of them, but a
# read that times out in the middle of a streamed response arrives as urllib3's or the socket's own.
TRANSPORT_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, TimeoutError)


class EngineUnavailable(Exception):
    pass


class ContainerGone(Exception):
    """A job's container vanished under it (removed by someone else): not the job's fault."""


class ImageMissing(Exception):
    """The engine has no such image: it must be pulled (or built) before a container can use it."""


class ImageError(Exception):
    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


# Every container and image this installation makes carries its identity, and everything that lists
# or removes containers looks only at its own: two installations (staging and production, or a test
# run beside `make run`) can share one engine without reaping each other's jobs.
INSTALLATION_LABEL = "chronoverse.installation"


def installation_id() -> str:
    """CHRONOVERSE_INSTALLATION, or else a digest of the database that holds this installation's jobs
    (read at call time: a test run's database has its own name, and so its own identity)."""
    if settings.INSTALLATION_ID:
        return settings.INSTALLATION_ID
    db = connections["default"].settings_dict
    where = f"{db.get('HOST') or ''}:{db.get('PORT') or ''}/{db.get('NAME') or ''}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def _own(labels: list[str]) -> dict:
    return {"label": [f"{INSTALLATION_LABEL}={installation_id()}", *labels]}


# The API version each engine answered with, by address. A client made without a version first asks
# the engine for it, an extra round trip on each of the five or six calls of a container job; an
# engine restarted with a newer release still serves the older API version, so the first answer holds.
_api_versions: dict[str, str] = {}


class _EngineAPI(docker.APIClient):
    """The SDK's client, deaf to the environment's settings for requests: REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE would replace the engine's CA with theirs (psf/requests#3829), HTTP(S)_PROXY would
    route engine calls through a proxy. The engine's address and CA are ours (DOCKER_*)."""

    @property
    def trust_env(self) -> bool:
        return False

    @trust_env.setter
    def trust_env(self, value: bool) -> None:
        pass  # requests.Session.__init__ turns it on; the SDK asks the engine's version right after


class _EngineClient(docker.DockerClient):
    def __init__(self, **kwargs) -> None:
        self.api = _EngineAPI(**kwargs)


def _tls() -> TLSConfig | bool:
    # Off unless asked for; missing certificate files raise here (a DockerException: unavailable).
    if not settings.DOCKER_TLS_VERIFY:
        return False
    certs = Path(settings.DOCKER_CERT_PATH)
    return TLSConfig(
        client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")), ca_cert=str(certs / "ca.pem"), verify=True
    )


def engine_client(*, timeout: int = 60) -> docker.DockerClient:
    # The first client of a process asks the engine for its API version: a dead engine fails here,
    # and later ones fail on their first call, which _translated turns into EngineUnavailable too.
    base_url = settings.DOCKER_HOST
    try:
        client = _EngineClient(base_url=base_url, timeout=timeout, version=_api_versions.get(base_url), tls=_tls())
    except (*TRANSPORT_ERRORS, DockerException) as exc:
        raise _unavailable(exc) from exc
    _api_versions.setdefault(base_url, client.api.api_version)
    return client


def _unavailable(exc: Exception) -> EngineUnavailable:
    return EngineUnavailable(f"Container engine unreachable: {exc}")


def _gone(container_id: str) -> ContainerGone:
    return ContainerGone(f"The job's container {container_id[:12]} disappeared (removed outside the platform)")


# Which of the engine's answers that refuse a call (APIError) reach the caller as they are; the
# others count as the engine being unavailable.
def _every(exc: APIError) -> bool:
    return True


def _none(exc: APIError) -> bool:
    return False


def _client_errors(exc: APIError) -> bool:
    return exc.is_client_error()


@contextlib.contextmanager
def _translated(
    *,
    refusals: Callable[[APIError], bool] = _every,
    missing_ok: bool = False,
    conflict_ok: bool = False,
    gone: str | None = None,
) -> Iterator[None]:
    """How a call's failures reach callers, the same for every call: a missing object (NotFound) is
    ignored with `missing_ok`, or is ContainerGone for the container `gone`; a conflict (409) is
    ignored with `conflict_ok`; an APIError passes as is where `refusals` says so; anything else
    from the SDK or the connection is EngineUnavailable."""
    try:
        yield
    except APIError as exc:
        if isinstance(exc, NotFound):
            if missing_ok:
                return
            if gone is not None:
                raise _gone(gone) from exc
        elif conflict_ok and exc.status_code == 409:
            return
        if refusals(exc):
            raise
        raise _unavailable(exc) from exc
    except (*TRANSPORT_ERRORS, DockerException) as exc:
        raise _unavailable(exc) from exc


@contextlib.contextmanager
def _client(*, timeout: int = 60) -> Iterator[docker.DockerClient]:
    """A client for one operation, closed after it."""
    client = engine_client(timeout=timeout)
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def _engine(*, timeout: int = 60, **translation) -> Iterator[docker.DockerClient]:
    """A client for one operation, its failures translated (see _translated), closed after it."""
    with _client(timeout=timeout) as client, _translated(**translation):
        yield client


def engine_ping(*, timeout: int = 3) -> None:
    """Raise if the engine does not answer within `timeout` seconds (with the failure's own type,
    which is what the readiness check reports)."""
    with _client(timeout=timeout) as client:
        client.ping()


def image_present(ref: str) -> bool:
    with _engine(refusals=_none) as client:
        try:
            client.images.get(ref)
            return True
        except ImageNotFound:
            return False
        except APIError as exc:
            if exc.is_client_error():
                raise ImageError(f"Invalid image reference {ref}: {exc.explanation or exc}") from exc
            raise


def image_pull(ref: str, *, timeout: int) -> None:
    with _engine(timeout=timeout) as client:
        try:
            # The SDK splits `name:tag` itself and pulls `latest` when no tag is given.
            client.images.pull(ref)
        except APIError as exc:
            raise ImageError(f"Image not found: {ref} ({exc.explanation or exc})") from exc


def image_push(ref: str, *, timeout: int) -> None:
    """Push `ref` (`registry/repository:tag`) to its registry. A registry that cannot be reached or
    refuses is EngineUnavailable: the platform's trouble, worth retrying, not the workflow's."""
    repository, _, tag = ref.rpartition(":")
    with _engine(timeout=timeout) as client:
        for chunk in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise EngineUnavailable(f"Could not push {ref} to its registry: {detail}")


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
    with _engine(timeout=timeout, refusals=_none) as client:
        deadline = time.monotonic() + timeout
        try:
            # `timeout` bounds each read of the output stream: a silent step cannot outlast the limit.
            stream = client.api.build(
                fileobj=io.BytesIO(context),
                custom_context=True,
                tag=tag,
                labels={INSTALLATION_LABEL: installation_id()},
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                timeout=timeout,
            )
            for chunk in stream:
                if "error" in chunk:
                    message = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                    if _engine_going_away(client, message):
                        raise _unavailable(RuntimeError(message))
                    raise ImageError(message)
                text = chunk.get("stream") or chunk.get("status") or ""
                for line in text.splitlines():
                    if line.strip():
                        yield line.rstrip()
                if time.monotonic() > deadline:
                    raise ImageError(f"Build timed out after {timeout} s.")
        except APIError as exc:
            # Before the transport errors: the SDK's APIError is one of requests' HTTP errors, and a
            # refused build (a bad tag, a bad context) is the build's failure, not the engine's.
            raise ImageError(f"Build refused: {exc.explanation or exc}") from exc
        except TRANSPORT_ERRORS as exc:
            if time.monotonic() > deadline - 1:
                raise ImageError(f"Build timed out after {timeout} s.") from exc
            raise


# How the engine words a build step cut short by its own shutdown (containerd's gRPC connection
# closing under it), as opposed to a step that failed: the build is the engine's failure, retried.
_ENGINE_GOING_AWAY = ("transport is closing", "error reading from server", "connection refused", "code = unavailable")


def _engine_going_away(client: docker.DockerClient, message: str) -> bool:
    """Whether a build's error is the engine stopping under it: said so, or the engine is not answering."""
    lowered = message.lower()
    if any(sign in lowered for sign in _ENGINE_GOING_AWAY) or lowered.endswith(": unavailable"):
        return True
    try:
        client.ping()
    except (*TRANSPORT_ERRORS, DockerException):
        return True
    return False


def images_remove_repository(repository: str, *, keep: str | None = None) -> int:
    """Remove every tag of `repository` but `keep`; returns how many were removed."""
    removed = 0
    with _engine(refusals=_none) as client:
        for image in client.images.list(name=repository):
            for tag in image.tags:
                if tag.startswith(f"{repository}:") and tag != keep:
                    with contextlib.suppress(NotFound):
                        client.images.remove(tag, force=True)
                        removed += 1
    return removed


def image_remove(ref: str) -> None:
    with _engine(refusals=_none, missing_ok=True) as client:
        client.images.remove(ref, force=True)


# -- containers for jobs -----------------------------------------------------------------------

JOB_LABEL = "chronoverse.job_id"
ATTEMPT_LABEL = "chronoverse.attempt"


def container_create(
    *,
    image: str,
    entrypoint: list[str] | None,
    command: list[str] | None,
    env: dict[str, str],
    working_dir: str | None,
    memory_mb: int,
    cpus: float,
    pids_limit: int,
    network: str,
    mounts: list[dict],
    labels: dict[str, str],
    user: str | None = None,
    read_only: bool = False,
    log_max_mb: int = 10,
) -> str:
    """Create (not start) a job's container, sandboxed: no capabilities, no privilege escalation,
    the default seccomp profile, an init process to reap its children, its limits, a capped engine
    log, and optionally another user and a read-only root (with a writable /tmp). Returns its id."""
    volumes = [
        Mount(
            target=m["target"],
            source=m["source"],
            read_only=m.get("read_only", False),
            type="bind" if m["source"].startswith("/") else "volume",
        )
        for m in mounts
    ]
    engine_log = LogConfig(type="json-file", config={"max-size": f"{log_max_mb}m", "max-file": "1"})
    with _engine() as client, _image_missing(image):
        container = client.containers.create(
            image,
            command=command or None,
            entrypoint=entrypoint or None,
            environment=env,
            working_dir=working_dir,
            mem_limit=f"{memory_mb}m",
            memswap_limit=f"{memory_mb}m",
            nano_cpus=int(cpus * 1e9),
            pids_limit=pids_limit,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            init=True,
            user=user or None,
            read_only=read_only,
            tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"} if read_only else None,
            log_config=engine_log,
            network_mode=network,
            mounts=volumes,
            labels={**labels, INSTALLATION_LABEL: installation_id()},
            stdin_open=False,
            tty=False,
        )
        assert container.id is not None  # the engine answers every create with the new id
        return container.id


@contextlib.contextmanager
def _image_missing(ref: str) -> Iterator[None]:
    try:
        yield
    except ImageNotFound as exc:
        raise ImageMissing(f"No image {ref} on this engine") from exc


def network_ensure_isolated(name: str) -> str:
    """A bridge network on which containers cannot reach one another (inter-container traffic off),
    created on first use; returns its name. Jobs get outbound access, never their neighbours."""
    with _engine(refusals=_client_errors) as client:
        try:
            client.api.inspect_network(name)
        except NotFound:
            try:
                client.api.create_network(
                    name,
                    driver="bridge",
                    options={"com.docker.network.bridge.enable_icc": "false"},
                    labels={INSTALLATION_LABEL: installation_id()},
                )
            except APIError as exc:
                if exc.status_code != 409:  # created meanwhile by another job: as good
                    raise
        return name


def jobs_network_name() -> str:
    return f"chronoverse-jobs-{installation_id()[:16]}"


class AttachedContainer:
    """A started container whose stdout and stderr are being read.

    The attach happens before the start, so not a byte of output can be missed, however short the
    container's life.
    """

    def __init__(self, container_id: str):
        self.id = container_id
        # The client outlives this call (the output is read through it): closed by close().
        self._client = engine_client(timeout=60)
        try:
            with _translated(gone=container_id):
                self._stream = self._client.api.attach(
                    container_id, stdout=True, stderr=True, stream=True, logs=True, demux=True
                )
                self._client.api.start(container_id)
        except BaseException:
            self._client.close()
            raise

    def output(self) -> Iterator[tuple[str, bytes]]:
        """(stream name, chunk) pairs until the container's output closes."""
        try:
            for stdout, stderr in self._stream:
                if stdout:
                    yield "stdout", stdout
                if stderr:
                    yield "stderr", stderr
        except (*TRANSPORT_ERRORS, DockerException, OSError):
            return

    def close(self) -> None:
        self._client.close()


def container_wait(container_id: str, *, timeout: float) -> int | None:
    """The exit code, or None if the container is still running after `timeout` seconds.
    Raises ContainerGone if it no longer exists."""
    with _engine(timeout=max(1, int(timeout)) + 5, refusals=_none, gone=container_id) as client:
        try:
            result = client.api.wait(container_id, timeout=max(1, int(timeout)))
            return int(result.get("StatusCode", -1))
        except TRANSPORT_ERRORS:
            # A wait that times out surfaces as a broken connection, as a dead engine would: asking
            # about the container tells them apart (and raises EngineUnavailable for the latter).
            if _still_running(client, container_id):
                return None
            return _exit_code(client, container_id)


def _inspected_state(client: docker.DockerClient, container_id: str) -> dict:
    with _translated(refusals=_none, gone=container_id):
        return client.api.inspect_container(container_id)["State"]


def _still_running(client: docker.DockerClient, container_id: str) -> bool:
    return bool(_inspected_state(client, container_id)["Running"])


def _exit_code(client: docker.DockerClient, container_id: str) -> int:
    return int(_inspected_state(client, container_id)["ExitCode"])


def container_state(container_id: str) -> dict:
    """The container's State; ContainerGone if it was removed, or is being removed, under us (a
    forced removal kills it first, so its exit looks like any SIGKILL until asked)."""
    with _engine(gone=container_id) as client:
        state = client.api.inspect_container(container_id)["State"]
    if state.get("RemovalInProgress") or state.get("Dead") or state.get("Status") in ("removing", "dead"):
        raise _gone(container_id)
    return state


def container_stop(container_id: str, *, grace: int) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds. A container already gone is fine."""
    with _engine(timeout=grace + 30, refusals=_none, missing_ok=True) as client:
        client.api.stop(container_id, timeout=grace)


def container_remove(container_id: str) -> None:
    # A conflict is "removal already in progress": as good as removed.
    with _engine(missing_ok=True, conflict_ok=True) as client:
        client.api.remove_container(container_id, force=True, v=True)


def containers_of_job(job_id, *, attempt: int | None = None) -> list[str]:
    """The job's containers (of one attempt only, if given)."""
    labels = [f"{JOB_LABEL}={job_id}", *([f"{ATTEMPT_LABEL}={attempt}"] if attempt is not None else [])]
    with _engine() as client:
        found = client.api.containers(all=True, filters=_own(labels))
    return [c["Id"] for c in found]


def containers_managed() -> dict[str, tuple[str, str]]:
    """Every job container of this installation on this engine: container id -> (job id, attempt).
    Another installation's containers are not listed, so the reaper never touches them."""
    with _engine() as client:
        found = client.api.containers(all=True, filters=_own([JOB_LABEL]))
    return {c["Id"]: (c["Labels"][JOB_LABEL], c["Labels"].get(ATTEMPT_LABEL, "")) for c in found}


def container_signal(container_id: str, signal: str) -> None:
    """Send a signal without waiting (SIGTERM now and SIGKILL later never hold a worker for the grace)."""
    # A conflict is "not running any more", which is what we wanted.
    with _engine(missing_ok=True, conflict_ok=True) as client:
        client.api.kill(container_id, signal=signal)


def container_output(container_id: str, stream: str) -> Iterator[bytes]:
    """One stream (stdout or stderr) of a container's output so far, in chunks, never all in memory."""
    with _client() as client:
        with _translated():
            chunks = client.api.logs(
                container_id, stdout=stream == "stdout", stderr=stream == "stderr", stream=True, follow=False
            )
        yield from chunks
