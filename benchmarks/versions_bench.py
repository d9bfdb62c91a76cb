"""Measure versions (bannedbook/research/versions.py): planted edits found
character by character, no false versions, the diff's time, the libraries
it could use, and what versions add to a database.

    PYTHONPATH=tests python benchmarks/versions_bench.py [--pairs 600] [--articles 2000] [--work DIR]

1. A held-out set of planted changes on articles of People's Daily text
   (tests/helpers/corpus.py, seeded apart from the tests), 200 to 20,000
   characters, each page rendered as the site renders it and read back
   through the build's own decode and extract:
   - edits: insertions, deletions and replacements of spans, paragraphs
     removed, added and moved, one to eight of them per version, mixed;
   - copies that must make no version: the Traditional rendering (OpenCC
     s2t, as the mirror), the page in GB18030 or Big5, another sidebar.
   Every character of the old text carries its identity through the edits,
   so the truth is exact: the old characters removed and the new ones
   added (a moved paragraph changes no character). The changed-character
   F1 is over both sets; the diff's time is per pair, normalisation
   included, on a warm process as in a build.
2. The libraries the character diff could use, on the largest changed runs
   of the same pairs: difflib (autojunk=False, else frequent characters
   such as 的 are junk past 200 characters), cydifflib, diff-match-patch
   (pure Python), fast-diff-match-patch (C++), rapidfuzz's Indel opcodes.
3. Size: a crawl of N articles (--articles) in web-archive captures, 5 % of
   them captured again after an edit, built twice, with and without the
   edited captures; what the versions tables add (bytes per article, per
   edit, and against the edits' changed text), extrapolated to 100,000
   articles with 5 % edited.

Targets: F1 >= 0.99, 0 false versions, 0 missed versions, diff p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import difflib
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import finish, percentile, save, table, target
from helpers.corpus import load_corpus
from helpers.pages import CANONICAL, full_page, traditional
from helpers.warcs import Entry, write_warc

from bannedbook.build.extract import extract
from bannedbook.build.pipeline import build
from bannedbook.research.versions import comparable, diff, text_hash, text_parts
from bannedbook.text.chinese import normalise
from bannedbook.text.decode import decode

SEED = 24_024  # apart from the tests' seeds: the planted set is held out


def article_paragraphs(corpus, rng: random.Random, size: int) -> list[str]:
    start = rng.randrange(len(corpus.paragraphs) - 400)
    out, total = [], 0
    for text in corpus.paragraphs[start:]:
        if total >= size:
            break
        out.append(text)
        total += len(text)
    return out


def render(title: str, paragraphs: list[str], charset: str = "utf-8", sidebar: str = "订阅我们的新闻。",
           url: str = CANONICAL) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = full_page(charset=charset, fragment=f'<h2>{title}</h2><div class="entry">{body}</div>', url=url)
    html = html.replace("侧栏文字：订阅我们的新闻。", "侧栏文字：" + sidebar)
    return html.encode(charset, errors="xmlcharrefreplace")


def read(data: bytes) -> list[str]:
    """A page's version text, as the build reads it."""
    article = extract(decode(data).text)
    return text_parts(article.title, article.body)


# ------------------------------------------------------------------ planting

Char = tuple[str, object]  # (character, identity: (paragraph, offset) of the old text, or None when new)


def plant(paragraphs: list[str], rng: random.Random, corpus, edits: int) -> tuple[list[list[Char]], list[str]]:
    """Edit a copy of paragraphs; returns the new paragraphs as identified
    characters and the kinds of edit made."""
    new: list[list[Char]] = [[(c, (p, k)) for k, c in enumerate(text)] for p, text in enumerate(paragraphs)]
    kinds = []

    def fresh(n: int) -> list[Char]:
        source = rng.choice(corpus.paragraphs)
        start = rng.randrange(max(len(source) - n, 1))
        return [(c, None) for c in source[start:start + n]]

    for _ in range(edits):
        kind = rng.choice(["insert", "delete", "replace", "remove_paragraph", "add_paragraph", "move"])
        p = rng.randrange(len(new))
        text = new[p]
        if kind in ("insert", "delete", "replace") and len(text) > 4:
            at = rng.randrange(len(text) - 2)
            n = rng.randint(1, min(40, len(text) - at - 1))
            if kind == "insert":
                text[at:at] = fresh(rng.randint(1, 40))
            elif kind == "delete":
                del text[at:at + n]
            else:
                text[at:at + n] = fresh(rng.randint(1, 40))
        elif kind == "remove_paragraph" and len(new) > 3:
            del new[p]
        elif kind == "add_paragraph":
            new.insert(p, [(c, None) for c in rng.choice(corpus.paragraphs)])
        elif kind == "move" and len(new) > 3:
            moved = new.pop(p)
            new.insert(rng.randrange(len(new) + 1), moved)
        else:
            continue
        kinds.append(kind)
    return [t for t in new if t], kinds


def truth(old: list[str], new: list[list[Char]]) -> set:
    kept = {ident for text in new for _, ident in text if ident is not None}
    removed = {("old", p, k) for p, text in enumerate(old) for k in range(len(text)) if (p, k) not in kept}
    added = {("new", p, k) for p, text in enumerate(new) for k, (_, ident) in enumerate(text) if ident is None}
    return removed | added


def predicted(old: list[str], new: list[str], blocks: list) -> set:
    """The changed characters a diff's blocks name, as positions in the old
    and new paragraphs (the layout research/versions.Diff describes)."""
    where = {}  # comparable old paragraph -> its index (a moved one is found by its text)
    for i, text in enumerate(old):
        where.setdefault(comparable(text), i)
    moved = set()
    for block in blocks:
        if block[0] == "m":
            moved.add(where[comparable(block[1])])
        elif block[0] == "M":
            moved.add(where[comparable("".join(text for op, text in block[1] if op != "+"))])
    rest = [i for i in range(len(old)) if i not in moved]
    out: set = set()
    oi = nj = 0
    for block in blocks:
        if block[0] == "=":
            oi, nj = oi + block[1], nj + block[1]
        elif block[0] == "m":
            nj += 1
        elif block[0] == "M":
            at = where[comparable("".join(text for op, text in block[1] if op != "+"))]
            _walk(block[1], [at], 0, nj, out)
            nj += 1
        else:
            oi, nj = _walk(block[1], rest, oi, nj, out)
    return out


def _walk(segments: list, rest: list[int], oi: int, nj: int, out: set) -> tuple[int, int]:
    """Positions of a run's changed characters; returns the next old (in
    rest) and new paragraph."""
    o = n = 0  # offsets in the current old and new paragraph
    old_any = new_any = False
    for op, text in segments:
        for char in text:
            if op in "=-":
                old_any = True
                if char == "\n":
                    oi, o = oi + 1, 0
                else:
                    if op == "-":
                        out.add(("old", rest[oi], o))
                    o += 1
            if op in "=+":
                new_any = True
                if char == "\n":
                    nj, n = nj + 1, 0
                else:
                    if op == "+":
                        out.add(("new", nj, n))
                    n += 1
    return oi + old_any, nj + new_any


def f1(true: set, found: set) -> tuple[int, int, int]:
    return len(true & found), len(found - true), len(true - found)


# ------------------------------------------------------------------ 1. planted set

def planted(pairs: int, corpus) -> dict:
    rng = random.Random(SEED)
    tp = fp = fn = 0
    times, false_versions, missed, copies, edited = [], 0, 0, 0, 0
    by_kind: dict[str, list[int]] = {}
    runs = []
    for index in range(pairs):
        size = int(200 * 100 ** rng.random())  # 200 to 20,000 characters, as many short as long
        title = rng.choice(corpus.headlines)[0]
        paragraphs = article_paragraphs(corpus, rng, min(size, 20_000))
        old = read(render(title, paragraphs))
        # Copies that are no new version: the mirror, other encodings, another sidebar.
        copy = index % 4
        if copy == 0:
            variant = render(traditional(title), [traditional(p) for p in paragraphs])
        elif copy == 1:
            variant = render(title, paragraphs, charset="gb18030", sidebar="新的广告：点击这里")
        elif copy == 2:
            variant = render(traditional(title), [traditional(p) for p in paragraphs], charset="big5")
        else:
            variant = render(title, paragraphs, sidebar="另一个侧栏")
        copies += 1
        false_versions += text_hash(read(variant)) != text_hash(old)
        # An edit (sometimes also switching script, as the mirror would show it).
        new_chars, kinds = plant(old[1:], rng, corpus, rng.randint(1, 8))
        if not kinds:
            continue
        new_body = ["".join(c for c, _ in text) for text in new_chars]
        script = rng.random() < 0.25
        if new_body == old[1:]:  # a move back to where it was, a span replaced by itself: no edit
            continue
        if script:
            shown = read(render(traditional(old[0]), [traditional(p) for p in new_body]))
        else:
            shown = read(render(old[0], new_body))
        if len(shown) - 1 != len(new_body):  # extraction merged or split something: not a fair pair
            continue
        edited += 1
        if text_hash(shown) == text_hash(old):
            missed += 1
            continue
        started = time.perf_counter()
        change = diff(old, shown)
        times.append(time.perf_counter() - started)
        true = truth(old[1:], new_chars)
        found = {(side, p - 1, k) for side, p, k in predicted(old, shown, change.blocks) if p > 0}
        t, f, n = f1(true, found)
        tp, fp, fn = tp + t, fp + f, fn + n
        for kind in set(kinds) | ({"script"} if script else set()):
            by_kind.setdefault(kind, [0, 0, 0])
            by_kind[kind] = [a + b for a, b in zip(by_kind[kind], (t, f, n), strict=True)]
        runs += [("\n".join(old), "\n".join(shown))]
    score = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"f1": score, "tp": tp, "fp": fp, "fn": fn, "times": times, "false_versions": false_versions,
            "copies": copies, "missed": missed, "edited": edited, "by_kind": by_kind, "runs": runs}


# ------------------------------------------------------------------ 2. libraries

def libraries(runs: list[tuple[str, str]]) -> list[list]:
    """Each library on whole texts of the largest pairs (the worst case a
    run can be), normalised as the diff does."""
    import cydifflib
    import diff_match_patch
    import fast_diff_match_patch
    from rapidfuzz.distance import Indel

    largest = sorted(runs, key=lambda pair: len(pair[0]), reverse=True)[:10]
    pairs = [(normalise(a), normalise(b)) for a, b in largest]
    dmp = diff_match_patch.diff_match_patch()
    dmp.Diff_Timeout = 0

    def changed(ops: list) -> int:
        return sum(n for op, n in ops if op != "=")

    candidates = {
        "difflib (autojunk=False)": lambda a, b: difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes(),
        "difflib (autojunk, the default)": lambda a, b: difflib.SequenceMatcher(None, a, b).get_opcodes(),
        "cydifflib (autojunk=False)": lambda a, b: cydifflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes(),
        "diff-match-patch (Python)": lambda a, b: dmp.diff_main(a, b, False),
        "fast-diff-match-patch (C++), chosen": lambda a, b: fast_diff_match_patch.diff(
            a, b, timelimit=0, checklines=False, cleanup="No"),
        "rapidfuzz Indel.opcodes": lambda a, b: Indel.opcodes(a, b),
    }
    rows = []
    for name, function in candidates.items():
        seconds, sizes = [], []
        for a, b in pairs:
            started = time.perf_counter()
            result = function(a, b)
            seconds.append(time.perf_counter() - started)
            if name.startswith(("difflib", "cydifflib", "rapidfuzz")):
                ops = result if not hasattr(result, "__iter__") else list(result)
                size = sum((i2 - i1) + (j2 - j1) for tag, i1, i2, j1, j2 in (tuple(op) for op in ops)
                           if tag != "equal")  # characters removed plus added, as the others count
            elif name.startswith("diff-match-patch"):
                size = sum(len(text) for op, text in result if op != 0)
            else:
                size = changed(result)
            sizes.append(size)
        rows.append([name, round(statistics.median(seconds) * 1000, 1), round(max(seconds) * 1000, 1),
                     sum(sizes)])
    return rows, len(pairs), round(statistics.mean(len(a) for a, _ in pairs))


# ------------------------------------------------------------------ 3. size

def size(articles: int, corpus, work: Path) -> dict:
    """Two builds of the same captures, with and without an edited capture
    of 5 % of the articles."""
    rng = random.Random(SEED + 1)
    base, edits = [], []
    changed_chars = 0
    for number in range(articles):
        url = f"https://www.bannedbook.org/bnews/comments/20240708/{3_000_000 + number}.html"
        title = rng.choice(corpus.headlines)[0]
        paragraphs = article_paragraphs(corpus, rng, int(300 * 30 ** rng.random()))
        base.append(Entry(url, render(title, paragraphs, url=url), date="2024-07-09T08:00:00Z"))
        if number % 20 == 0:
            new_chars, _ = plant(paragraphs, rng, corpus, rng.randint(1, 4))
            new_body = ["".join(c for c, _ in text) for text in new_chars]
            changed_chars += len(truth(paragraphs, new_chars))
            edits.append(Entry(url, render(title, new_body, url=url), date="2024-08-09T08:00:00Z"))
    sizes = {}
    for name, entries in (("without edits", base), ("with 5 % edited", base + edits)):
        raw = work / name.replace(" ", "-").replace("%", "pc") / "raw"
        write_warc(raw / "crawl.warc.gz", entries)
        db = raw.parent / "x.db"
        build(raw, db, workers=2, progress=False, full=True)
        with sqlite3.connect(db) as conn:
            conn.execute("create virtual table temp.stat using dbstat")
            sizes[name] = dict(conn.execute(
                "select name, sum(pgsize) from temp.stat group by name"))
            sizes[name]["_file"] = db.stat().st_size
            sizes[name]["_versions"] = conn.execute("select count(*) from versions").fetchone()[0]
            sizes[name]["_edits"] = conn.execute("select count(*) from versions where version > 1").fetchone()[0]
            sizes[name]["_diff_bytes"] = conn.execute(
                "select coalesce(sum(length(cast(diff as blob))), 0) from versions").fetchone()[0]
    return {"sizes": sizes, "edits": len(edits), "changed_chars": changed_chars, "articles": articles}


def version_bytes(sizes: dict) -> int:
    return sum(v for k, v in sizes.items() if k.startswith(("versions", "page_texts", "version_terms",
                                                            "sqlite_autoindex_versions",
                                                            "sqlite_autoindex_page_texts",
                                                            "sqlite_autoindex_version_terms",
                                                            "idx_versions", "idx_version_terms")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="the result file (default benchmarks/results/)")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    diff(["预热"], ["预热一下"])  # a build's process has its tables filled already
    result = planted(args.pairs, corpus)
    p50, p95 = percentile(result["times"], 0.5) * 1000, percentile(result["times"], 0.95) * 1000
    library_rows, library_pairs, library_chars = libraries(result["runs"])
    with tempfile.TemporaryDirectory(dir=args.work) as folder:
        measured = size(args.articles, corpus, Path(folder))
    without, with_edits = measured["sizes"]["without edits"], measured["sizes"]["with 5 % edited"]
    fixed = version_bytes(without)  # every article's version 1 (its text's hash and captures), no text
    per_article = fixed / max(measured["articles"], 1)
    added = version_bytes(with_edits) - fixed
    per_edit = added / max(measured["edits"], 1)
    changed_utf8 = measured["changed_chars"] * 3  # a Chinese character is 3 bytes of UTF-8
    per_100k = (per_article * 100_000 + per_edit * 5_000) / 1e6
    tables = [
        table("Planted changes (held out), read through decode and extract", ["what", "value"], [
            ["pairs edited", result["edited"]], ["copies that must be no version", result["copies"]],
            ["false versions (copies hashed apart)", result["false_versions"]],
            ["missed versions (edits hashed alike)", result["missed"]],
            ["changed characters: true / false positives / missed",
             f"{result['tp']:,} / {result['fp']:,} / {result['fn']:,}"],
            ["changed-character F1", round(result["f1"], 4)],
            ["diff time per pair, median / p95 / max (ms)",
             f"{p50:.2f} / {p95:.2f} / {max(result['times']) * 1000:.2f}"],
        ]),
        table("F1 by kind of edit (pairs holding it)", ["kind", "F1", "true", "false", "missed"], [
            [kind, round(2 * t / (2 * t + f + n), 4) if t else 0.0, t, f, n]
            for kind, (t, f, n) in sorted(result["by_kind"].items())]),
        table(f"Character diff libraries on the {library_pairs} longest pairs (whole texts, mean "
              f"{library_chars:,} characters)",
              ["library", "median ms", "max ms", "characters removed + added (fewer: closer)"], library_rows),
        table(f"What versions add to a database ({measured['articles']:,} articles, {measured['edits']:,} "
              "edited once)", ["what", "value"], [
            ["versions tables without edits (each article's version 1, no text): bytes per article",
             round(per_article)],
            ["added by the edits: bytes per edit", round(per_edit)],
            ["the edits' changed text, UTF-8: bytes per edit", round(changed_utf8 / max(measured["edits"], 1))],
            ["stored diffs: bytes per edit", round(with_edits["_diff_bytes"] / max(measured["edits"], 1))],
            ["database file, without / with edits (MB)",
             f"{without['_file'] / 1e6:.1f} / {with_edits['_file'] / 1e6:.1f}"],
            ["extrapolated: versions tables for 100,000 articles, 5 % edited (MB)", round(per_100k, 1)],
        ]),
    ]
    notes = [
        "A version is a distinct normalised text (title and body paragraphs, chinese.normalise): the "
        "Traditional rendering, GB18030 and Big5 copies and a changed sidebar hash alike.",
        "F1 counts the old characters an edit removed and the new ones it added, each by position; a "
        "moved paragraph changes none. Where an edit's place is ambiguous (an inserted 的 beside a 的) the "
        "diff may name the neighbouring character: that is most of what is lost.",
        "Per pair: paragraphs matched (moves found among paragraphs that occur once), changed paragraphs "
        "paired by shared bigrams, then fast-diff-match-patch on each pair without a time limit below 4 "
        "million character pairs (exact, and the same in every build), with one above it.",
        "Size: every article has its version 1 (a versions row: the hash of its normalised text, its "
        "first and last captures with that text; the text itself stays in articles). An edited one adds "
        "a versions row per text (hashes, dates, the page) and a page_texts row per page, and its diff "
        "stores the changed characters with 30 characters of context around each change (unchanged "
        "paragraphs, and unchanged text further from a change, are counts). The 100,000-article figure "
        "is 100,000 versions 1 plus 5,000 such edits, both per-item costs measured here "
        f"({measured['articles']:,} articles, {measured['edits']:,} edits).",
    ]
    targets = [
        target("changed-character F1 on planted edits", round(result["f1"], 4), 0.99, at_most=False),
        target("false versions (copies, mirror, encodings, sidebar)", result["false_versions"], 0),
        target("missed versions", result["missed"], 0),
        target("diff p95 per pair (ms)", round(p95, 2), 50),
    ]
    save("versions", "Versions: planted edits, diff libraries and size", tables, notes, targets, out=args.out)
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
