"""Build bannedbook.db from a folder of crawled pages.

    python build_db.py [RAW] [DB] [--full] [--workers N] [--lexicon CSV ...]   (defaults: raw/ and bannedbook.db)

Reads every page under RAW (read, decode, extract on every core), writes
articles, paragraphs, tags and links, indexes them for Chinese search, and
leaves Datasette's table counts beside DB. Every file gets a row in
raw_files, rejected ones with the reason. When DB exists, only new and
changed files are read (--full: all). --lexicon (repeatable) matches the
terms of a CSV file (a `term` column, optional `theme` and others) into the
lexicon and article_terms tables. The pipeline is bannedbook.build.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

from bannedbook.build import build, summary
from bannedbook.site import fresh_inspect_file, write_inspect_file
from bannedbook.store import BuildError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", default="raw", type=Path)
    parser.add_argument("db", nargs="?", default="bannedbook.db", type=Path)
    parser.add_argument("--workers", type=int, help="processes to extract with (default: all cores)")
    parser.add_argument("--full", action="store_true", help="read every file, even if DB is up to date with it")
    parser.add_argument("--lexicon", action="append", default=[], type=Path, metavar="CSV",
                        help="a CSV of terms to match (repeat for several)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        counts = build(args.raw, args.db, args.workers, progress=sys.stderr.isatty(), full=args.full,
                       lexicon=args.lexicon)
    except BuildError as error:
        print(f"build_db: error: {error}", file=sys.stderr)
        return 2
    except sqlite3.OperationalError as error:  # the disk is full, the file system read-only …
        print(f"build_db: error: cannot write the database {args.db}: {error}", file=sys.stderr)
        return 2
    if not fresh_inspect_file(args.db):
        write_inspect_file(args.db)  # table counts, so Datasette starts without counting
    print(summary(counts, args.db, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
