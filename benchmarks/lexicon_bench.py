"""Measure matching a lexicon: what a 10,000-term list adds to a build.

    python benchmarks/lexicon_bench.py --db /tmp/research-work/bannedbook.db [--terms 10000] [--work DIR]

The lexicon is made from the database's own text with a seeded RNG, like a
researcher's list: mostly 2-4 character words and names (a fifth of them
written in Traditional characters), some Latin words, some terms no
article holds, in 20 themes. The database is copied into --work (the
lexicon step writes tables) and bannedbook.research.lexicon.write_lexicon runs on
the copy with a process pool, as in a build.

Baseline, measured in the same run: reading and normalising every article
once in one process (what counting occurrences costs at the least). The
check: for 200 of the terms, the articles found equal a scan of every
article's normalised title and body with the term's phrase rule.

Target: a 10,000-term lexicon adds at most about a minute to a build at
100,000 pages; at another size, a minute scaled by the articles (12 s at
20,000 pages).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import opencc
import sqlite_utils
from common import crawl_pages, finish, save, table, target

from bannedbook.build.workers import make_pool
from bannedbook.research.lexicon import read_lexicons, write_lexicon
from bannedbook.search.query import phrase_pattern, query_terms, quoted
from bannedbook.text.chinese import normalise

_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")
_LATIN = re.compile(r"[A-Za-z]{3,10}")


def make_lexicon(db: Path, count: int, path: Path, seed: int = 7) -> None:
    """A CSV of count terms, shaped like a researcher's list: names of
    people, places and organisations (the corpus' tags, each distinct name
    as likely as any other), a fifth written in Traditional characters;
    phrases of 3-6 characters from the articles; Latin words; terms no
    article holds. In 20 themes."""
    rng = random.Random(seed)
    to_traditional = opencc.OpenCC("s2t").convert
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    names = [name for (name,) in conn.execute("select id from tags order by id") if _WORD.fullmatch(name)]
    rng.shuffle(names)
    rowids = [rowid for (rowid,) in conn.execute("select date_order from articles order by date_order")]
    terms: dict[str, str] = {}
    while len(terms) < count:
        roll = rng.random()
        if roll < 0.03:  # no article holds it
            term = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(3, 5)))
        elif roll < 0.6 and names:
            term = names.pop()
        else:
            body = conn.execute("select body from articles where rowid = ?", [rng.choice(rowids)]).fetchone()
            pattern = _LATIN if roll < 0.65 else _WORD
            found = pattern.findall(body[0]) if body else []
            if not found:
                continue
            word = rng.choice(found)
            start = rng.randint(0, max(0, len(word) - 3))
            term = word if pattern is _LATIN else word[start: start + rng.randint(3, 6)]
        if rng.random() < 0.2:
            term = to_traditional(term)
        terms.setdefault(term, f"theme {len(terms) % 20:02d}")
    conn.close()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["term", "theme", "note"])
        writer.writerows([term, theme, "benchmark"] for term, theme in terms.items())


def baseline(db: Path) -> float:
    """Seconds to read and normalise every article once, in one process."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    started = time.perf_counter()
    for title, body in conn.execute("select title, body from articles"):
        normalise(title)
        normalise(body)
    conn.close()
    return time.perf_counter() - started


def check(db: Path, terms: list[str]) -> tuple[int, int]:
    """(terms checked, terms whose articles differ from a scan with the phrase rule)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    patterns = {}
    for term in terms:
        found = query_terms(quoted(term))
        patterns[term] = phrase_pattern(found[0]) if found else None
    expected: dict[str, set[str]] = {term: set() for term in terms}
    for key, title, body in conn.execute("select id, title, body from articles"):
        texts = (normalise(title), normalise(body))
        for term, pattern in patterns.items():
            if pattern is not None and any(pattern.search(text) for text in texts):
                expected[term].add(key)
    wrong = 0
    for term in terms:
        got = {key for (key,) in conn.execute("select article_id from article_terms where term = ?", [term])}
        wrong += got != expected[term]
    conn.close()
    return len(terms), wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a database built by build_db.py")
    parser.add_argument("--terms", type=int, default=10_000)
    parser.add_argument("--work", type=Path, help="where the copy goes (default: a temporary folder beside DB)")
    parser.add_argument("--out", type=Path, help="result file (default: benchmarks/results/lexicon-SIZE.json)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lexicon-bench-", dir=args.work or args.db.parent))
    try:
        csv_path = work / "lexicon.csv"
        make_lexicon(args.db, args.terms, csv_path)
        copy = work / "bannedbook.db"
        shutil.copyfile(args.db, copy)
        articles = sqlite3.connect(copy).execute("select count(*) from articles").fetchone()[0]
        floor = baseline(copy)

        started = time.perf_counter()
        lexicon = read_lexicons([csv_path])
        read_seconds = time.perf_counter() - started
        db = sqlite_utils.Database(copy)
        with make_pool() as pool:  # the pool a build matches its lexicon on
            started = time.perf_counter()
            steps: dict = {}
            counts = write_lexicon(db, lexicon, pool, steps)
            match_seconds = time.perf_counter() - started
        pairs = db.execute("select count(*) from article_terms").fetchone()[0]
        with_terms = db.execute("select count(distinct article_id) from article_terms").fetchone()[0]
        found_terms = db.execute("select count(*) from lexicon where articles > 0").fetchone()[0]
        db.close()
        sample = random.Random(1).sample([term.term for term in lexicon.terms], min(200, len(lexicon.terms)))
        checked, wrong = check(copy, sample)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    total = read_seconds + match_seconds
    allowed = 60 * articles / 90_678  # a minute for the 100,000-page crawl's articles
    rows = [
        ["terms", len(lexicon.terms)],
        ["articles", articles],
        ["terms found in some article", found_terms],
        ["articles holding a term", with_terms],
        ["article-term pairs written", pairs],
        ["read and check the CSV (s)", round(read_seconds, 2)],
        ["match, count and write (s)", round(match_seconds, 2)],
        ["per term (ms)", round(1000 * total / len(lexicon.terms), 3)],
        ["per term and 1,000 articles (ms)", round(1000 * total / len(lexicon.terms) / (articles / 1000), 4)],
        *[[f"… {step} (s)", value] for step, value in steps.items()],
        ["baseline: read and normalise every article once, one process (s)", round(floor, 2)],
        ["lexicon ÷ baseline", round(total / floor, 2)],
        [f"terms checked against a scan (of {checked})", f"{checked - wrong} equal"],
    ]
    targets = [
        target(f"lexicon of {len(lexicon.terms):,} terms at {articles:,} articles (s)", round(total, 2),
               round(allowed, 1)),
        target("terms whose articles differ from the scan", wrong, 0),
    ]
    path = save("lexicon", "Matching a lexicon", [table(f"{args.terms:,}-term lexicon, {articles:,} articles",
                                                        ["what", "value"], rows)],
                notes=[f"counts: articles {counts.articles}, article-term pairs {counts.pairs}",
                       "target: a minute at 100,000 pages (90,678 articles), scaled by the articles"],
                targets=targets, pages=crawl_pages(args.db), out=args.out)
    for what, value in rows:
        print(f"  {what:<66} {value}")
    print(f"  saved {path}")
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
