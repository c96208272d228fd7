"""Worker hosts simulated on one machine: each a Docker engine of its own (a dockerd with its own
socket, data root, exec root, pid file and bridge) and a Celery worker that takes jobs on it under
its own host name (CHRONOVERSE_HOST). Used by the scale-out tests (jobs/tests/test_scale_out.py)
and benchmark (bench/scale_out.py), so it lives here and imports nothing of theirs; the product
never imports it. Every process is started and stopped here by its pid, every file lives under the
folder given, and the bridge is one made here.

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
from collections.abc import Iterator
from pathlib import Path

import docker

from bench.harness import wait_until

SEED_IMAGE = "chronoverse/busybox:latest"
ROOT = Path(__file__).resolve().parent.parent


CGROUPS = Path("/sys/fs/cgroup")


class CpuAccount:
    """The CPU an engine costs, exited processes included: its dockerd, containerd, the shims and
    runc of each container (which outlive no one and are reaped far from dockerd) in one cgroup,
    its containers in another, both read from cgroup v1's cpuacct. On a machine without it
    (cgroup v2 only) `available` is False and nothing is changed."""

    def __init__(self, name: str):
        self.name = name
        self.available = (CGROUPS / "cpuacct" / "cpuacct.usage").exists()

    @property
    def engine_cgroup(self) -> Path:
        return CGROUPS / "cpuacct" / self.name / "engine"

    @property
    def containers_parent(self) -> str:
        """Docker's --cgroup-parent: the same path in every hierarchy, under which it makes one per container."""
        return f"/{self.name}/containers"

    def create(self) -> None:
        self.engine_cgroup.mkdir(parents=True, exist_ok=True)

    def join(self) -> None:
        """In the child before it runs dockerd: everything it starts is born in the cgroup."""
        (self.engine_cgroup / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> tuple[float, float]:
        """CPU seconds so far of (the engine's processes, its containers)."""
        engine = int((self.engine_cgroup / "cpuacct.usage").read_text()) / 1e9
        containers = CGROUPS / "cpuacct" / self.containers_parent.strip("/") / "cpuacct.usage"
        return engine, int(containers.read_text()) / 1e9 if containers.exists() else 0.0

    def remove(self) -> None:
        """Once the engine is gone: its cgroups, in every hierarchy Docker made them in, deepest first."""
        for hierarchy in CGROUPS.iterdir():
            top = hierarchy / self.name
            if top.is_dir():
                for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    _rmdir_when_empty(folder)
                _rmdir_when_empty(top)


def _rmdir_when_empty(cgroup: Path) -> None:
    """A cgroup goes once its last process has exited (a shim may outlive its engine by a moment)."""
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: _rmdir(cgroup), timeout=10, interval=0.2)


def _rmdir(cgroup: Path) -> bool:
    try:
        cgroup.rmdir()
    except FileNotFoundError:
        return True
    except OSError:  # busy: a process is still in it
        return False
    return True


class Engine:
    """A dockerd of its own; with `account_cpu`, in cgroups of its own that count its CPU."""

    def __init__(self, root: Path, name: str, *, account_cpu: bool = False):
        self.root, self.name = root, name
        self.socket = root / "docker.sock"
        self.url = f"unix://{self.socket}"
        # Interface names are at most 15 characters; the pid keeps two test runs apart.
        self.bridge = f"cv{os.getpid() % 100000}{name}"[:15]
        self.process: subprocess.Popen | None = None
        account = CpuAccount(f"chronoverse-bench-{self.bridge}")
        self.cpu = account if account_cpu and account.available else None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "daemon.json").write_text(json.dumps({}))  # not the machine's /etc/docker/daemon.json
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode != 0:
            subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True)
        extra: list[str] = []
        if self.cpu is not None:
            self.cpu.create()
            extra.append(f"--cgroup-parent={self.cpu.containers_parent}")
        with open(self.root / "dockerd.log", "a") as log:
            self.process = subprocess.Popen(
                [
                    "dockerd",
                    *extra,
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
                preexec_fn=self.cpu.join if self.cpu is not None else None,
            )
        wait_until(self._answers, timeout=60, interval=0.2)

    def _answers(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"dockerd {self.name} exited: {(self.root / 'dockerd.log').read_text()[-3000:]}")
        try:
            with self.client() as client:
                return bool(client.ping())
        except docker.errors.DockerException:
            return False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @contextlib.contextmanager
    def client(self) -> Iterator[docker.DockerClient]:
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
        if self.cpu is not None:
            self.cpu.remove()


class WorkerHost:
    """A Celery worker taking jobs on its own engine, as a worker host (jobs queue + host queue)."""

    def __init__(
        self, name: str, engine: Engine, env: dict[str, str], log: Path, *, concurrency: int = 2, loglevel: str = "INFO"
    ):
        self.name, self.engine, self.log = name, engine, log
        self.concurrency, self.loglevel = concurrency, loglevel
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
                    f"--concurrency={self.concurrency}",
                    "--queues=celery",
                    f"--hostname=jobs@{self.name}",
                    f"--loglevel={self.loglevel}",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],
                env=self.env,
                cwd=ROOT,
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
