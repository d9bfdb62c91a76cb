"""Where a build's time goes: CPU per page in a worker and in the writer,
what a worker spends it on, and how the writer and the workers wait on each
other in a whole build.

    python benchmarks/profile_build.py --raw /tmp/corpus20k [--pages 800] [--no-pipeline] [--name NAME] [--out FILE]

Takes --pages files spread evenly over the crawl and, in this one process
(after reading them once, so every stage finds them in the OS cache):
CPU seconds (`time.process_time`) for the bare `BeautifulSoup(html, 'lxml')`
parse of each; for `bannedbook.build.pipeline.read_page`, what a worker does with a
file (read, hash, decode, extract); for the search-index text of each
article (`index.index_columns`, which a build's workers make while the
writer inserts the index); and for the writer (`store.Store`: every row, the search index, the
indexes and ANALYZE) without that index text. Then pyinstrument samples
read_page again and splits its time by stage.

Then (unless --no-pipeline) the pipeline: a full build of the whole crawl
(`bannedbook.build.pipeline.build`, every core) in this process, watched: how long
the writer (this process) waited for the workers' next page and how long it
spent writing, how long the workers were busy and idle while there were
pages to read, each step of the writer's finish, and pyinstrument's samples
of the writer. No targets: these figures explain build_bench.py's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from bs4 import BeautifulSoup
from common import finish, save, show, table
from pyinstrument import Profiler

from bannedbook.build.files import find_pages
from bannedbook.build.fingerprint import pipeline_version
from bannedbook.build.pipeline import read_page
from bannedbook.db.store import Store, atomic_database

# Stages of a worker's time, tried from the outermost call inward: a call
# that matches takes the time of everything it calls.
STAGES: list[tuple[str, Callable[[str, str, str | None], bool]]] = [
    ("read the file", lambda path, function, cls: path.endswith("bannedbook/build/files.py")
     and function == "read_file"),
    ("decode bytes to text", lambda path, function, cls: path.endswith("bannedbook/text/decode.py")
     and function == "decode"),
    ("lxml parse and the walk that classifies every element (`_parse`)",
     lambda path, function, cls: path.endswith("bannedbook/build/extract.py") and function in ("_parse", "_walk_soup")),
    ("links: resolving and percent-decoding URLs (`link`)", lambda path, function, cls:
     path.endswith("bannedbook/build/extract.py") and function == "link"),
    ("dating undated pages (`_not_before`)", lambda path, function, cls: function == "_not_before"),
    ("`is_traditional` (script of the article)", lambda path, function, cls: function == "is_traditional"),
    ("the story signature (`stories.signature`)", lambda path, function, cls:
     path.endswith("bannedbook/research/stories.py") and function == "signature"),
    ("`safe_text` (control and bidi characters)", lambda path, function, cls: function == "safe_text"),
]
REST = "the rest: extract.py's own code, regular expressions, the file's hash"



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
    """CPU seconds of the writer for pages without the search-index text,
    and of that text (`index.index_columns`, which a build's workers make
    while the writer inserts), each measured on its own."""
    from bannedbook.search.index import index_columns

    articles = [(page.article.title, page.article.body) for page in pages if page.article]
    index, _ = cpu_seconds(lambda: [index_columns(title, body) for title, body in articles])
    with atomic_database(folder / "bannedbook.db") as db:
        started = time.process_time()
        store = Store(db, pipeline_version())
        for page in sorted(pages, key=lambda page: page.path):
            store.add_page(page)
        store.finish()  # the index text made in this process too: counted, then taken off below
        total = time.process_time() - started
    return total - index, index


class _Watched:
    """What the pipeline's watchers saw (see pipeline)."""

    def __init__(self) -> None:
        self.waited = 0.0  # the writer, waiting for the workers' next result
        self.read_phase: list[float] = []  # perf_counter when the first result was asked for, when the last came
        self.busy: dict[int, list[float]] = {}  # worker pid -> [wall seconds, CPU seconds] in _read
        self.queues: dict[int, tuple[float, float]] = {}  # worker pid -> seconds in (get, put) so far
        self.index = 0.0  # the writer, in write_search_index (the FTS5 insert, and its text made meanwhile)


def _watch(watched: _Watched) -> Callable[[], None]:
    """Patch the build so that it reports to watched: a pool whose imap
    iterator is timed, a _read that tells how long each input took in its
    worker, and queues that time a worker's waits for inputs and for room
    for its results (workers fork from this process, so they run the patched
    functions). Returns the function that undoes the patches."""
    import multiprocessing.pool
    import multiprocessing.queues
    import os

    from bannedbook.build import pipeline, update, workers
    from bannedbook.db import store

    original_read = pipeline._read
    original_get, original_put = multiprocessing.queues.SimpleQueue.get, multiprocessing.queues.SimpleQueue.put
    original_index = store.write_search_index
    in_queues = [0.0, 0.0]  # in a worker: seconds waiting for inputs (get) and sending results (put)

    def timed_get(queue):
        started = time.perf_counter()
        try:
            return original_get(queue)
        finally:
            in_queues[0] += time.perf_counter() - started

    def timed_put(queue, obj):
        started = time.perf_counter()
        try:
            return original_put(queue, obj)
        finally:
            in_queues[1] += time.perf_counter() - started

    def timed_read(item):
        started, cpu = time.perf_counter(), time.process_time()
        result = original_read(item)
        result.__dict__["_watched"] = (os.getpid(), time.perf_counter() - started, time.process_time() - cpu,
                                       tuple(in_queues))
        return result

    timed_read.__module__, timed_read.__qualname__ = original_read.__module__, original_read.__qualname__

    def timed_index(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original_index(*args, **kwargs)
        finally:
            watched.index += time.perf_counter() - started

    def timed_results(results: Iterator) -> Iterator:
        watched.read_phase.append(time.perf_counter())
        while True:
            started = time.perf_counter()
            try:
                result = next(results)
            except StopIteration:
                break
            finally:
                watched.waited += time.perf_counter() - started
            pid, wall, cpu, queues = result.__dict__.pop("_watched")
            watched.queues[pid] = queues
            busy = watched.busy.setdefault(pid, [0.0, 0.0])
            busy[0] += wall
            busy[1] += cpu
            yield result
        watched.read_phase.append(time.perf_counter())

    class TimedPool(multiprocessing.pool.Pool):
        def imap(self, function, iterable, chunksize=1):
            return timed_results(super().imap(function, iterable, chunksize))

    patches = [(pipeline, "_read", timed_read), (workers, "Pool", TimedPool),
               (multiprocessing.queues.SimpleQueue, "get", timed_get),
               (multiprocessing.queues.SimpleQueue, "put", timed_put),
               (store, "write_search_index", timed_index), (update, "write_search_index", timed_index)]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)

    def undo() -> None:
        for owner, name, original in originals:
            setattr(owner, name, original)

    return undo


def package_profile(root, top: int = 14) -> list[list]:
    """The package's functions (and what they call directly) by time with
    their callees, as [function, where, seconds]; recursion counted once."""
    inclusive: Counter = Counter()
    stack = [(root, frozenset(), False)]
    while stack:
        frame, callers, called_by_package = stack.pop()
        if frame.is_synthetic:
            continue
        key = (frame.function or "?", f"{Path(frame.file_path or '?').name}:{frame.line_no or 0}")
        in_package = "/bannedbook/" in (frame.file_path or "")
        if key not in callers and (in_package or called_by_package):
            inclusive[key] += frame.time
        stack += [(child, callers | {key}, in_package) for child in frame.children]
    return [[name, where, round(seconds, 2)] for (name, where), seconds in inclusive.most_common(top)]


def pipeline(raw: Path, workers: int | None) -> tuple[list[dict], list[str]]:
    """A watched full build of raw: the tables and a note."""
    from bannedbook.build.pipeline import build

    watched = _Watched()
    undo = _watch(watched)
    profiler = Profiler(interval=0.01)  # coarse: the sampler holds the GIL the pool's threads need
    try:
        with tempfile.TemporaryDirectory(prefix="profile-build-") as folder:
            print(f"a full build of {raw}, watched…", file=sys.stderr)
            started = time.perf_counter()
            profiler.start()
            counts = build(raw, Path(folder) / "bannedbook.db", workers=workers, progress=False, full=True)
            profiler.stop()
            wall = time.perf_counter() - started
    finally:
        undo()
    first, last = watched.read_phase[0], watched.read_phase[-1]
    reading = last - first
    pages = counts.files
    busy_wall = sum(wall_ for wall_, _ in watched.busy.values())
    busy_cpu = sum(cpu for _, cpu in watched.busy.values())
    count = len(watched.busy)
    rows = [
        ["whole build (wall)", round(wall, 2), round(pages / wall, 1)],
        ["… reading and writing pages (first result asked for to last received)", round(reading, 2),
         round(pages / reading, 1)],
        ["… … the writer waiting for the workers' next page", round(watched.waited, 2), None],
        ["… … the writer writing (the rest)", round(reading - watched.waited, 2), None],
        ["… after the last page: finish, days, lexicon", round(wall - (last - started), 2), None],
        [f"… … the search index (`write_search_index`), {counts.articles:,} articles", round(watched.index, 2),
         None],
        ["… … … per article (ms)", round(1000 * watched.index / max(counts.articles, 1), 2), None],
        [f"workers ({count}): inside `_read`, wall", round(busy_wall, 2), None],
        [f"workers ({count}): inside `_read`, CPU", round(busy_cpu, 2), None],
        [f"workers ({count}): outside `_read` while pages were read (idle)", round(count * reading - busy_wall, 2),
         None],
        ["… … waiting for the next inputs (`get`)", round(sum(get for get, _ in watched.queues.values()), 2), None],
        ["… … sending results to the writer (`put`)", round(sum(put for _, put in watched.queues.values()), 2), None],
    ]
    tables = [
        table("The pipeline: a full build of the whole crawl", ["", "seconds", "pages/s"], rows),
        table("The writer's time by function (pyinstrument, with callees)", ["function", "where", "seconds"],
              package_profile(profiler.last_session.root_frame())),
    ]
    note = (f"The pipeline: `bannedbook.build.pipeline.build(full=True)` of all {pages:,} files of the crawl with"
            f" {count} worker processes, in this process; the workers' times are summed over them, and"
            " their wall time inside `_read` includes time they were ready but another process had the core.")
    return tables, [note]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="a crawl (tests/helpers/corpus.py); only read")
    parser.add_argument("--pages", type=int, default=800, help="files to take, spread over the crawl (default 800)")
    parser.add_argument("--workers", type=int, help="worker processes of the watched build (default: all cores)")
    parser.add_argument("--no-pipeline", action="store_true", help="leave out the watched full build")
    parser.add_argument("--out", type=Path, help="result file (default benchmarks/results/NAME-SIZE.json)")
    parser.add_argument("--name", default="profile_build", help="the result's name (default profile_build; run.py"
                        " names the small pages' profile_build_small)")
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
    # The writer's index insert overlaps making the index text, so a worker's
    # share is its page alone; the insert, on one core, is the writer's.
    tables = [
        table("CPU per page", ["", "ms per page", "× bare parse"],
              [[what, round(seconds / n * 1000, 2), round(seconds / bare, 2)] for what, seconds in per_page]),
        table("One writer against its workers", ["", "value"],
              [["cores of extraction one writer keeps up with", round(worker / writer, 1)]]),
        table("Where a worker's time goes (`read_page`, sampled)", ["stage", "share (%)"],
              [[name, round(100 * seconds / total, 1)] for name, seconds in split.items()]),
    ]
    notes = [f"{n} files spread evenly over a crawl of {crawl:,} pages, read once before timing; CPU time of"
             " one process.",
             "Stages are attributed from the outermost call inward: a link resolved during the walk counts"
             " as the walk."]
    if not args.no_pipeline:
        more, said = pipeline(args.raw, args.workers)
        tables += more
        notes += said
    show(tables, notes)
    kb = sum(len(d) for d in data) / max(n, 1) / 1000
    save(args.name, f"Where the build's time goes, pages of {kb:.1f} KB on average", tables, notes, pages=crawl,
         out=args.out)
    return finish([])


if __name__ == "__main__":
    sys.exit(main())
