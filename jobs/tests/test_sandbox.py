"""A job container, inspected while it runs, is sandboxed as the contract says; and what a payload
may ask for is bounded (a 400 naming the field, never a failure at run time)."""

from __future__ import annotations

import pytest

from chronoverse import docker_engine
from chronoverse.errors import ServiceError
from conftest import wait_for
from jobs.models import Job
from jobs.tests.test_container_truth import small_container
from jobs.tests.test_execution import finished, lines, make_workflow, run_now, shell
from workflows import services as workflow_services

BUSYBOX = "chronoverse/busybox:latest"


def running_container(job: Job, docker_client):
    ids = wait_for(lambda: docker_engine.containers_of_job(job.pk), timeout=30)
    container = docker_client.containers.get(ids[0])
    wait_for(lambda: container.reload() or container.status == "running", timeout=30)
    return container


def test_a_running_job_container_has_no_capabilities_and_its_limits(celery_worker, user, docker_client, settings):
    settings.CONTAINER_STOP_GRACE_SECONDS = 1
    workflow = shell(
        user,
        "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; ls /var/run/docker.sock 2>&1; sleep 30",
        memory_mb=64,
        cpus=0.5,
    )
    job = run_now(workflow, user)
    container = running_container(job, docker_client)
    wait_for(lambda: len(lines(job)) >= 4)

    host = container.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert not host["CapAdd"]
    assert host["Privileged"] is False
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["MemorySwap"] == 64 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == settings.CONTAINER_PIDS_LIMIT
    assert host["Init"] is True
    assert host["LogConfig"]["Config"]["max-size"] == f"{settings.CONTAINER_ENGINE_LOG_MAX_MB}m"
    assert host["NetworkMode"] == docker_engine.jobs_network_name()
    assert container.attrs["Mounts"] == []
    output = dict(line.split(":\t") for _, line in lines(job) if ":\t" in line)
    # From inside: no effective or bounding capability, privilege escalation off, no engine socket.
    assert output == {"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "NoNewPrivs": "1"}
    assert any("No such file" in line for _, line in lines(job))
    docker_engine.container_signal(container.id, "SIGKILL")
    finished(job)


def test_the_user_and_read_only_options_are_honoured(celery_worker, user, docker_client):
    script = "id -u; id -g; touch /tmp/ok && echo tmp writable; touch /etc/nope 2>/dev/null || echo root read-only"
    workflow = make_workflow(
        user,
        "CONTAINER",
        {"image": BUSYBOX, "command": ["sh", "-c"], "args": [script], "user": "1234:5678", "read_only": True},
    )

    job = finished(run_now(workflow, user))

    assert [line for _, line in lines(job)] == ["1234", "5678", "tmp writable", "root read-only"]


def test_job_containers_cannot_reach_one_another(celery_worker, user, make_user, docker_client):
    # Another user's job, serving on the jobs network as a job container would.
    network = docker_engine.network_ensure_isolated(docker_engine.jobs_network_name())
    server_id = small_container(
        ["sh", "-c", "while true; do echo secret | nc -l -p 8080; done"],
        {docker_engine.JOB_LABEL: "neighbour"},
        network=network,
    )
    try:
        server = docker_client.containers.get(server_id)
        server.start()
        server.reload()
        address = server.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
        # (The same command on a network with inter-container traffic on prints "secret".)
        workflow = shell(make_user(), f"nc -w 3 {address} 8080 </dev/null || echo unreachable")

        job = finished(run_now(workflow, workflow.user))

        assert ("stdout", "unreachable") in lines(job)
        assert ("stdout", "secret") not in lines(job)
    finally:
        docker_engine.container_remove(server_id)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"memory_mb": 4097}, "payload.memory_mb"),
        ({"cpus": 2.5}, "payload.cpus"),
        ({"user": "root; rm -rf /"}, "payload.user"),
        ({"volumes": [{"source": "data", "target": "/proc/sys"}]}, "payload.volumes.0.target"),
        ({"volumes": [{"source": "data", "target": "/dev"}]}, "payload.volumes.0.target"),
        ({"volumes": [{"source": "data", "target": "/"}]}, "payload.volumes.0.target"),
    ],
)
def test_container_payloads_beyond_the_operators_limits_are_refused(user, db, payload, field):
    with pytest.raises(ServiceError) as refused:
        workflow_services.workflow_create(
            user=user,
            data={"name": "c", "kind": "CONTAINER", "interval": 5, "payload": {"image": BUSYBOX, **payload}},
        )

    assert field in refused.value.fields, refused.value.fields


@pytest.mark.parametrize("kind", ["HEARTBEAT", "WEBHOOK"])
@pytest.mark.parametrize(
    "headers",
    [{"X-Evil": "a\r\nX-Injected: 1"}, {"X-Evil": "line\nbreak"}, {"Bad Name": "x"}, {"X-Nul": "a\x00b"}],
)
def test_header_injection_is_a_400_at_creation(user, db, kind, headers):
    payload = {"endpoint": "https://example.com/"} if kind == "HEARTBEAT" else {"url": "https://example.com/"}
    with pytest.raises(ServiceError) as refused:
        workflow_services.workflow_create(
            user=user, data={"name": "h", "kind": kind, "interval": 5, "payload": {**payload, "headers": headers}}
        )

    assert any(name.startswith("payload.headers") for name in refused.value.fields), refused.value.fields
