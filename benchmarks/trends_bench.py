"""Measure /-/trends: comparing terms over time on a real server.

    python benchmarks/trends_bench.py --db /tmp/research-work/db20k/bannedbook.db [--rounds 7]

The database must come from build_db.py (it needs the days table). The
four commonest words of its text (two characters each, counted in a sample
of articles) make the heavy case: four lines that each match most of the
archive. Other cases: rarer words, AND/OR/NOT and Traditional queries, by
year and by week, a tag filter, the share switch, the HTML page, and the
lexicon's themes when the database has a lexicon.

Requests go to a real `datasette` serving the database as `make serve
DB=FILE` does (bannedbook.web.site.served), on 127.0.0.1, one at a time; each
case runs --rounds times after one warm-up request. Baseline, in the same
run and the same process: counting the same four words per month with
the plain SQL way, the search index joined to articles and grouped by
month. Every count of the heavy case is checked against that baseline.

Target: the four common words by month answer in under a second at
100,000 pages (p95), and never slower than the plain SQL.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import opencc
from common import crawl_pages, finish, percentile, save, table, target
from helpers.servers import served

from bannedbook.search.query import match_expression
from bannedbook.text.chinese import normalise

_HAN_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")


def common_words(conn: sqlite3.Connection, count: int, sample: int = 300, seed: int = 3) -> list[str]:
    """The commonest two-character words (by articles holding them) in a
    sample of articles."""
    rowids = [rowid for (rowid,) in conn.execute("select date_order from articles order by date_order")]
    rng = random.Random(seed)
    held: Counter = Counter()
    for rowid in rng.sample(rowids, min(sample, len(rowids))):
        row = conn.execute("select title, body from articles where rowid = ?", [rowid]).fetchone()
        if row:
            held.update(set(_HAN_PAIR.findall(normalise(row[0] + "\n" + row[1]))))
    return [word for word, _ in sorted(held.items(), key=lambda item: (-item[1], item[0]))[:count]]


def plain_sql(conn: sqlite3.Connection, words: list[str]) -> tuple[float, dict]:
    """Seconds to count words per month by joining the index to articles
    and grouping; the counts."""
    started = time.perf_counter()
    counts = {}
    for word in words:
        counts[word] = dict(conn.execute(
            """select substr(coalesce(published, not_before), 1, 7) as month, count(*)
               from articles_fts join articles on articles.rowid = articles_fts.rowid
               where articles_fts match ? and coalesce(published, not_before) >= '2000' group by month""",
            [match_expression(word)]).fetchall())
    return time.perf_counter() - started, counts


def timed(client: httpx.Client, path: str, params: list, rounds: int) -> tuple[list[float], httpx.Response]:
    response = client.get(path, params=params)  # warm-up
    response.raise_for_status()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return times, response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a database built by build_db.py")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, help="result file (default: benchmarks/results/trends-SIZE.json)")
    args = parser.parse_args(argv)
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    articles = conn.execute("select count(*) from articles").fetchone()[0]
    words = common_words(conn, 40)
    heavy, rare = words[:4], words[-4:]
    tag = conn.execute("select tag_id from article_tags group by tag_id order by count(*) desc limit 1").fetchone()
    themes = [t for (t,) in conn.execute("select theme from themes order by articles desc limit 8")] \
        if conn.execute("select 1 from sqlite_master where name = 'themes'").fetchone() else []
    baseline_runs = [plain_sql(conn, heavy) for _ in range(args.rounds)]
    baseline = [seconds for seconds, _ in baseline_runs]
    expected = baseline_runs[0][1]

    cases = [
        (f"4 common words by month ({' '.join(heavy)})", "/-/trends.json", [("q", w) for w in heavy]),
        ("… as shares", "/-/trends.json", [("q", w) for w in heavy] + [("share", "1")]),
        ("… by week", "/-/trends.json", [("q", w) for w in heavy] + [("by", "week")]),
        ("… by year", "/-/trends.json", [("q", w) for w in heavy] + [("by", "year")]),
        ("… the HTML page (chart and table)", "/-/trends", [("q", w) for w in heavy]),
        ("… with a tag filter", "/-/trends.json", [("q", w) for w in heavy] + ([("tag", tag[0])] if tag else [])),
        (f"4 rarer words ({' '.join(rare)})", "/-/trends.json", [("q", w) for w in rare]),
        ("AND, OR, NOT, Traditional", "/-/trends.json",
         [("q", f"{heavy[0]} {heavy[1]}"), ("q", f"{rare[0]} OR {rare[1]}"), ("q", f"{heavy[2]} -{heavy[3]}"),
          ("q", opencc.OpenCC("s2t").convert(heavy[0]))]),
        ("8 common words", "/-/trends.json", [("q", w) for w in words[:8]]),
    ]
    if themes:
        cases.append((f"{len(themes)} lexicon themes", "/-/trends.json", [("theme", t) for t in themes]))
    rows, heavy_p95, checked = [], None, 0
    with served(args.db) as url, httpx.Client(base_url=url, timeout=60) as client:
        for name, path, params in cases:
            times, response = timed(client, path, params, args.rounds)
            rows.append([name, round(1000 * percentile(times, 0.5), 1), round(1000 * percentile(times, 0.95), 1)])
            if heavy_p95 is None:
                heavy_p95 = percentile(times, 0.95)
                data = response.json()
                for line in data["series"]:
                    got = {p: n for p, n in zip(data["periods"], line["counts"], strict=True) if n}
                    want = {p: n for p, n in expected[line["q"]].items() if p in set(data["periods"])}
                    checked += got != want
    rows.append(["baseline: the 4 common words per month by SQL (index joined to articles, grouped), in process",
                 round(1000 * percentile(baseline, 0.5), 1), round(1000 * percentile(baseline, 0.95), 1)])
    targets = [
        target("4 common words by month, p95 (s)", round(heavy_p95, 3), 1.0),
        target("… ÷ the plain SQL's p95", round(heavy_p95 / percentile(baseline, 0.95), 3), 1.0),
        target("lines whose counts differ from the plain SQL's", checked, 0),
    ]
    path = save("trends", "Trends over time",
                [table(f"/-/trends on {articles:,} articles, {args.rounds} rounds (ms)", ["case", "p50", "p95"], rows)],
                notes=["A real datasette on 127.0.0.1 (bannedbook.web.site.served), one request at a time, "
                       "after a warm-up request per case."],
                targets=targets, pages=crawl_pages(args.db), out=args.out)
    for name, p50, p95 in rows:
        print(f"  {name:<100} p50 {p50:>8} ms  p95 {p95:>8} ms")
    print(f"  saved {path}")
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
