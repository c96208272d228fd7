from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs.recovery import logs_prune


class Command(BaseCommand):
    help = "Delete the logs of jobs that finished more than LOG_RETENTION_DAYS ago."

    def handle(self, *args, **options) -> None:
        deleted = logs_prune()
        self.stdout.write(f"Deleted {deleted} log line(s) older than {settings.LOG_RETENTION_DAYS} days.")
