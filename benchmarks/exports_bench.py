"""Measure whole exports: a search's every match as CSV, RIS, BibTeX and
JSON lines, on a real server.

    python benchmarks/exports_bench.py --db /tmp/cite-bench/bannedbook.db [--q 的] [--small 2000]

The database must come from build_db.py and --q must find at least 20,000
articles (the default, 的, finds nearly every article of a 24,000-page
corpus). Each export link of the search page and the table's `?_search=` CSV
is read from a real `datasette` (bannedbook.web.site.served) on 127.0.0.1 as
it streams: the time to its first whole record, to its end, its size, and the
server's resident memory, sampled every 20 ms while it streams. Every
export is read back (csv, rispy, bibtexparser, json) and counted row by row
against the search page's count. The same exports of a search cut to
--small matches (by a date range) give the memory baseline: memory that
stays flat grows no more for 20,000 matches than for 2,000.

Targets: the first record in under a second; every row there; the server's
memory growth during a 20,000-match export within 64 MB of its growth
during the small one.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import bibtexparser
import httpx
import rispy
from common import RESULTS, crawl_pages, finish, save, size_label, table, target
from helpers.servers import served

from bannedbook.search.query import match_expression

FORMATS = ("csv", "ris", "bib", "jsonl")


def server_pid(url: str) -> int:
    """The pid of the datasette listening on url's port (the one whose command line names it)."""
    port = str(urlsplit(url).port)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in args and port.encode() in args:
                return int(entry.name)
    raise RuntimeError(f"no datasette serving {url}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def count(text: str, format_: str) -> tuple[int, set[str]]:
    """Rows and distinct article ids of an export, read with a reader of its format."""
    if format_ == "csv":
        ids = [row["id"] for row in csv.DictReader(io.StringIO(text))]
    elif format_ == "jsonl":
        ids = [json.loads(line)["id"] for line in text.splitlines()]
    elif format_ == "ris":
        ids = [record["id"] for record in rispy.loads(text)]
    else:
        library = bibtexparser.parse_string(text)
        assert not library.failed_blocks
        ids = [entry["url"].rsplit("/", 1)[1] for entry in library.entries]
    return len(ids), set(ids)


# What ends an export's first record (CSV: the line after the header).
FIRST_RECORD = {"csv": (b"\n", 2), "ris": (b"ER  - ", 1), "bib": (b"\n}\n", 1), "jsonl": (b"\n", 1)}


def stream(client: httpx.Client, path: str, format_: str, pid: int) -> dict:
    """Read one export as it streams: seconds to its first whole record and
    to its end, bytes, the server's memory before and at its peak."""
    before = rss_mb(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak.append(rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    marker, times = FIRST_RECORD[format_]
    started = time.perf_counter()
    first = None
    chunks, seen = [], b""
    with client.stream("GET", path) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if first is None:
                seen += chunk
                if seen.count(marker) >= times:
                    first = time.perf_counter() - started
    total = time.perf_counter() - started
    done.set()
    sampler.join()
    body = b"".join(chunks)
    return {"first": first, "total": total, "bytes": len(body), "text": body.decode("utf-8"),
            "growth": max(peak) - before}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a database built by build_db.py")
    parser.add_argument("--q", default="的", help="a search finding at least 20,000 articles")
    parser.add_argument("--small", type=int, default=2000, help="matches of the memory baseline's search")
    parser.add_argument("--out", type=Path, help="result file (default: benchmarks/results/exports-<N>k.json)")
    args = parser.parse_args(argv)
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    conn.create_function("cjk_match", 1, match_expression)
    # The --small newest matches end at a day: searching from that day on finds about that many.
    days = [day for (day,) in conn.execute(
        """select substr(coalesce(published, not_before), 1, 10) as day from articles
           where rowid in (select rowid from articles_fts where articles_fts match cjk_match(?))
           and day is not null order by day desc limit ?""", [args.q, args.small])]
    since = days[-1]

    rows, targets, growth = [], [], {}
    with served(args.db) as url, httpx.Client(base_url=url, timeout=600) as client:
        pid = server_pid(url)
        client.get("/bannedbook/search", params={"q": args.q}).raise_for_status()  # warm-up
        for label, params in (("small", {"q": args.q, "since": since}), ("large", {"q": args.q})):
            total = client.get("/bannedbook/search.json", params={**params, "_shape": "array"}).json()[0]["total"]
            query = httpx.QueryParams(params)
            paths = [(f"search.{f}", f, f"/bannedbook/search.{f}?{query}") for f in FORMATS]
            if label == "large":
                paths.append(("articles.csv?_search=", "csv",
                              f"/bannedbook/articles.csv?{httpx.QueryParams(_search=args.q)}"))
            for name, format_, path in paths:
                result = stream(client, path, format_, pid)
                got, distinct = count(result["text"], format_)
                growth.setdefault(label, []).append(result["growth"])
                rows.append([f"{name} ({total:,} matches)", round(result["first"], 3), round(result["total"], 2),
                             round(result["bytes"] / 2**20, 1), got, round(result["growth"], 1)])
                if label == "large":
                    targets.append(target(f"{name}: rows ÷ the search's count", round(got / total, 4), 1.0,
                                          at_most=False))
                    targets.append(target(f"{name}: distinct articles ÷ rows", round(len(distinct) / got, 4), 1.0,
                                          at_most=False))
                    targets.append(target(f"{name}: first record (s)", round(result["first"], 3), 1.0))
                print(f"  {name:<24} {total:>7,} matches  first record {result['first']:.3f} s"
                      f"  total {result['total']:.1f} s  {result['bytes'] / 2**20:.1f} MB  {got:,} rows"
                      f"  +{result['growth']:.1f} MB", flush=True)
        large_total = total
    assert large_total >= 20000, f"--q finds {large_total:,} articles; the benchmark needs 20,000"
    targets.append(target("server memory growth, 20,000-match export minus the small one's (MB, worst format)",
                           round(max(growth["large"]) - max(growth["small"]), 1), 64))
    pages = crawl_pages(args.db)
    path = save("exports", f"Whole exports of a {large_total:,}-match search",
                [table(f"Exports of the search for {args.q} from a real server (first record and total in s, "
                       "size in MB, rows read back, server memory growth in MB)",
                       ["export", "first record", "total", "MB", "rows", "memory +MB"], rows)],
                notes=[f"A real datasette on 127.0.0.1 (bannedbook.web.site.served) serving {args.db.name}, built by "
                       f"build_db.py from a {pages:,}-page corpus; one export at a time, read as it streams.",
                       f"The small search is the same query since {since}; memory is the server's VmRSS, sampled "
                       "every 20 ms, its peak during the export minus its value before it.",
                       "The CSV and JSON lines of the search carry each match's highlighted title and snippet, "
                       "cut a hundred articles at a time as the export streams (about a millisecond an article): "
                       "most of their total time is that work. RIS and BibTeX need no highlights."],
                targets=targets, pages=pages,
                out=args.out or RESULTS / f"exports-{size_label(pages)}.json")
    print(f"  saved {path}")
    return finish(targets)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
