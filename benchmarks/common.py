"""What every benchmark shares: percentiles, the machine it ran on, and the
result file that `benchmarks/report.py` turns into docs/benchmarks.md.

A result is one JSON file in benchmarks/results/ per benchmark and size
(NAME-20k.json for a 20,000-page crawl, NAME.json when size does not apply):

    {"name": "search", "title": "...", "pages": 20000, "command": "python benchmarks/...",
     "date": "2026-12-01T15:00:00+00:00", "machine": {...},
     "tables": [{"title": "...", "columns": [...], "rows": [[...], ...]}],
     "notes": ["..."],
     "targets": [{"what": "...", "value": 1.2, "target": "<= 1.5", "met": true, "gated": true}]}

A benchmark exits 1 when a gated target is missed (`finish` does that), so
`make bench` fails on it; a target that is not gated is reported only.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shlex
import sqlite3
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


def target(what: str, value: float, limit: float, at_most: bool = True, gated: bool = True) -> dict:
    """One target: value <= limit (at_most) or value >= limit. A target that
    is not gated is reported but does not fail the benchmark."""
    met = value <= limit if at_most else value >= limit
    return {"what": what, "value": value, "target": f"{'<=' if at_most else '>='} {limit}", "met": bool(met),
            "gated": gated}


def table(title: str, columns: list[str], rows: list[list]) -> dict:
    return {"title": title, "columns": columns, "rows": rows}


def size_label(pages: int) -> str:
    """20000 -> '20k': the size part of a result's file name."""
    return f"{pages // 1000}k" if pages >= 1000 and pages % 1000 == 0 else str(pages)


def crawl_pages(db: Path | str) -> int:
    """How many files the crawl a database was built from had (its size)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("select count(*) from raw_files").fetchone()[0]
    finally:
        conn.close()


def code_version() -> str:
    """The commit measured, '+' when the worktree has changes, and where the
    package was imported from (a copy of an older commit is measured by
    copying the benchmark into it and running it there)."""
    import subprocess

    import bannedbook

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    dirty = "+" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{git('rev-parse', '--short', 'HEAD') or 'unknown'}{dirty} ({Path(bannedbook.__file__).parent})"


def titled(title: str, code: str | None) -> str:
    """A result's title, naming the code measured when it is not this
    checkout's (--code), so that its section and the current one differ."""
    return f"{title}, code {code.split(' (')[0]}" if code else title


def command() -> str:
    """This process's command line, as someone would type it in the project folder."""
    script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    return "python " + shlex.join([script, *sys.argv[1:]])


def save(name: str, title: str, tables: list[dict], notes: list[str] | None = None,
         targets: list[dict] | None = None, pages: int | None = None, out: Path | None = None,
         **extra) -> Path:
    """Write the result file (benchmarks/results/NAME-SIZE.json, or NAME.json
    without pages, unless out) with the command line, date and machine
    beside the figures."""
    result = {
        "name": name,
        "title": title,
        "pages": pages,
        "command": command(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tables": tables,
        "notes": notes or [],
        "targets": targets or [],
        **extra,
    }
    path = out or RESULTS / (f"{name}-{size_label(pages)}.json" if pages else f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {os.path.relpath(path)}", file=sys.stderr)
    return path


def cell(value: object) -> str:
    """A table cell as text: thousands separators, no trailing noise."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return "nan" if isinstance(value, float) and math.isnan(value) else f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(item: dict) -> str:
    """One table as Markdown."""
    lines = ["| " + " | ".join(cell(c) for c in item["columns"]) + " |",
             "|" + "|".join(" --- " for _ in item["columns"]) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in item["rows"]]
    return "\n".join(lines)


def show(tables: list[dict], notes: list[str] | None = None) -> None:
    """Print the tables (and notes) as they will read in docs/benchmarks.md."""
    for item in tables:
        print(f"\n{item['title']}\n\n{markdown(item)}")
    for note in notes or []:
        print(f"\n- {note}")


def verdict(item: dict) -> str:
    if item["met"]:
        return "met"
    return "MISSED" if item.get("gated", True) else "missed (reported, not gated)"


def finish(targets: list[dict]) -> int:
    """Print each target and return the exit status: 1 when a gated one is missed."""
    if targets:
        print()
    for item in targets:
        print(f"  {verdict(item)}: {item['what']}: {cell(item['value'])} (target {item['target']})")
    return 0 if all(item["met"] or not item.get("gated", True) for item in targets) else 1
