"""Worker hosts simulated on one machine: each a Docker engine of its own (a dockerd with its own
socket, data root, exec root, pid file and bridge) and a Celery worker that takes jobs on it under
its own host name (CHRONOVERSE_HOST). Used by the scale-out tests; every process is started and
stopped here by its pid, every file lives under the folder given, and the bridge is one made here.

Never `--bridge=none`: a dockerd started so deletes the host's `docker0`, which the machine's main
engine needs. A bridge of its own (no iptables rules, no forwarding change) touches nothing shared.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import docker

from conftest import wait_for

SEED_IMAGE = "chronoverse/busybox:latest"


class Engine:
    """A dockerd of its own."""

    def __init__(self, root: Path, name: str):
        self.root, self.name = root, name
        self.socket = root / "docker.sock"
        self.url = f"unix://{self.socket}"
        # Interface names are at most 15 characters; the pid keeps two test runs apart.
        self.bridge = f"cv{os.getpid() % 100000}{name}"[:15]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "daemon.json").write_text(json.dumps({}))  # not the machine's /etc/docker/daemon.json
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode != 0:
            subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True)
        with open(self.root / "dockerd.log", "a") as log:
            self.process = subprocess.Popen(
                [
                    "dockerd",
                    f"--config-file={self.root / 'daemon.json'}",
                    f"--host={self.url}",
                    f"--data-root={self.root / 'data'}",
                    f"--exec-root={self.root / 'exec'}",
                    f"--pidfile={self.root / 'dockerd.pid'}",
                    f"--bridge={self.bridge}",
                    "--iptables=false",
                    "--ip-masq=false",
                    "--ip-forward=false",
                    "--shutdown-timeout=2",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._answers, timeout=60, interval=0.2)

    def _answers(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, (self.root / "dockerd.log").read_text()[-3000:]
        try:
            with self.client() as client:
                return bool(client.ping())
        except docker.errors.DockerException:
            return False

    @contextlib.contextmanager
    def client(self):
        client = docker.DockerClient(base_url=self.url, timeout=60)
        try:
            yield client
        finally:
            client.close()

    def seed(self, source: docker.DockerClient, ref: str = SEED_IMAGE) -> None:
        """Load `ref` from the main engine, as provisioning gives every real host its local images."""
        with self.client() as client:
            client.images.load(b"".join(source.images.get(ref).save(named=True)))

    def stop(self) -> None:
        """SIGTERM: the engine kills its containers and its containerd, and unmounts its layers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def remove(self) -> None:
        self.stop()
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


class WorkerHost:
    """A Celery worker taking jobs on its own engine, as a worker host (jobs queue + host queue)."""

    def __init__(self, name: str, engine: Engine, env: dict[str, str], log: Path):
        self.name, self.engine, self.log = name, engine, log
        self.env = {**env, "CHRONOVERSE_HOST": name, "DOCKER_HOST": engine.url}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "chronoverse",
                    "worker",
                    "--pool=threads",
                    "--concurrency=2",
                    "--queues=celery",
                    f"--hostname=jobs@{self.name}",
                    "--loglevel=INFO",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL, as a machine that loses power: nothing of the worker runs after it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None
