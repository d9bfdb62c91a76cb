"""`make bench`: every benchmark, at 20,000 and 100,000 pages.

    python benchmarks/run.py [--sizes 20000 100000] [--corpora /tmp] [--work /tmp]

For each size: the crawl /tmp/corpus20k (or …100k) made by benchmarks/corpus.py,
generated first when it is missing or incomplete; then build_bench.py (build,
rebuild, size, start-up), then search_bench.py, index_variants.py,
load.py, trends_bench.py and lexicon_bench.py on the database it built.
crash.py runs once. Each runs as its own process, so one's memory and
imports never colour another's figures.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def complete(raw: Path, size: int) -> bool:
    # The generator writes exactly `size` files; fewer means it is still running or was stopped.
    return raw.is_dir() and sum(1 for path in raw.rglob("*") if path.is_file()) == size


def corpus(size: int, folder: Path) -> Path:
    raw = folder / f"corpus{label(size)}"
    if not complete(raw, size):
        raw = folder / f"bench-corpus{label(size)}"
        if not complete(raw, size):
            shutil.rmtree(raw, ignore_errors=True)
            run("corpus.py", "--pages", str(size), "--out", str(raw))
    return raw


def run(script: str, *args: str) -> None:
    print(f"\n$ python benchmarks/{script} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--corpora", type=Path, default=Path("/tmp"), help="where the crawls are (or go)")
    parser.add_argument("--work", type=Path, default=Path("/tmp"), help="where the databases go")
    args = parser.parse_args(argv)
    for size in args.sizes:
        raw = corpus(size, args.corpora)
        db = args.work / f"build-bench-{label(size)}" / "bannedbook.db"
        run("build_bench.py", "--raw", str(raw), "--work", str(db.parent))
        run("search_bench.py", "--db", str(db))
        run("index_variants.py", "--db", str(db))
        run("load.py", "--db", str(db))
        run("trends_bench.py", "--db", str(db))
        run("lexicon_bench.py", "--db", str(db))
    run("crash.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
