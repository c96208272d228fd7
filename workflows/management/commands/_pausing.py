"""What `pause_workflow` and `resume_workflow` share: find the workflow, call the service, report."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chronoverse.errors import ServiceError
from workflows.models import Workflow


class PausingCommand(BaseCommand):
    action: Callable[..., Workflow]
    done: str

    def add_arguments(self, parser) -> None:
        parser.add_argument("workflow_id")

    def handle(self, *args, workflow_id: str, **options) -> None:
        try:
            workflow = Workflow.objects.select_related("user").filter(pk=workflow_id).first()
        except (ValueError, ValidationError):
            workflow = None
        if workflow is None:
            raise CommandError(f"No workflow {workflow_id}.")
        try:
            workflow = type(self).action(workflow=workflow)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Workflow {workflow.name} ({workflow.pk}) {self.done}."))
