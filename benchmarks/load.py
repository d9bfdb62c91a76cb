"""A bounded load test of the served archive, on loopback only.

Serves DB exactly as `make serve DB=DB` does (python -m bannedbook.site),
or targets a server already running on 127.0.0.1 (--url), and sends a fixed
number of requests at a fixed concurrency, mixing what readers and
researchers do: ranked search, table search, article pages, facets, canned
queries and JSON. Halfway through it sends a runaway SQL query, which the
server's sql_time_limit_ms must stop while the other requests keep being
answered. It stops by itself: after --requests requests or --max-seconds,
whichever comes first.

    python benchmarks/load.py --db /tmp/load20k/bannedbook.db [--requests 2000] [--concurrency 16]

Prints p50/p95/p99 per kind of request and overall, writes them to
benchmarks/results/load.json, and exits 1 on any error (or if the runaway
query was not stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from bannedbook.site import served

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "benchmarks" / "results" / "load.json"
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


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


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
    ms = lambda values, p: round(percentile(values, p) * 1000, 1)  # noqa: E731
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
    parser.add_argument("--db", type=Path, required=True, help="the database (named bannedbook.db)")
    parser.add_argument("--url", help="a server already serving --db on loopback (default: start one)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.url and urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("--url must be a loopback address: this test never leaves the machine")
    if args.db.name != "bannedbook.db":
        parser.error("the database file must be named bannedbook.db (the URLs use /bannedbook)")

    rng = random.Random(args.seed)
    plan = requests_mix(sample(args.db, rng), args.requests, rng)
    with served(args.db) if not args.url else nullcontext(args.url) as url:
        asyncio.run(run(url, plan[:3], 1, 60))  # warm the caches the first requests would pay for
        result = asyncio.run(run(url, plan, args.concurrency, args.max_seconds))
    result["database"] = str(args.db)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))

    print(f"{result['requests']} requests at concurrency {args.concurrency} in {result['seconds']} s "
          f"({result['requests_per_second']}/s), {result['errors']} errors")
    print(f"  {'all':<13} p50 {result['p50_ms']:>7} ms  p95 {result['p95_ms']:>7} ms  p99 {result['p99_ms']:>7} ms")
    for kind, figures in result["by_kind"].items():
        print(f"  {kind:<13} p50 {figures['p50_ms']:>7} ms  p95 {figures['p95_ms']:>7} ms  "
              f"p99 {figures['p99_ms']:>7} ms  (n={figures['n']})")
    runaway = result["runaway_query"]
    print(f"  runaway SQL: HTTP {runaway.get('status')} after {runaway.get('seconds')} s, "
          f"stopped by the time limit: {runaway.get('stopped')}, "
          f"{runaway.get('answered_meanwhile')} other requests answered while it ran")
    for example in result["error_examples"]:
        print(f"  error: {example}")
    ok = (result["errors"] == 0 and result["requests"] == args.requests
          and runaway.get("stopped") and runaway.get("answered_meanwhile", 0) > 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
