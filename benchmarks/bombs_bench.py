"""Hostile web archives at full size: does a build stay within its memory
target, how long does it take, and is the genuine record after each bomb
kept?

    PYTHONPATH=tests python benchmarks/bombs_bench.py [--scale 1.0] [--work /tmp/bombs-bench]

Writes each bomb of tests/helpers/warcs.py (write_bomb) in a file of its own,
followed by a genuine record: a brotli, a gzip and a deflate response that
decode to 3 GB, one 1.9 GB chunk of chunked transfer encoding, a 300 MB
WARC header line and a 6 GB HTTP status line (each a gzip member of a few
MB), 80 MB of zeros and 80 MB of newline-free text named .warc. Then runs
`build_db.py --full` on each alone, sampling the RSS summed over the
build's processes. --scale shrinks every size (0.01 for a quick look).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from build_bench import run_measured
from common import finish, save, table, target
from helpers.pages import CANONICAL, full_page
from helpers.warcs import BOMBS, http_message, warc_record, write_bomb

SIZES = {"brotli": 3e9, "gzip": 3e9, "deflate": 3e9, "chunk": 1.9e9, "header-line": 300e6, "status-line": 6e9,
         "zeros": 80e6, "garbage": 80e6}
MEMORY_TARGET_MB = 1000  # the build's target, summed over its processes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every bomb's size by this")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bombs-bench"))
    parser.add_argument("--only", nargs="*", choices=BOMBS, default=list(BOMBS))
    args = parser.parse_args(argv)
    url = CANONICAL.replace("2059001", "2059999")
    genuine = warc_record("response", url, http_message(full_page(url=url).encode()))
    rows, targets = [], []
    for name in args.only:
        folder = args.work / name
        shutil.rmtree(folder, ignore_errors=True)
        size = int(SIZES[name] * args.scale)
        path = folder / "raw" / (f"{name}.warc" if name in ("zeros", "garbage") else f"{name}.warc.gz")
        started = time.perf_counter()
        offset = write_bomb(path, name, size, genuine)
        print(f"{name}: {size / 1e6:,.0f} MB in {path.stat().st_size / 1e6:.1f} MB on disk, written in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        db = folder / "bannedbook.db"
        seconds, peak = run_measured([sys.executable, "build_db.py", str(path.parent), str(db), "--full"])
        with sqlite3.connect(db) as conn:
            found = dict(conn.execute("select path, coalesce(reason, status) from raw_files").fetchall())
        kept = found.get(f"{path.name}#{offset}") == "article"
        bomb = found.get(f"{path.name}#0") or found.get(path.name) or "(padding)"
        rows.append([name, f"{size / 1e6:,.0f} MB", f"{path.stat().st_size / 1e6:.1f} MB", bomb,
                     "kept" if kept else "LOST", f"{seconds:.1f} s", f"{peak / 1e6:.0f} MB"])
        targets.append(target(f"{name}: peak RSS of the build, all processes (MB)", round(peak / 1e6),
                              MEMORY_TARGET_MB))
        targets.append(target(f"{name}: the genuine record after the bomb kept", int(kept), 1, at_most=False))
        shutil.rmtree(folder / "raw")
    notes = ["Each bomb is read in pieces: a payload is decoded to the page limit (8 MB) and the rest of its "
             "record skipped, decompressed a piece at a time; a header or status line stops at 64 KB; zeros between "
             "records are padding, other bytes that are no record are passed over line by line "
             "(bannedbook/build/warc.py).",
             "Time is mostly undoing the WARC file's own gzip: a record's bytes are decompressed to find its end."]
    # Only the full sizes are a result of record; a scaled-down run leaves its figures in --work.
    save("bombs", "Hostile web archives: memory, time, what is kept",
         [table("One bomb per file, a genuine record after it",
                ["bomb", "stated or decoded", "on disk", "bomb's row", "genuine record", "build", "peak RSS"],
                rows)], notes=notes, targets=targets, out=None if args.scale == 1 else args.work / "bombs.json")
    for row in rows:
        print("  ".join(row))
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
