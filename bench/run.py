"""Run the benchmarks: `python -m bench.run [--scale smoke|default|full] [--results DIR] [name ...]`.

Each runs on a database of its own (chronoverse_bench, recreated for the run; emptied between
benchmarks) and Redis database 3, with the real Docker engine, and writes its results to
`bench/results/<name>.json`; then docs/benchmarks.md is made anew from every results file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

NAMES = [
    "scheduler_tick",
    "heartbeat_throughput",
    "dispatch_lag",
    "log_ingestion",
    "api_at_depth",
    "notification_latency",
    "web_tier",
    "ping_endpoint",
    "container_overhead",
    "scale_out",
    "analytics",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(NAMES)}")
    parser.add_argument("--scale", choices=["smoke", "default", "full"], default="default")
    parser.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--no-report", action="store_true", help="leave docs/benchmarks.md as it is")
    args = parser.parse_args()
    unknown = set(args.names) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(NAMES)}")
    os.environ["BENCH_SCALE"] = args.scale
    os.environ.setdefault("DATABASE_URL", "postgres://chronoverse@127.0.0.1:5433/chronoverse_bench")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6380/3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    _recreate_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command

    from bench import harness, report
    from chronoverse.redis_client import get_redis

    call_command("migrate", verbosity=0)
    run_started = time.monotonic()
    for name in args.names or NAMES:
        call_command("flush", interactive=False, verbosity=0)
        get_redis().flushdb()
        started = time.monotonic()
        print(f"== {name} ({args.scale})", flush=True)
        results = importlib.import_module(f"bench.{name}").run()
        for result in results:
            ratio = f"  ratio {result.ratio:.2f}" if result.ratio is not None else ""
            anchor = f"  anchor {result.anchor:,.1f}" if result.anchor is not None else ""
            met = {True: "met", False: "NOT met", None: "-"}[result.goal_met]
            figure = f"{result.ours:>12,.1f} {result.unit:<8}{anchor}{ratio}"
            print(f"   {result.metric:<52} {figure}  goal {result.goal}: {met}")
        harness.write(name, results, args.results)
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    print(f"== all done in {(time.monotonic() - run_started) / 60:.1f} min", flush=True)
    if not args.no_report:
        report.main(args.results)


def _recreate_database(url: str) -> None:
    import dj_database_url
    import psycopg

    db = dj_database_url.parse(url)
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


if __name__ == "__main__":
    main()
