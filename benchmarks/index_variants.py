"""Why the search index is laid out as it is: the size of other layouts.

    python benchmarks/index_variants.py --db DB [--every 9]

Takes every Nth article of a built database, indexes it in several FTS5
layouts (contentless, so only the index itself is measured) and gives each
layout's size against the UTF-8 bytes of the title and body text, with the
time to count the articles containing the commonest character, 的 (the
fastest of three counts). No targets: search_bench.py gates the shipped
index's size.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from common import crawl_pages, finish, save, show, table

from bannedbook.search.index import index_columns, index_text
from bannedbook.search.query import match_expression


def bigrams_only(title: str, body: str) -> tuple[str, str]:
    return index_text(body), index_text(title)


# name -> (columns and options, index rows from (title, body), query for 的)
VARIANTS = {
    "title first, prefix='1' (first design)": (
        "title_index, body_index, prefix='1'", lambda t, b: bigrams_only(t, b)[::-1], '"的"*'),
    "title first": ("title_index, body_index", lambda t, b: bigrams_only(t, b)[::-1], '"的"*'),
    "body first": ("body_index, title_index", bigrams_only, '"的"*'),
    "body first, prefix='1'": ("body_index, title_index, prefix='1'", bigrams_only, '"的"*'),
    "body first, character tokens (shipped)": ("body_index, title_index", index_columns, match_expression("的")),
}


def measure(db: Path, every: int) -> tuple[int, int, list[tuple[str, float, float]]]:
    """Articles taken, their text bytes, and (layout, index ÷ text, ms to count 的) for each layout."""
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = source.execute(f"select title, body from articles where rowid % {every} = 0").fetchall()
    source.close()
    text = sum(len(t.encode()) + len(b.encode()) for t, b in rows)
    print(f"{len(rows):,} articles, {text / 1e6:.1f} MB of title and body text", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        conn = sqlite3.connect(Path(folder) / "variants.db")
        for number, (name, (columns, make, query)) in enumerate(VARIANTS.items()):
            table = f"v{number}"
            conn.execute(f"create virtual table {table} using fts5({columns}, content='')")
            conn.executemany(f"insert into {table} values (?, ?)", (make(t, b) for t, b in rows))
            conn.execute(f"insert into {table}({table}) values ('optimize')")
            conn.commit()
            shadow = [f"{table}_{part}" for part in ("data", "idx", "docsize", "config")]
            size = conn.execute(
                f"select sum(pgsize) from dbstat where name in ({','.join('?' * len(shadow))})", shadow
            ).fetchone()[0]
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                conn.execute(f"select count(*) from {table} where {table} match ?", [query]).fetchone()
                timings.append((time.perf_counter() - started) * 1000)
            results.append((name, size / text, min(timings)))
        conn.close()
    return len(rows), text, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--every", type=int, default=9, help="take every Nth article (default 9)")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        parser.error(f"{args.db} is not a file")
    articles, text, results = measure(args.db, args.every)
    tables = [table("Search index layouts", ["layout", "index ÷ text", "count 的 (ms)"],
                    [[name, round(ratio, 3), round(ms, 2)] for name, ratio, ms in results])]
    notes = [f"Every {args.every}th article of a {crawl_pages(args.db):,}-page crawl: {articles:,} articles,"
             f" {text / 1e6:.1f} MB of title and body text, indexed contentless in each layout and optimised.",
             "`prefix='1'` adds FTS5's index of one-character prefixes; character tokens are the shipped"
             " per-article token for each distinct character (`bannedbook.search.index.index_columns`)."]
    show(tables, notes)
    save("index_variants", "Search index layouts", tables, notes, pages=crawl_pages(args.db))
    return finish([])


if __name__ == "__main__":
    sys.exit(main())
