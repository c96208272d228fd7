"""A supervised Chronoverse of its own, for the fault suite and the soak: the same supervisord.conf
as `make run`, with its own database, Redis database, run folder and web port, so it never touches
a `make run` or a test run on the same machine (nor their containers: its database gives it an
installation identity of its own).

It is driven from outside, as an operator and a user would: processes are found and killed by the
pids supervisord reports, the platform is used over HTTP and WebSocket with a bearer token, and
what happened is read from its PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import docker
import psycopg
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG = "postgres://chronoverse@127.0.0.1:5433"
PROGRAMS = ("web", "worker", "control", "beat")
EMAIL, PASSWORD = "chaos@chronoverse.local", "chaos-password-1"
INSTALLATION_LABEL = "chronoverse.installation"


def wait_until(condition: Callable[[], object], *, timeout: float, interval: float = 0.2, what: str = ""):
    """Poll `condition` until it returns something truthy; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            result = condition()
            if result:
                return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or condition}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Platform:
    def __init__(self, name: str, *, redis_db: int, run_dir: Path, env: dict[str, str] | None = None):
        self.name = name
        self.database = f"chronoverse_{name}"
        self.run_dir = run_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.redis_url = f"redis://127.0.0.1:6380/{redis_db}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"{PG}/{self.database}",
            "REDIS_URL": self.redis_url,
            "CHRONOVERSE_RUN_DIR": str(run_dir),
            "WEB_PORT": str(self.port),
            "WEB_WORKERS": "2",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEMO_USER_EMAIL": EMAIL,
            "DEMO_USER_PASSWORD": PASSWORD,
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.session = requests.Session()
        self.installation = ""

    # -- life ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        """A fresh database and Redis database, migrated, with the demo user."""
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database}"')
        import redis

        redis.Redis.from_url(self.redis_url).flushdb()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for command in (["migrate", "--noinput", "-v", "0"], ["ensure_demo_user"]):
            subprocess.run([BIN / "python", "manage.py", *command], cwd=ROOT, env=self.env, check=True)

    def start(self) -> None:
        log = open(self.run_dir / "platform.log", "ab")  # noqa: SIM115 - kept open for the child's life
        self.process = subprocess.Popen(
            [BIN / "supervisord", "-c", ROOT / "supervisord.conf"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: all(self.pid(p) for p in PROGRAMS), timeout=60, what="every program RUNNING")
        wait_until(lambda: requests.get(f"{self.url}/healthz", timeout=2).ok, timeout=60, what="web answers")
        response = requests.post(
            f"{self.url}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=10
        )
        response.raise_for_status()
        self.token = response.json()["token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        self.installation = self._installation()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Stop supervisord (and so every program); returns its exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def remove_leftovers(self) -> None:
        """Whatever containers this installation left (none, if all went well) are removed, and the
        images it built (its workflows outlive it in a dropped database)."""
        client = docker.from_env(timeout=30)
        mine = {"label": f"{INSTALLATION_LABEL}={self.installation}"}
        try:
            for container in client.containers.list(all=True, filters=mine):
                container.remove(force=True)
            for image in client.images.list(filters=mine):
                for tag in image.tags:
                    client.images.remove(tag, force=True)
        finally:
            client.close()

    def _installation(self) -> str:
        code = "from chronoverse.docker_engine import installation_id; print(installation_id())"
        out = subprocess.run(
            [BIN / "python", "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    # -- processes ----------------------------------------------------------------------------

    def supervisorctl(self, *args: str) -> str:
        out = subprocess.run(
            [BIN / "supervisorctl", "-c", ROOT / "supervisord.conf", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def pid(self, program: str) -> int:
        """The pid of a RUNNING program, 0 if it is not running."""
        status = self.supervisorctl("status", program)
        if "RUNNING" not in status:
            return 0
        return int(self.supervisorctl("pid", program))

    def children(self) -> list[int]:
        return [int(p) for p in self.supervisorctl("pid", "all").split() if p.isdigit() and p != "0"]

    def kill(self, program: str, sig: int = signal.SIGKILL) -> int:
        pid = self.pid(program)
        assert pid, f"{program} is not running"
        os.kill(pid, sig)
        return pid

    # -- use ----------------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.url}/api/v1{path}", timeout=kwargs.pop("timeout", 30), **kwargs)

    def workflow(self, **data) -> dict:
        response = self.api("POST", "/workflows", json=data)
        assert response.status_code == 201, response.text
        return response.json()

    def container_workflow(self, name: str, script: str, **fields) -> dict:
        payload = {"image": "chronoverse/busybox:latest", "command": ["sh", "-c"], "args": [script]}
        workflow = self.workflow(name=name, kind="CONTAINER", payload=payload, interval=60, **fields)
        wait_until(
            lambda: self.api("GET", f"/workflows/{workflow['id']}").json()["build_status"] == "COMPLETED",
            timeout=60,
            what=f"{name} built",
        )
        return workflow

    def run_now(self, workflow: dict) -> dict:
        response = self.api("POST", f"/workflows/{workflow['id']}/jobs")
        assert response.status_code == 201, response.text
        return response.json()

    def job(self, job_id: str) -> dict:
        return self.api("GET", f"/jobs/{job_id}").json()

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(f"{PG}/{self.database}") as conn:
            return conn.execute(query, params).fetchall()

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}?token={self.token}"

    def containers(self, **labels: str) -> list:
        client = docker.from_env(timeout=30)
        try:
            wanted = [f"{INSTALLATION_LABEL}={self.installation}", *(f"{k}={v}" for k, v in labels.items())]
            return client.containers.list(all=True, filters={"label": wanted})
        finally:
            client.close()


class Listener(threading.Thread):
    """A notifications socket that reconnects when it is closed, as the dashboard's does."""

    def __init__(self, platform: Platform):
        super().__init__(daemon=True)
        self.platform, self.messages, self.connects = platform, [], 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with connect(self.platform.ws_url("/ws/notifications/"), open_timeout=3) as socket:
                    self.connects += 1
                    while not self.stopping.is_set():
                        try:
                            self.messages.append(json.loads(socket.recv(timeout=0.5)))
                        except TimeoutError:
                            continue
            except (ConnectionClosed, OSError, TimeoutError, InvalidStatus):
                time.sleep(0.3)

    def saw(self, kind: str, job_id: str) -> bool:
        return any(m.get("kind") == kind and (m.get("payload") or {}).get("job_id") == job_id for m in self.messages)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


def provision() -> None:
    """Start whatever of PostgreSQL, Redis and the Docker engine is down, the project's own way."""
    subprocess.run(["bash", ROOT / "scripts" / "provision.sh"], check=True, stdout=subprocess.DEVNULL)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
