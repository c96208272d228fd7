"""The container deployment: docker-compose.yml read by Debian's docker-compose, and the Dockerfile it
builds. `config` interpolates and validates the file as `up` would, in a second, without an engine."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings

from chronoverse import docker_engine

ROOT = Path(settings.BASE_DIR)
SECRET = "a-secret-key-of-more-than-thirty-two-characters"
APP_SERVICES = {"migrate", "web", "worker", "control", "beat"}


def compose(
    *args: str, env: dict[str, str] | None = None, tmp_path: Path, overrides: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make provision` installs Debian's package"
    # An empty env file: a developer's .env beside the compose file must not change what is checked.
    env_file = tmp_path / "empty.env"
    env_file.touch()
    files = [arg for name in ("docker-compose.yml", *overrides) for arg in ("-f", str(ROOT / name))]
    return subprocess.run(
        [binary, "--project-directory", str(ROOT), "--env-file", str(env_file), *files, *args],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def config(tmp_path: Path, overrides: tuple[str, ...] = (), **env: str) -> dict[str, Any]:
    result = compose("config", env={"SECRET_KEY": SECRET, **env}, tmp_path=tmp_path, overrides=overrides)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def option(command: list[str], name: str) -> str:
    (value,) = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"{name}=")]
    return value


def test_compose_runs_the_platform_from_one_image_built_on_the_public_python_image(tmp_path):
    services = config(tmp_path)["services"]

    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for name in APP_SERVICES:
        assert services[name]["image"] == "chronoverse/app:latest"
        assert services[name]["build"]["args"]["BASE_IMAGE"] == "python:3.11-slim"
        assert services[name]["environment"]["SECRET_KEY"] == SECRET
    # The Dockerfile takes that argument, with the same default, before its FROM.
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    instructions = [line for line in dockerfile if line and not line.startswith("#")]
    assert instructions[:2] == ["ARG BASE_IMAGE=python:3.11-slim", "FROM ${BASE_IMAGE}"]


def test_the_images_come_from_the_environment_where_docker_hub_is_out_of_reach(tmp_path):
    services = config(
        tmp_path,
        BASE_IMAGE="chronoverse/python:3.11",
        POSTGRES_IMAGE="local/postgres:15",
        REDIS_IMAGE="local/redis:7",
        APP_IMAGE="registry.internal:5000/chronoverse/app:1",
    )["services"]

    assert services["postgres"]["image"] == "local/postgres:15"
    assert services["redis"]["image"] == "local/redis:7"
    for name in APP_SERVICES:
        assert services[name]["build"]["args"]["BASE_IMAGE"] == "chronoverse/python:3.11"
        assert services[name]["image"] == "registry.internal:5000/chronoverse/app:1"


def test_migrations_run_once_before_every_other_app_process(tmp_path):
    services = config(tmp_path)["services"]

    assert "migrate --noinput" in services["migrate"]["command"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for name in APP_SERVICES - {"migrate"}:
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert services[name]["restart"] == "unless-stopped"


def test_the_workers_consume_their_queues_and_answer_their_healthchecks_by_node_name(tmp_path):
    services = config(tmp_path)["services"]

    for name, queue, node in (("worker", "celery", "jobs"), ("control", "control", "control")):
        command = shlex.split(services[name]["command"])
        assert command[:4] == ["celery", "-A", "chronoverse", "worker"]
        assert option(command, "--queues") == queue
        assert option(command, "--hostname") == f"{node}@%h"
        # The healthcheck pings the node this container runs (its hostname is the container's).
        kind, check = services[name]["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        assert re.fullmatch(rf"celery -A chronoverse inspect ping .*--destination {node}@\$+HOSTNAME", check)
        assert "/var/run/docker.sock:/var/run/docker.sock:rw" in services[name]["volumes"]
    assert option(shlex.split(services["worker"]["command"]), "--concurrency") == "8"
    assert services["worker"]["stop_grace_period"] == "30s"


def test_every_long_running_service_has_a_healthcheck(tmp_path):
    services = config(tmp_path)["services"]

    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "http://127.0.0.1:8000/healthz" in services["web"]["healthcheck"]["test"][-1]
    assert "celerybeat-schedule" in services["beat"]["healthcheck"]["test"][-1]
    assert "healthcheck" not in services["migrate"]
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000/tcp"]


def test_workers_on_other_machines_are_pointed_at_the_shared_database_and_redis(tmp_path):
    worker = config(
        tmp_path,
        DATABASE_URL="postgres://chronoverse:pw@db.internal:5432/chronoverse",
        REDIS_URL="redis://redis.internal:6379/0",
        CHRONOVERSE_INSTALLATION="production",
        WORKER_CONCURRENCY="16",
    )["services"]["worker"]

    assert worker["environment"]["CHRONOVERSE_INSTALLATION"] == "production"

    assert worker["environment"]["DATABASE_URL"] == "postgres://chronoverse:pw@db.internal:5432/chronoverse"
    assert worker["environment"]["REDIS_URL"] == "redis://redis.internal:6379/0"
    assert option(shlex.split(worker["command"]), "--concurrency") == "16"


@pytest.mark.parametrize("secret", [None, ""])
def test_compose_refuses_to_start_without_a_secret_key(tmp_path, secret):
    result = compose("config", env={} if secret is None else {"SECRET_KEY": secret}, tmp_path=tmp_path)

    assert result.returncode != 0
    assert "set SECRET_KEY in the environment or .env" in result.stderr


def test_a_worker_is_pointed_at_a_remote_engine_by_the_override_file(tmp_path):
    remote = ("docker-compose.remote-engine.yml",)
    services = config(
        tmp_path, remote, JOBS_DOCKER_HOST="tcp://engine-2.internal:2376", JOBS_DOCKER_CERT_PATH="/etc/cv/engine-2"
    )["services"]

    worker = services["worker"]
    assert worker["environment"]["DOCKER_HOST"] == "tcp://engine-2.internal:2376"
    assert worker["environment"]["DOCKER_TLS_VERIFY"] == "1"
    assert worker["environment"]["DOCKER_CERT_PATH"] == "/certs"
    assert sorted(worker["volumes"]) == ["/dev/null:/var/run/docker.sock:ro", "/etc/cv/engine-2:/certs:ro"]
    assert services["control"]["environment"]["DOCKER_HOST"] == "unix:///var/run/docker.sock"
    missing = compose("config", env={"SECRET_KEY": SECRET}, tmp_path=tmp_path, overrides=remote)
    assert missing.returncode != 0
    assert "set JOBS_DOCKER_HOST" in missing.stderr


# A worker may drive an engine on another machine: `dockerd --tlsverify` on tcp://<host>:2376,
# reached with the docker CLI's DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.


Authority = tuple[x509.Name, ec.EllipticCurvePrivateKey]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(name: str, key: ec.EllipticCurvePrivateKey, issuer: Authority | None) -> bytes:
    """Signed by `issuer`; without one, a self-signed CA certificate. Leaves are for 127.0.0.1."""
    issuer_name, issuer_key = issuer or (_name(name), key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _authority(folder: Path, name: str) -> Authority:
    """A CA, and a client certificate it signed, laid out as DOCKER_CERT_PATH expects."""
    key = ec.generate_private_key(ec.SECP256R1())
    client_key = ec.generate_private_key(ec.SECP256R1())
    folder.mkdir()
    (folder / "ca.pem").write_bytes(_certificate(name, key, None))
    (folder / "cert.pem").write_bytes(_certificate("worker", client_key, (_name(name), key)))
    (folder / "key.pem").write_bytes(_key_pem(client_key))
    return _name(name), key


@pytest.fixture
def tls_engine(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """This machine's engine behind TLS that requires a client certificate from its CA (what
    `dockerd --tlsverify` asks of a client): a relay to the engine's socket. Yields the address and
    the client's certificate folder."""
    authority = _authority(tmp_path / "client", "engine-ca")
    server_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "server.pem").write_bytes(_certificate("engine", server_key, authority))
    (tmp_path / "server-key.pem").write_bytes(_key_pem(server_key))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server-key.pem")
    context.load_verify_locations(tmp_path / "client" / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    engine_socket = settings.DOCKER_HOST.removeprefix("unix://")
    listener = socket.create_server(("127.0.0.1", 0))

    def pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def relay(connection: socket.socket) -> None:
        try:
            client = context.wrap_socket(connection, server_side=True)
        except (ssl.SSLError, OSError):
            connection.close()
            return
        engine = socket.socket(socket.AF_UNIX)
        engine.connect(engine_socket)
        back = threading.Thread(target=pump, args=(engine, client), daemon=True)
        back.start()
        pump(client, engine)
        back.join()
        client.close()
        engine.close()

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                threading.Thread(target=relay, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}", tmp_path / "client"
    finally:
        listener.close()


def test_a_worker_reaches_a_remote_engine_over_tls_with_the_docker_cli_variables(settings, tls_engine):
    address, certs = tls_engine
    settings.DOCKER_HOST = address
    settings.DOCKER_TLS_VERIFY = True
    settings.DOCKER_CERT_PATH = str(certs)

    docker_engine.engine_ping(timeout=10)
    assert docker_engine.image_present("chronoverse/busybox:latest")


def test_an_engine_that_is_not_the_one_expected_is_unavailable(settings, tls_engine, tmp_path):
    address, _ = tls_engine
    settings.DOCKER_HOST = address
    settings.DOCKER_TLS_VERIFY = True
    # Certificates of another authority: the engine's certificate is not trusted (nor is ours).
    _authority(tmp_path / "other", "another-ca")
    settings.DOCKER_CERT_PATH = str(tmp_path / "other")

    with pytest.raises(docker_engine.EngineUnavailable):
        docker_engine.image_present("chronoverse/busybox:latest")
    # Without TLS, a TLS engine is not spoken to either.
    settings.DOCKER_TLS_VERIFY = False
    with pytest.raises(docker_engine.EngineUnavailable):
        docker_engine.image_present("chronoverse/busybox:latest")
