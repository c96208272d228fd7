"""The fault suite: a supervised platform (the `make run` configuration) is broken for real and
must keep its promises. Every process is ended by the pid its supervisor reports; every service is
restarted the way `scripts/provision.sh` starts it. What happened is read from the database.

The tests run in order and share one platform: each leaves it working for the next, and the last
two check that nothing was lost, duplicated or left behind, and that Ctrl-C stops it all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from harness import PROGRAMS, ROOT, Listener, Platform, provision, wait_until

RESULTS = ROOT / ".data" / "chaos-results.json"
measured: dict[str, object] = {}
FINISHED = ("COMPLETED", "FAILED", "CANCELED")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    handle = Platform(
        "chaos",
        redis_db=2,
        run_dir=tmp_path_factory.mktemp("chaos-run"),
        env={
            # Recovery in seconds rather than minutes, so each fault is over quickly.
            "JOB_LEASE_SECONDS": "4",
            "JOB_REQUEUE_AFTER_SECONDS": "8",
            "JOB_MAX_ATTEMPTS": "5",
            "CONTAINER_STOP_GRACE_SECONDS": "2",
            "RATE_LIMIT_API_USER": "100000/min",
        },
    )
    handle.prepare()
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()
        handle.remove_leftovers()
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(measured, indent=2, default=str))


def finished(platform: Platform, job_id: str, timeout: float = 90) -> dict:
    return wait_until(
        lambda: (job := platform.job(job_id))["status"] in FINISHED and job, timeout=timeout, what=f"job {job_id} ends"
    )


def log_lines(platform: Platform, job_id: str) -> list[str]:
    rows = platform.sql("SELECT message FROM jobs_joblog WHERE job_id = %s ORDER BY sequence", (job_id,))
    return [message for (message,) in rows]


@pytest.fixture(scope="module")
def sleeper(platform):
    return platform.container_workflow("sleeper", "echo start; sleep 3; echo end")


@pytest.mark.parametrize("program", ["worker", "control", "beat", "web"])
def test_a_process_killed_with_sigkill_is_back_within_10_s_while_the_others_serve(platform, sleeper, program):
    listener = Listener(platform)
    listener.start()
    wait_until(lambda: listener.connects, timeout=10, what="socket open")
    job = platform.run_now(sleeper)
    wait_until(lambda: "start" in log_lines(platform, job["id"]), timeout=60, what="job running")

    killed_at = time.monotonic()
    old = platform.kill(program)
    if program != "web":
        # The others keep serving while it is down.
        assert platform.api("GET", "/workflows").status_code == 200
    new = wait_until(lambda: (pid := platform.pid(program)) not in (0, old) and pid, timeout=10, what="back")
    back_after = time.monotonic() - killed_at
    measured[f"sigkill_{program}_back_seconds"] = round(back_after, 2)

    # The job that was running ends (retried if it was the job worker that died), never stuck.
    done = finished(platform, job["id"])
    if program == "worker":
        assert done["attempt"] >= 2 or done["status"] == "FAILED", done
    assert done["status"] == "COMPLETED", done
    assert platform.containers(**{"chronoverse.job_id": job["id"]}) == []
    measured[f"sigkill_{program}_job"] = f"{done['status']} after {done['attempt']} attempt(s)"

    # The platform works as before, and an open socket (reconnected if the web process died) hears it.
    again = platform.run_now(sleeper)
    assert finished(platform, again["id"])["status"] == "COMPLETED"
    wait_until(lambda: listener.saw("JOB_COMPLETED", again["id"]), timeout=20, what="notification")
    if program == "web":
        assert listener.connects >= 2
    listener.stop()
    assert new != old


def test_redis_restarted_with_jobs_queued_and_a_socket_open(platform, sleeper):
    listener = Listener(platform)
    listener.start()
    wait_until(lambda: listener.connects, timeout=10, what="socket open")
    quick = platform.container_workflow("quick", "echo quick")
    platform.supervisorctl("stop", "worker")
    queued = [platform.run_now(quick) for _ in range(3)]
    assert {platform.job(j["id"])["status"] for j in queued} == {"QUEUED"}

    # Their broker messages die with Redis (no save): only PostgreSQL remembers the jobs.
    subprocess.run(["redis-cli", "-p", "6380", "shutdown", "nosave"], check=False, capture_output=True)
    provision()
    platform.supervisorctl("start", "worker")

    for job in queued:
        done = finished(platform, job["id"], timeout=120)
        assert done["status"] == "COMPLETED", done
    fresh = platform.run_now(quick)
    assert finished(platform, fresh["id"])["status"] == "COMPLETED"
    wait_until(lambda: listener.saw("JOB_COMPLETED", fresh["id"]), timeout=30, what="notification after restart")
    measured["redis_restart"] = f"{len(queued)} queued jobs completed; socket reconnects: {listener.connects - 1}"
    listener.stop()


def test_postgres_restarted_under_load(platform, sleeper):
    pids = {program: platform.pid(program) for program in PROGRAMS}
    quick = platform.container_workflow("quick-pg", "echo quick")
    codes: list[int] = []
    created: list[str] = []
    stop = threading.Event()

    def load() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                response = platform.api("POST", f"/workflows/{quick['id']}/jobs", timeout=10)
                codes.append(response.status_code)
                if response.status_code == 201:
                    created.append(response.json()["id"])
            except Exception:
                codes.append(0)
            time.sleep(0.2)

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(2)
    # The running server's own data folder (provision.sh's, under the clone that started it).
    pgdata = Path(platform.sql("SHOW data_directory")[0][0])
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "/usr/lib/postgresql/15/bin/pg_ctl",
            "-D",
            str(pgdata),
            "restart",
            "-m",
            "fast",
            "-w",
            "-l",
            str(pgdata / "server.log"),
        ],
        check=True,
        capture_output=True,
    )
    restarted = time.monotonic()
    wait_until(lambda: platform.api("GET", "/workflows").status_code == 200, timeout=30, what="API answers")
    measured["postgres_api_back_seconds"] = round(time.monotonic() - restarted, 2)
    time.sleep(3)
    stop.set()
    thread.join()

    # Nobody was restarted: web and workers found their database again by themselves.
    assert {program: platform.pid(program) for program in PROGRAMS} == pids
    for job_id in created:
        assert finished(platform, job_id, timeout=120)["status"] == "COMPLETED"
    measured["postgres_restart"] = f"{len(created)} runs created under load all COMPLETED; answers {sorted(set(codes))}"


def test_the_docker_engine_stopped_during_a_job_and_a_build(platform):
    pid_file = ROOT / ".data" / "docker" / "dockerd.pid"
    dockerd = int(pid_file.read_text()) if pid_file.exists() else 0
    # Only the engine this clone's scripts/provision.sh started is ours to stop (a stale pid file
    # could name some other process by now).
    comm = Path(f"/proc/{dockerd}/comm")
    ours = dockerd > 0 and comm.exists() and comm.read_text().strip() == "dockerd"
    assert ours, "the running engine was not started by this clone's scripts/provision.sh"
    long = platform.container_workflow("long", "echo start; sleep 6; echo end")
    job = platform.run_now(long)
    wait_until(lambda: "start" in log_lines(platform, job["id"]), timeout=60, what="job running")
    built = platform.workflow(
        name="slow build",
        kind="CONTAINER",
        # A line of its own, so that no earlier run's layer cache can finish the build at once.
        payload={"dockerfile": f'FROM chronoverse/busybox:latest\nRUN echo {uuid.uuid4()} && sleep 8\nCMD ["true"]\n'},
        interval=60,
    )
    wait_until(
        lambda: platform.api("GET", f"/workflows/{built['id']}").json()["build_status"] == "STARTED",
        timeout=30,
        what="build started",
    )

    os.kill(dockerd, signal.SIGTERM)
    wait_until(lambda: not Path(f"/proc/{dockerd}").exists(), timeout=60, interval=0.5, what="engine stopped")
    provision()

    done = finished(platform, job["id"], timeout=180)
    assert done["status"] == "COMPLETED" or "unreachable" in done["error"], done
    assert done["attempt"] >= 2, done
    counted = platform.sql("SELECT consecutive_job_failures_count FROM workflows_workflow WHERE id = %s", (long["id"],))
    assert counted == [(0,)]
    build = wait_until(
        lambda: (
            (w := platform.api("GET", f"/workflows/{built['id']}").json())["build_status"] in ("COMPLETED", "FAILED")
            and w
        ),
        timeout=180,
        what="build ends",
    )
    assert build["build_status"] == "COMPLETED", build
    measured["docker_engine_stop"] = (
        f"job {done['status']} after {done['attempt']} attempts (not counted); build {build['build_status']}"
    )


def test_nothing_was_lost_duplicated_or_left_behind(platform):
    # Every job ever created ends by itself (none stuck QUEUED or RUNNING)...
    wait_until(
        lambda: platform.sql("SELECT count(*) FROM jobs_job WHERE status <> ALL(%s)", (list(FINISHED),)) == [(0,)],
        timeout=120,
        what="no unfinished job",
    )
    # ...no slot ran twice, no attempt ran twice at once, and no container outlived its job.
    assert (
        platform.sql(
            "SELECT workflow_id, scheduled_at FROM jobs_job WHERE trigger = 'AUTOMATIC' "
            "GROUP BY 1, 2 HAVING count(*) > 1"
        )
        == []
    )
    assert platform.sql("SELECT job_id, sequence FROM jobs_joblog GROUP BY 1, 2 HAVING count(*) > 1") == []
    wait_until(lambda: platform.containers() == [], timeout=30, what="no container left")
    measured["jobs_total"] = platform.sql("SELECT status, count(*) FROM jobs_job GROUP BY 1 ORDER BY 1")


def test_ctrl_c_stops_every_process(platform):
    children = platform.children()
    assert len(children) == len(PROGRAMS)

    started = time.monotonic()
    status = platform.stop(signal.SIGINT)

    assert status == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    measured["ctrl_c_seconds"] = round(time.monotonic() - started, 2)
