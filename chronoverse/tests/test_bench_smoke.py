"""Every benchmark runs end to end at a tiny scale, so none can rot. Its figures are never
asserted here (they belong to `make bench`); that it ran, and what it wrote, are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from bench import report
from bench.run import NAMES

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {"benchmark", "metric", "unit", "ours", "anchor", "ratio", "goal", "goal_met", "scale", "machine"}


def test_every_benchmark_runs_at_a_tiny_scale_and_reports(tmp_path):
    db = settings.DATABASES["default"]
    redis = urlsplit(settings.REDIS_URL)
    env = {
        **os.environ,
        # Apart from this test run's database and Redis database (and so from another checkout's
        # tests), from `make run` and from `make bench`.
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}_bench_smoke",
        "REDIS_URL": f"{redis.scheme}://{redis.netloc}/{int(redis.path.strip('/') or 0) + 8}",
    }
    command = [sys.executable, "-m", "bench.run", "--scale", "smoke", "--results", str(tmp_path), "--no-report"]
    run = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)

    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert sorted(path.stem for path in tmp_path.glob("*.json")) == sorted(NAMES)
    for name in NAMES:
        records = json.loads((tmp_path / f"{name}.json").read_text())
        assert records
        for record in records:
            assert record.keys() >= FIELDS
            assert (record["benchmark"], record["scale"]) == (name, "smoke")
            assert record["ours"] > 0

    page = report.main(tmp_path, tmp_path / "docs").read_text()
    assert all(f"| {name} |" in page for name in NAMES)
    for charted in ("scheduler_tick", "scale_out"):
        assert (tmp_path / "docs" / "benchmarks" / f"{charted}.svg").read_text().startswith("<svg")
