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

Incremental builds (update_lexicon), on a copy matched whole: 1 % of the
articles changed (a passage of another article added, the search index
entries replaced as an update replaces them), then 1 % of the terms changed
(a third removed, a third new, a third in another theme). Each is timed
against write_lexicon over the same archive and compared with it row by row
(no row may differ); reported, not gated: each update at most a tenth of
the whole match.
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
from bannedbook.db.schema import FTS_TABLE
from bannedbook.research.lexicon import LEXICON_TABLES, read_lexicons, update_lexicon, write_lexicon
from bannedbook.search.index import index_row
from bannedbook.search.query import phrase_pattern, query_terms, quoted
from bannedbook.text.chinese import normalise

_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")
_LATIN = re.compile(r"[A-Za-z]{3,10}")
CHANGED = 0.01  # share of the articles, then of the terms, an incremental build changes


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


def change_articles(db: sqlite_utils.Database, share: float, seed: int = 3) -> list[str]:
    """Change `share` of the articles as a new crawl does (a passage of
    another article added at the end), their search index entries replaced
    as an update replaces them; returns their ids."""
    rng = random.Random(seed)
    ids = [key for (key,) in db.execute("select id from articles order by id")]
    chosen = rng.sample(ids, max(1, int(len(ids) * share)))
    for key in chosen:
        rowid, title, body = db.execute("select rowid, title, body from articles where id = ?", [key]).fetchone()
        (other,) = db.execute("select body from articles where id = ?", [rng.choice(ids)]).fetchone()
        db.execute(f"insert into [{FTS_TABLE}] ([{FTS_TABLE}], rowid, body_index, title_index) "
                   "values ('delete', ?, ?, ?)", index_row((rowid, title, body)))
        body = f"{body}\n{other[:400]}"
        db.execute("update articles set body = ? where id = ?", [body, key])
        db.execute(f"insert into [{FTS_TABLE}] (rowid, body_index, title_index) values (?, ?, ?)",
                   index_row((rowid, title, body)))
    db.conn.commit()
    return chosen


def change_terms(source: Path, more: Path, share: float, path: Path, seed: int = 5) -> int:
    """A copy of the CSV at source with `share` of its terms changed: a third
    removed, a third given another theme, a third new (from the CSV at more,
    a longer list made alike); returns how many."""
    rng = random.Random(seed)
    rows = list(csv.reader(source.open(encoding="utf-8")))
    header, rows = rows[0], rows[1:]
    held = {row[0] for row in rows}
    extra = [row for row in list(csv.reader(more.open(encoding="utf-8")))[1:] if row[0] not in held]
    third = max(1, int(len(rows) * share) // 3)
    picked = rng.sample(range(len(rows)), 2 * third)
    for i in picked[:third]:
        rows[i][1] = f"theme {rng.randint(20, 24)}"
    rows = [row for i, row in enumerate(rows) if i not in set(picked[third:])] + extra[:third]
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return 3 * third


def differences(a: Path, b: Path) -> int:
    """Rows of the lexicon tables that one database has and the other not."""
    conn = sqlite3.connect(a)
    conn.execute("attach database ? as other", [str(b)])
    differ = 0
    for name in LEXICON_TABLES:
        for x, y in (("main", "other"), ("other", "main")):
            differ += conn.execute(f"select count(*) from (select * from {x}.[{name}] "
                                   f"except select * from {y}.[{name}])").fetchone()[0]
    conn.close()
    return differ


def timed_update(path: Path, lexicon, changed_sql: str) -> float:
    """Seconds update_lexicon takes on the database at path, with a pool as in a build."""
    db = sqlite_utils.Database(path)
    with make_pool() as pool:
        started = time.perf_counter()
        update_lexicon(db, lexicon, changed_sql, pool, lambda function, rows: pool.map(function, rows, chunksize=25))
        seconds = time.perf_counter() - started
    db.close()
    return seconds


def timed_full(source: Path, path: Path, lexicon) -> float:
    """Seconds write_lexicon takes on a copy (at path) of the database at source."""
    shutil.copyfile(source, path)
    db = sqlite_utils.Database(path)
    with make_pool() as pool:
        started = time.perf_counter()
        write_lexicon(db, lexicon, pool)
        seconds = time.perf_counter() - started
    db.close()
    return seconds


def incremental(work: Path, copy: Path, csv_path: Path, lexicon, terms: int) -> tuple[list[list], list[dict]]:
    """The lexicon of an incremental build, on the copy matched whole: after
    CHANGED of the articles changed, and after CHANGED of the terms; each
    timed against matching the whole lexicon over the same archive, and
    compared with it row by row."""
    update = work / "update.db"
    shutil.copyfile(copy, update)
    db = sqlite_utils.Database(update)
    changed = change_articles(db, CHANGED)
    db.execute("create table changed_ids (id text primary key)")
    db.conn.executemany("insert into changed_ids values (?)", [(key,) for key in changed])
    db.conn.commit()
    db.close()
    articles_seconds = timed_update(update, lexicon, "select id from changed_ids")
    whole = work / "whole.db"
    full_seconds = timed_full(update, whole, lexicon)
    articles_differ = differences(update, whole)

    more = work / "more.csv"
    make_lexicon(copy, terms + terms // 10, more)
    edited = work / "edited.csv"
    n_terms = change_terms(csv_path, more, CHANGED, edited)
    edited_lexicon = read_lexicons([edited])
    terms_seconds = timed_update(update, edited_lexicon, "select null where 0")
    terms_full = timed_full(whole, work / "whole-terms.db", edited_lexicon)
    terms_differ = differences(update, work / "whole-terms.db")
    rows = [
        [f"{len(changed):,} articles changed ({CHANGED:.0%}): update_lexicon (s)", round(articles_seconds, 2)],
        ["… the whole lexicon matched again over the same archive (s)", round(full_seconds, 2)],
        ["… update ÷ whole", round(articles_seconds / full_seconds, 4)],
        [f"{n_terms:,} terms changed ({CHANGED:.0%}: removed, new, another theme): update_lexicon (s)",
         round(terms_seconds, 2)],
        ["… the whole lexicon matched again (s)", round(terms_full, 2)],
        ["… update ÷ whole", round(terms_seconds / terms_full, 4)],
    ]
    targets = [
        target(f"lexicon update after {CHANGED:.0%} of the articles changed ÷ whole match",
               round(articles_seconds / full_seconds, 4), 0.1, gated=False),
        target(f"lexicon update after {CHANGED:.0%} of the terms changed ÷ whole match",
               round(terms_seconds / terms_full, 4), 0.1, gated=False),
        target("lexicon rows an update leaves different from the whole match (articles changed)", articles_differ, 0),
        target("lexicon rows an update leaves different from the whole match (terms changed)", terms_differ, 0),
    ]
    return rows, targets


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
        update_rows, update_targets = incremental(work, copy, csv_path, lexicon, args.terms)
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
    targets += update_targets
    path = save("lexicon", "Matching a lexicon", [table(f"{args.terms:,}-term lexicon, {articles:,} articles",
                                                        ["what", "value"], rows),
                                                  table("Incremental builds: only what changed matched again",
                                                        ["what", "value"], update_rows)],
                notes=[f"counts: articles {counts.articles}, article-term pairs {counts.pairs}",
                       "target: a minute at 100,000 pages (90,678 articles), scaled by the articles"],
                targets=targets, pages=crawl_pages(args.db), out=args.out)
    for what, value in rows + update_rows:
        print(f"  {what:<66} {value}")
    print(f"  saved {path}")
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
