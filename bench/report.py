"""docs/benchmarks.md and its charts, made anew from bench/results/*.json (`python -m bench.report`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

INTRO = """# Benchmarks

Made by `make bench` from `bench/results/*.json`; do not edit by hand. Each figure is measured
beside its anchor, on the same machine in the same run: what a user would use instead, or the
raw cost of the same work without the platform. `make bench ONLY=<name>` runs one benchmark,
`make bench FULL=1` the full scale; `make test` smoke-runs every benchmark at a tiny scale so
none can rot (its figures are never asserted).
"""


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def _met(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "-"}[value]


def chart(records: list[dict], path: Path) -> None:
    """A line chart of each record's series (x: size, y: the figure), as plain SVG."""
    width, height, pad = 560, 300, 56
    points = [point for record in records for point in record["series"]]
    max_x = max(x for x, _ in points) or 1
    max_y = max(y for _, y in points) or 1
    colors = ["#2563eb", "#dc2626", "#059669", "#d97706"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'font-family="sans-serif" font-size="12">',
        f"<title>{records[0]['benchmark']}</title>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - 16}" y2="{height - pad}" stroke="#555"/>',
        f'<line x1="{pad}" y1="16" x2="{pad}" y2="{height - pad}" stroke="#555"/>',
        f'<text x="{width / 2}" y="{height - 16}" text-anchor="middle">{records[0]["series_x"]}</text>',
        f'<text x="{pad - 6}" y="20" text-anchor="end">{max_y:,.0f}</text>',
        f'<text x="{pad - 6}" y="{height - pad}" text-anchor="end">0</text>',
        f'<text x="{width - 16}" y="{height - pad + 16}" text-anchor="end">{max_x:,.0f}</text>',
    ]

    def at(x: float, y: float) -> tuple[float, float]:
        return pad + x / max_x * (width - pad - 16), height - pad - y / max_y * (height - pad - 16)

    for index, record in enumerate(records):
        color = colors[index % len(colors)]
        coords = [at(x, y) for x, y in record["series"]]
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" '
            f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in coords)}"/>'
        )
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in coords]
        parts.append(
            f'<text x="{pad + 8}" y="{30 + 16 * index}" fill="{color}">{record["metric"]} ({record["unit"]})</text>'
        )
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")


def main(results: Path = ROOT / "bench" / "results", docs: Path = DOCS) -> Path:
    files = sorted(results.glob("*.json"))
    lines = [INTRO]
    machines = sorted({record["machine"] for file in files for record in json.loads(file.read_text())})
    if machines:
        lines.append(f"Measured on: {'; '.join(machines)}.\n")
    lines += [
        "| benchmark | figure | ours | anchor | ratio | goal | met? | scale |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for file in files:
        records = json.loads(file.read_text())
        for record in records:
            ratio = f"{record['ratio']:.2f}x" if record["ratio"] is not None else "-"
            lines.append(
                f"| {record['benchmark']} | {record['metric']} | {_number(record['ours'], record['unit'])} "
                f"| {_number(record['anchor'], record['unit'])} | {ratio} | {record['goal']} "
                f"| {_met(record['goal_met'])} | {record['scale']} |"
            )
        name = records[0]["benchmark"]
        notes.append(f"\n## {name}\n")
        anchors = sorted({record["anchor_is"] for record in records if record["anchor_is"]})
        if anchors:
            notes.append(f"Anchor: {'; '.join(anchors)}.\n")
        for limit in dict.fromkeys(record["limit"] for record in records if record["limit"]):
            notes.append(f"What limits it now: {limit}\n")
        charted = [record for record in records if record["series"]]
        if charted:
            chart(charted, docs / "benchmarks" / f"{name}.svg")
            notes.append(f"![{name}](benchmarks/{name}.svg)\n")
    path = docs / "benchmarks.md"
    path.write_text("\n".join(lines + notes) + "\n")
    return path


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "results"))
