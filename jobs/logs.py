"""The log pipeline: lines from executors go to Postgres in batches (COPY) and to Redis for live tails.

One LogWriter per running job. Lines are numbered per job, stdout and stderr are kept apart, a very
long line is cut with a marker, and past the per-job cap a single final line says how much was
dropped. A background flusher writes whatever is buffered every LOG_FLUSH_INTERVAL seconds, so a
quiet job's last lines still reach a live tail promptly.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple

import redis
from django.conf import settings
from django.db import connection

from chronoverse.redis_client import get_redis, publish_many
from chronoverse.serializers import format_timestamp
from jobs.models import JobLog
from jobs.rollups import atomic_with_rollups, rollups_add_log_lines

logger = logging.getLogger(__name__)

# A chatty job flushes by size; a quiet one every LOG_FLUSH_INTERVAL, which bounds live latency.
FLUSH_LINES = 5000


def log_channel(job_id) -> str:
    return f"job-logs:{job_id}"


class LogLine(NamedTuple):
    """One line of a job's output; `as_dict` is the contract's Log, wherever a line is shown.
    A tuple, not a dataclass: a chatty job makes hundreds of thousands of them a second."""

    sequence: int
    stream: str
    message: str
    timestamp: datetime

    @classmethod
    def of(cls, row: JobLog) -> LogLine:
        return cls(row.sequence, row.stream, row.message, row.timestamp)

    def as_dict(self, stamp: str | None = None) -> dict:
        return {
            "sequence": self.sequence,
            "stream": self.stream,
            "message": self.message,
            "timestamp": stamp or format_timestamp(self.timestamp),
        }


def lines_as_dicts(lines: list[LogLine]) -> list[dict]:
    """The lines as the contract's Logs; the lines of one chunk share a timestamp, formatted once."""
    stamps: dict[datetime, str | None] = {}
    result = []
    for line in lines:
        stamp = stamps.get(line.timestamp)
        if stamp is None:
            stamp = stamps[line.timestamp] = format_timestamp(line.timestamp)
        result.append(line.as_dict(stamp))
    return result


# COPY's text format: these characters of a message are written as escapes.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class LineSplitter:
    """Cuts one stream of raw output into lines, live or read back from the engine alike: `\n` ends
    a line (a `\r` before it is dropped), and a trailing partial line is held until it completes,
    or until it grows past `max_partial` characters, when it goes out as a line of its own."""

    def __init__(self, max_partial: int):
        self._pending = ""
        self._max_partial = max_partial

    def feed(self, chunk: bytes | str) -> list[str]:
        text = chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk
        *complete, self._pending = (self._pending + text).split("\n")
        lines = [line.removesuffix("\r") for line in complete]
        if len(self._pending) > self._max_partial:
            lines.append(self._pending)
            self._pending = ""
        return lines

    def rest(self) -> str:
        """The partial line held at the end of the output ('' if none)."""
        rest, self._pending = self._pending, ""
        return rest


def split_lines(chunks: Iterable[bytes | str], *, max_partial: int) -> Iterator[str]:
    """Every line of a whole output, the last one even without its `\n`."""
    splitter = LineSplitter(max_partial)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    if rest := splitter.rest():
        yield rest


def publish_event(job_id, event: str, data: dict | list) -> None:
    """Publish one event for a job's live followers (`logs` batches, `status` changes, `end`)."""
    try:
        get_redis().publish(log_channel(job_id), json.dumps({"event": event, "data": data}))
    except redis.RedisError:
        logger.warning("could not publish %s for job %s", event, job_id, exc_info=True)


def publish_events(events: list[tuple]) -> None:
    """Publish many (job id, event, data) at once: one round trip to Redis for a whole batch."""
    publish_many(
        ((log_channel(job_id), json.dumps({"event": event, "data": data})) for job_id, event, data in events),
        what="job events",
    )


def copy_lines(job_id, lines: list[LogLine]) -> None:
    """Store lines with one COPY: far cheaper than an INSERT per line for chatty jobs. The rows are
    written as COPY's text format directly (psycopg's per-row encoding cost more than the rest of
    the pipeline together). The lines are counted in the job's rollups in the same transaction, so
    analytics' totals match what is stored."""
    job = str(job_id)
    stamps: dict[datetime, str] = {}
    rows = []
    for sequence, stream, message, timestamp in lines:
        stamp = stamps.get(timestamp)
        if stamp is None:
            stamp = stamps[timestamp] = timestamp.isoformat()
        if "\\" in message or "\t" in message or "\r" in message or "\n" in message:
            message = message.translate(_COPY_ESCAPES)
        rows.append(f"{job}\t{sequence}\t{stream}\t{message}\t{stamp}\n")
    with atomic_with_rollups(), connection.cursor() as cursor:
        table = JobLog._meta.db_table
        with cursor.copy(f"COPY {table} (job_id, sequence, stream, message, timestamp) FROM STDIN") as copy:
            copy.write("".join(rows))
        rollups_add_log_lines(job_id, len(lines))


class LogWriter:
    def __init__(self, job_id, *, start_sequence: int | None = None):
        self.job_id = job_id
        if start_sequence is None:
            last = JobLog.objects.filter(job_id=job_id).order_by("-sequence").values_list("sequence", flat=True).first()
            start_sequence = (last or 0) + 1
        self._next = start_sequence
        self._buffer: list[LogLine] = []
        self._splitters: dict[str, LineSplitter] = {}
        self._lock = threading.Lock()
        self._dropped = 0
        # The cap is per job: lines stored by an earlier attempt (or a salvage) count toward it.
        self._written = start_sequence - 1
        self._max_bytes = settings.LOG_MAX_LINE_BYTES
        self._cap = settings.LOG_MAX_LINES_PER_JOB
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    # -- feeding ---------------------------------------------------------------------------------
    def write(self, stream: str, message: str) -> None:
        """Add one complete line."""
        with self._lock:
            self._add(stream, message, datetime.now(UTC))
            if len(self._buffer) >= FLUSH_LINES:
                self._flush_locked()

    def feed(self, stream: str, chunk: bytes | str) -> None:
        """Add raw output: split into lines, keeping a trailing partial line until it completes."""
        with self._lock:
            splitter = self._splitters.setdefault(stream, LineSplitter(self._max_bytes))
            now = datetime.now(UTC)  # the lines of one chunk arrived together
            for line in splitter.feed(chunk):
                self._add(stream, line, now)
            if len(self._buffer) >= FLUSH_LINES:
                self._flush_locked()

    def _add(self, stream: str, message: str, now: datetime) -> None:
        if self._written + len(self._buffer) >= self._cap:
            self._dropped += 1
            return
        # A character is at most 4 bytes: only a line that may be too long is encoded to measure it.
        if len(message) * 4 > self._max_bytes and len(encoded := message.encode()) > self._max_bytes:
            cut = encoded[: self._max_bytes].decode("utf-8", errors="ignore")
            message = f"{cut} …[line truncated: {len(encoded) - self._max_bytes} more bytes]"
        self._buffer.append(LogLine(self._next, stream, message, now))
        self._next += 1

    # -- flushing --------------------------------------------------------------------------------
    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._buffer:
            return
        lines, self._buffer = self._buffer, []
        copy_lines(self.job_id, lines)
        self._written += len(lines)
        # One message per flush, not per line: followers unpack the batch (see jobs/live.py).
        publish_event(self.job_id, "logs", lines_as_dicts(lines))

    def start(self) -> LogWriter:
        self._flusher = threading.Thread(target=self._flush_periodically, name=f"logs-{self.job_id}", daemon=True)
        self._flusher.start()
        return self

    def _flush_periodically(self) -> None:
        try:
            while not self._stop.wait(settings.LOG_FLUSH_INTERVAL):
                try:
                    self.flush()
                except Exception:
                    logger.exception("flushing logs of job %s failed", self.job_id)
        finally:
            connection.close()

    def close(self) -> None:
        """Write what is left: partial lines, the truncation notice, the buffer."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=10)
        with self._lock:
            for stream, splitter in self._splitters.items():
                if rest := splitter.rest():
                    self._add(stream, rest, datetime.now(UTC))
            if self._dropped:
                self._buffer.append(
                    LogLine(
                        self._next,
                        "stderr",
                        f"…[log truncated: {self._dropped} more lines were dropped]",
                        datetime.now(UTC),
                    )
                )
                self._next += 1
                self._dropped = 0
            self._flush_locked()

    def __enter__(self) -> LogWriter:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
