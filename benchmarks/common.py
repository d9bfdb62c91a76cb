"""What every benchmark shares: percentiles, the machine and code it ran on,
and the result file that `benchmarks/report.py` turns into
docs/benchmarks.md (what a result holds is described at the top of
report.py; `save` writes it).

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
import subprocess
import sys
import tempfile
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


def git(folder: Path, *args: str, env: dict | None = None) -> str:
    """A git command's output in folder ('' when it fails: no git, not a checkout)."""
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                              env={**os.environ, **(env or {})})
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def code_at(package: Path) -> dict:
    """The code in a package folder: the commit its checkout has checked
    out, and the git tree of the folder as it is on disk (uncommitted
    changes included). report.py compares trees: the same tree is the same
    code, whatever the commit."""
    package = package.resolve()
    top = git(package, "rev-parse", "--show-toplevel")
    if not top:
        return {"commit": None, "package": None}
    prefix = package.relative_to(top).as_posix()
    with tempfile.TemporaryDirectory(prefix="bench-index-") as folder:
        # A scratch index, so the checkout's own index and files are left as they are.
        env = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
        git(Path(top), "read-tree", "HEAD", env=env)
        git(Path(top), "add", "--all", "--", prefix, env=env)
        tree = git(Path(top), "write-tree", f"--prefix={prefix}/", env=env)
    return {"commit": git(Path(top), "rev-parse", "HEAD") or None, "package": tree or None}


def measured_code() -> dict:
    """code_at the package this process imports: the code a benchmark measures."""
    import bannedbook

    return code_at(Path(bannedbook.__file__).parent)


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
        **measured_code(),
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
