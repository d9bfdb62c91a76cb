"""Measure pinyin queries (bannedbook/research/pinyin.py): recall, ranking,
initials, speed, and that the archive does not grow.

    python benchmarks/pinyin_bench.py --db /tmp/build-20k/bannedbook.db [--heldout-pages 1500] [--work /tmp]

The 400 names: the person, place and organisation names (/nr /ns /nt) of the
People's Daily corpus the synthetic crawl is made of (tests/helpers/corpus.py
reads the same tags), two to eight Han characters, most articles of the
database first. Each is asked as its usual pinyin (pypinyin's reading of the
phrase: 重庆 chongqing) and, with three or four characters, as its initials
(xjp); the polyphone cases (zhongqing for 重庆, yinhang, chengdu) are asked too.

Recall: a held-out crawl (another seed, --heldout-pages pages) is built, and
for the pinyin of its names and of random two-to-four-character strings of
its text, every string of its articles whose characters, in any of their
readings, spell the query (a scan of the text, apart from the index) must be
a candidate.

Latency: each name's full-pinyin expansion on --db (20 best, as the JSON
gives by default), in process, after the vocabulary is read once (that
one-off read is reported apart). Index size: the file's bytes and hash
before and after all expansions.

Targets: recall 1.0; the name first for ≥ 90 % of the names and for every
polyphone case; the name among the first 10 for ≥ 90 % of the initials; p95
≤ 100 ms; the file unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

from common import crawl_pages, finish, percentile, save, table, target
from helpers.corpus import corpus_path, generate, parse_line
from pypinyin import Style, lazy_pinyin

from bannedbook.build.pipeline import build
from bannedbook.research import pinyin as archive_pinyin
from bannedbook.research.pinyin import count, expand
from bannedbook.search.pinyin import candidates, parse, readings
from bannedbook.text.chinese import normalise

HAN = re.compile(r"[\u4e00-\u9fff]+")
POLYPHONES = [("chongqing", "重庆"), ("zhongqing", "重庆"), ("yinhang", "银行"), ("chengdu", "成都")]


def corpus_names() -> Counter:
    """Names tagged nr, ns or nt in the corpus, with how often."""
    names: Counter = Counter()
    with open(corpus_path(), encoding="utf-8") as lines:
        for line in lines:
            names.update(name for name in parse_line(line)[1] if HAN.fullmatch(name) and 2 <= len(name) <= 8)
    return names


def spoken(text: str) -> str:
    return "".join(lazy_pinyin(text, style=Style.NORMAL))


def initials(text: str) -> str:
    return "".join(syllable[0] for syllable in lazy_pinyin(text, style=Style.NORMAL))


def scan(texts: list[str], letters: str) -> set[str]:
    """Every string of texts whose characters, in some reading each, spell letters."""
    plain = {}

    def plain_readings(char: str) -> set[str]:
        if char not in plain:
            plain[char] = {p for p, _ in readings(char)}
        return plain[char]

    def spell(text: str, at: int, rest: str, start: int, found: set[str]) -> None:
        if not rest:
            found.add(text[start:at])
            return
        if at < len(text):
            for reading in plain_readings(text[at]):
                if rest.startswith(reading):
                    spell(text, at + 1, rest[len(reading):], start, found)

    firsts = {c for text in texts for c in set(text)}
    starters = "".join(re.escape(c) for c in firsts if any(letters.startswith(r) for r in plain_readings(c)))
    found: set[str] = set()
    if not starters:
        return found
    pattern = re.compile(f"[{starters}]")
    for text in texts:
        for match in pattern.finditer(text):
            spell(text, match.start(), letters, match.start(), found)
    return found


def heldout_db(work: Path, pages: int) -> Path:
    folder = work / f"pinyin-heldout-{pages}"
    db = folder / "bannedbook.db"
    if not db.exists():
        generate(folder / "raw", pages, seed=11)
        build(folder / "raw", db, workers=2, progress=False)
    return db


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a database built by build_db.py")
    parser.add_argument("--heldout-pages", type=int, default=1500)
    parser.add_argument("--work", type=Path, default=Path("/tmp"), help="where the held-out crawl is built")
    parser.add_argument("--names", type=int, default=400)
    parser.add_argument("--out", type=Path, help="result file (default: benchmarks/results/pinyin-SIZE.json)")
    args = parser.parse_args(argv)
    size_before, hash_before = args.db.stat().st_size, digest(args.db)
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    articles = conn.execute("select count(*) from articles").fetchone()[0]

    started = time.perf_counter()
    archive_pinyin.load(conn)
    vocabulary = archive_pinyin.vocabulary(conn)
    load_seconds = time.perf_counter() - started
    vocabulary_mb = sum(a.nbytes for a in (vocabulary.first, vocabulary.second, vocabulary.articles)) / 2**20

    expand(conn, "zhongguo")  # first uses (the Traditional → Simplified table) before the timed ones
    # The 400 names most articles hold (the exact search's count).
    counted = [(name, count(conn, name)) for name, _ in corpus_names().most_common(3 * args.names)]
    names = [name for name, n in sorted(counted, key=lambda item: -item[1]) if n][: args.names]

    first, first_by_articles, latencies, missed = 0, 0, [], []
    for name in names:
        query = spoken(name)
        started = time.perf_counter()
        answer = expand(conn, query)
        latencies.append(time.perf_counter() - started)
        texts = [c.text for c in answer.candidates]
        # The same without names first: by articles alone.
        plain = candidates(vocabulary, parse(query), lambda text: count(conn, text), 20)
        first_by_articles += [c.text for c in plain.candidates][:1] == [name]
        if texts[:1] == [name]:
            first += 1
        else:
            missed.append(f"{query} → {' · '.join(texts[:3])} (wanted {name}, rank "
                          f"{texts.index(name) + 1 if name in texts else '—'})")
    polyphones = [(query, word, [c.text for c in expand(conn, query).candidates][:3]) for query, word in POLYPHONES]
    short = [name for name in names if 3 <= len(name) <= 4]
    in_top10 = sum(name in [c.text for c in expand(conn, initials(name), limit=10).candidates] for name in short)
    in_top10_by_articles = sum(
        name in [c.text for c in candidates(vocabulary, parse(initials(name)), lambda t: count(conn, t), 10).candidates]
        for name in short)

    # Recall on the held-out archive, against a scan of its text.
    held = heldout_db(args.work, args.heldout_pages)
    held_conn = sqlite3.connect(f"file:{held}?mode=ro", uri=True)
    texts = [normalise(t + "\n" + b) for t, b in held_conn.execute("select title, body from articles")]
    rng = random.Random(5)
    strings = [word for word in names if any(word in t for t in texts[:300])][:100]
    runs = [run for t in rng.sample(texts, min(200, len(texts))) for run in HAN.findall(t) if len(run) >= 4]
    for run in rng.sample(runs, min(100, len(runs))):
        at = rng.randrange(len(run) - 1)
        strings.append(run[at : at + rng.randint(2, 4)])
    queries = sorted({spoken(s) for s in strings} | {q for q, _ in POLYPHONES})
    wanted_total = found_total = 0
    recall_misses = []
    for query in queries:
        wanted = scan(texts, query)
        found = {c.text for c in expand(held_conn, query, limit=None).candidates}
        wanted_total += len(wanted)
        found_total += len(wanted & found)
        if wanted - found:
            recall_misses.append(f"{query}: {' '.join(sorted(wanted - found)[:5])}")
    recall = found_total / wanted_total if wanted_total else 0.0

    conn.close()
    size_after, hash_after = args.db.stat().st_size, digest(args.db)
    p95 = percentile(latencies, 0.95)
    rows = [
        ["names asked (full pinyin)", len(names)],
        ["… the name first", f"{first} ({100 * first / len(names):.1f} %)"],
        ["… the name first, ranked by articles alone (names not first)",
         f"{first_by_articles} ({100 * first_by_articles / len(names):.1f} %)"],
        ["names of 3–4 characters asked by initials", len(short)],
        ["… the name among the first 10", f"{in_top10} ({100 * in_top10 / max(len(short), 1):.1f} %)"],
        ["… among the first 10, ranked by articles alone (names not first)",
         f"{in_top10_by_articles} ({100 * in_top10_by_articles / max(len(short), 1):.1f} %)"],
        ["expansion p50 / p95 (ms)", f"{1000 * percentile(latencies, 0.5):.1f} / {1000 * p95:.1f}"],
        ["vocabulary and names read once per file (s)", round(load_seconds, 2)],
        ["vocabulary in memory (MB, bigram arrays)", round(vocabulary_mb, 1)],
        ["Chinese bigrams in the index", len(vocabulary)],
        [f"held-out recall ({len(queries)} queries, {wanted_total:,} strings that read so)", round(recall, 4)],
        ["database bytes before / after", f"{size_before:,} / {size_after:,}"],
    ]
    poly_rows = [[query, word, " · ".join(got)] for query, word, got in polyphones]
    targets = [
        target("full-pinyin recall against a scan of the held-out text", round(recall, 4), 1.0, at_most=False),
        target("the name first (share of the names)", round(first / len(names), 3), 0.9, at_most=False),
        target("polyphone cases with the word first", sum(got[:1] == [word] for _, word, got in polyphones),
               len(POLYPHONES), at_most=False),
        target("initials: the name among the first 10 (share)", round(in_top10 / max(len(short), 1), 3), 0.9,
               at_most=False),
        target("full-pinyin expansion p95 (ms)", round(1000 * p95, 1), 100),
        target("database bytes changed by expansions", abs(size_after - size_before) + (hash_after != hash_before),
               0),
    ]
    notes = [
        "The names are the corpus's /nr /ns /nt words, and the synthetic crawl tags each article with the same "
        "kind of names: the ranking's names-first (the archive's tags) is favoured here, so the rows ranked by "
        "articles alone are given beside it.",
        "In process, one expansion at a time, on a read-only connection; the vocabulary (the index's Chinese "
        "terms, read through an fts5vocab table in the temp schema) is read once per database file, before "
        "the timed expansions.",
        f"Names not first: {len(missed)}; e.g. " + "; ".join(missed[:8]) if missed else "Every name was first.",
    ] + ([f"Recall misses: {'; '.join(recall_misses[:5])}"] if recall_misses else [])
    path = save("pinyin", "Pinyin and initials",
                [table(f"Pinyin queries on {articles:,} articles", ["measure", "value"], rows),
                 table("Polyphones (the first three candidates)", ["query", "wanted", "candidates"], poly_rows)],
                notes=notes, targets=targets, pages=crawl_pages(args.db), out=args.out)
    for row in rows:
        print(f"  {row[0]:<70} {row[1]}")
    for row in poly_rows:
        print("  ", *row)
    for line in missed[:20]:
        print("   not first:", line)
    for line in recall_misses[:10]:
        print("   recall miss:", line)
    print(f"  saved {path}")
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
