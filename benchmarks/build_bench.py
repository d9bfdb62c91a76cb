"""Measure the build and the server's start-up on one crawl.

    python benchmarks/build_bench.py --raw /tmp/corpus20k [--work DIR] [--out FILE.json]

In one run, on this machine: the bare `BeautifulSoup(html, 'lxml')` parse of
every file in one process (the floor for a bs4 extractor on one core), then a
full build (`build_db.py --full`, every core), an unchanged rebuild
(`build_db.py`, incremental), the database's size, and how long `datasette`
takes to answer once started (`python -m bannedbook.site`, as `make serve`).
Times are also given as ratios against the bare parse and the full build, so
a busy or slow machine shifts the seconds more than the ratios.

Targets: full build <= 0.75 x bare parse; unchanged rebuild <= 5% of a full
build; peak RSS <= 500 MB; Datasette ready in <= 2 s (at 100k pages).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bs4 import BeautifulSoup

from bannedbook.files import find_pages
from bannedbook.site import free_port

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "benchmarks" / "results"


def bare_parse_seconds(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        try:
            BeautifulSoup(path.read_bytes(), "lxml")
        except OSError:
            pass
    return time.perf_counter() - started


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def run_measured(command: list[str]) -> tuple[float, int]:
    """Run command; its wall seconds and the peak RSS of its process tree."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(process.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{output}")
    print(output.rstrip(), file=sys.stderr)
    return seconds, peak


def startup_seconds(db: Path) -> tuple[float, float]:
    """Seconds from starting the server as `make serve` does to its first
    answer of the home page (table counts), then of a search."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "bannedbook.site", str(db), str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read()
                break
            except OSError:
                if server.poll() is not None or time.perf_counter() - started > 120:
                    raise SystemExit("datasette did not start") from None
                time.sleep(0.05)
        ready = time.perf_counter() - started
        search = time.perf_counter()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/bannedbook/articles.json?_search=%E4%B8%AD%E5%9B%BD&_size=20",
                               timeout=60).read()
        return ready, time.perf_counter() - search
    finally:
        server.terminate()
        server.wait(timeout=30)


def fts_bytes(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("select sum(pgsize) from dbstat where name like 'articles_fts%'").fetchone()[0]


def measure(raw: Path, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bannedbook.db"
    paths = find_pages(raw)
    pages = len(paths)
    print(f"{pages:,} pages under {raw}: bare parse…", file=sys.stderr)
    bare = bare_parse_seconds(paths)
    print(f"bare parse {bare:.1f} s; full build…", file=sys.stderr)
    build = [sys.executable, "build_db.py", str(raw), str(db)]
    full, full_rss = run_measured([*build, "--full"])
    unchanged, unchanged_rss = run_measured(build)
    ready, first_search = startup_seconds(db)
    size = db.stat().st_size
    return {
        "pages": pages,
        "bare_parse_seconds": round(bare, 2),
        "full_build_seconds": round(full, 2),
        "full_build_pages_per_second": round(pages / full, 1),
        "full_build_vs_bare_parse": round(full / bare, 3),
        "peak_rss_mb": round(full_rss / 1e6, 1),
        "unchanged_rebuild_seconds": round(unchanged, 2),
        "unchanged_rebuild_vs_full_build": round(unchanged / full, 4),
        "unchanged_rebuild_vs_bare_parse": round(unchanged / bare, 4),
        "unchanged_rebuild_peak_rss_mb": round(unchanged_rss / 1e6, 1),
        "database_bytes_per_page": round(size / pages),
        "fts_bytes_per_page": round(fts_bytes(db) / pages),
        "datasette_ready_seconds": round(ready, 2),
        "datasette_ready_vs_bare_parse": round(ready / bare, 4),
        "first_search_seconds": round(first_search, 3),
        "database": str(db),
    }


def report(result: dict) -> str:
    r = result
    targets = [
        ("full build", f"{r['full_build_seconds']:.1f} s, {r['full_build_pages_per_second']:.0f} pages/s",
         f"{r['full_build_vs_bare_parse']:.2f} x bare parse", r["full_build_vs_bare_parse"] <= 0.75),
        ("unchanged rebuild", f"{r['unchanged_rebuild_seconds']:.2f} s",
         f"{r['unchanged_rebuild_vs_full_build']:.2%} of full build", r["unchanged_rebuild_vs_full_build"] <= 0.05),
        ("peak RSS (build)", f"{r['peak_rss_mb']:.0f} MB", "", r["peak_rss_mb"] <= 500),
        ("datasette ready", f"{r['datasette_ready_seconds']:.2f} s",
         f"{r['datasette_ready_vs_bare_parse']:.3f} x bare parse", r["datasette_ready_seconds"] <= 2),
    ]
    lines = [f"{r['pages']:,} pages — bare BeautifulSoup(html, 'lxml') parse in one process: "
             f"{r['bare_parse_seconds']:.1f} s"]
    lines += [f"  {name:<18} {value:<26} {ratio:<28} {'met' if ok else 'MISSED'}" for name, value, ratio, ok in targets]
    lines += [f"  database           {r['database_bytes_per_page']:,} bytes/page, of which search index "
              f"{r['fts_bytes_per_page']:,}",
              f"  first search       {r['first_search_seconds']:.3f} s after start-up"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="a crawl (benchmarks/corpus.py)")
    parser.add_argument("--work", type=Path, help="folder for the database (default: /tmp/build-bench-<raw name>)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    result = measure(args.raw, args.work or Path("/tmp") / f"build-bench-{args.raw.name}")
    print(report(result))
    out = args.out or RESULTS / f"build-{result['pages']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
