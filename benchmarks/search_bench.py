"""Measure Chinese search: recall, precision, latency and index size.

    PYTHONPATH=tests python benchmarks/search_bench.py --db /tmp/s20k/bannedbook.db [--queries 96] [--repeats 3]

Queries are picked from the database's own text with a seeded RNG: one to
many characters, names, common words, Traditional input, Latin words and
parts of them, several terms, `OR`, `-` exclusions and "quoted phrases".
The ground truth for a query (tests/helpers/truth.py) is computed apart from the
project's query parser and normalisation: every article whose title or body,
folded with OpenCC's own Traditional → Simplified converter, NFKC and
casefold, contains a term of each group and no excluded term (a substring
scan in Python).
The found set comes from a real server started as `make serve DB=…` starts
it (`bannedbook.web.site.served`), through the JSON API a reader's search uses.
Latency compares that API with a substring scan (`instr`) served by the same
process, and shows what the shortcuts of the design save on a common word.

Gated targets: recall 1.0 and precision >= 0.995; the search index <= 1.5 x
the text it indexes; at 100,000 pages or more, the p95 of
`?_search=Q&_size=20` <= 0.05 x the instr scan's (below that reported only).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import httpx
from common import crawl_pages, finish, percentile, save, show, table, target
from helpers.search_queries import Query, database_rows, found_ids, pick_queries
from helpers.servers import served
from helpers.truth import ground_truth, parse

FTS_TABLE = "articles_fts"


# ---------------------------------------------------------------- ground truth
#
# The truth (tests/helpers/truth.py) folds text with OpenCC and parses the queries
# itself, apart from bannedbook.text.chinese, so that a bug there cannot move the
# truth along with what search finds.


def scores(found: set[str], truth: set[str]) -> tuple[float, float]:
    """Recall and precision of found against truth (1.0 when nothing to find/found)."""
    hits = len(found & truth)
    return (hits / len(truth) if truth else 1.0, hits / len(found) if found else 1.0)


class Client:
    """Requests to the server under test, timed."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)

    def get_json(self, path: str) -> dict:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    def timed(self, path: str, params: dict | None = None) -> tuple[float, bool]:
        """Milliseconds to answer path, and whether the answer was a success
        (Datasette answers 400 when sql_time_limit_ms interrupts a query)."""
        started = time.perf_counter()
        response = self.http.get(path, params=params)
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, response.status_code == 200


# ---------------------------------------------------------------- latency


def instr_condition(query: str, quote_value: Callable[[str], str]) -> str:
    """The substring scan's WHERE clause for query, its terms as typed."""
    parsed = parse(query, folded=False)

    def shows(term: str) -> str:
        words = term.split() or [term]
        return "(" + " and ".join(f"(instr(title, {quote_value(w)}) > 0 or instr(body, {quote_value(w)}) > 0)"
                                  for w in words) + ")"

    clauses = ["(" + " or ".join(map(shows, group)) + ")" for group in parsed.groups] or ["0"]
    clauses += [f"not {shows(term)}" for term in parsed.excluded]
    return " and ".join(clauses)


def instr_sql(query: str) -> tuple[str, dict[str, str]]:
    """The substring scan baseline: first 20 articles that show the query's terms."""
    params: dict[str, str] = {}

    def parameter(value: str) -> str:
        name = f"t{len(params)}"
        params[name] = value
        return f":{name}"

    return f"select id, title from articles where {instr_condition(query, parameter)} limit 20", params


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def endpoints(query: str) -> dict[str, tuple[str, dict | None]]:
    """What is timed for each query: path and query-string parameters."""
    sql, params = instr_sql(query)
    table_path = "/bannedbook/articles.json"
    return {
        # What a reader's search (and datasette-search-all) asks for.
        "search": (table_path, {"_search": query, "_size": "20"}),
        "canned_search": ("/bannedbook/search.json", {"q": query}),
        # Baselines: the cheapest substring scan (stops at 20 rows), and the
        # same table page as `search` filtered by instr instead of the index.
        "instr_sql": ("/bannedbook.json", {"sql": sql, "_shape": "array", **params}),
        "instr_table": (table_path, {"_where": instr_condition(query, sql_literal), "_size": "20"}),
    }


ENDPOINTS = {
    "search": "`articles.json?_search=Q&_size=20` (the search box, the JSON API)",
    "canned_search": "ranked `search.json?q=Q`",
    "instr_sql": "`instr()` scan for the first 20, SQL console",
    "instr_table": "`articles.json?_where=instr(…)&_size=20`",
}
# Seconds per query (a full scan, its count and its facets): timed once for every fourth query.
SAMPLED = {"instr_table"}


def measure_latency(client: Client, queries: list[Query], repeats: int) -> dict[str, dict]:
    """Every endpoint for every query, `repeats` times, interleaved so that
    background load falls on all endpoints alike."""
    samples: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    failures: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
    for repeat in range(repeats):
        for position, query in enumerate(queries):
            for name, (path, params) in endpoints(query.text).items():
                if name in SAMPLED and (repeat or position % 4):
                    continue
                elapsed, ok = client.timed(path, params)
                samples[name].append(elapsed)
                failures[name] += not ok
    return {name: {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "max": max(values),
                   "samples": len(values), "errors": failures[name]} for name, values in samples.items()}


# What Datasette would do for a table search without the design's shortcuts:
# (label, extra query-string parameters).
WITHOUT = [
    ("as shipped", {}),
    ("counted by Datasette, every match looked up in articles", {"_where": "1"}),
    ("sorted by `published` instead of the date-ordered rowid", {"_sort_desc": "published"}),
    ("with the six default facets (as for HTML)", {"_facet_size": "30"}),
    ("all three (the first design)", {"_where": "1", "_sort_desc": "published", "_facet_size": "30"}),
]


def design_costs(client: Client, word: str, repeats: int) -> list[list]:
    """`articles.json?_search=word&_size=20` with each shortcut undone, interleaved."""
    samples: dict[str, list[float]] = {label: [] for label, _ in WITHOUT}
    errors = dict.fromkeys(samples, 0)
    for _ in range(repeats + 1):
        for label, extra in WITHOUT:
            elapsed, ok = client.timed("/bannedbook/articles.json", {"_search": word, "_size": "20", **extra})
            samples[label].append(elapsed)
            errors[label] += not ok
    for values in samples.values():
        values.pop(0)  # the first of each warms caches
    base = percentile(samples["as shipped"], 0.5)
    return [[label, round(percentile(v, 0.5), 1), round(percentile(v, 0.95), 1),
             round(percentile(v, 0.5) / base, 2), errors[label]] for label, v in samples.items()]


# ---------------------------------------------------------------- index size


def index_size(db: Path | str) -> dict[str, float]:
    """Bytes of the FTS5 shadow tables (dbstat) against the UTF-8 bytes of
    the title and body text they index."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = dict(conn.execute("select name, sum(pgsize) from dbstat group by name"))
        fts = sum(size for name, size in tables.items() if name.startswith(f"{FTS_TABLE}_"))
        articles, text = conn.execute(
            "select count(*), sum(length(cast(title as blob)) + length(cast(body as blob))) from articles"
        ).fetchone()
        return {
            "articles": articles,
            "text_bytes": text,
            "fts_bytes": fts,
            "fts_bytes_per_article": fts / articles if articles else 0,
            "fts_to_text": fts / text if text else 0,
            "database_bytes": sum(tables.values()),
        }
    finally:
        conn.close()


# ---------------------------------------------------------------- report


def summarise(rows: list[dict]) -> dict[str, dict]:
    """Recall and precision per category and overall (micro: summed over queries)."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["category"], []).append(row)
    groups["all"] = rows
    out = {}
    for name, members in groups.items():
        truth = sum(r["truth"] for r in members)
        found = sum(r["found"] for r in members)
        hits = sum(r["hits"] for r in members)
        out[name] = {
            "queries": len(members),
            "truth": truth,
            "found": found,
            "recall": hits / truth if truth else 1.0,
            "precision": hits / found if found else 1.0,
            "min_recall": min(r["recall"] for r in members),
            "min_precision": min(r["precision"] for r in members),
        }
    return out


def _progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def run(db: Path, count: int, seed: int, repeats: int) -> dict:
    queries = pick_queries(db, count, seed)
    _progress(f"{len(queries)} queries picked; scanning every article for the ground truth")
    started = time.perf_counter()
    truth = ground_truth(database_rows(db), [q.text for q in queries])
    truth_seconds = time.perf_counter() - started
    _progress(f"ground truth in {truth_seconds:.1f} s; fetching what search finds")
    rows = []
    with served(db) as url:
        client = Client(url)
        for query in queries:
            found = found_ids(client.get_json, query.text)
            expected = truth[query.text]
            recall, precision = scores(found, expected)
            rows.append({
                **asdict(query), "query": query.text, "truth": len(expected), "found": len(found),
                "hits": len(found & expected), "recall": recall, "precision": precision,
                "missing_sample": sorted(expected - found)[:5], "extra_sample": sorted(found - expected)[:5],
            })  # fmt: skip
        _progress(f"found sets fetched; timing {repeats} x {len(queries)} queries")
        latency = measure_latency(client, queries, repeats)
        costs = design_costs(client, "的", max(5, repeats * 3))
    return {"queries": rows, "truth_seconds": truth_seconds, "accuracy": summarise(rows), "latency": latency,
            "costs": costs, "index": index_size(db)}


def tables_of(result: dict) -> list[dict]:
    accuracy = [[name, s["queries"], s["truth"], s["found"], round(s["recall"], 4), round(s["min_recall"], 4),
                 round(s["precision"], 4), round(s["min_precision"], 4)] for name, s in result["accuracy"].items()]
    latency = result["latency"]
    size = result["index"]
    tables = [
        table("Recall and precision, by kind of query",
              ["kind of query", "queries", "truth", "found", "recall", "min recall", "precision", "min precision"],
              accuracy),
        table("Latency (ms)", ["request", "p50", "p95", "max", "samples", "errors"],
              [[ENDPOINTS[name], round(s["p50"], 1), round(s["p95"], 1), round(s["max"], 1), s["samples"],
                s["errors"]] for name, s in latency.items()]),
        table("Search against the substring scan", ["", "ratio"], [
            ["search p95 ÷ instr scan p95", round(latency["search"]["p95"] / latency["instr_sql"]["p95"], 4)],
            ["search p95 ÷ instr table page p95",
             round(latency["search"]["p95"] / latency["instr_table"]["p95"], 4)],
        ]),
        table("Search index size", ["articles", "text (MB)", "index (MB)", "index bytes per article",
                                    "index ÷ text"],
              [[size["articles"], round(size["text_bytes"] / 1e6, 1), round(size["fts_bytes"] / 1e6, 1),
                round(size["fts_bytes_per_article"]), round(size["fts_to_text"], 3)]]),
        table("What the design's shortcuts save: `articles.json?_search=的&_size=20` (ms)",
              ["without", "p50", "p95", "× as shipped (p50)", "errors"], result["costs"]),
    ]
    misses = [q for q in result["queries"] if q["recall"] < 1 or q["precision"] < 1]
    if misses:
        tables.append(table("Queries short of recall or precision 1",
                            ["kind", "query", "truth", "found", "recall", "precision"],
                            [[q["category"], q["query"], q["truth"], q["found"], round(q["recall"], 4),
                              round(q["precision"], 4)] for q in misses]))
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a built bannedbook.db")
    parser.add_argument("--queries", type=int, default=96, help="number of queries (default 96)")
    parser.add_argument("--seed", type=int, default=3, help="random seed for picking queries (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each query (default 3)")
    parser.add_argument("--gate-ratio-from", type=int, default=100_000, metavar="PAGES",
                        help="gate the search ÷ instr target from this crawl size on (default 100000)")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        parser.error(f"{args.db} is not a file")
    if args.queries < 1 or args.repeats < 1:
        parser.error("--queries and --repeats must be at least 1")
    pages = crawl_pages(args.db)
    result = run(args.db, args.queries, args.seed, args.repeats)
    tables = tables_of(result)
    overall, latency = result["accuracy"]["all"], result["latency"]
    targets = [
        target("recall, all queries", round(overall["recall"], 4), 1.0, at_most=False),
        target("precision, all queries", round(overall["precision"], 4), 0.995, at_most=False),
        target("search p95 ÷ instr scan p95", round(latency["search"]["p95"] / latency["instr_sql"]["p95"], 4),
               0.05, gated=pages >= args.gate_ratio_from),
        target("search index ÷ the text it indexes", round(result["index"]["fts_to_text"], 3), 1.5),
    ]
    notes = [
        f"{len(result['queries'])} queries (seed {args.seed}) on a crawl of {pages:,} pages; each timed"
        f" {args.repeats} times, interleaved; the instr table page once for every fourth query.",
        f"Ground truth: a Python scan of every article's title and body folded with OpenCC, NFKC and casefold"
        f" ({result['truth_seconds']:.0f} s), parsing the queries apart from the project's parser.",
        "The server is started as `make serve DB=…` starts it, on 127.0.0.1, with the site's settings.",
        f"The search ÷ instr target is gated from {args.gate_ratio_from:,} pages on.",
    ]
    show(tables, notes)
    save("search", "Chinese search: recall, precision, latency, index size", tables, notes, targets,
         pages=pages, queries=result["queries"])
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
