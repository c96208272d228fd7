from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from chronoverse.errors import ServiceError
from jobs import services
from jobs.models import Job, JobStatus


class Command(BaseCommand):
    help = "Cancel a pending, queued or running job (a running container is stopped)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("job_id")

    def handle(self, *args, job_id: str, **options) -> None:
        try:
            job = Job.objects.select_related("workflow", "user").filter(pk=job_id).first()
        except ValueError:
            job = None
        if job is None:
            raise CommandError(f"No job {job_id}.")
        try:
            job = services.job_cancel(job=job, canceled_by="operator", wait=True)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        if job.status == JobStatus.CANCELED:
            self.stdout.write(self.style.SUCCESS(f"Job {job_id} canceled."))
        else:
            self.stdout.write(f"Job {job_id}: cancel requested, still {job.status} while its container stops.")
