"""A bounded load test of the served archive, on loopback only.

Serves DB exactly as `make serve DB=DB` does (bannedbook serve),
or targets a server already running on 127.0.0.1 (--url), and sends a fixed
number of requests at a fixed concurrency, mixing what readers and
researchers do: ranked search, table search, article pages, facets, canned
queries and JSON. Halfway through it sends a runaway SQL query, which the
server's sql_time_limit_ms must stop while the other requests keep being
answered. It stops by itself: after --requests requests or --max-seconds,
whichever comes first.

    python benchmarks/load.py --db /tmp/load20k/bannedbook.db [--requests 2000] [--concurrency 16]

Gives p50/p95/p99 per kind of request and overall, writes them to
benchmarks/results/load-SIZE.json, and exits 1 on any error, when requests
were left unanswered within --max-seconds, or when the runaway query was not
stopped while others were answered.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
from common import crawl_pages, finish, percentile, save, show, table, target
from helpers.servers import served

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
RUNAWAY_SQL = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"


def sample(db: Path, rng: random.Random) -> dict[str, list[str]]:
    """Ids, search words, tags and authors from the database, to ask for."""
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    ids = [row[0] for row in conn.execute("select id from articles order by random() limit 500")]
    titles = [row[0] for row in conn.execute("select title from articles order by random() limit 300")]
    tags = [row[0] for row in conn.execute("select id from tags order by random() limit 200")]
    authors = [row[0] for row in conn.execute(
        "select author from articles where author is not null group by author order by random() limit 100")]
    words = []
    for title in titles:
        han = [ch for ch in title if "\u4e00" <= ch <= "\u9fff"]
        if len(han) >= 2:
            start = rng.randrange(len(han) - 1)
            words.append("".join(han[start: start + rng.choice([2, 2, 3, 4])]))
    return {"ids": ids, "words": words or ["中国"], "tags": tags or [""], "authors": authors or [""]}


def requests_mix(data: dict[str, list[str]], count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, path) pairs: the mix of a day's traffic, in random order."""
    q = lambda: quote(rng.choice(data["words"]))  # noqa: E731
    makers = {
        "search": lambda: f"/bannedbook/search?q={q()}",
        "table-search": lambda: f"/bannedbook/articles?_search={q()}",
        "article": lambda: f"/bannedbook/articles/{rng.choice(data['ids'])}",
        "facet": lambda: rng.choice([f"/bannedbook/articles?_search={q()}&_facet=category&_facet=year",
                                     "/bannedbook/links?_facet=kind", "/bannedbook/raw_files?_facet=status"]),
        "canned": lambda: rng.choice([f"/bannedbook/tag?tag={quote(rng.choice(data['tags']))}",
                                      f"/bannedbook/author?author={quote(rng.choice(data['authors']))}",
                                      f"/bannedbook/articles_per_month?q={q()}", "/bannedbook/top_tags"]),
        "json": lambda: rng.choice([f"/bannedbook/articles.json?_search={q()}&_shape=array&_col=title",
                                    f"/bannedbook/search.json?q={q()}&_shape=array",
                                    f"/bannedbook/articles/{rng.choice(data['ids'])}.json"]),
    }
    weights = {"search": 25, "table-search": 15, "article": 25, "facet": 10, "canned": 10, "json": 15}
    kinds = rng.choices(list(weights), weights=list(weights.values()), k=count)
    return [(kind, makers[kind]()) for kind in kinds]


async def run(url: str, plan: list[tuple[str, str]], concurrency: int, max_seconds: float) -> dict:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    runaway: dict = {}
    queue = list(reversed(plan))
    deadline = time.monotonic() + max_seconds
    timeout = httpx.Timeout(60.0)

    async with httpx.AsyncClient(base_url=url, timeout=timeout,
                                 limits=httpx.Limits(max_connections=concurrency + 1)) as client:

        async def worker() -> None:
            while queue and time.monotonic() < deadline:
                kind, path = queue.pop()
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    status = response.status_code
                except httpx.HTTPError as error:
                    status = f"{type(error).__name__}"
                latencies[kind].append(time.perf_counter() - started)
                if status != 200:
                    errors.append(f"{status} {path}")

        async def send_runaway() -> None:
            while len(queue) > len(plan) // 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            started, answered = time.perf_counter(), answered_count()
            response = await client.get(f"/bannedbook.json?sql={quote(RUNAWAY_SQL)}")
            runaway.update(status=response.status_code, seconds=round(time.perf_counter() - started, 2),
                           stopped="too long" in response.text, answered_meanwhile=answered_count() - answered)

        def answered_count() -> int:
            return sum(map(len, latencies.values()))

        started = time.perf_counter()
        await asyncio.gather(send_runaway(), *(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started

    every = [t for values in latencies.values() for t in values]
    ms = lambda values, p: round(percentile(values, p / 100) * 1000, 1)  # noqa: E731
    return {
        "requests": len(every), "concurrency": concurrency, "seconds": round(elapsed, 1),
        "requests_per_second": round(len(every) / elapsed, 1), "errors": len(errors), "error_examples": errors[:10],
        "p50_ms": ms(every, 50), "p95_ms": ms(every, 95), "p99_ms": ms(every, 99),
        "by_kind": {kind: {"n": len(values), "p50_ms": ms(values, 50), "p95_ms": ms(values, 95),
                           "p99_ms": ms(values, 99)} for kind, values in sorted(latencies.items())},
        "runaway_query": runaway,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a built database")
    parser.add_argument("--url", help="a server already serving --db on loopback (default: start one)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="result file (default benchmarks/results/load-SIZE.json)")
    args = parser.parse_args(argv)
    if args.url and urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("--url must be a loopback address: this test never leaves the machine")
    if not args.db.is_file():
        parser.error(f"{args.db} is not a file")

    rng = random.Random(args.seed)
    plan = requests_mix(sample(args.db, rng), args.requests, rng)
    with served(args.db) if not args.url else nullcontext(args.url) as url:
        asyncio.run(run(url, plan[:3], 1, 60))  # warm the caches the first requests would pay for
        r = asyncio.run(run(url, plan, args.concurrency, args.max_seconds))
    runaway = r["runaway_query"]
    tables = [
        table("Requests", ["requests", "concurrency", "seconds", "requests/s", "errors", "p50 (ms)", "p95 (ms)",
                           "p99 (ms)"],
              [[r["requests"], r["concurrency"], r["seconds"], r["requests_per_second"], r["errors"], r["p50_ms"],
                r["p95_ms"], r["p99_ms"]]]),
        table("By kind of request", ["kind", "requests", "p50 (ms)", "p95 (ms)", "p99 (ms)"],
              [[kind, f["n"], f["p50_ms"], f["p95_ms"], f["p99_ms"]] for kind, f in r["by_kind"].items()]),
        table("The runaway SQL query", ["HTTP status", "answered after (s)", "stopped by the time limit",
                                        "other requests answered meanwhile"],
              [[runaway.get("status"), runaway.get("seconds"), runaway.get("stopped"),
                runaway.get("answered_meanwhile")]]),
    ]
    pages = crawl_pages(args.db)
    notes = [f"A crawl of {pages:,} pages, served as `make serve DB=…` serves it, on 127.0.0.1; the client"
             " runs on the same machine.",
             "Kinds: ranked search page, table search page, article page, facets, canned queries"
             " (tag, author, chart, top tags), JSON; the mix is fixed by --seed.",
             f"Halfway through, a recursive SQL query that never ends: `{RUNAWAY_SQL}`."]
    notes += [f"Error: {example}" for example in r["error_examples"]]
    targets = [
        target("errors", r["errors"], 0),
        target("requests answered within --max-seconds", r["requests"], args.requests, at_most=False),
        target("runaway query stopped by sql_time_limit_ms", int(bool(runaway.get("stopped"))), 1, at_most=False),
        target("requests answered while it ran", runaway.get("answered_meanwhile", 0), 1, at_most=False),
    ]
    show(tables, notes)
    save("load", "Load: a day's mix of requests at a fixed concurrency", tables, notes, targets, pages=pages,
         out=args.out)
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
