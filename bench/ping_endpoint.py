"""Pings on `/ping/<key>` from 50 clients, each request to the next of many ping workflows (the
first ping of each settles its slot, later ones are recorded), on the web process `make run`
starts; the anchor is a bare Django request on the same server (an unknown path: middleware, URL
resolution, the 404 page)."""

from __future__ import annotations

from bench.harness import Result, bench_user, free_port, gunicorn, scaled, serve, stop, wrk

NAME = "ping_endpoint"
CLIENTS = 50


def run() -> list[Result]:
    from jobs.models import Ping
    from workflows.pings import ping_key
    from workflows.services import workflow_create

    user = bench_user()
    paths = []
    for n in range(scaled(smoke=3, default=1000, full=5000)):
        data = {"name": f"pinged {n}", "kind": "HEARTBEAT", "payload": {"ping": {"grace": 300}}, "interval": 1}
        workflow, _ = workflow_create(user=user, data=data)
        paths.append(f"/ping/{ping_key(workflow.pk, workflow.ping_key_generation)}")
    port = free_port()
    # The limit is still counted for every ping; it just never refuses one here.
    server = serve(gunicorn(port), port, DATABASE_POOL_SIZE="10", RATE_LIMIT_PING="100000000/min")
    url = f"http://127.0.0.1:{port}"
    seconds = scaled(smoke=1, default=10, full=30)
    try:
        wrk(url, seconds=min(seconds, 2), connections=CLIENTS, paths=paths)  # warm-up
        pings = wrk(url, seconds=seconds, connections=CLIENTS, paths=paths)
        bare = wrk(f"{url}/no-such-page", seconds=seconds, connections=CLIENTS)
    finally:
        stop(server)
    if pings.errors or not Ping.objects.exists():
        raise RuntimeError(f"{pings.errors} pings refused")
    limit = (
        "Each web process commits the pings that arrived meanwhile in one batch (jobs/ping_ingress.py); "
        "what is left is Postgres round trips per batch and the CPU the two cores share with the load generator."
    )
    # Little's law: with CLIENTS requests always in flight, the mean wait is CLIENTS / throughput.
    mean_ms = CLIENTS / pings.rate * 1000
    latency_limit = (
        f"{CLIENTS} clients that never pause keep {CLIENTS} pings in flight, so the mean wait is {CLIENTS} / "
        f"{pings.rate:,.0f} pings/s = {mean_ms:.0f} ms (Little's law) and the p99 sits above it. A p99 of 20 ms "
        f"at {CLIENTS} clients needs more than {CLIENTS / 0.020:,.0f} pings/s, {CLIENTS / 0.020 / pings.rate:.1f} "
        "times this server on these two cores: the bare view is further from it still. What it would take: more "
        "cores for the web processes, or fewer clients in flight (at 10 the same server's mean is a fifth)."
    )
    return [
        Result(
            NAME,
            f"pings per second, {CLIENTS} clients",
            "pings/s",
            pings.rate,
            bare.rate,
            ">= 0.7x the bare view",
            pings.rate >= 0.7 * bare.rate,
            anchor_is="a bare Django request (404), same server",
            limit=limit,
        ),
        Result(
            NAME,
            f"ping p99 latency, {CLIENTS} clients",
            "ms",
            pings.p99_ms,
            bare.p99_ms,
            "<= 20 ms",
            pings.p99_ms <= 20,
            anchor_is="a bare Django request (404), same server",
            limit=latency_limit,
        ),
    ]
