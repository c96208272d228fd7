"""Services send tasks by name: every name they use must be a task a worker has registered."""

from __future__ import annotations

import pytest

from chronoverse import task_queue
from chronoverse.celery import app


@pytest.mark.parametrize("name", task_queue.NAMES)
def test_every_name_the_services_send_is_a_registered_task(name):
    app.loader.import_default_modules()

    assert name in app.tasks


def test_sent_tasks_follow_the_routes(settings):
    routed = app.amqp.router.route({}, task_queue.EXECUTE_JOB, args=[], kwargs={})
    control = app.amqp.router.route({}, "jobs.tasks.reap", args=[], kwargs={})

    assert routed["queue"].name != settings.CONTROL_QUEUE
    assert control["queue"].name == settings.CONTROL_QUEUE
