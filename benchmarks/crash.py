"""Crash safety: kill -9 a build at random points, then check that the
previous database still opens, passes PRAGMA integrity_check and serves,
and that the next build cleans up the temp file and succeeds.

    python benchmarks/crash.py [--pages 400] [--kills 8] [--seed 1] [--work DIR]

Generates a small synthetic crawl with tests/helpers/corpus.py (or uses --raw),
builds it, then kills later builds (the whole process group: the build and
its worker processes) at uniformly random moments within the time such a
build takes: full rebuilds (--full) and incremental updates after some files
changed, in turn. Stops at the first failed check; gated target: no failed
check. Writes benchmarks/results/crash.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import finish, save, show, table, target

from bannedbook.web.site import make_datasette

ROOT = Path(__file__).resolve().parent.parent


def build(raw: Path, db: Path, full: bool = True) -> subprocess.Popen:
    """A build in its own process group, so one signal reaches its workers."""
    command = [sys.executable, str(ROOT / "build_db.py"), str(raw), str(db)] + (["--full"] if full else [])
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def timed_build(raw: Path, db: Path, full: bool) -> float:
    started = time.perf_counter()
    process = build(raw, db, full)
    if process.wait() != 0:
        raise SystemExit(f"crash: a build failed: {process.stderr.read().decode()}")
    return time.perf_counter() - started


def touch_some(raw: Path, rng: random.Random, share: float = 0.2) -> None:
    """Change a share of the crawl's files, so an incremental build has work."""
    files = sorted(p for p in raw.rglob("*") if p.is_file())
    for path in rng.sample(files, max(1, int(len(files) * share))):
        with path.open("ab") as handle:
            handle.write(b"\n")


def check(db: Path) -> str:
    """'' when db opens, is intact and serves an article; else what failed."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        integrity = conn.execute("pragma integrity_check").fetchone()[0]
        articles = conn.execute("select count(*) from articles").fetchone()[0]
        article_id = conn.execute("select id from articles limit 1").fetchone()[0]
        conn.close()
    except sqlite3.Error as error:
        return f"cannot open: {error}"
    if integrity != "ok":
        return f"integrity_check: {integrity}"
    if not articles:
        return "no articles"

    async def serve() -> str:
        client = make_datasette(db).client
        for path in (f"/bannedbook/articles/{article_id}.json", "/bannedbook/articles.json?_search=中国"):
            response = await client.get(path)
            if response.status_code != 200:
                return f"GET {path}: HTTP {response.status_code}"
        return ""

    return asyncio.run(serve())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, help="a crawl to build (default: generate one); its files get changed")
    parser.add_argument("--pages", type=int, default=400, help="pages to generate when no --raw")
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, help="folder for the crawl and databases (default: a temp folder)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="crash-") as temp:
        work = args.work or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        raw = args.raw
        if raw is None:
            raw = work / "raw"
            subprocess.run([sys.executable, str(ROOT / "tests" / "corpus.py"), "--pages", str(args.pages),
                            "--out", str(raw), "--seed", str(args.seed)], check=True, stdout=subprocess.DEVNULL)
        db = work / "bannedbook.db"
        temp_file = work / f".{db.name}.building"

        durations = {True: timed_build(raw, db, full=True)}
        touch_some(raw, rng)
        durations[False] = timed_build(raw, db, full=False)
        problem = check(db)
        rows = [["before", f"full ({durations[True]:.1f} s), then incremental ({durations[False]:.1f} s)", "—",
                 "not killed", "replaced", "left" if temp_file.exists() else "absent", problem or "ok"]]
        print(f"builds: full {durations[True]:.1f} s, incremental {durations[False]:.1f} s: {problem or 'ok'}")

        for kill in range(1, args.kills + 1):
            if problem:
                break
            full = kill % 2 == 1
            if not full:
                touch_some(raw, rng)
            before = sha256(db)
            delay = rng.uniform(0, durations[full])
            process = build(raw, db, full)
            time.sleep(delay)
            finished = process.poll() is not None
            if not finished:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            problem = check(db)
            state = "unchanged" if sha256(db) == before else "replaced by the finished build"
            rows.append([str(kill), "full" if full else "incremental", f"{delay:.2f}",
                         "ended before the kill" if finished else "kill -9", state,
                         "left" if temp_file.exists() else "absent", problem or "ok"])
            print(f"kill {kill}: {rows[-1][1]} build, at {rows[-1][2]} s ({rows[-1][3]}), database {state},"
                  f" temp file {rows[-1][5]}: {rows[-1][6]}")

        if not problem:
            final = build(raw, db, full=False)
            code = final.wait()
            problem = check(db) if code == 0 else f"exit status {code}: {final.stderr.read().decode()}"
            if temp_file.exists():
                problem = problem or f"{temp_file} left behind"
            rows.append(["after", "incremental", "—", "completed", "replaced",
                         "left" if temp_file.exists() else "absent", problem or "ok"])
            print(f"next build after the kills: {'ok, temp file cleaned up' if not problem else problem}")

    pages = args.pages if args.raw is None else sum(1 for p in raw.rglob("*") if p.is_file())
    tables = [table("Kills", ["kill", "build", "killed at (s)", "", "previous database", "temp file", "check"],
                    rows)]
    notes = [f"A crawl of {pages:,} pages; {args.kills} builds killed with SIGKILL (the whole process group)"
             f" at a moment drawn uniformly within the time such a build takes (seed {args.seed}).",
             "Check: the database opens, passes `PRAGMA integrity_check`, holds articles and serves an"
             " article page and a search; the row after the kills is the next build, which must succeed"
             " and remove the temp file."]
    targets = [target("failed checks", sum(row[-1] != "ok" for row in rows), 0)]
    show(tables, notes)
    save("crash", "Crash safety: builds killed at random moments", tables, notes, targets)
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
