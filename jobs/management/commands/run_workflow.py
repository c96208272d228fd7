from __future__ import annotations

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from chronoverse.errors import ServiceError
from jobs import live, services
from workflows.selectors import workflow_get_by_id


class Command(BaseCommand):
    help = "Run a workflow now and follow its job's output here until the job ends."

    def add_arguments(self, parser) -> None:
        parser.add_argument("workflow_id")
        parser.add_argument("--no-follow", action="store_true", help="Start the job and return at once.")

    def handle(self, *args, workflow_id: str, no_follow: bool, **options) -> None:
        try:
            workflow = workflow_get_by_id(workflow_id=workflow_id)
        except ValueError:
            workflow = None
        if workflow is None:
            raise CommandError(f"No workflow {workflow_id}.")
        try:
            job = services.job_run_manually(workflow=workflow, user=workflow.user)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Job {job.id} queued for workflow {workflow.name!r}.")
        if no_follow:
            return
        final = async_to_sync(self._follow)(job.pk)
        if final is None or final["status"] != "COMPLETED":
            raise CommandError(
                f"Job {job.id} ended {final['status'] if final else 'unknown'}: {(final or {}).get('error', '')}"
            )
        self.stdout.write(self.style.SUCCESS(f"Job {job.id} COMPLETED in {final['duration_seconds']:.2f} s."))

    async def _follow(self, job_id) -> dict | None:
        async for event, data in live.follow(job_id):
            if data is None:  # ("ping", None) while idle
                continue
            if event == "log":
                (self.stderr if data["stream"] == "stderr" else self.stdout).write(data["message"])
            elif event == "status":
                self.stdout.write(self.style.NOTICE(f"[{data['status']}]"))
            elif event == "end":
                return data
        return None
