"""What every benchmark shares: percentiles, the machine it ran on, and the
result file that `benchmarks/report.py` turns into docs/benchmarks.md.

A result is one JSON file in benchmarks/results/ per benchmark and size:

    {"name": "extract", "title": "...", "command": "python benchmarks/...",
     "date": "2026-12-01T15:00:00+00:00", "machine": {...},
     "tables": [{"title": "...", "columns": [...], "rows": [[...], ...]}],
     "notes": ["..."], "targets": [{"what": "...", "value": 1.2, "target": "<= 1.5", "met": true}]}

A benchmark exits 1 when a target is missed (`finish` does that), so
`make bench` can gate a change.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction 0.5 = median); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def machine() -> dict:
    """What the figures were measured on."""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    try:
        memory = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        memory = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory / 2**30, 1) if memory else None,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def target(what: str, value: float, limit: float, at_most: bool = True) -> dict:
    """One target: value <= limit (at_most) or value >= limit."""
    met = value <= limit if at_most else value >= limit
    return {"what": what, "value": value, "target": f"{'<=' if at_most else '>='} {limit}", "met": bool(met)}


def table(title: str, columns: list[str], rows: list[list]) -> dict:
    return {"title": title, "columns": columns, "rows": rows}


def save(name: str, title: str, tables: list[dict], notes: list[str] | None = None,
         targets: list[dict] | None = None, out: Path | None = None, **extra) -> Path:
    """Write the result file (benchmarks/results/NAME.json unless out) with
    the command line, date and machine beside the figures."""
    result = {
        "name": name,
        "title": title,
        "command": "python " + shlex.join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tables": tables,
        "notes": notes or [],
        "targets": targets or [],
        **extra,
    }
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def finish(targets: list[dict]) -> int:
    """Print each target and return the exit status: 1 when one is missed."""
    for item in targets:
        print(f"  {'met   ' if item['met'] else 'MISSED'} {item['what']}: {item['value']} (target {item['target']})")
    return 0 if all(item["met"] for item in targets) else 1
