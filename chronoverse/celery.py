"""The Celery application: the worker runs tasks, beat runs the periodic ones (CELERY_BEAT_SCHEDULE).

A worker that takes jobs (it consumes the jobs queue) is a worker host: it also consumes its own
host's queue, `host.<CHRONOVERSE_HOST>`, so the name is given once and the queue cannot disagree
with it. It cleans its engine when it starts (what a crash or a lost machine left there) and then
every HOST_SWEEP_SECONDS, by a task sent to its own queue (chronoverse.hosts, docs/scaling.md).
"""

import os

from celery import Celery, bootsteps, signals
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronoverse.settings")

app = Celery("chronoverse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The queue of the jobs and builds that any worker host may take (Celery's default queue).
JOBS_QUEUE = "celery"
HOST_CLEAN = "jobs.tasks.host_clean"


def host_queue(host: str) -> str:
    """The queue of what only `host` can do: it touches that host's engine."""
    return f"host.{host}"


@signals.worker_init.connect
def _consume_the_host_queue(sender, **kwargs) -> None:
    # After -Q was applied and before the consumer starts: a worker of the jobs queue is a host.
    queues = sender.app.amqp.queues
    if JOBS_QUEUE in queues.consume_from:
        queues.select_add(host_queue(settings.WORKER_HOST))


class HostSweep(bootsteps.StartStopStep):
    """On a worker host: a cleanup of its engine at start, then one every HOST_SWEEP_SECONDS, each a
    task on its own queue, run by a pool thread (a slow engine never holds the worker's timer)."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker) -> None:
        if host_queue(settings.WORKER_HOST) not in worker.app.amqp.queues.consume_from:
            return
        self.sweep()
        self.tref = worker.timer.call_repeatedly(settings.HOST_SWEEP_SECONDS, self.sweep, priority=10)

    def stop(self, worker) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    def sweep(self) -> None:
        # Dropped unrun if it waited a whole period (every pool thread busy): the next one comes.
        app.send_task(HOST_CLEAN, queue=host_queue(settings.WORKER_HOST), expires=settings.HOST_SWEEP_SECONDS)


app.steps["worker"].add(HostSweep)
