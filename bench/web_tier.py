"""The first workflows page under 20 keep-alive clients of one user, on the web process `make
run` starts (Gunicorn with Uvicorn workers), with `/healthz` timed meanwhile one request at a
time; the anchor is the same load on one Daphne process."""

from __future__ import annotations

import http.client
import os
import threading
import time

from bench.harness import (
    Result,
    bench_user,
    cpu_seconds,
    daphne,
    free_port,
    gunicorn,
    median,
    percentile,
    scaled,
    serve,
    stop,
    wrk,
)

NAME = "web_tier"
CLIENTS = 20


def _under_load(port: int, token: str, seconds: float, *, warm_up: bool = False) -> tuple[float, float, float]:
    """(list requests per second, /healthz p50 ms, /healthz p99 ms)."""
    result: dict = {}
    load = threading.Thread(
        target=lambda: result.update(
            load=wrk(
                f"http://127.0.0.1:{port}/api/v1/workflows",
                seconds=seconds,
                connections=CLIENTS,
                headers=[f"Authorization: Bearer {token}"],
            )
        )
    )
    load.start()
    time.sleep(0.5)  # the load first
    stop_at = time.monotonic() + seconds - 1
    probes = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        probes.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)
    connection.close()
    load.join()
    if result["load"].errors and not warm_up:
        raise RuntimeError(f"{result['load'].errors} list requests failed")
    return result["load"].rate, median(probes), percentile(probes, 99)


def run() -> list[Result]:
    from accounts.services import token_create
    from workflows.models import BuildStatus, Workflow

    user = bench_user()
    for n in range(50):
        Workflow.objects.create(
            user=user, name=f"listed {n}", kind="HEARTBEAT", payload={}, interval=60, build_status=BuildStatus.COMPLETED
        )
    _, token = token_create(user=user, name="bench", scopes=["read"], expires_at=None)
    seconds = scaled(smoke=2, default=10, full=30)
    port = free_port()
    figures = {}
    cpu: dict[str, float] = {}
    for name, command, pool in (("ours", gunicorn(port), "10"), ("anchor", daphne(port), "0")):
        server = serve(command, port, DATABASE_POOL_SIZE=pool)
        try:
            _under_load(port, token, min(seconds, 2), warm_up=True)  # connections, caches
            cpu_before = cpu_seconds(server.pid)
            figures[name] = _under_load(port, token, seconds)
            # The server's CPU per list request (the /healthz probes are a few per second: left in).
            cpu[name] = (cpu_seconds(server.pid) - cpu_before) / (figures[name][0] * seconds) * 1000
        finally:
            stop(server)
    (rate, p50, p99), (anchor_rate, _, anchor_p99) = figures["ours"], figures["anchor"]
    cores = os.cpu_count() or 1
    limit = (
        f"Server CPU per request, measured in this run: ours {cpu['ours']:.1f} ms, one Daphne process "
        f"{cpu['anchor']:.1f} ms. Ours is bounded by {cores} cores, shared with PostgreSQL and the load generator "
        f"(at most {cores * 1000 / cpu['ours']:,.0f} req/s), the anchor by its one event loop; "
        f"{cores} processes can give at most {cores}x the anchor's CPU, so 5x needs a request "
        f"{5 / cores:.1f} times cheaper than Daphne's. A profile of the request in one process (cProfile) spreads "
        "it over Django and DRF's own work: middleware, token authentication and the rate limit's Redis calls, "
        "the keyset page's query and 50 rows serialized; no one part is most of it. What it would take: more "
        "cores for more worker processes, or a list cached per user and invalidated on change."
    )
    return [
        Result(
            NAME,
            f"first workflows page, {CLIENTS} clients",
            "req/s",
            rate,
            anchor_rate,
            ">= 5x the anchor",
            rate >= 5 * anchor_rate,
            anchor_is="one Daphne process",
            limit=limit,
        ),
        Result(
            NAME,
            f"/healthz p99 under that load (p50 {p50:.1f} ms)",
            "ms",
            p99,
            anchor_p99,
            "<= 50 ms",
            p99 <= 50,
            anchor_is="one Daphne process",
            limit="Answered on each worker's event loop before Django (chronoverse/ops.py).",
        ),
    ]
