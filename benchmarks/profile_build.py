"""Where a build's time goes: CPU per page in a worker and in the writer,
and what a worker spends it on.

    python benchmarks/profile_build.py --raw /tmp/corpus20k [--pages 800]

Takes --pages files spread evenly over the crawl and, in this one process
(after reading them once, so every stage finds them in the OS cache):
CPU seconds (`time.process_time`) for the bare `BeautifulSoup(html, 'lxml')`
parse of each; for `bannedbook.build.read_page`, what a worker does with a
file (read, hash, decode, extract); for the search-index text of each
article (`chinese.index_columns`, which a build runs on its workers at the
end); and for the writer (`store.Store`: every row, the search index, the
indexes and ANALYZE) without that index text. Then pyinstrument samples
read_page again and splits its time by stage. No targets: these figures
explain build_bench.py's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from bs4 import BeautifulSoup
from common import finish, save, show, table
from pyinstrument import Profiler

from bannedbook.build import read_page
from bannedbook.files import find_pages
from bannedbook.store import Store, atomic_database

# Stages of a worker's time, tried from the outermost call inward: a call
# that matches takes the time of everything it calls.
STAGES: list[tuple[str, Callable[[str, str, str | None], bool]]] = [
    ("read the file", lambda path, function, cls: path.endswith("bannedbook/files.py") and function == "read_file"),
    ("decode bytes to text", lambda path, function, cls: path.endswith("bannedbook/decode.py")
     and function == "decode"),
    ("lxml parse into a bs4 tree", lambda path, function, cls: cls == "BeautifulSoup" and function == "__init__"),
    ("bs4 `find_parent`", lambda path, function, cls: "bs4" in path and function == "find_parent"),
    ("bs4 tree searches (`find`, `find_all`)", lambda path, function, cls: "bs4" in path
     and function in ("find", "find_all", "find_parents", "find_next", "find_all_next", "select", "select_one")),
    ("bs4 tree edits (`decompose`, `extract`, `unwrap`)", lambda path, function, cls: "bs4" in path
     and function in ("decompose", "extract", "unwrap")),
    ("bs4 text (`get_text`, strings)", lambda path, function, cls: "bs4" in path),
    ("`is_traditional` (script of the article)", lambda path, function, cls: function == "is_traditional"),
    ("`safe_text` (control and bidi characters)", lambda path, function, cls: function == "safe_text"),
]
REST = "the rest: extract.py's own code, regular expressions, hashing"


def sample(raw: Path, count: int) -> list[Path]:
    paths = find_pages(raw)
    return [paths[i * len(paths) // count] for i in range(min(count, len(paths)))]


def cpu_seconds(work: Callable[[], object]) -> tuple[float, object]:
    started = time.process_time()
    result = work()
    return time.process_time() - started, result


def stage_of(frame) -> str | None:
    for name, matches in STAGES:
        if matches(frame.file_path or "", frame.function or "", getattr(frame, "class_name", None)):
            return name
    return None


def shares(root) -> dict[str, float]:
    """Seconds per stage in a pyinstrument frame tree, each sample counted once."""
    seconds = {name: 0.0 for name, _ in STAGES} | {REST: 0.0}
    stack = [root]
    while stack:
        frame = stack.pop()
        stage = stage_of(frame)
        if stage:
            seconds[stage] += frame.time
            continue
        seconds[REST] += frame.time - sum(child.time for child in frame.children)
        stack += frame.children
    return seconds


def writer_seconds(pages: list, folder: Path) -> tuple[float, float]:
    """CPU seconds of the writer for pages, and of the index text within it."""
    index = 0.0

    def timed_map(function: Callable, rows: Iterable) -> list:
        nonlocal index
        spent, out = cpu_seconds(lambda: list(map(function, rows)))
        index += spent
        return out

    with atomic_database(folder / "bannedbook.db") as db:
        started = time.process_time()
        store = Store(db)
        for page in sorted(pages, key=lambda page: page.path):
            store.add_page(page)
        store.finish(timed_map)
        total = time.process_time() - started
    return total - index, index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="a crawl (benchmarks/corpus.py); only read")
    parser.add_argument("--pages", type=int, default=800, help="files to take, spread over the crawl (default 800)")
    args = parser.parse_args(argv)
    if not args.raw.is_dir():
        parser.error(f"{args.raw} is not a folder")
    crawl = len(find_pages(args.raw))
    paths = sample(args.raw, args.pages)
    data = [path.read_bytes() for path in paths]
    n = len(paths)
    print(f"{n} of {crawl:,} files: bare parse, read_page, writer, profile…", file=sys.stderr)
    bare, _ = cpu_seconds(lambda: [BeautifulSoup(d, "lxml") for d in data])
    worker, pages = cpu_seconds(lambda: [read_page(path, args.raw) for path in paths])
    with tempfile.TemporaryDirectory(prefix="profile-build-") as folder:
        writer, index = writer_seconds(pages, Path(folder))
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for path in paths:
        read_page(path, args.raw)
    profiler.stop()
    split = shares(profiler.last_session.root_frame())
    total = sum(split.values())

    per_page = [("bare `BeautifulSoup(html, 'lxml')` parse", bare),
                ("a worker: `read_page` (read, hash, decode, extract)", worker),
                ("a worker: the search-index text (`index_columns`)", index),
                ("the writer: rows, search index, indexes, ANALYZE (one process)", writer)]
    tables = [
        table("CPU per page", ["", "ms per page", "× bare parse"],
              [[what, round(seconds / n * 1000, 2), round(seconds / bare, 2)] for what, seconds in per_page]),
        table("One writer against its workers", ["", "value"],
              [["cores of extraction one writer keeps up with", round((worker + index) / writer, 1)]]),
        table("Where a worker's time goes (`read_page`, sampled)", ["stage", "share (%)"],
              [[name, round(100 * seconds / total, 1)] for name, seconds in split.items()]),
    ]
    notes = [f"{n} files spread evenly over a crawl of {crawl:,} pages, read once before timing; CPU time of"
             " one process.",
             "Stages are attributed from the outermost call inward: a bs4 search made while parsing counts"
             " as parsing."]
    show(tables, notes)
    save("profile_build", "Where the build's time goes", tables, notes, pages=crawl)
    return finish([])


if __name__ == "__main__":
    sys.exit(main())
