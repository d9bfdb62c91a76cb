"""Measure Chinese search: recall, precision, latency and index size.

    PYTHONPATH=tests python benchmarks/search_bench.py --db /tmp/s20k/bannedbook.db [--queries 96] [--repeats 3]

Queries are picked from the database's own text with a seeded RNG: one to
many characters, names, common words, Traditional input, Latin words and
parts of them, several terms, `OR`, `-` exclusions and "quoted phrases".
The ground truth for a query (tests/truth.py) is computed apart from the
project's query parser and normalisation: every article whose title or body,
folded with OpenCC's own Traditional → Simplified converter, NFKC and
casefold, contains a term of each group and no excluded term (a substring
scan in Python).
The found set comes from a real server started as `make serve DB=…` starts
it (`bannedbook.site.served`), through the JSON API a reader's search uses.
Latency compares that API with a substring scan (`instr`) served by the same
process, and shows what the shortcuts of the design save on a common word.

Gated targets: recall 1.0 and precision >= 0.995; the search index <= 1.5 x
the text it indexes; at 100,000 pages or more, the p95 of
`?_search=Q&_size=20` <= 0.05 x the instr scan's (below that reported only).
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
from common import crawl_pages, finish, percentile, save, show, table, target
from truth import fold, ground_truth, parse

from bannedbook.site import served

FTS_TABLE = "articles_fts"
# Characters of Chinese (and Japanese, Korean) text, for picking queries.
CJK = "\u3007\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_CJK_RUN = re.compile(f"[{CJK}]+")
# Latin words as written in articles, half- or full-width: TikTok, ＷＴＯ, COVID-19.
_LATIN = re.compile(r"[0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+(?:[-\uff0d][0-9A-Za-z\uff10-\uff19]+)*")
_LETTER = re.compile("[A-Za-z\uff21-\uff3a\uff41-\uff5a]")
# What a query of each category looks like, and how many of every 96 queries it gets.
CATEGORIES = {
    "1-char": 10,
    "2-char": 10,
    "3-char": 8,
    "4+-char": 8,
    "name": 8,
    "common": 8,
    "traditional": 8,
    "latin": 8,
    "latin-part": 4,  # inside a Latin word: "ikTo" must find TikTok
    "multi-term": 8,
    "or": 6,  # 甲 OR 乙 [丙]
    "exclude": 6,  # 甲 -乙
    "phrase": 4,  # "甲乙丙丁", "甲乙 丙丁"
}
COMMON_CHARS = ("的", "国", "人", "中", "在", "一")
COMMON_WORDS = (
    "中国",
    "发展",
    "经济",
    "人民",
    "工作",
    "问题",
    "社会主义",
    "改革开放",
    "国家",
    "我们",
    "企业",
    "建设",
    "领导",
    "一个",
    "记者",
    "北京",
)


# ---------------------------------------------------------------- queries


@dataclass
class Query:
    category: str
    text: str


# ---------------------------------------------------------------- queries


class _Picker:
    """Queries drawn from the database's own text, deterministic for a seed."""

    def __init__(self, conn: sqlite3.Connection, seed: int) -> None:
        import opencc

        self.conn = conn
        self.rng = random.Random(seed)
        self.to_traditional = opencc.OpenCC("s2t").convert
        self.max_rowid = conn.execute("select max(rowid) from articles").fetchone()[0] or 0
        self.tags = [row[0] for row in conn.execute("select name from tags order by name")]
        self.common = {"1-char": list(COMMON_CHARS), "common": list(COMMON_WORDS)}

    def article(self, script: str | None = None) -> tuple[str, str]:
        """Title and body of a random article (of the given script, when asked)."""
        for _ in range(200):
            row = self.conn.execute(
                "select title, body, script from articles where rowid = ?",
                (self.rng.randint(1, self.max_rowid),),
            ).fetchone()
            if row and (script is None or row[2] == script):
                return row[0], row[1]
        raise RuntimeError("no article found to pick queries from")

    def cjk(self, length: int, script: str | None = None) -> str:
        """A run of `length` CJK characters from some article's text."""
        for _ in range(200):
            runs = [run for run in _CJK_RUN.findall(" ".join(self.article(script))) if len(run) >= length]
            if runs:
                run = self.rng.choice(runs)
                start = self.rng.randint(0, len(run) - length)
                return run[start : start + length]
        raise RuntimeError(f"no run of {length} CJK characters found")

    def latin_words(self) -> list[str]:
        """Latin words (with a letter) as written in a sample of articles."""
        words: set[str] = set()
        for _ in range(300):
            words.update(w for w in _LATIN.findall(self.article()[1]) if _LETTER.search(w))
        return sorted(words)

    def pick(self, category: str) -> str:
        rng = self.rng
        fixed = self.common.get(category)
        if fixed:
            return fixed.pop(0)
        if category == "1-char":
            return self.cjk(1)
        if category == "2-char":
            return self.cjk(2)
        if category == "3-char":
            return self.cjk(3)
        if category == "4+-char":
            return self.cjk(rng.randint(4, 10))
        if category == "common":
            return rng.choice(COMMON_WORDS)
        if category == "name":
            return rng.choice(self.tags) if self.tags else self.cjk(3)
        if category == "traditional":
            for _ in range(50):
                source = rng.choice([self.cjk(rng.randint(2, 4), "simplified"), rng.choice(COMMON_WORDS)])
                converted = self.to_traditional(source)
                if converted != source:
                    return converted
            return converted
        if category in ("latin", "latin-part"):
            return self.latin(category)
        if category == "multi-term":
            if rng.random() < 0.7:
                # Two terms of one article: usually found together.
                runs = [r for r in _CJK_RUN.findall(self.article()[1]) if len(r) >= 3]
                if len(runs) >= 2:
                    first, second = rng.sample(runs, 2)
                    return f"{first[: rng.randint(2, 3)]} {second[-rng.randint(2, 3) :]}"
            return f"{self.cjk(2)} {self.cjk(2)}"
        if category == "or":
            # Either of two terms, sometimes with a term both must show beside it.
            title, body = self.article()
            runs = [r for r in _CJK_RUN.findall(body) if len(r) >= 3] or [self.cjk(3)]
            first = rng.choice(runs)[: rng.randint(2, 3)]
            query = f"{first} OR {self.cjk(rng.randint(2, 3))}"
            return f"{query} {rng.choice(runs)[-2:]}" if rng.random() < 0.5 else query
        if category == "exclude":
            # A term without a common word (or without another term).
            left = self.cjk(rng.randint(2, 3))
            right = rng.choice(COMMON_WORDS) if rng.random() < 0.6 else self.cjk(2)
            return f"{left} -{right}" if rng.random() < 0.7 else f"{left} {self.cjk(2)} -{right}"
        if category == "phrase":
            return self.phrase()
        raise ValueError(category)

    def phrase(self) -> str:
        """A quoted phrase from some article: a run of characters, or the end
        of one run and the start of the next with a space where the text has
        punctuation (the phrase 工作 促进 is found in 工作，促进)."""
        rng = self.rng
        if rng.random() < 0.5:
            return f'"{self.cjk(rng.randint(4, 8))}"'
        for _ in range(100):
            body = self.article()[1]
            pairs = [m for m in re.finditer(f"([{CJK}]{{2,}})[，、；：]([{CJK}]{{2,}})", body)]
            if pairs:
                m = rng.choice(pairs)
                return f'"{m[1][-rng.randint(2, len(m[1])):][-4:]} {m[2][: rng.randint(2, 4)]}"'
        return f'"{self.cjk(6)}"'

    def latin(self, category: str) -> str:
        rng = self.rng
        if not hasattr(self, "_latin"):
            self._latin = self.latin_words() or ["WTO"]
        if category == "latin-part":
            # Three or more letters strictly inside a word of five or more: "ikTo".
            long = [w for w in self._latin if len(w) >= 5 and w.isalpha()] or ["TikTok"]
            word = fold(rng.choice(long))
            start = rng.randint(1, len(word) - 4)
            return word[start : start + rng.randint(3, len(word) - start - 1)]
        word = fold(rng.choice(self._latin)).upper() if rng.random() < 0.5 else rng.choice(self._latin)
        style = rng.choice(["as written", "lower", "full-width", "with-cjk"])
        if style == "lower":
            return word.lower()
        if style == "full-width":
            return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in fold(word).upper())
        if style == "with-cjk":
            # The word and the CJK characters after it, as one query (G20峰会).
            for _ in range(100):
                body = self.article()[1]
                found = [m for m in _LATIN.finditer(body) if _LETTER.search(m[0]) and _CJK_RUN.match(body, m.end())]
                if found:
                    m = rng.choice(found)
                    return body[m.start() : m.end() + 2]
        return word


def pick_queries(db: Path | str, count: int = 96, seed: int = 3) -> list[Query]:
    """`count` distinct queries in CATEGORIES' proportions, from the database's text."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        picker = _Picker(conn, seed)
        plan = [name for name, weight in CATEGORIES.items() for _ in range(weight)]
        plan = [plan[i * len(plan) // count] for i in range(count)]
        queries: list[Query] = []
        seen: set[str] = set()
        for category in plan:
            for _ in range(30):
                text = picker.pick(category)
                if text.strip() and text not in seen:
                    seen.add(text)
                    queries.append(Query(category, text))
                    break
        return queries
    finally:
        conn.close()


# ---------------------------------------------------------------- ground truth
#
# The truth (tests/truth.py) folds text with OpenCC and parses the queries
# itself, apart from bannedbook.chinese, so that a bug there cannot move the
# truth along with what search finds.


def database_rows(db: Path | str) -> Iterator[tuple[str, str, str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        yield from conn.execute("select id, title, body from articles")
    finally:
        conn.close()


# ---------------------------------------------------------------- found sets


def search_path(query: str) -> str:
    """Table search for every match, as ids, in pages of max_returned_rows.
    Sorted by id so keyset pagination is exact; no count, no facets."""
    return (
        f"/bannedbook/articles.json?_search={quote(query)}&_sort=id&_size=max"
        "&_col=title&_nocount=1&_nofacet=1&_shape=objects"
    )


def found_ids(get_json: Callable[[str], dict], query: str, max_pages: int = 1000) -> set[str]:
    """Every article Datasette's `?_search=` returns for query, following next_url."""
    ids: set[str] = set()
    path = search_path(query)
    for _ in range(max_pages):
        data = get_json(path)
        ids.update(row["id"] for row in data["rows"])
        next_url = data.get("next_url")
        if not next_url:
            return ids
        # next_url is absolute; keep only its path so we never leave our server.
        parts = urlsplit(next_url)
        path = f"{parts.path}?{parts.query}"
    raise RuntimeError(f"more than {max_pages} pages of results for {query!r}")


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
