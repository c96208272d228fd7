"""A bounded soak (`make soak MINUTES=n`): a few hundred one-minute workflows on a supervised
platform of its own, API and WebSocket traffic on loopback, for n minutes; then what ran, what
failed, whether any slot was lost or run twice, and each process's memory over the run.

Every loop ends by the deadline; all traffic goes to 127.0.0.1. Exits non-zero if a promise broke.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PROGRAMS, ROOT, Platform, rss_kib
from test_faults import Listener


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--workflows", type=int, default=300)
    args = parser.parse_args()

    target = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    platform = Platform(
        "soak",
        redis_db=3,
        run_dir=ROOT / ".data" / "soak-run",
        env={"RATE_LIMIT_API_USER": "1000000/min", "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "true"},
    )
    platform.prepare()
    platform.start()
    try:
        return soak(platform, args, f"http://127.0.0.1:{target.server_address[1]}/health")
    finally:
        platform.stop()
        platform.remove_leftovers()
        target.shutdown()


def soak(platform: Platform, args, endpoint: str) -> int:
    print(f"creating {args.workflows} one-minute workflows", flush=True)
    kinds = defaultdict(int)
    for n in range(args.workflows):
        if n % 20 == 0:
            kind, payload = "CONTAINER", {"image": "chronoverse/busybox:latest", "command": ["echo", f"soak {n}"]}
        elif n % 5 == 0:
            kind, payload = "HEARTBEAT", {"endpoint": endpoint}
        else:
            kind, payload = "HEARTBEAT", {}
        kinds[kind] += 1
        platform.workflow(name=f"soak {n}", kind=kind, payload=payload, interval=1)

    deadline = time.monotonic() + args.minutes * 60
    api_codes: dict[int, int] = defaultdict(int)
    listeners = [Listener(platform) for _ in range(3)]
    for listener in listeners:
        listener.start()

    def traffic() -> None:
        ids = [w["id"] for w in platform.api("GET", "/workflows?limit=50").json()["workflows"]]
        while time.monotonic() < deadline:
            for path in ("/workflows", f"/workflows/{random.choice(ids)}/jobs", "/notifications?limit=20"):
                try:
                    api_codes[platform.api("GET", path).status_code] += 1
                except Exception:
                    api_codes[0] += 1
            time.sleep(0.05)

    clients = [threading.Thread(target=traffic) for _ in range(2)]
    for client in clients:
        client.start()

    memory: dict[str, list[int]] = {program: [] for program in PROGRAMS}
    pids = {program: platform.pid(program) for program in PROGRAMS}
    while time.monotonic() < deadline:
        for program in PROGRAMS:
            memory[program].append(rss_kib(platform.pid(program)))
        remaining = max(0, deadline - time.monotonic())
        print(f"{remaining / 60:.1f} min left; API answers {dict(api_codes)}", flush=True)
        time.sleep(min(30, remaining))
    for client in clients:
        client.join()
    for listener in listeners:
        listener.stop()

    # The last slot's jobs are given time to finish; what is still unfinished after that is stuck.
    time.sleep(20)
    return judge(platform, args, kinds, api_codes, memory, pids, listeners)


def judge(platform, args, kinds, api_codes, memory, pids, listeners) -> int:
    by_status = dict(platform.sql("SELECT status, count(*) FROM jobs_job GROUP BY 1"))
    # A slot is lost if a workflow's scheduled times skip a minute; duplicated if one repeats.
    gaps = duplicates = 0
    slots: dict[str, list] = defaultdict(list)
    for workflow_id, scheduled_at in platform.sql(
        "SELECT workflow_id, scheduled_at FROM jobs_job WHERE trigger = 'AUTOMATIC' ORDER BY 1, 2"
    ):
        slots[workflow_id].append(scheduled_at)
    for times in slots.values():
        duplicates += len(times) - len(set(times))
        gaps += sum(1 for a, b in itertools.pairwise(times) if b - a > timedelta(minutes=1))
    stuck = platform.sql(
        "SELECT count(*) FROM jobs_job WHERE status IN ('QUEUED', 'RUNNING') "
        "AND updated_at < now() - interval '2 minutes'"
    )[0][0]
    restarted = [program for program in PROGRAMS if platform.pid(program) != pids[program]]
    # Memory after the first half-minute of warm-up against the end: stable means it levelled off.
    growth = {
        program: {"after_warmup_kib": samples[min(1, len(samples) - 1)], "end_kib": samples[-1]}
        for program, samples in memory.items()
        if samples
    }
    leaking = [
        program
        for program, rss in growth.items()
        if rss["end_kib"] - rss["after_warmup_kib"] > max(30 * 1024, rss["after_warmup_kib"] // 4)
    ]
    errors = sum(
        1
        for line in (platform.run_dir / "platform.log").read_text(errors="replace").splitlines()
        if " ERROR " in line or "Traceback" in line
    )
    report = {
        "minutes": args.minutes,
        "workflows": dict(kinds),
        "jobs": by_status,
        "slots_lost": gaps,
        "slots_duplicated": duplicates,
        "jobs_stuck": stuck,
        "api_answers": dict(api_codes),
        "notifications_received": [len(listener.messages) for listener in listeners],
        "processes_restarted": restarted,
        "error_lines_in_logs": errors,
        "rss": growth,
        "memory_growing": leaking,
    }
    print(json.dumps(report, indent=2, default=str))
    (ROOT / ".data" / "soak-results.json").write_text(json.dumps(report, indent=2, default=str))
    broken = (
        gaps
        or duplicates
        or stuck
        or restarted
        or leaking
        or errors
        or by_status.get("FAILED", 0)
        or any(code >= 400 or code == 0 for code in api_codes)
    )
    print("soak: FAILED" if broken else "soak: passed")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
