"""How long readers wait for each kind of page, against an article page.

    python benchmarks/pages_bench.py --db DB [--smaller DB] [--requests 20] [--no-gate] [--out FILE]

Serves DB as `make serve DB=DB` does (`bannedbook.web.site.served`), warms every
page up once, then asks for each kind of page --requests times, the kinds
interleaved so that background load falls on all alike, and gives p50 and
p95 for each with its ratio to the article page's (`/bannedbook/articles/ID`,
the baseline: absolute times move with the machine, the ratios much less).

With --smaller (a database of a smaller crawl), the same pages are timed on
it too and each kind's growth is given: milliseconds per 10,000 more
articles, and where its ratio would stand at 100,000 articles if it grew
on in a straight line (a guide to what to watch, not a measurement; the
pages that pick the most used tags pick bigger ones in a bigger crawl).

Targets, gated unless --no-gate: the home page's p50 <= 2 x the article
page's; the HTML table search for 的 <= 10 x. Gated always: no page answers
with an error.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from common import crawl_pages, finish, percentile, save, show, table, target
from helpers.servers import served

BASELINE = "article page"

COMMON = "的"


def picks(db: Path, seed: int, count: int = 5) -> dict[str, list[str]]:
    """Article ids, the most used tags and most prolific authors, and rare
    words (tags carried by one article), from the database."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        ids = [row[0] for row in conn.execute("select id from articles order by id")]
        tags = [row[0] for row in conn.execute(
            "select tag_id from article_tags group by tag_id order by count(*) desc, tag_id limit ?", [count])]
        rare = [row[0] for row in conn.execute(
            "select tag_id from article_tags group by tag_id having count(*) = 1 order by tag_id limit ?",
            [count])]
        authors = [row[0] for row in conn.execute(
            "select author from articles where author is not null group by author"
            " order by count(*) desc, author limit ?", [count])]
    finally:
        conn.close()
    rng = random.Random(seed)
    return {"ids": rng.sample(ids, min(len(ids), 50)), "tags": tags or ["中国"], "rare": rare or ["中国"],
            "authors": authors or [""]}


def page_kinds(p: dict[str, list[str]]) -> dict[str, tuple[str, list[str]]]:
    """Kind of page -> (what is asked, the paths asked in turn)."""
    q = quote
    return {
        BASELINE: ("`/bannedbook/articles/ID`, ID among 50 random articles",
                   [f"/bannedbook/articles/{i}" for i in p["ids"]]),
        "home page": ("`/`", ["/"]),
        "database page": ("`/bannedbook`", ["/bannedbook"]),
        "articles table": ("`/bannedbook/articles`", ["/bannedbook/articles"]),
        f"table search, {COMMON}": (f"`/bannedbook/articles?_search={COMMON}`",
                                   [f"/bannedbook/articles?_search={q(COMMON)}"]),
        "table search, rare word": ("`/bannedbook/articles?_search=W`, W a tag of one article",
                                    [f"/bannedbook/articles?_search={q(w)}" for w in p["rare"]]),
        "ranked search": ("`/bannedbook/search?q=T`, T among the most used tags",
                          [f"/bannedbook/search?q={q(t)}" for t in p["tags"]]),
        "tag page": ("`/bannedbook/tag?tag=T`, the most used tags", [f"/bannedbook/tag?tag={q(t)}" for t in p["tags"]]),
        "author page": ("`/bannedbook/author?author=A`, the most prolific authors",
                        [f"/bannedbook/author?author={q(a)}" for a in p["authors"]]),
        "articles per month chart": ("`/bannedbook/articles_per_month?q=T`, the most used tags",
                                     [f"/bannedbook/articles_per_month?q={q(t)}" for t in p["tags"]]),
        f"JSON search, {COMMON}": (f"`/bannedbook/articles.json?_search={COMMON}&_size=20`",
                                  [f"/bannedbook/articles.json?_search={q(COMMON)}&_size=20"]),
    }


def measure(url: str, kinds: dict[str, tuple[str, list[str]]], requests: int) -> dict[str, dict]:
    """Milliseconds and errors per kind: one warm-up pass over every path,
    then `requests` rounds, each asking every kind once."""
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    errors = dict.fromkeys(kinds, 0)
    with httpx.Client(base_url=url, timeout=120) as client:
        for _, paths in kinds.values():
            for path in paths:
                client.get(path)
        for round_ in range(requests):
            for kind, (_, paths) in kinds.items():
                started = time.perf_counter()
                response = client.get(paths[round_ % len(paths)])
                times[kind].append((time.perf_counter() - started) * 1000)
                errors[kind] += response.status_code != 200
    return {kind: {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "errors": errors[kind]}
            for kind, values in times.items()}


def matches(url: str, words: list[str]) -> list[int]:
    """How many articles a table search finds for each word."""
    with httpx.Client(base_url=url, timeout=120) as client:
        return [client.get("/bannedbook/articles.json", params={"_search": w, "_size": "1"}).json()
                ["filtered_table_rows_count"] for w in words]


PROJECTED = 100_000  # articles, for the growth table's straight-line guess


def articles_in(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("select count(*) from articles").fetchone()[0]
    finally:
        conn.close()


def growth_table(small: dict, large: dict, small_articles: int, large_articles: int) -> dict:
    """Each kind's p50 on both databases, its growth per 10,000 articles, and
    its ratio to the article page at PROJECTED articles if both grew on in
    a straight line."""
    span = large_articles - small_articles

    def at(kind: str, articles: int) -> float:
        slope = (large[kind]["p50"] - small[kind]["p50"]) / span
        return large[kind]["p50"] + slope * (articles - large_articles)

    # The article page reads one article's rows by key: its own slope is the
    # machine's noise, so the guess divides by its p50 on the larger database.
    rows = [[kind, round(small[kind]["p50"], 1), round(large[kind]["p50"], 1),
             round((large[kind]["p50"] - small[kind]["p50"]) / span * 10_000, 1),
             round(at(kind, PROJECTED) / large[BASELINE]["p50"], 1)] for kind in large]
    return table(f"Growth with the archive: {small_articles:,} and {large_articles:,} articles",
                 ["page", f"p50 at {small_articles:,} (ms)", f"p50 at {large_articles:,} (ms)",
                  "ms per 10,000 more articles",
                  f"at {PROJECTED:,} in a straight line ÷ article page at {large_articles:,}"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a built database")
    parser.add_argument("--smaller", type=Path, help="a database of a smaller crawl, to see what grows")
    parser.add_argument("--requests", type=int, default=20, help="timed requests of each kind (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the article pages (default 1)")
    parser.add_argument("--no-gate", action="store_true", help="report the page-speed targets without failing")
    parser.add_argument("--out", type=Path, help="result file (default benchmarks/results/pages-SIZE.json)")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        parser.error(f"{args.db} is not a file")
    if args.smaller and not args.smaller.is_file():
        parser.error(f"{args.smaller} is not a file")
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    chosen = picks(args.db, args.seed)
    kinds = page_kinds(chosen)
    with served(args.db) as url:
        result = measure(url, kinds, args.requests)
        found = matches(url, [COMMON, *chosen["rare"]])
    smaller = None
    if args.smaller:
        with served(args.smaller) as url:
            smaller = measure(url, page_kinds(picks(args.smaller, args.seed)), args.requests)
    base = result[BASELINE]
    tables = [table("Pages", ["page", "asked", "p50 (ms)", "p95 (ms)", "p50 ÷ article p50", "p95 ÷ article p95",
                              "errors"],
                    [[kind, kinds[kind][0], round(r["p50"], 1), round(r["p95"], 1), round(r["p50"] / base["p50"], 2),
                      round(r["p95"] / base["p95"], 2), r["errors"]] for kind, r in result.items()])]
    pages = crawl_pages(args.db)
    if smaller:
        tables.append(growth_table(smaller, result, articles_in(args.smaller), articles_in(args.db)))
    notes = [f"A crawl of {pages:,} pages, served as `make serve DB=…` serves it, on 127.0.0.1; {args.requests}"
             " timed requests of each kind after one warm-up request of every page, kinds interleaved.",
             f"{COMMON} is found in {found[0]:,} articles; the rare words in"
             f" {', '.join(f'{n:,}' for n in found[1:])}."]
    targets = [
        target("home page p50 ÷ article page p50", round(result["home page"]["p50"] / base["p50"], 2), 2,
               gated=not args.no_gate),
        target(f"table search for {COMMON} (HTML) p50 ÷ article page p50",
               round(result[f"table search, {COMMON}"]["p50"] / base["p50"], 2), 10, gated=not args.no_gate),
        target("pages answered with an error", sum(r["errors"] for r in result.values()), 0),
    ]
    show(tables, notes)
    save("pages", "Page speed: each kind of page against an article page", tables, notes, targets, pages=pages,
         out=args.out)
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
