"""`make bench`: every benchmark at each size, then docs/benchmarks.md.

    python benchmarks/run.py [--sizes 20000 100000] [--corpora /tmp] [--work /tmp]

For each size: the crawl /tmp/corpus20k (or …100k, named for the size under
--corpora), made by tests/helpers/corpus.py under --work when it is missing or
incomplete; build_bench.py (build, rebuilds, size, start-up) into --work,
profile_build.py on the crawl, then search_bench.py, index_variants.py,
pages_bench.py (with the previous size's database too, to see what
grows), load.py, trends_bench.py, lexicon_bench.py, pinyin_bench.py (its
held-out crawl built under --work) and stories_bench.py
--built (the story step on a copy, and what stories cost the pages) on the
database it built; at the smallest size, extract_bench.py on the crawl
(its figures are per page), and a crawl of 4,000 small pages
(`corpus.py --small`, 8 KB fragments) that build_bench.py builds too
(--small) and extract_bench.py and profile_build.py measure per page. At the largest size, warc_bench.py builds from
a 1 GB WARC file made of that crawl. crash.py, crawl_bench.py, backfill_bench.py and
versions_bench.py (planted edits on texts of its own) run once.
Each runs as its own process, so one's memory and imports never colour
another's figures. A benchmark that misses a target does not stop the
others; the report is written at the end, and the exit status is 1 when any
benchmark failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import report
from common import size_label

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

Step = tuple[str, ...]  # a script (its path in the project folder) and its arguments
SMALL_PAGES = 4000  # a crawl of small pages (8 KB fragments, corpus.py --small), built and profiled once


def complete(raw: Path, size: int) -> bool:
    # The generator writes exactly `size` files; fewer means it is still running or was stopped.
    return raw.is_dir() and sum(1 for path in raw.rglob("*") if path.is_file()) == size


def crawl(steps: list[Step], corpora: Path, work: Path, size: int, name: str, *options: str) -> Path:
    """The crawl NAME+size under corpora, or under work, where a step that
    makes it is added to steps when it is missing or incomplete."""
    raw = corpora / f"{name}{size_label(size)}"
    if not complete(raw, size):
        raw = work / f"{name}{size_label(size)}"
        if not complete(raw, size):
            steps.append(("tests/helpers/corpus.py", "--pages", str(size), "--out", str(raw), "--force", *options))
    return raw


def plan(sizes: list[int], corpora: Path, work: Path) -> list[Step]:
    """The benchmarks to run, in order."""
    steps: list[Step] = []
    raw = None
    smaller: list[str] = []  # pages_bench also times the previous size's pages: what grows
    for size in sizes:
        small: list[str] = []  # at the smallest size, build_bench also builds a crawl of small pages
        if not smaller:
            small_raw = crawl(steps, corpora, work, SMALL_PAGES, "corpus-small", "--small")
            small = ["--small", str(small_raw)]
        raw = crawl(steps, corpora, work, size, "corpus")
        folder = work / f"build-{size_label(size)}"
        db = str(folder / "bannedbook.db")
        steps += [
            ("benchmarks/build_bench.py", "--raw", str(raw), "--work", str(folder), *small),
            ("benchmarks/profile_build.py", "--raw", str(raw)),
            ("benchmarks/search_bench.py", "--db", db),
            ("benchmarks/index_variants.py", "--db", db),
            ("benchmarks/pages_bench.py", "--db", db, *smaller),
            ("benchmarks/load.py", "--db", db),
            ("benchmarks/trends_bench.py", "--db", db),
            ("benchmarks/lexicon_bench.py", "--db", db),
            ("benchmarks/pinyin_bench.py", "--db", db, "--work", str(work)),
            ("benchmarks/stories_bench.py", "--built", db, "--work", str(folder)),
        ]
        if not smaller:  # per-page figures: the smallest crawl is enough, and the small pages
            steps += [("benchmarks/extract_bench.py", "--raw", str(raw)),
                      ("benchmarks/extract_bench.py", "--raw", small[1], "--name", "extract_small"),
                      ("benchmarks/profile_build.py", "--raw", small[1], "--no-pipeline", "--name",
                       "profile_build_small")]
        smaller = ["--smaller", db]
    if raw is not None:
        steps.append(("benchmarks/warc_bench.py", "--raw", str(raw), "--gb", "1", "--work", str(work / "warc-bench")))
    steps += [("benchmarks/crash.py",), ("benchmarks/crawl_bench.py",), ("benchmarks/backfill_bench.py",),
              ("benchmarks/versions_bench.py",),
              ("benchmarks/bombs_bench.py", "--work", str(work / "bombs-bench"))]
    return steps


def run_script(step: Step) -> int:
    print(f"\n$ python {' '.join(step)}", flush=True)
    # Benchmarks take what they share with the tests (the corpus, the
    # crawler's fake site) from tests/; nothing in tests/ imports benchmarks/.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    return subprocess.run([sys.executable, str(ROOT / step[0]), *step[1:]], env=env).returncode


def run_all(steps: list[Step], runner: Callable[[Step], int] = run_script) -> list[Step]:
    """Run every step, whatever the others did; the steps that failed."""
    return [step for step in steps if runner(step) != 0]


def exit_status(failed: list[Step]) -> int:
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--corpora", type=Path, default=Path("/tmp"), help="where the crawls are (only read)")
    parser.add_argument("--work", type=Path, default=Path("/tmp"), help="where made crawls and databases go")
    args = parser.parse_args(argv)
    if any(size < 1 for size in args.sizes):
        parser.error("--sizes must be positive")
    args.work.mkdir(parents=True, exist_ok=True)
    failed = run_all(plan(args.sizes, args.corpora, args.work))
    print(f"\nwrote {report.write()}")
    for step in failed:
        print(f"FAILED: python {' '.join(step)}")
    return exit_status(failed)


if __name__ == "__main__":
    sys.exit(main())
