"""`manage.py seed_demo`: fill the database with realistic history, fast (analytics.seed)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.seed import SEED_PASSWORD, Progress, seed_demo


class ProgressBar:
    """A line on stderr (a command's OutputWrapper), redrawn in place on a terminal and written every
    tenth of the way otherwise."""

    WIDTH = 30

    def __init__(self, stream: Any):
        self.stream = stream
        self.started = time.monotonic()
        self.shown = -1

    def __call__(self, progress: Progress) -> None:
        fraction = progress.jobs / progress.total_jobs if progress.total_jobs else 1.0
        tty = self.stream.isatty()
        if not tty and int(fraction * 10) == self.shown:
            return
        self.shown = int(fraction * 10)
        filled = int(fraction * self.WIDTH)
        elapsed = time.monotonic() - self.started
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%}  {progress.jobs:,}/{progress.total_jobs:,} "
            f"jobs, {progress.log_lines:,} log lines, {elapsed:.0f} s"
        )
        self.stream.write(f"\r{line}" if tty else line, ending="" if tty else "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.stream.isatty():
            self.stream.write("")


class Command(BaseCommand):
    help = (
        "Add realistic history: N users (seed-<n>@chronoverse.local, or --email), N workflows spread over them, "
        "N finished jobs over the last 30 days spread over the workflows, N log lines spread over the jobs. "
        "Analytics' rollups are filled as it goes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=1)
        parser.add_argument("--workflows", type=int, default=20)
        parser.add_argument("--jobs", type=int, default=10_000)
        parser.add_argument("--logs", type=int, default=100_000)
        parser.add_argument("--email", help="Seed into this one account (created if missing), e.g. the demo user.")

    def handle(self, *args: Any, **options: Any) -> None:
        users, workflows, jobs, logs = (options[name] for name in ("users", "workflows", "jobs", "logs"))
        if min(users, workflows, jobs, logs) < 0 or users < 1:
            raise CommandError("--users must be at least 1, and the other counts at least 0.")
        if jobs and not workflows:
            raise CommandError("Jobs need workflows: give --workflows.")
        if logs and not jobs:
            raise CommandError("Log lines need jobs: give --jobs.")
        if options["email"] and users != 1:
            raise CommandError("--email seeds one account: leave --users at 1.")
        bar = ProgressBar(self.stderr)
        accounts, _ = seed_demo(
            users=users, workflows=workflows, jobs=jobs, logs=logs, email=options["email"], progress=bar
        )
        bar.close()
        names = ", ".join(user.email for user in accounts[:3]) + (" ..." if len(accounts) > 3 else "")
        self.stdout.write(
            f"Seeded {workflows:,} workflows, {jobs:,} jobs and {logs:,} log lines for {names} "
            f"(new accounts log in with {SEED_PASSWORD!r})."
        )
