"""The dashboard's charts as geometry for server-rendered SVG (templates/analytics/_charts.html).

The SVGs hold only shapes, drawn in a 100-high box stretched to the card's width; every text
(axis ends, legends, values) is HTML beside them, so it stays readable at a phone's width. Colours
come from CSS classes: the Content-Security-Policy allows no inline style.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobs.rollups import bucket_value

HEIGHT = 100.0
COLUMN = 10.0  # width of one column's slot in the viewBox; a gap of a fifth between columns
GAP = 2.0

# Durations are read in ranges a person recognises, summed from the histogram's 5% buckets.
DURATION_BINS: list[tuple[float, str]] = [
    (0.1, "< 0.1 s"),
    (1.0, "0.1-1 s"),
    (10.0, "1-10 s"),
    (60.0, "10 s-1 min"),
    (600.0, "1-10 min"),
    (3600.0, "10 min-1 h"),
    (math.inf, "≥ 1 h"),
]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class ColumnChart:
    width: float
    rects: list[Rect]
    peak: int  # the value the top of the box stands for
    labels: list[str]  # under the chart: first, middle, last column (or every column when few)


def _columns(stacks: Sequence[Sequence[tuple[int, str, str]]], labels: list[str]) -> ColumnChart:
    """Stacked columns, bottom first: each part (value, css class, title)."""
    peak = max((sum(value for value, _, _ in stack) for stack in stacks), default=0)
    rects = []
    for index, stack in enumerate(stacks):
        bottom = HEIGHT
        for value, css, title in stack:
            if not value:
                continue
            height = HEIGHT * value / peak
            bottom -= height
            rects.append(Rect(index * COLUMN + GAP / 2, bottom, COLUMN - GAP, height, css, title))
    return ColumnChart(len(stacks) * COLUMN, rects, peak, labels)


def _bucket_label(bucket: str, unit: str) -> str:
    start = datetime.fromisoformat(bucket)
    return start.strftime("%H:%M") if unit == "hour" else start.strftime("%b %d").replace(" 0", " ")


def timeseries_chart(points: list[dict[str, Any]], unit: str) -> ColumnChart | None:
    """Completed (bottom) and failed jobs per bucket; None when the range holds none."""
    if not any(point["completed"] or point["failed"] for point in points):
        return None
    stacks = []
    for point in points:
        when = _bucket_label(point["bucket"], unit)
        stacks.append(
            [
                (point["completed"], "completed", f"{when}: {point['completed']:,} completed"),
                (point["failed"], "failed", f"{when}: {point['failed']:,} failed"),
            ]
        )
    ends = [points[0], points[len(points) // 2], points[-1]]
    return _columns(stacks, [_bucket_label(point["bucket"], unit) for point in ends])


def duration_chart(histogram: list[tuple[int, int]]) -> ColumnChart | None:
    """How many finished jobs took how long; None when no job has a duration yet."""
    counts = [0] * len(DURATION_BINS)
    for bucket, count in histogram:
        value = bucket_value(bucket)
        counts[next(i for i, (limit, _) in enumerate(DURATION_BINS) if value < limit)] += count
    if not any(counts):
        return None
    stacks = [
        [(count, "duration", f"{label}: {count:,} jobs")]
        for count, (_, label) in zip(counts, DURATION_BINS, strict=True)
    ]
    return _columns(stacks, [label for _, label in DURATION_BINS])


@dataclass(frozen=True)
class Ring:
    """A donut: the success rate's share of a circle of circumference 100 (stroke-dasharray)."""

    percent: float

    @property
    def dash(self) -> str:
        return f"{self.percent:.2f} {100 - self.percent:.2f}"


def success_ring(rate: float | None) -> Ring | None:
    return None if rate is None else Ring(round(rate * 100, 2))


def charts_context(figures: dict[str, Any], histogram: list[tuple[int, int]], unit: str) -> dict[str, Any]:
    """What templates/analytics/_charts.html draws from an analytics answer."""
    return {
        "figures": figures,
        "timeseries": timeseries_chart(figures["timeseries"], unit),
        "durations": duration_chart(histogram),
        "ring": success_ring(figures["success_rate"]),
        "unit": unit,
    }
