"""How fast one process turns a crawled page into an article and its index
text, against the bare parse of the same page.

    python benchmarks/extract_bench.py --raw DIR [--pages N] [--rounds R] [--profile N] [--name NAME] [--out FILE]

In one process, on the same files (the first N pages of DIR in path order):

- the bare `BeautifulSoup(text, 'lxml')` parse of each page's decoded text:
  the baseline every ratio is against;
- the bare `lxml.html` parse of the same text (lxml's own tree, no bs4);
- read + decode + extract: `files.read_file`, `decode.decode`,
  `extract.extract`, the three steps as the build runs them;
- a worker's whole page, `bannedbook.build.pipeline.read_page`: the same plus the
  file's hash and the article's story signature (bannedbook/research/stories.py),
  which came later than the target below and is reported beside it;
- `index.index_columns` for each article that came out.

A first pass, not timed, yields the articles and fills the caches a
build's workers fill on their first pages. Then each stage runs over all
the pages once per round, stages interleaved, and the fastest round
counts. Times are this process's CPU time, not the wall clock, so that
other processes on a shared machine change the figures as little as they
can (they still share its caches). With --profile N,
pyinstrument samples read_page and index_columns over the first N pages and
the result keeps the functions that took the most time, on their own and
with what they call.

Targets: read + decode + extract <= 1.5 x the bare bs4 parse;
index_columns <= 0.3 ms per article.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from pathlib import Path
from warnings import catch_warnings, simplefilter

import lxml.html
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from common import finish, save, table, target

from bannedbook.build.extract import extract
from bannedbook.build.files import find_pages, read_file
from bannedbook.build.pipeline import read_page
from bannedbook.errors import Rejected
from bannedbook.records import Article, Page
from bannedbook.search.index import index_columns
from bannedbook.text.decode import decode

ROOT = Path(__file__).resolve().parent.parent

EXTRACT_LIMIT = 1.5  # x the bare bs4 parse
INDEX_LIMIT_MS = 0.3


def texts_of(paths: list[Path]) -> list[str]:
    """The decoded text of each page that decodes: what the parsers get."""
    texts = []
    for path in paths:
        try:
            texts.append(decode(path.read_bytes()).text)
        except (Rejected, OSError):
            continue
    return texts


def bs4_parse(text: str) -> None:
    with catch_warnings():  # as the extractor does: a page that is only a URL is still parsed
        simplefilter("ignore", MarkupResemblesLocatorWarning)
        BeautifulSoup(text, "lxml")


def lxml_parse(text: str) -> None:
    try:
        lxml.html.document_fromstring(text)
    except Exception:  # lxml refuses empty documents; the time still counts
        pass


def timed(function, items: list) -> float:
    """CPU seconds of function over items; what it returns is dropped at
    once, as the build does, and the collector starts from a clean heap."""
    gc.collect()
    clock = time.process_time
    started = clock()
    for item in items:
        function(item)
    return clock() - started


def profile(function, items: list, top: int = 15) -> dict[str, list[list]]:
    """Where function spent its time: the functions with the most time of
    their own (callees not counted); and, with their callees (recursion
    counted once), the package's functions and what they call directly (the
    parse, the tree searches), as [function, where, % of the total]."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    for item in items:
        function(item)
    root = profiler.stop().root_frame()
    own: Counter = Counter()
    inclusive: Counter = Counter()
    stack = [(root, frozenset(), False)]
    while stack:
        frame, callers, called_by_package = stack.pop()
        if frame.is_synthetic:  # pyinstrument's "[self]" leaf: already in its parent's total_self_time
            continue
        key = (frame.function or "?", f"{Path(frame.file_path or '?').name}:{frame.line_no or 0}")
        in_package = "/bannedbook/" in (frame.file_path or "")
        if key not in callers and (in_package or called_by_package):
            inclusive[key] += frame.time
        own[key] += frame.total_self_time
        stack += [(child, callers | {key}, in_package) for child in frame.children]
    total = root.time or 1

    def rows(counter: Counter) -> list[list]:
        return [[name, where, round(100 * seconds / total, 1)] for (name, where), seconds in counter.most_common(top)]

    return {"own": rows(own), "package": rows(inclusive)}


def measure(raw: Path, pages: int | None, rounds: int, profile_pages: int) -> dict:
    paths = find_pages(raw)[:pages]
    texts = texts_of(paths)
    print(f"{len(paths):,} files, {len(texts):,} decode; {rounds} round(s)…", file=sys.stderr)

    def read(path: Path) -> Page:
        return read_page(path, raw)

    def extracted(path: Path) -> Article | None:
        try:
            return extract(decode(read_file(path, raw)).text)
        except Rejected:
            return None

    # A first pass, not timed, fills the caches a build's workers fill on
    # their first pages (the character tables) and yields the articles.
    articles = [(page.article.title, page.article.body) for page in map(read, paths) if page.article]
    best: dict[str, float] = {}
    for _ in range(rounds):
        for stage, function, items in (("bs4", bs4_parse, texts), ("lxml", lxml_parse, texts),
                                       ("extract", extracted, paths), ("read", read, paths),
                                       ("index", lambda article: index_columns(*article), articles)):
            seconds = timed(function, items)
            best[stage] = min(best.get(stage, seconds), seconds)
    result = {
        "files": len(paths),
        "decoded": len(texts),
        "articles": len(articles),
        "ms": {
            "bs4": 1000 * best["bs4"] / len(texts),
            "lxml": 1000 * best["lxml"] / len(texts),
            "extract": 1000 * best["extract"] / len(paths),
            "read": 1000 * best["read"] / len(paths),
            "index": 1000 * best["index"] / len(articles),
        },
    }
    if profile_pages:
        print("profiling…", file=sys.stderr)
        result["profile_read"] = profile(read, paths[:profile_pages])
        result["profile_index"] = profile(lambda article: index_columns(*article), articles[:profile_pages])
    return result


def summary(profiled: dict[str, list[list]], what: str) -> str:
    """The profile's first rows, as one note."""
    rows = ", ".join(f"{name} {share} %" for name, _, share in profiled["package"][:6])
    return f"This run's profile of {what} (with callees): {rows}."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="a crawl (tests/helpers/corpus.py)")
    parser.add_argument("--pages", type=int, help="only the first N pages (default: all)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each stage; the fastest counts")
    parser.add_argument("--profile", type=int, default=500, metavar="N", help="profile the first N pages (0: none)")
    parser.add_argument("--out", type=Path, help="result file (default benchmarks/results/NAME-SIZE.json)")
    parser.add_argument("--name", default="extract", help="the result's name (default extract; run.py names the"
                        " small pages' extract_small)")
    args = parser.parse_args(argv)
    result = measure(args.raw, args.pages, args.rounds, args.profile)
    ms = result["ms"]
    ratio = {stage: ms[stage] / ms["bs4"] for stage in ms}
    names = {
        "bs4": "bare BeautifulSoup(text, 'lxml') parse",
        "lxml": "bare lxml.html parse",
        "extract": "read + decode + extract (read_file, decode, extract)",
        "read": "a worker's whole page: the same, hash and story signature (build.read_page)",
        "index": "index.index_columns, per article",
    }
    rows = [[names[stage], round(ms[stage], 3), round(ratio[stage], 2)] for stage in names]
    tables = [table(f"{result['files']:,} files ({result['decoded']:,} decode, {result['articles']:,} articles), "
                    f"one process, fastest of {args.rounds} round(s)", ["stage", "ms/page", "x bare bs4 parse"], rows)]
    for stage, what in (("read", "read_page"), ("index", "index_columns")):
        profiled = result.get(f"profile_{stage}")
        if profiled:
            tables.append(table(f"profile of {what} over the first {args.profile} pages: own time",
                                ["function", "where", "% of the time"], profiled["own"]))
            tables.append(table(f"profile of {what} over the first {args.profile} pages: the package's "
                                "functions, with what they call", ["function", "where", "% of the time"],
                                profiled["package"]))
    targets = [
        target("read + decode + extract, x bare bs4 parse", round(ratio["extract"], 2), EXTRACT_LIMIT),
        target("index_columns, ms per article", round(ms["index"], 3), INDEX_LIMIT_MS),
    ]
    for row in rows:
        print(f"  {row[0]:<60} {row[1]:>8.3f} ms  {row[2]:>6.2f} x")
    notes = [summary(result[f"profile_{stage}"], what) for stage, what in
                     (("read", "read_page"), ("index", "index_columns")) if f"profile_{stage}" in result]
    kb = sum(path.stat().st_size for path in find_pages(args.raw)[: args.pages]) / max(result["files"], 1) / 1000
    path = save(args.name, f"Extraction and index text, one process, pages of {kb:.1f} KB on average", tables,
                notes=notes, targets=targets, pages=result["files"], out=args.out, raw=str(args.raw))
    print(f"saved {path}", file=sys.stderr)
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
