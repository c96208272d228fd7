"""What running a job can end in, as executors and the runner report it to the services."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """What an executor reports: success, or a failure with a readable reason."""

    succeeded: bool
    error: str = ""
    exit_code: int | None = None


class UserAtCapacity(Exception):
    """The job's user already has MAX_RUNNING_JOBS_PER_USER jobs running: this one waits its turn."""


class InfrastructureError(Exception):
    """The platform, not the job, failed (engine unreachable, worker lost): retry, don't blame it."""
