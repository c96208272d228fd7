"""Two worker hosts on one machine, each a Celery worker with its own Docker engine
(bench/hosts.py): container jobs run on both, an image built on one runs on the
other through the registry, a cancel reaches the engine of the job's host, a host killed with its
engine loses no job, and no container of this installation is left on either engine."""

from __future__ import annotations

import pytest
from django.utils import timezone

from bench.hosts import SEED_IMAGE, Engine, WorkerHost
from chronoverse import docker_engine, hosts, task_queue
from conftest import _test_database_env, wait_for
from jobs import recovery, services
from jobs.models import Job, JobStatus, JobTrigger
from jobs.tests.test_execution import finished, lines, make_workflow
from workflows.models import Workflow

HOSTS = {"a": "sim-a", "b": "sim-b"}


@pytest.fixture(scope="module")
def engines(tmp_path_factory, docker_client):
    """Two engines of their own, started once for the module and removed with all they hold."""
    root = tmp_path_factory.mktemp("hosts")
    made = {key: Engine(root / key, key) for key in HOSTS}
    try:
        for engine in made.values():
            engine.start()
            engine.seed(docker_client)
        yield made
    finally:
        for engine in made.values():
            engine.remove()


@pytest.fixture
def worker_hosts(engines, local_registry, transactional_db, settings, tmp_path):
    """A worker host on each engine (short leases, a sweep every 2 s, the test registry); this test
    process plays the control worker (it calls the reaper itself) and is none of the hosts."""
    registry = f"127.0.0.1:{local_registry['port']}"
    settings.IMAGE_REGISTRY = registry
    settings.JOB_REQUEUE_AFTER_SECONDS = 5
    env = {
        **_test_database_env(),
        "JOB_LEASE_SECONDS": "3",
        "HOST_SWEEP_SECONDS": "2",
        "IMAGE_REGISTRY": registry,
        "CONTAINER_STOP_GRACE_SECONDS": "1",
    }
    workers = {key: WorkerHost(name, engines[key], env, tmp_path / f"worker-{key}.log") for key, name in HOSTS.items()}
    try:
        for worker in workers.values():
            worker.start()
        # Each is live once its start-up sweep ran: it consumes its queue and has cleaned its engine.
        wait_for(lambda: set(hosts.hosts_live()) >= set(HOSTS.values()), timeout=90, interval=0.2)
        yield workers
    finally:
        for worker in workers.values():
            worker.stop()
        for engine in engines.values():
            if engine.process is not None:
                for container_id in ours(engine):
                    with engine.client() as client:
                        client.api.remove_container(container_id, force=True)


def ours(engine: Engine) -> list[str]:
    """This installation's job containers on `engine`."""
    label = f"{docker_engine.INSTALLATION_LABEL}={docker_engine.installation_id()}"
    with engine.client() as client:
        return [c["Id"] for c in client.api.containers(all=True, filters={"label": [label]})]


def of_job(engine: Engine, job: Job) -> list[str]:
    label = f"{docker_engine.JOB_LABEL}={job.pk}"
    with engine.client() as client:
        return [c["Id"] for c in client.api.containers(all=True, filters={"label": [label]})]


def sleeper(user, script: str, **payload) -> Workflow:
    return make_workflow(
        user,
        "CONTAINER",
        {"image": SEED_IMAGE, "command": ["sh", "-c"], "args": [script], "network": "none", **payload},
    )


def run_many(workflow: Workflow, user, count: int) -> list[Job]:
    return [services.job_run_manually(workflow=workflow, user=user) for _ in range(count)]


def running_with(jobs: list[Job], line: str) -> list[Job] | None:
    """The jobs, fresh, once every one is RUNNING and has printed `line`."""
    current = [Job.objects.get(pk=job.pk) for job in jobs]
    if all(job.status == JobStatus.RUNNING and ("stdout", line) in lines(job) for job in current):
        return current
    return None


def test_container_jobs_run_on_both_hosts_and_a_build_made_on_one_runs_on_the_other(worker_hosts, engines, user):
    dockerfile = "FROM chronoverse/busybox:latest\nCOPY greeting.txt /greeting.txt\n"
    workflow = make_workflow(
        user,
        "CONTAINER",
        {
            "dockerfile": dockerfile,
            "files": {"greeting.txt": "hello from one build"},
            "command": ["sh", "-c"],
            "args": ["cat /greeting.txt; sleep 2"],
            "network": "none",
        },
    )
    assert workflow.image_ref.startswith(f"{worker_hosts['a'].env['IMAGE_REGISTRY']}/")

    # Each worker takes two at most (two threads, one message each): four at once land on both.
    jobs = [finished(job, timeout=120) for job in run_many(workflow, user, 4)]

    assert [job.status for job in jobs] == [JobStatus.COMPLETED] * 4, [job.error for job in jobs]
    assert {job.host for job in jobs} == set(HOSTS.values())
    assert all(lines(job) == [("stdout", "hello from one build")] for job in jobs)
    # Built on one engine, pushed, and pulled by the other on its first job.
    for engine in engines.values():
        with engine.client() as client:
            assert client.images.get(workflow.image_ref)
        assert ours(engine) == []


def test_a_job_running_on_another_host_is_canceled_on_that_hosts_engine(worker_hosts, engines, user, auth_api):
    workflow = sleeper(user, "echo working; sleep 60")
    started = run_many(workflow, user, 3)
    current = wait_for(lambda: running_with(started, "working"), timeout=90)
    on_b = next(job for job in current if job.host == HOSTS["b"])
    assert of_job(engines["b"], on_b)

    response = auth_api.post(f"/api/v1/jobs/{on_b.id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELED"
    # Stopped and removed by host B's worker, on host B's engine, before the answer.
    assert of_job(engines["b"], on_b) == []
    for job in current:
        if job.pk != on_b.pk:
            services.job_cancel(job=job, canceled_by="test", wait=True)
    assert all(Job.objects.get(pk=job.pk).status == JobStatus.CANCELED for job in current)
    wait_for(lambda: ours(engines["a"]) == [] and ours(engines["b"]) == [], timeout=30)


def test_a_host_killed_with_its_engine_loses_no_job_and_cleans_up_when_it_returns(worker_hosts, engines, user):
    workflow = sleeper(user, "echo start; sleep 4; echo done")
    started = run_many(workflow, user, 4)
    current = wait_for(lambda: running_with(started, "start"), timeout=90)
    on_a = [job.pk for job in current if job.host == HOSTS["a"]]
    assert on_a
    assert len(on_a) < len(current)

    # Host A is lost whole: its worker without a word, then its engine with its containers.
    worker_hosts["a"].kill()
    engines["a"].stop()

    def all_finished() -> list[Job] | None:
        recovery.reap()  # this process is the control worker: the reaper runs here
        jobs = [Job.objects.get(pk=job.pk) for job in current]
        return jobs if all(job.is_finished for job in jobs) else None

    jobs = wait_for(all_finished, timeout=120, interval=0.5)

    assert [job.status for job in jobs] == [JobStatus.COMPLETED] * 4, [job.error for job in jobs]
    for job in jobs:
        if job.pk in on_a:
            # Retried once, on the host that was left, after its lease; the platform's loss, not counted.
            assert (job.attempt, job.host) == (2, HOSTS["b"])
            assert [m for _, m in lines(job)] == ["start", "start", "done"]
        else:
            assert (job.attempt, job.host) == (1, HOSTS["b"])
            assert [m for _, m in lines(job)] == ["start", "done"]
    workflow.refresh_from_db()
    assert workflow.consecutive_job_failures_count == 0
    assert ours(engines["b"]) == []

    # Host A comes back: its worker's start-up sweep removes what its engine kept of the lost jobs.
    engines["a"].start()
    assert ours(engines["a"]), "the stopped engine kept the lost attempts' containers"
    worker_hosts["a"].start()
    wait_for(lambda: ours(engines["a"]) == [], timeout=60)
    assert ours(engines["b"]) == []


def test_a_worker_lost_beside_a_live_engine_has_its_host_kill_the_container_before_the_retry(
    worker_hosts, engines, user
):
    workflow = sleeper(user, "echo start; sleep 6; echo done")
    started = run_many(workflow, user, 1)
    job = wait_for(lambda: running_with(started, "start"), timeout=90)[0]
    key = next(key for key, name in HOSTS.items() if name == job.host)
    other = next(k for k in HOSTS if k != key)

    # The worker dies, its engine lives on with the container; a supervisor starts the worker again.
    worker_hosts[key].kill()
    assert of_job(engines[key], job)
    worker_hosts[key].start()

    def retried() -> Job | None:
        recovery.reap()
        current = Job.objects.get(pk=job.pk)
        return current if current.attempt == 2 and current.status != JobStatus.QUEUED else None

    second = wait_for(retried, timeout=90, interval=0.2)
    # The retry was sent by the job's host once it had killed and removed the lost attempt's container.
    with engines[key].client() as client:
        first = client.api.containers(
            all=True, filters={"label": [f"{docker_engine.JOB_LABEL}={job.pk}", f"{docker_engine.ATTEMPT_LABEL}=1"]}
        )
    assert first == []
    assert second.host in HOSTS.values()
    done = finished(job, timeout=60)
    assert (done.status, done.attempt) == (JobStatus.COMPLETED, 2)
    assert lines(done)[0] == ("stdout", "start")
    assert lines(done)[-1] == ("stdout", "done")
    wait_for(lambda: ours(engines[key]) == [] and ours(engines[other]) == [], timeout=30)


def test_a_host_that_cannot_get_the_image_hands_the_job_to_another(worker_hosts, engines, user, local_registry):
    # A reference the registry does not hold: only an engine that has it can run it.
    ref = f"127.0.0.1:{local_registry['port']}/chronoverse-test/only-on-b:1"
    for engine in engines.values():
        with engine.client() as client:
            client.images.get(SEED_IMAGE).tag(ref)
    workflow = make_workflow(user, "CONTAINER", {"image": ref, "command": ["echo", "ran"], "network": "none"})
    with engines["a"].client() as client:
        client.images.remove(ref)
    job = Job.objects.create(
        workflow=workflow,
        user=user,
        scheduled_at=timezone.now(),
        status=JobStatus.QUEUED,
        trigger=JobTrigger.MANUAL,
    )

    # Offered to host A first, which cannot pull it.
    task_queue.send(task_queue.EXECUTE_JOB, str(job.pk), queue=task_queue.host_queue(HOSTS["a"]))
    job = finished(job, timeout=60)

    assert (job.status, job.attempt, job.host) == (JobStatus.COMPLETED, 2, HOSTS["b"])
    assert job.infrastructure_failure is False
    messages = [m for _, m in lines(job)]
    assert messages[-1] == "ran"
    assert f"Host {HOSTS['a']} cannot get the image {ref}" in messages[0]
    assert ours(engines["a"]) == []
    assert ours(engines["b"]) == []
