"""Measure Chinese search: recall, precision, latency and index size.

    python benchmarks/search_bench.py --db /tmp/s20k/bannedbook.db [--queries 96] [--out FILE.json]

Queries are picked from the database's own text with a seeded RNG. The ground
truth for a query is every article whose normalised title or normalised body
contains each of its normalised terms (a substring scan in Python, with the
same `bannedbook.chinese.normalise` the index uses). The found set comes from
a real `datasette` process serving the database with the site's configuration
(`bannedbook.site.cli_args`, as `make serve`), on 127.0.0.1, through the JSON
API a reader's search uses. Latency compares that API with a substring scan
(`instr`) served by the same process.

Targets: recall 1.000 and precision >= 0.995; at 100k pages the p95
of `?_search=Q&_size=20` <= 1/20 of the instr scan's; index <= 1.5x the text.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from bannedbook.chinese import normalise

ROOT = Path(__file__).resolve().parent.parent

FTS_TABLE = "articles_fts"
# Characters of Chinese (and Japanese, Korean) text, for picking queries.
CJK = "\u3007\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_CJK_RUN = re.compile(f"[{CJK}]+")
# Latin words as written in articles, half- or full-width: TikTok, ＷＴＯ, COVID-19.
_LATIN = re.compile(r"[0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+(?:[-\uff0d][0-9A-Za-z\uff10-\uff19]+)*")
_LETTER = re.compile("[A-Za-z\uff21-\uff3a\uff41-\uff5a]")
# What a query of each category looks like, and how many of every 96 queries it gets.
CATEGORIES = {
    "1-char": 12,
    "2-char": 12,
    "3-char": 10,
    "4+-char": 10,
    "name": 10,
    "common": 8,
    "traditional": 10,
    "latin": 10,
    "latin-part": 4,  # inside a Latin word: "ikTo" must find TikTok
    "multi-term": 10,
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
        raise ValueError(category)

    def latin(self, category: str) -> str:
        rng = self.rng
        if not hasattr(self, "_latin"):
            self._latin = self.latin_words() or ["WTO"]
        if category == "latin-part":
            # Three or more letters strictly inside a word of five or more: "ikTo".
            long = [w for w in self._latin if len(w) >= 5 and w.isalpha()] or ["TikTok"]
            word = normalise(rng.choice(long))
            start = rng.randint(1, len(word) - 4)
            return word[start : start + rng.randint(3, len(word) - start - 1)]
        word = normalise(rng.choice(self._latin)).upper() if rng.random() < 0.5 else rng.choice(self._latin)
        style = rng.choice(["as written", "lower", "full-width", "with-cjk"])
        if style == "lower":
            return word.lower()
        if style == "full-width":
            return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in normalise(word).upper())
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


def query_terms(query: str) -> list[str]:
    """The normalised terms an article must all contain (space separates terms)."""
    return normalise(query).split()


def ground_truth(rows: Iterator[tuple[str, str, str]], queries: list[str]) -> dict[str, set[str]]:
    """Ids of the rows (id, title, body) whose normalised title or body
    contains every term of each query: the substring scan search must equal."""
    terms = {query: query_terms(query) for query in queries}
    truth: dict[str, set[str]] = {query: set() for query in queries}
    for key, title, body in rows:
        title, body = normalise(title or ""), normalise(body or "")
        for query, parts in terms.items():
            if parts and all(part in title or part in body for part in parts):
                truth[query].add(key)
    return truth


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


# ---------------------------------------------------------------- server


class Server:
    """`datasette serve` on 127.0.0.1 with the site's arguments; stops on exit."""

    def __init__(self, db: Path | str) -> None:
        from bannedbook.site import cli_args

        self.args = [str(Path(sys.executable).with_name("datasette")), "serve", *cli_args(db), "-h", "127.0.0.1"]

    def __enter__(self) -> Server:
        import socket

        import httpx

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [*self.args, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"datasette exited: {self.process.stderr.read().decode()}")
            try:
                self.client.get("/-/versions.json")
                return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("datasette did not start within 60 s")

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def get_json(self, path: str) -> dict:
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()

    def timed(self, path: str, params: dict | None = None) -> tuple[float, bool]:
        """Milliseconds to answer path, and whether the answer was a success
        (Datasette answers 400 when sql_time_limit_ms interrupts a query)."""
        started = time.perf_counter()
        response = self.client.get(path, params=params)
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, response.status_code == 200


# ---------------------------------------------------------------- latency


def instr_sql(query: str) -> tuple[str, dict[str, str]]:
    """The substring scan baseline: first 20 articles containing every term as typed."""
    terms = query.split() or [query]
    params = {f"t{i}": term for i, term in enumerate(terms)}
    where = " and ".join(f"(instr(title, :t{i}) > 0 or instr(body, :t{i}) > 0)" for i in range(len(terms)))
    return f"select id, title from articles where {where} limit 20", params


def endpoints(query: str) -> dict[str, tuple[str, dict | None]]:
    """What is timed for each query: path and query-string parameters."""
    sql, params = instr_sql(query)
    table = "/bannedbook/articles.json"
    where = " and ".join("instr(body, '{}') > 0".format(t.replace("'", "''")) for t in query.split())
    return {
        # What a reader's search (and datasette-search-all) asks for.
        "search": (table, {"_search": query, "_size": "20"}),
        "canned_search": ("/bannedbook/search.json", {"q": query}),
        # Baselines: the cheapest substring scan (stops at 20 rows), and the
        # same table page as `search` filtered by instr instead of the index.
        "instr_sql": ("/bannedbook.json", {"sql": sql, "_shape": "array", **params}),
        "instr_table": (table, {"_where": where, "_size": "20"}),
    }


# Seconds per query (a full scan, its count and its facets): timed once for every fourth query.
SAMPLED = {"instr_table"}


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] if ordered else float("nan")


def measure_latency(server: Server, queries: list[Query], repeats: int) -> dict[str, dict]:
    """Every endpoint for every query, `repeats` times, interleaved so that
    background load falls on all endpoints alike."""
    samples: dict[str, list[float]] = {}
    failures: dict[str, int] = {}
    per_query: dict[str, dict[str, list[float]]] = {q.text: {} for q in queries}
    for repeat in range(repeats):
        for position, query in enumerate(queries):
            for name, (path, params) in endpoints(query.text).items():
                if name in SAMPLED and (repeat or position % 4):
                    continue
                elapsed, ok = server.timed(path, params)
                samples.setdefault(name, []).append(elapsed)
                failures[name] = failures.get(name, 0) + (not ok)
                per_query[query.text].setdefault(name, []).append(elapsed)
    summary = {
        name: {
            "p50_ms": percentile(values, 0.5),
            "p95_ms": percentile(values, 0.95),
            "max_ms": max(values),
            "samples": len(values),
            "errors": failures[name],
        }
        for name, values in samples.items()
    }
    return {"summary": summary, "per_query": per_query}


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
            "articles_table_bytes": tables.get("articles", 0),
            "database_bytes": sum(tables.values()),
            "fts_tables": {n: s for n, s in tables.items() if n.startswith(f"{FTS_TABLE}_")},
        }
    finally:
        conn.close()


# ---------------------------------------------------------------- report


def summarise(rows: list[dict]) -> dict[str, dict]:
    """Recall and precision per category and overall (micro: summed over queries)."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["category"], []).append(row)
    groups["ALL"] = rows
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


def print_report(result: dict) -> None:
    print(f"\n{result['db']}: {result['index']['articles']:,} articles, {len(result['queries'])} queries")
    print(f"ground truth (Python substring scan over normalised text): {result['truth_seconds']:.1f} s")
    print(
        f"\n{'category':<14}{'queries':>8}{'truth':>10}{'found':>10}{'recall':>9}{'min':>7}{'precision':>11}{'min':>7}"
    )
    for name, s in result["accuracy"].items():
        print(
            f"{name:<14}{s['queries']:>8}{s['truth']:>10,}{s['found']:>10,}{s['recall']:>9.4f}"
            f"{s['min_recall']:>7.3f}{s['precision']:>11.4f}{s['min_precision']:>7.3f}"
        )
    misses = [q for q in result["queries"] if q["recall"] < 1 or q["precision"] < 1]
    if misses:
        print("\nqueries short of recall or precision 1:")
        for q in misses[:20]:
            print(
                f"  {q['category']:<12} {q['query']!r:<24} truth {q['truth']:>6} found {q['found']:>6} "
                f"recall {q['recall']:.3f} precision {q['precision']:.3f}"
            )
    latency = result["latency"]["summary"]
    print(f"\n{'latency (ms)':<26}{'p50':>9}{'p95':>9}{'max':>9}{'errors':>8}")
    for name, s in latency.items():
        print(f"{name:<26}{s['p50_ms']:>9.1f}{s['p95_ms']:>9.1f}{s['max_ms']:>9.1f}{s['errors']:>8}")
    for name, ratio in result["ratios"].items():
        print(f"{name}: {ratio:.3f}")
    size = result["index"]
    print(
        f"\nindex: {size['fts_bytes'] / 1e6:.1f} MB FTS ({size['fts_bytes_per_article']:,.0f} bytes/article) "
        f"for {size['text_bytes'] / 1e6:.1f} MB of title+body text: {size['fts_to_text']:.2f}x "
        f"(articles table {size['articles_table_bytes'] / 1e6:.1f} MB, database {size['database_bytes'] / 1e6:.1f} MB)"
    )


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
    with Server(db) as server:
        for query in queries:
            found = found_ids(server.get_json, query.text)
            expected = truth[query.text]
            recall, precision = scores(found, expected)
            rows.append({
                **asdict(query), "query": query.text, "truth": len(expected), "found": len(found),
                "hits": len(found & expected), "recall": recall, "precision": precision,
                "missing_sample": sorted(expected - found)[:5], "extra_sample": sorted(found - expected)[:5],
            })  # fmt: skip
        _progress(f"found sets fetched; timing {repeats} x {len(queries)} queries")
        latency = measure_latency(server, queries, repeats)
    s = latency["summary"]
    return {
        "db": str(db),
        "seed": seed,
        "repeats": repeats,
        "truth_seconds": truth_seconds,
        "queries": rows,
        "accuracy": summarise(rows),
        "latency": latency,
        "ratios": {
            "search p95 / instr_sql p95 (target <= 0.05)": s["search"]["p95_ms"] / s["instr_sql"]["p95_ms"],
            "search p95 / instr_table p95": s["search"]["p95_ms"] / s["instr_table"]["p95_ms"],
        },
        "index": index_size(db),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a built bannedbook.db")
    parser.add_argument("--queries", type=int, default=96, help="number of queries (default 96)")
    parser.add_argument("--seed", type=int, default=3, help="random seed for picking queries (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each query (default 3)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        parser.error(f"{args.db} is not a file")
    if args.queries < 1 or args.repeats < 1:
        parser.error("--queries and --repeats must be at least 1")
    result = run(args.db, args.queries, args.seed, args.repeats)
    print_report(result)
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
