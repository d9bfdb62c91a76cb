"""Measure the build and the server's start-up on one crawl.

    PYTHONPATH=tests python benchmarks/build_bench.py --raw /tmp/corpus20k [--small /tmp/corpus-small4k]
        [--work DIR] [--out FILE]

In one run, on this machine: the bare `BeautifulSoup(html, 'lxml')` parse of
every file in one process (the floor for a bs4 extractor on one core); a
full build (`build_db.py --full`, every core); an unchanged rebuild
(`build_db.py`, incremental); two incremental builds on a copy, each adding
1 % more pages: first half of them older than every article held and half
newer (checked equal to a full build of the grown crawl), then pages of the
usual mix; the database's size; and how long the server takes to answer
once started as `make serve` starts it. Times are also given as ratios
against the bare parse and the full build of the same run, which a busy
machine moves less than the seconds. With --small DIR, also the bare
parse and a full build of a crawl of small pages (`tests/helpers/corpus.py
--small`: article fragments of about 8 KB, as most pages of a real crawl
are, where the default mix averages 16 KB): on small pages the costs paid
per article weigh more against the parse.

Gated targets: the full build <= 2.5 x the bare parse (on each crawl), unchanged rebuild <=
5 % of a full build, adding 1 % (half older, half newer) <= 5 % of a full
build and equal to a full build of the same pages, peak RSS of the full build <= 500 MB, the server
answering its home page <= 2 s after start. Reported only: the full build
<= 0.75 x the bare parse (a stretch). profile_build.py says where a build's
time goes.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path

from bs4 import BeautifulSoup
from common import crawl_pages, finish, save, show, table, target
from helpers.corpus import generate
from helpers.equal_builds import digest
from helpers.servers import served

from bannedbook.build.files import find_pages
from bannedbook.web.site import write_inspect_file

ROOT = Path(__file__).resolve().parent.parent
PARSE_LIMIT = 2.5  # full build ÷ bare parse, on every crawl


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
    """Seconds from starting the server as `make serve DB=db` does to its
    first answer of the home page (table counts), then of a search."""
    started = time.perf_counter()
    with served(db) as url:
        urllib.request.urlopen(f"{url}/", timeout=60).read()
        ready = time.perf_counter() - started
        search = time.perf_counter()
        urllib.request.urlopen(f"{url}/bannedbook/articles.json?_search=%E4%B8%AD%E5%9B%BD&_size=20",
                               timeout=60).read()
        return ready, time.perf_counter() - search


def sizes(db: Path) -> tuple[int, int, int]:
    """Articles, database bytes and search-index bytes."""
    with sqlite3.connect(db) as conn:
        articles = conn.execute("select count(*) from articles").fetchone()[0]
        fts = conn.execute("select sum(pgsize) from dbstat where name like 'articles_fts%'").fetchone()[0]
    return articles, db.stat().st_size, fts


def grow(raw: Path, db: Path, work: Path, pages: int) -> tuple[list[tuple[str, float, int]], dict]:
    """Incremental builds of a copy of db and raw, each adding 1 % more
    pages, and the inspect step every build that changed something ends
    with: (what, seconds, peak RSS) of each. Then a full build of the grown
    crawl, to check the update built the same archive (equal digests)."""
    shutil.rmtree(work, ignore_errors=True)
    print(f"copying {raw} and {db.name} to {work} for the incremental builds…", file=sys.stderr)
    shutil.copytree(raw, work / "raw")  # copies keep their mtimes: unchanged files stay unread
    shutil.copy2(db, work / db.name)
    added = max(2, pages // 100)
    build = [sys.executable, "build_db.py", str(work / "raw"), str(work / db.name)]
    # Half of the pages dated before every article held, half after the
    # crawl's last day: each takes its key, nothing else moves.
    generate(work / "raw" / "added-older", added // 2, seed=103, first_day=date(1900, 1, 1), days=30,
             first_number=7_000_000, shapes={"full": 1})
    generate(work / "raw" / "added-newer", added - added // 2, seed=101, first_day=date(2030, 1, 1), days=30,
             first_number=5_000_000, shapes={"full": 1})
    both = run_measured(build)
    started = time.perf_counter()
    write_inspect_file(work / db.name)  # what every build that changed something ends with (cli.build_command)
    inspect = time.perf_counter() - started
    print("full build of the grown crawl, to compare…", file=sys.stderr)
    run_measured([sys.executable, "build_db.py", str(work / "raw"), str(work / "full.db"), "--full"])
    same = {"incremental": digest(work / db.name), "full": digest(work / "full.db")}
    (work / "full.db").unlink()
    # The usual mix (undated fragments, dates across the years).
    generate(work / "raw" / "added-mixed", added, seed=102, first_number=6_000_000)
    mixed = run_measured(build)
    shutil.rmtree(work, ignore_errors=True)
    return [(f"add {added:,} pages, half older than every article held, half newer", *both),
            (f"add {added:,} pages of the usual mix", *mixed),
            ("… the inspect file after an update (table counts, size)", inspect, 0)], same


def mean_kb(paths: list[Path]) -> float:
    return sum(path.stat().st_size for path in paths) / max(len(paths), 1) / 1000


def small_pages(raw: Path, work: Path) -> dict:
    """Bare parse and full build of a crawl of small pages."""
    paths = find_pages(raw)
    print(f"{len(paths):,} small pages under {raw}: bare parse…", file=sys.stderr)
    bare = bare_parse_seconds(paths)
    print(f"small pages: bare parse {bare:.1f} s; full build…", file=sys.stderr)
    full = run_measured([sys.executable, "build_db.py", str(raw), str(work / "small.db"), "--full"])
    return {"pages": len(paths), "kb": mean_kb(paths), "bare": bare, "full": full}


def measure(raw: Path, work: Path, small: Path | None = None) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bannedbook.db"
    paths = find_pages(raw)
    print(f"{len(paths):,} pages under {raw}: bare parse…", file=sys.stderr)
    bare = bare_parse_seconds(paths)
    print(f"bare parse {bare:.1f} s; full build…", file=sys.stderr)
    build = [sys.executable, "build_db.py", str(raw), str(db)]
    full = run_measured([*build, "--full"])
    unchanged = run_measured(build)
    ready, first_search = startup_seconds(db)
    articles, db_bytes, fts_bytes = sizes(db)
    grown, same = grow(raw, db, work / "grown", len(paths))
    return {"pages": len(paths), "kb": mean_kb(paths), "bare": bare, "full": full, "unchanged": unchanged,
            "grown": grown, "same": same, "ready": ready, "first_search": first_search, "articles": articles,
            "db_bytes": db_bytes, "fts_bytes": fts_bytes, "db": db,
            "small": small_pages(small, work) if small else None}


def build_table(m: dict) -> dict:
    bare, full = m["bare"], m["full"][0]
    rows = [["bare BeautifulSoup(html, 'lxml') parse, one process", round(bare, 2),
             round(m["pages"] / bare, 1), 1.0, round(bare / full, 3), None]]
    runs = [("full build (`build_db.py --full`), every core", *m["full"]),
            ("unchanged rebuild (`build_db.py`)", *m["unchanged"]), *m["grown"]]
    for what, seconds, rss in runs:
        rate = round(m["pages"] / seconds, 1) if "full" in what else None
        rows.append([what, round(seconds, 2), rate, round(seconds / bare, 3), round(seconds / full, 4),
                     round(rss / 1e6) if rss else None])
    if small := m["small"]:
        what = f"{small['pages']:,} small pages ({small['kb']:.1f} KB on average): "
        (seconds, rss), bare = small["full"], small["bare"]
        rows += [[what + "bare parse, one process", round(bare, 2), round(small["pages"] / bare, 1), 1.0,
                  None, None],
                 [what + "full build, every core", round(seconds, 2), round(small["pages"] / seconds, 1),
                  round(seconds / bare, 3), None, round(rss / 1e6)]]
    return table("Build", ["", "seconds", "pages/s", "× bare parse", "× full build", "peak RSS (MB)"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="a crawl (tests/helpers/corpus.py); only read")
    parser.add_argument("--work", type=Path, help="folder for the databases (default: /tmp/build-bench-<raw name>)")
    parser.add_argument("--out", type=Path, help="result file (default benchmarks/results/build-SIZE.json)")
    parser.add_argument("--small", type=Path, metavar="DIR",
                        help="also a crawl of small pages (corpus.py --small: 8 KB fragments); only read")
    args = parser.parse_args(argv)
    if not args.raw.is_dir():
        parser.error(f"{args.raw} is not a folder")
    if args.small and not args.small.is_dir():
        parser.error(f"{args.small} is not a folder")
    m = measure(args.raw, args.work or Path("/tmp") / f"build-bench-{args.raw.name}", args.small)
    pages = crawl_pages(m["db"])
    tables = [
        build_table(m),
        table("Database and start-up", ["", "value"], [
            ["articles", m["articles"]],
            ["database bytes per page", round(m["db_bytes"] / pages)],
            ["… of which search index", round(m["fts_bytes"] / pages)],
            ["server start to home page answered (s)", round(m["ready"], 2)],
            ["first search after that (s)", round(m["first_search"], 3)],
        ]),
    ]
    unchanged, full = m["unchanged"][0], m["full"][0]
    older_newer = m["grown"][0][1]
    targets = [
        target("unchanged rebuild ÷ full build", round(unchanged / full, 4), 0.05),
        target("add 1 % (half older than all, half newer) ÷ full build", round(older_newer / full, 4), 0.05),
        target("… and the result differs from a full build of the same crawl (digests of every table,"
               " index entry and key)", int(m["same"]["incremental"] != m["same"]["full"]), 0),
        target("peak RSS of the full build (MB)", round(m["full"][1] / 1e6), 500),
        target("server answers its home page, seconds after start", round(m["ready"], 2), 2),
        target(f"full build ÷ bare parse ({m['kb']:.0f} KB pages)", round(full / m["bare"], 3), PARSE_LIMIT),
        target("full build ÷ bare parse (stretch)", round(full / m["bare"], 3), 0.75, gated=False),
    ]
    if small := m["small"]:
        targets.append(target(f"full build ÷ bare parse, {small['pages']:,} small pages ({small['kb']:.0f} KB)",
                              round(small["full"][0] / small["bare"], 3), PARSE_LIMIT))
    notes = [
        f"Crawl: {pages:,} pages of `tests/helpers/corpus.py` under `{args.raw}`, {m['kb']:.1f} KB a file on average.",
        *([f"Small pages: {m['small']['pages']:,} article fragments of `tests/helpers/corpus.py --small` under"
           f" `{args.small}` ({m['small']['kb']:.1f} KB a file on average), built into a database of their own;"
           " their ratio is against their own bare parse."] if m["small"] else []),
        "Seconds are wall-clock on this machine in one run; the ratios compare runs of that same run.",
        "Peak RSS sums the build's processes (the writer and its workers), sampled every 0.1 s.",
        "The two incremental builds run on copies of the crawl and the database (the rows above them"
        " are of the crawl as given), one after the other; they update the database in place"
        " (store.atomic_database). Writing Datasette's inspect file, which `bannedbook build` does"
        " after them, is timed apart in the last row.",
        f"After the first, a full build of the same grown crawl gives digest {m['same']['full'][:12]}, the"
        f" incremental build {m['same']['incremental'][:12]} (tests/helpers/equal_builds.digest).",
        "Server start-up is timed from starting `bannedbook serve` (as `make serve DB=…`) to its"
        " first answer of `/`, the starter polling every 0.1 s.",
    ]
    show(tables, notes)
    save("build", "Build and start-up", tables, notes, targets, pages=pages, out=args.out)
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
