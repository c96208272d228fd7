"""What the benchmarks share: their own database and Redis database, the scale of a run, the
results, and the servers and load tools they start."""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `smoke` (what `make test` runs: every path once, tiny), `default` (`make bench`) or `full`.
SCALE = os.environ.get("BENCH_SCALE", "default")


def scaled(*, smoke: int, default: int, full: int) -> int:
    return {"smoke": smoke, "default": default, "full": full}[SCALE]


@dataclass
class Result:
    benchmark: str
    metric: str
    unit: str
    ours: float
    anchor: float | None
    goal: str
    goal_met: bool | None
    # What the anchor is, and what limits the figure now (docs/benchmarks.md shows both).
    anchor_is: str = ""
    limit: str = ""
    # (x, y) points of a figure measured at several sizes: drawn as a chart.
    series: list[tuple[float, float]] = field(default_factory=list)
    series_x: str = ""

    @property
    def ratio(self) -> float | None:
        return self.ours / self.anchor if self.anchor else None

    def record(self) -> dict:
        return {**asdict(self), "ratio": self.ratio, "scale": SCALE, "machine": machine()}


def machine() -> str:
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {cores} cores, {memory:.0f} GiB, Python {platform.python_version()}"


def write(name: str, results: Sequence[Result], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps([result.record() for result in results], indent=2) + "\n")
    return path


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# -- servers and load --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(command: list[str], port: int, **extra_env: str) -> subprocess.Popen:
    """Start a web server on `port` (the platform's settings, this run's database) and wait for it."""
    import requests

    env = {**os.environ, "RATE_LIMIT_API_USER": "10000000/min", "DATABASE_CONN_MAX_AGE": "60", **extra_env}
    env["DJANGO_SETTINGS_MODULE"] = "chronoverse.settings"
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command[0]} did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:  # Daphne waits on clients that have gone
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by a process and every process under it: a server's
    cost per request is the growth of this over a load, divided by the requests served."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command may hold spaces and parentheses: the fields start after its last ')'.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo += children.get(current, [])
    return total


def postgres_pid() -> int:
    """The PostgreSQL server's main process (the parent of this connection's backend)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


def gunicorn(port: int, workers: int = 3) -> list[str]:
    """The web process as supervisord.conf starts it."""
    python = str(Path(sys.executable).parent)
    config = ["-c", "gunicorn.conf.py", "chronoverse.asgi:application"]
    return [f"{python}/gunicorn", *config, "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]


def daphne(port: int) -> list[str]:
    python = str(Path(sys.executable).parent)
    return [f"{python}/daphne", "-b", "127.0.0.1", "-p", str(port), "chronoverse.asgi:application"]


@dataclass
class Load:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    errors: int


def wrk(
    url: str, *, seconds: float, connections: int, paths: list[str] | None = None, headers: Sequence[str] = ()
) -> Load:
    """`connections` keep-alive clients without pause (wrk: C, so the load generator leaves the
    CPU to the server). With `paths`, each request takes the next of them in turn."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if paths:
            script.write("paths = {" + ",".join(f'"{path}"' for path in paths) + "}\nn = 0\n")
            script.write("request = function()\n  n = n % #paths + 1\n  return wrk.format(nil, paths[n])\nend\n")
        script.flush()
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", script.name]
        for header in headers:
            command += ["-H", header]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"wrk: {output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Load(
        float(rate.group(1)), _wrk_ms(output, "50%"), _wrk_ms(output, "99%"), int(errors.group(1)) if errors else 0
    )


def _wrk_ms(output: str, line: str) -> float:
    found = re.search(rf"{re.escape(line)}\s+([\d.]+)(us|ms|s)\b", output)
    if found is None:
        raise RuntimeError(f"wrk: no {line} in {output}")
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def bench_user(email: str = "bench@example.com"):
    from accounts.models import User

    return User.objects.create_user(email=email, password="bench-password")


def celery(*arguments: str) -> subprocess.Popen:
    """A Celery process as supervisord.conf starts it (`worker ...`, `beat ...`), on this run's
    database and Redis."""
    command = [str(Path(sys.executable).parent / "celery"), "-A", "chronoverse", *arguments, "--loglevel=WARNING"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "chronoverse.settings"}
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ended(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition: Callable[[], object], *, timeout: float, interval: float = 0.1) -> object:
    """Poll `condition` until it returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"not met within {timeout} s")


def timed_ms(call: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds of each of `runs` calls, after one call to warm up."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def heartbeats(user, count: int, slots: Callable[[int], datetime]) -> None:
    """`count` built one-minute HEARTBEAT workflows of `user`, the n-th next due at `slots(n)`."""
    from workflows.models import BuildStatus, Workflow

    Workflow.objects.bulk_create(
        (
            Workflow(
                user=user,
                name=f"hb-{n}",
                kind="HEARTBEAT",
                payload={},
                interval=1,
                build_status=BuildStatus.COMPLETED,
                next_run_at=slots(n),
            )
            for n in range(count)
        ),
        batch_size=5000,
    )


BUSYBOX = "chronoverse/busybox:latest"


def busybox_workflow(user, command: list[str]):
    """A CONTAINER workflow running `command` in the local busybox image (no build, no network)."""
    from workflows.models import BuildStatus, Workflow

    return Workflow.objects.create(
        user=user,
        name=command[0],
        kind="CONTAINER",
        interval=60,
        build_status=BuildStatus.COMPLETED,
        image_ref=BUSYBOX,
        payload={"image": BUSYBOX, "command": command, "network": "none"},
    )
