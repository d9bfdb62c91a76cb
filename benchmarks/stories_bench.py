"""Measure the grouping of near-duplicate articles into stories
(bannedbook/research/stories.py): precision and recall, time and memory.

    PYTHONPATH=tests python benchmarks/stories_bench.py [--pages 20000 50000] [--db DB] [--out FILE.json]

1. The labelled pairs (tests/fixtures/story_pairs.jsonl, made by
   tests/helpers/story_pairs.py): precision and recall of the module's setting
   and of its neighbours (shingle length, MinHash values, LSH bands, the
   share of text that makes one story), each varied alone; how close
   MinHash's estimate comes to the exact Jaccard similarity, against the
   error independent permutations would make; and the signature's CPU time
   per article.
2. A synthetic archive of N articles (--pages): each new article is random
   sentences of People's Daily 1998 (tests/helpers/corpus.py), and one in ten is
   a repost of a recent article, edited as reposts are
   (tests/helpers/reposts.py). Signatures per article, then `group` on all of
   them in a fresh process (time and peak memory), at the module's BANDS and
   at neighbours; precision and recall over the pairs of planted copies; and
   an incremental build in a database that adds the last 1 % (and, apart,
   also removes 0.1 % at random): storystore.regroup with its band index,
   against storystore.group_all on the same articles, checked to give the
   same articles.story, stories and band index.
3. --db: the same on a built database's articles, in date order (no truth to
   score against: the number of stories and the largest).

Inside a build, instead of the above (results/stories_build-SIZE.json):

    PYTHONPATH=tests python benchmarks/stories_bench.py --build RAW --work DIR   # a full build of RAW, measured
    PYTHONPATH=tests python benchmarks/stories_bench.py --built DB               # a database built before

4. Grouping inside a build: --build runs a full build of RAW into DIR and
   measures its story step (storystore.group_all: read the signatures the
   workers made, group, write articles.story, stories and the band index):
   wall and CPU seconds, the part that is the grouping
   (`stories.components`), and the memory the step adds to the build's
   process (peak resident memory during the step over the resident memory
   before it). --built runs the same step on a copy of DB
   in a fresh process, as the build's last step would, without building.
5. What stories cost the pages, on that database served as `make serve`
   serves it: one result per story (?_collapse=1, the search's collapse=1)
   against the same page without it, the article page of the largest story
   against one of an article alone, tags counted by key; and, in SQL, the
   collapse as this project does it (the earliest matching article of each
   story) against a flag on each story's first article (cheaper, but a
   story whose first article does not match is lost: the count lost says
   how often).

Targets: precision >= 0.98 and recall >= 0.95 on the labelled pairs and on
the planted copies; the signature <= 0.3 ms (CPU) per article, on the
labelled bodies and on the synthetic articles; the incremental regrouping gives the full grouping's
stories (every archive). Reported, not gated: the regrouping at 1 % new at
no more than a tenth of the full grouping's time. It reads no stored
signature but those the band index proposes, and groups again only the
stories that lose an article: in a crawl where nearly every article chains
into one story (the --db row), a removal regroups that story, about the
whole archive. Inside a build: the story step <= 10 % of the full build's
time (--build), and no page answers with an error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import pickle
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sqlite_utils
from common import crawl_pages, finish, save, table, target
from helpers.corpus import load_corpus
from helpers.reposts import EDITS, Editor
from helpers.story_pairs import load_pairs

from bannedbook.db.schema import TABLES
from bannedbook.research import stories

ROOT = Path(__file__).resolve().parent.parent

REPOSTS = 0.1  # share of the synthetic archive that is reposts
RECENT = 2000  # a repost copies one of the last RECENT new articles
INCREMENT = 0.01
SIGNATURE_MS = 0.3  # CPU per article
SENTENCE = re.compile(r"[^。！？]+[。！？”]*")


def score(assigned: dict, pairs: list[dict]) -> tuple[float, float]:
    """(precision, recall) of one grouping over labelled pairs."""
    found = [(assigned[p["a"]] == assigned[p["b"]], p["same"]) for p in pairs]
    hits = sum(1 for together, same in found if together and same)
    grouped = sum(1 for together, _ in found if together)
    same = sum(1 for _, same in found if same)
    return (hits / grouped if grouped else 1.0), (hits / same if same else 1.0)


def labelled() -> tuple[list[dict], list[dict], tuple[float, float]]:
    texts, pairs = load_pairs()
    default = {"shingle": stories.SHINGLE, "permutations": stories.PERMUTATIONS, "bands": stories.BANDS,
               "share": stories.SHARE}
    variants = [default]
    for name, values in (("shingle", (3, 4, 6, 8)), ("permutations", (64, 256)), ("bands", (16, 32, 64)),
                         ("share", (0.3, 0.4, 0.6, 0.7))):
        for value in values:
            variants.append({**default, name: value})
    rows, signed, per_article = [], {}, {}
    for text in texts.values():  # untimed: fills the caches a build's workers fill on their first pages
        stories.signature(text)
    for variant in variants:
        made = (variant["shingle"], variant["permutations"])
        if made not in signed:
            started = time.process_time()
            signed[made] = {key: stories.signature(text, shingle=made[0], permutations=made[1])
                            for key, text in texts.items()}
            per_article[made] = (time.process_time() - started) / len(texts) * 1000
        bands = variant["bands"] * variant["permutations"] // stories.PERMUTATIONS
        assigned = stories.group(signed[made].items(), share=variant["share"], bands=bands)
        precision, recall = score(assigned, pairs)
        shares = [(stories.shared(signed[made][p["a"]], signed[made][p["b"]]), p["same"]) for p in pairs]
        missed = Counter(p["edit"] for p in pairs if p["same"] and assigned[p["a"]] != assigned[p["b"]])
        joined = Counter(p["edit"] for p in pairs if not p["same"] and assigned[p["a"]] == assigned[p["b"]])
        rows.append([variant["shingle"], variant["permutations"], bands, variant["share"],
                     round(precision, 4), round(recall, 4),
                     round(min(x for x, same in shares if same), 3), round(max(x for x, same in shares if not same), 3),
                     round(per_article[made], 3),
                     ", ".join(f"{k} {v}" for k, v in sorted(missed.items())) or "-",
                     ", ".join(f"{k} {v}" for k, v in sorted(joined.items())) or "-"])
    setting = score(stories.group(signed[(stories.SHINGLE, stories.PERMUTATIONS)].items()), pairs)

    # Exact shares (no MinHash) by shingle length: what each length keeps of
    # an edited repost and lets unrelated reports share.
    exact = []
    for size in (3, 4, 5, 6, 8):
        runs = {key: stories.shingles(text, size) for key, text in texts.items()}
        worst: dict[str, float] = {}
        for p in pairs:
            a, b = runs[p["a"]], runs[p["b"]]
            value = len(a & b) / max(len(a), len(b))
            pick = min if p["same"] else max
            worst[p["edit"]] = pick(worst.get(p["edit"], value), value)
        exact.append([size, *(round(worst[kind], 3) for kind in ("word_edits", "combined", "truncated",
                                                                   "same_names", "shared_passage"))])

    # The estimate's error against the exact Jaccard similarity J, and against
    # what independent permutations give: each value equal with chance J, so
    # an error of standard deviation sqrt(J (1 - J) / k) over k values.
    made = signed[(stories.SHINGLE, stories.PERMUTATIONS)]
    runs = {key: stories.shingles(text) for key, text in texts.items()}
    diffs, scaled = [], []
    for p in pairs:
        exact_j = len(runs[p["a"]] & runs[p["b"]]) / len(runs[p["a"]] | runs[p["b"]])
        a, b = (stories._Signatures().read(key, made[key])[1] for key in (p["a"], p["b"]))
        diffs.append(int(np.count_nonzero(a == b)) / stories.PERMUTATIONS - exact_j)
        if 0 < exact_j < 1:
            scaled.append(diffs[-1] / math.sqrt(exact_j * (1 - exact_j) / stories.PERMUTATIONS))
    errors = [["stories.signature", round(statistics.mean(diffs), 4), round(statistics.pstdev(diffs), 4),
               round(max(map(abs, diffs)), 4), round(statistics.pstdev(scaled), 3),
               round(per_article[(stories.SHINGLE, stories.PERMUTATIONS)], 3)]]
    return rows, exact, errors, setting


def synthetic(pages: int, seed: int = 1):
    """(key, body, family) for a synthetic archive in date order; family is
    the key of the article a repost copies (its own key for a new one)."""
    rng = random.Random(seed)
    corpus = load_corpus()
    sentences = [s for p in corpus.paragraphs for s in SENTENCE.findall(p) if len(s) >= 8]
    editor = Editor(rng, corpus.authors, corpus.paragraphs)
    recent: deque[tuple[str, list[str]]] = deque(maxlen=RECENT)
    for index in range(pages):
        key = f"a{index:06d}"
        if recent and rng.random() < REPOSTS:
            family, paragraphs = rng.choice(recent)
            yield key, "\n".join(editor.edit(rng.choice(EDITS), paragraphs)), family
        else:
            paragraphs = ["".join(rng.sample(sentences, rng.randint(2, 4))) for _ in range(rng.randint(4, 12))]
            recent.append((key, paragraphs))
            yield key, "\n".join(paragraphs), key


def pair_score(assigned: dict[str, str], family: dict[str, str]) -> tuple[float, float]:
    """(precision, recall) over pairs: a pair is the same story when both are
    copies of one article."""
    by_story: dict[str, Counter] = defaultdict(Counter)
    for key, story in assigned.items():
        by_story[story][family[key]] += 1
    sizes = Counter(family.values())
    grouped = sum(math.comb(sum(c.values()), 2) for c in by_story.values())
    hits = sum(math.comb(n, 2) for c in by_story.values() for n in c.values())
    same = sum(math.comb(n, 2) for n in sizes.values())
    return (hits / grouped if grouped else 1.0), (hits / same if same else 1.0)


def group_in_child(path: Path, bands: int) -> dict:
    """Run `group` on pickled signatures in a fresh process: its time, and its
    peak memory over what loading the signatures took."""
    done = subprocess.run([sys.executable, __file__, "--group-file", str(path), "--bands", str(bands)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. Not getrusage: its peak
    carries over from the parent through fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return math.nan


def child(path: Path, bands: int) -> int:
    with open(path, "rb") as file:
        items = pickle.load(file)
    loaded = memory_mb("VmRSS")
    checked = 0
    shared = stories._shared

    def counted(*args):
        nonlocal checked
        checked += 1
        return shared(*args)

    stories._shared = counted
    started, cpu = time.perf_counter(), time.process_time()
    assigned = stories.group(items, bands=bands)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    with open(path.with_suffix(f".{bands}.out"), "wb") as file:
        pickle.dump(assigned, file)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "loaded_mb": loaded, "peak_mb": memory_mb("VmHWM"),
                      "checked": checked}))
    return 0


def at_scale(label: str, items: list[tuple[str, bytes]], family: dict[str, str] | None,
             sign_ms: float, work: Path) -> tuple[list[list], dict]:
    """Group `items` at BANDS and its neighbours; score against family when known.
    Times are CPU time where they are per article or compared (this machine is
    shared); "group s" is wall-clock time."""
    path = work / f"{re.sub(r'[^A-Za-z0-9]+', '_', label)}.pickle"
    with open(path, "wb") as file:
        pickle.dump(items, file)
    rows, result = [], {}
    for bands in (stories.BANDS, 32, 64):  # the index in passes of _BANDS_PER_PASS bands, as group() does
        measured = group_in_child(path, bands)
        with open(path.with_suffix(f".{bands}.out"), "rb") as file:
            assigned = pickle.load(file)
        sizes = Counter(assigned.values())
        # No truth for a database: null, not NaN (which is no JSON).
        precision, recall = (round(x, 4) for x in pair_score(assigned, family)) if family else (None, None)
        rows.append([label, len(items), bands, round(sign_ms, 3), round(measured["seconds"], 2),
                     round(measured["cpu"], 2),
                     round(measured["peak_mb"] - measured["loaded_mb"], 1), measured["checked"],
                     round(measured["checked"] / len(items), 2), len(sizes), max(sizes.values()),
                     precision, recall])
        if bands == stories.BANDS:
            result = {"assigned": assigned, "cpu": measured["cpu"], "precision": precision,
                      "recall": recall}
    return rows, result


def story_db(path: Path, items: list[tuple[str, bytes]], place: dict[str, int]) -> sqlite_utils.Database:
    """A database holding only what stories read: articles in date order (one
    day per 50, rowids with gaps) and their signatures."""
    db = sqlite_utils.Database(path)
    for name in ("stories", "articles", "story_signatures"):
        types, options = TABLES[name]
        db[name].create(types, **options)
    db["articles"].create_index(["story", "date_order"])
    add_articles(db, items, place)
    return db


def add_articles(db: sqlite_utils.Database, items: list[tuple[str, bytes]], place: dict[str, int]) -> None:
    """Articles dated and numbered by their place in the archive's date order."""
    def when(key: str) -> str:
        return (datetime.date(2000, 1, 1) + datetime.timedelta(days=place[key] // 50)).isoformat()

    db["articles"].insert_all({"id": key, "title": key, "body": "", "published": when(key),
                               "source": f"source {place[key] % 7}", "file": f"{place[key]:08d}",
                               "date_order": 10 * place[key] + 5} for key, _ in items)
    db["story_signatures"].insert_all({"article_id": key, "signature": value} for key, value in items)


def stories_of(db: sqlite_utils.Database) -> tuple:
    return tuple(sorted(db.execute(sql).fetchall()) for sql in (
        "select id, story from articles", "select * from stories", "select key, article_id from story_bands"))


def incremental(items: list[tuple[str, bytes]], work: Path, removed: int = 0) -> dict:
    """An update of a database grouped whole (storystore.group_all) that adds
    the archive's last INCREMENT (and removes `removed` articles at random):
    CPU seconds of the update's story work (forgetting, then
    storystore.regroup) against group_all on the same articles in another
    database, and whether the two give the same articles.story, stories and
    band index."""
    from bannedbook.db import storystore

    cut = len(items) - max(1, int(len(items) * INCREMENT))
    gone = set(random.Random(4).sample([key for key, _ in items[:cut]], removed))
    now = [(key, value) for key, value in items if key not in gone]
    place = {key: n for n, (key, _) in enumerate(items)}
    for name in ("update.db", "full.db"):
        (work / name).unlink(missing_ok=True)
    db = story_db(work / "update.db", items[:cut], place)
    storystore.group_all(db)
    db.conn.commit()
    db.close()
    full = story_db(work / "full.db", now, place)
    started = time.process_time()
    storystore.group_all(full)
    full_cpu = time.process_time() - started
    full.conn.commit()

    db = sqlite_utils.Database(work / "update.db")
    started = time.process_time()
    ids = "select id from temp.gone"
    db.execute("create temp table gone (id text primary key)")
    db.conn.executemany("insert into temp.gone values (?)", [(key,) for key in gone])
    storystore.remember_gone(db, ids)  # what the update's forgetting does
    db.execute(f"delete from story_signatures where article_id in ({ids})")
    db.execute(f"delete from articles where id in ({ids})")
    forget_cpu = time.process_time() - started
    add_articles(db, items[cut:], place)
    db.execute("create temp table added as select id from articles where story is null")
    started = time.process_time()
    regrouped = storystore.regroup(db, "select id from temp.added")
    cpu = time.process_time() - started + forget_cpu
    db.conn.commit()
    same = stories_of(db) == stories_of(full)
    largest = db.execute("select max(members) from stories").fetchone()[0]
    db.close()
    full.close()
    return {"full_cpu": full_cpu, "cpu": cpu, "same": same, "regrouped": len(regrouped), "largest": largest,
            "added": len(items) - cut, "removed": removed}


# ---------------------------------------------------------------- inside a build


def reset_peak() -> bool:
    """Start VmHWM again from the current resident memory (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def measured_story_step(measured: dict) -> Callable[[], None]:
    """Wrap storystore.group_all (and the stories.components it calls) so that
    the next call records its times and memory into measured; returns the undo."""
    from bannedbook.db import storystore

    real_step, real_group = storystore.group_all, stories.components

    def group(*args, **options):
        started = time.process_time()
        result = real_group(*args, **options)
        measured["group_cpu"] = time.process_time() - started
        measured["stories"], measured["largest"] = len(set(result.values())), max(Counter(result.values()).values())
        measured["articles"] = len(result)
        return result

    def step(db) -> None:
        before = memory_mb("VmRSS")
        peak_known = reset_peak()
        started, cpu = time.perf_counter(), time.process_time()
        real_step(db)
        measured.update(seconds=time.perf_counter() - started, cpu=time.process_time() - cpu,
                        rss_before_mb=before, peak_mb=memory_mb("VmHWM") if peak_known else math.nan)

    storystore.group_all, stories.components = step, group

    def undo() -> None:
        storystore.group_all, stories.components = real_step, real_group

    return undo


def build_measured(raw: Path, db: Path) -> dict:
    """A full build of raw into db (every core), its story step measured."""
    from bannedbook.build.pipeline import build

    measured: dict = {}
    undo = measured_story_step(measured)
    try:
        started = time.perf_counter()
        build(raw, db, progress=False, full=True)
        measured["build_seconds"] = time.perf_counter() - started
    finally:
        undo()
    return measured


def step_in_child(db: Path, work: Path) -> dict:
    """The story step on a copy of db, in a fresh process."""
    copy = work / "stories-step.db"
    shutil.copyfile(db, copy)
    try:
        done = subprocess.run([sys.executable, __file__, "--step-db", str(copy)], capture_output=True, text=True,
                              check=True)
    finally:
        copy.unlink(missing_ok=True)
    return json.loads(done.stdout)


def step_child(db: Path) -> int:
    import sqlite_utils

    measured: dict = {}
    undo = measured_story_step(measured)
    try:
        from bannedbook.db import storystore

        database = sqlite_utils.Database(db)
        storystore.group_all(database)
        database.conn.commit()
    finally:
        undo()
    print(json.dumps(measured))
    return 0


def sql_ms(conn: sqlite3.Connection, sql: str, params: dict, repeats: int) -> tuple[float, int]:
    """Median milliseconds of a count query, and the count."""
    times, count = [], 0
    for _ in range(repeats + 1):  # the first warms the cache
        started = time.perf_counter()
        count = conn.execute(sql, params).fetchone()[0]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:]), count


def collapse_designs(db: Path, words: list[str], repeats: int) -> list[list]:
    """Counting the stories a table search finds: this project's clause (the
    earliest matching article of each story) against a flag on each story's
    first article, and against no collapse."""
    from bannedbook.search.query import match_expression

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    search = "date_order in (select rowid from articles_fts where articles_fts match :q)"
    designs = {
        "no collapse": f"select count(*) from articles where {search}",
        "earliest match per story (used)":
            f"select count(*) from articles where {search} and rowid in "
            f"(select min(rowid) from articles where {search} group by story)",
        "first article's flag (story = id)": f"select count(*) from articles where {search} and story = id",
    }
    rows = []
    try:
        for word in words:
            params = {"q": match_expression(word)}
            measured = {design: sql_ms(conn, sql, params, repeats) for design, sql in designs.items()}
            stories_found = measured["earliest match per story (used)"][1]
            rows += [[word, design, round(ms, 2), count, None if design == "no collapse" else stories_found - count]
                     for design, (ms, count) in measured.items()]
    finally:
        conn.close()
    return rows


def story_picks(db: Path) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        largest = conn.execute("select id, members from stories order by members desc, id limit 1").fetchone()
        member = conn.execute("select id from articles where story = ? order by date_order desc limit 1",
                              [largest[0]]).fetchone()[0]
        alone = [key for (key,) in conn.execute(
            "select id from stories where members = 1 order by id limit 20")] or [member]
        tag = conn.execute("select tag_key from article_tags group by tag_key order by count(*) desc limit 1"
                           ).fetchone()
        rare = [key for (key,) in conn.execute(
            "select tag_id from article_tags group by tag_id having count(*) = 1 order by tag_id limit 3")]
        counts = dict(conn.execute("select 'articles', count(*) from articles union all "
                                   "select 'stories', count(*) from stories union all "
                                   "select 'spellings', count(*) from tags union all "
                                   "select 'tags', count(distinct key) from tags"))
    finally:
        conn.close()
    return {"largest": largest, "member": member, "alone": alone, "tag": tag[0] if tag else "中国",
            "rare": rare or ["中国"], "counts": counts}


PLAIN_TOP_TAGS = ("select tag_id as tag, count(*) as articles from article_tags group by tag_id "
                "order by articles desc, tag limit 100")
# The site's queries without stories and tag keys: the baseline, in the same
# run, of what those two cost the queries the site runs.
PLAIN = {
    "search": """with hits as (
  select articles_fts.rowid, bm25(articles_fts, 1.0, 10.0) as rank
  from articles_fts join articles on articles.rowid = articles_fts.rowid
  where articles_fts match cjk_match(:q)
    and (:tag = '' or articles.id in (select article_id from article_tags where tag_id = :tag))
),
best as (select rowid, rank, count(*) over () as total from hits order by rank limit 100)
select articles.id, cjk_snippet(articles.title, :q) as title, cjk_snippet(articles.body, :q) as snippet, best.total
from best join articles on articles.rowid = best.rowid order by best.rank""",
    "tag": """select articles.id, articles.title, count(*) over () as total
from article_tags join articles on articles.id = article_tags.article_id
where article_tags.tag_id = :tag order by articles.date_order desc limit 100""",
    "top_tags": PLAIN_TOP_TAGS,
    "tags_with": """select other.tag_id as tag, count(*) as articles from article_tags this
join article_tags other on other.article_id = this.article_id and other.tag_id != this.tag_id
where this.tag_id = :tag group by other.tag_id order by articles desc, tag limit 100""",
    "tag facet": """select tag_id as value, count(*) as count from article_tags
where article_id in (select id from articles where date_order in
  (select rowid from articles_fts where articles_fts match cjk_match(:q)))
group by tag_id order by count desc, value limit 31""",
    "articles_per_month": """select substr(coalesce(published, not_before), 1, 7) as month, count(*) as articles
from articles where coalesce(published, not_before) >= '2000' group by month""",
}


def page_kinds(p: dict) -> dict[str, tuple[str, list[str]]]:
    from urllib.parse import quote

    q, tag, word = quote, quote(p["tag"]), quote("的")
    rare = [quote(w) for w in p["rare"]]
    return {
        "article page, an article alone": ("`/bannedbook/articles/ID`, 20 articles alone",
                                           [f"/bannedbook/articles/{key}" for key in p["alone"]]),
        "article page, the largest story": (f"a member of the story of {p['largest'][1]:,}",
                                            [f"/bannedbook/articles/{p['member']}"]),
        "table search 的": ("`/bannedbook/articles?_search=的`", [f"/bannedbook/articles?_search={word}"]),
        "table search 的, one per story": ("… `&_collapse=1`", [f"/bannedbook/articles?_search={word}&_collapse=1"]),
        "table search rare word": ("`?_search=W`, W a tag of one article",
                                   [f"/bannedbook/articles?_search={w}" for w in rare]),
        "table search rare word, one per story": ("… `&_collapse=1`",
                                                  [f"/bannedbook/articles?_search={w}&_collapse=1" for w in rare]),
        "table, one per story": ("`/bannedbook/articles?_collapse=1`", ["/bannedbook/articles?_collapse=1"]),
        "JSON search 的": ("`articles.json?_search=的&_size=20`",
                          [f"/bannedbook/articles.json?_search={word}&_size=20"]),
        "JSON search 的, one per story": ("… `&_collapse=1`",
                                         [f"/bannedbook/articles.json?_search={word}&_size=20&_collapse=1"]),
        "ranked search, top tag": ("`/bannedbook/search?q=T`", [f"/bannedbook/search?q={tag}"]),
        "ranked search, top tag, one per story": ("… `&collapse=1`", [f"/bannedbook/search?q={tag}&collapse=1"]),
        "tag page, top tag": ("`/bannedbook/tag?tag=T` (both scripts)", [f"/bannedbook/tag?tag={tag}"]),
        "top_tags (by key)": ("`/bannedbook/top_tags.json`", ["/bannedbook/top_tags.json"]),
        "top tags by spelling (baseline)": ("top_tags without tag keys, through `/bannedbook.json?sql=`",
                                            [f"/bannedbook.json?sql={q(PLAIN_TOP_TAGS)}"]),
        "home page": ("`/` (timeline with stories, top tags by key)", ["/"]),
    }


def site_queries() -> dict[str, str]:
    """The same queries as the site runs them (metadata.yml, reader.py)."""
    import yaml

    from bannedbook.db.schema import tag_counts_sql
    from bannedbook.web.site import METADATA

    queries = yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["bannedbook"]["queries"]
    matches = ("select id from articles where date_order in "
               "(select rowid from articles_fts where articles_fts match cjk_match(:q))")
    facet = f"{tag_counts_sql(matches, top=31)} order by count desc, value"
    month = """select substr(coalesce(published, not_before), 1, 7) as month, count(*) as articles,
  count(distinct story) as stories
from articles where coalesce(published, not_before) >= '2000' group by month"""
    return {"search": queries["search"]["sql"], "tag": queries["tag"]["sql"], "top_tags": queries["top_tags"]["sql"],
            "tags_with": queries["tags_with"]["sql"], "tag facet": facet, "articles_per_month": month}


def query_costs(db: Path, tag: str, repeats: int) -> list[list]:
    """Median ms of each query without stories and tag keys and as the site
    runs it (tag: the most used tag, as the query for the search and the
    facet too)."""
    from bannedbook.web import search as plugin

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    plugin.prepare_connection(conn)
    params = {"q": tag, "tag": tag, "author": "", "source": "", "since": "", "until": "", "collapse": "",
              "page": ""}
    shipped = site_queries()
    rows = []
    try:
        for name, plain in PLAIN.items():
            times = {}
            for label, sql in (("plain", plain), ("shipped", shipped[name])):
                wanted = {key: value for key, value in params.items() if f":{key}" in sql}
                measured = []
                for _ in range(repeats + 1):
                    started = time.perf_counter()
                    conn.execute(sql, wanted).fetchall()
                    measured.append((time.perf_counter() - started) * 1000)
                times[label] = statistics.median(measured[1:])
            rows.append([name, round(times["plain"], 2), round(times["shipped"], 2),
                         round(times["shipped"] / times["plain"], 2)])
    finally:
        conn.close()
    return rows


def in_build(args) -> int:
    from helpers.servers import served
    from pages_bench import measure

    work = args.work or Path(tempfile.mkdtemp(prefix="stories-build-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.build:
        db = work / "bannedbook.db"
        print(f"full build of {args.build} into {db}…", flush=True)
        step = build_measured(args.build, db)
        how = "inside the full build (every core)"
    else:
        db = args.built
        print(f"the story step on a copy of {db}…", flush=True)
        step = step_in_child(db, work)
        how = "on a copy of the built database, in a fresh process"
    chosen = story_picks(db)
    print("pages…", flush=True)
    kinds = page_kinds(chosen)
    with served(db) as url:
        pages = measure(url, kinds, args.requests)
    print("collapse designs…", flush=True)
    designs = collapse_designs(db, ["的", "中国", *chosen["rare"][:1]], args.requests)
    costs = query_costs(db, chosen["tag"], args.requests)

    counts = chosen["counts"]
    step_row = [how, step["articles"], step["stories"], step["largest"], round(step["seconds"], 2),
                round(step["cpu"], 2), round(step["group_cpu"], 2), round(step["rss_before_mb"]),
                round(step["peak_mb"] - step["rss_before_mb"], 1)]
    tables = [
        table("The story step (storystore.group_all): read the workers' signatures, group, write stories and the "
              "band index",
              ["measured", "articles", "stories", "largest story", "seconds", "CPU s", "of which grouping CPU s",
               "process RSS before (MB)", "added at peak (MB)"], [step_row]),
    ]
    targets = []
    if "build_seconds" in step:
        share = step["seconds"] / step["build_seconds"]
        tables.append(table("The full build", ["seconds", "story step seconds", "story step share"],
                            [[round(step["build_seconds"], 1), round(step["seconds"], 2), round(share, 4)]]))
        targets.append(target("story step / full build time", round(share, 4), 0.1))
    base = pages["article page, an article alone"]
    tables.append(table("Pages (p50 and p95 over interleaved requests; ratio to an article page of an article alone)",
                        ["page", "asked", "p50 (ms)", "p95 (ms)", "p50 ÷ article alone", "errors"],
                        [[kind, kinds[kind][0], round(r["p50"], 1), round(r["p95"], 1),
                          round(r["p50"] / base["p50"], 2), r["errors"]] for kind, r in pages.items()]))
    tables.append(table("Counting a table search's stories in SQL: median ms, the count, and the stories a flag "
                        "on first articles loses", ["word", "design", "ms", "count", "stories lost"], designs))
    tables.append(table(f"What stories and tag keys cost the site's queries (median ms in SQL; the most used tag, "
                        f"{chosen['tag']}, as tag and as query)",
                        ["query", "without them", "as the site runs it", "÷ without"], costs))
    targets.append(target("pages answered with an error", sum(r["errors"] for r in pages.values()), 0))
    notes = [f"{counts['articles']:,} articles in {counts['stories']:,} stories; {counts['spellings']:,} tag "
             f"spellings are {counts['tags']:,} tags by key.",
             "A crawl made by tests/helpers/corpus.py is overlapping runs of the same newspaper paragraphs, so most of "
             "its articles chain into one story: the largest story is far larger than any real one, and collapsing "
             "leaves few results. Its figures show the cost when nearly every article has near-duplicates."]
    size = crawl_pages(db)
    path = save("stories_build", "Stories inside a build and on the pages", tables, notes, targets, pages=size,
                out=args.out)
    print(f"wrote {path}")
    return finish(targets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, nargs="*", default=[20_000], help="synthetic archive sizes")
    parser.add_argument("--db", type=Path, help="also group the articles of a built database")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--build", type=Path, metavar="RAW", help="measure the story step inside a full build of RAW")
    parser.add_argument("--built", type=Path, metavar="DB", help="measure the story step on a copy of DB")
    parser.add_argument("--work", type=Path, help="where --build writes its database (default: a temporary folder)")
    parser.add_argument("--requests", type=int, default=15, help="timed requests of each page (--build, --built)")
    parser.add_argument("--group-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--step-db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bands", type=int, default=stories.BANDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.group_file:
        return child(args.group_file, args.bands)
    if args.step_db:
        return step_child(args.step_db)
    if args.build or args.built:
        return in_build(args)

    print("labelled pairs…", flush=True)
    sweep, exact, errors, (precision, recall) = labelled()
    targets = [target("precision on the labelled pairs", round(precision, 4), 0.98, at_most=False),
               target("recall on the labelled pairs", round(recall, 4), 0.95, at_most=False),
               target("signature ms/article, labelled bodies", errors[0][-1], SIGNATURE_MS)]
    scale_rows, increment_rows = [], []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        sources = [(f"synthetic {n}", n) for n in args.pages] + ([(f"db {args.db.name}", args.db)] if args.db else [])
        for label, source in sources:
            print(f"{label}: signatures…", flush=True)
            if isinstance(source, int):
                bodies, family = [], {}
                for key, body, copied in synthetic(source):
                    bodies.append((key, body))
                    family[key] = copied
            else:
                with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as db:
                    bodies = db.execute("select id, body from articles order by date_order").fetchall()
                family = None
            started = time.process_time()  # the signatures alone, not making or reading the bodies
            items = [(key, stories.signature(body)) for key, body in bodies]
            sign_ms = (time.process_time() - started) / max(len(items), 1) * 1000
            del bodies
            print(f"{label}: grouping…", flush=True)
            rows, full = at_scale(label, items, family, sign_ms, work)
            scale_rows += rows
            for removed in (0, max(1, len(items) // 1000)):
                print(f"{label}: incremental, {removed} removed…", flush=True)
                done = incremental(items, work, removed)
                increment_rows.append([label, len(items), done["added"], done["removed"], round(done["full_cpu"], 2),
                                       round(done["cpu"], 3), round(done["cpu"] / done["full_cpu"], 4),
                                       round(done["cpu"] / full["cpu"], 3), done["regrouped"], done["largest"],
                                       done["same"]])
                what = f"{INCREMENT:.0%} new" + (f", {removed} removed" if removed else "")
                if family or not removed:
                    targets.append(target(f"regroup ({what}) / full grouping, {label}",
                                          round(done["cpu"] / done["full_cpu"], 4), 0.1, gated=False))
                targets.append(target(f"regroup ({what}) equals the full grouping, {label}", int(done["same"]), 1,
                                      at_most=False))
            if family:
                targets.append(target(f"signature ms/article, {label}", round(sign_ms, 3), SIGNATURE_MS))
                targets.append(target(f"precision on planted copies, {label}", round(full["precision"], 4), 0.98,
                                      at_most=False))
                targets.append(target(f"recall on planted copies, {label}", round(full["recall"], 4), 0.95,
                                      at_most=False))

    tables = [
        table("Labelled pairs: the module's setting (first row) and each parameter varied alone",
              ["shingle", "permutations", "bands", "share", "precision", "recall", "lowest shared, same story",
               "highest shared, different stories", "signature ms/article",
               "same story missed (by edit)", "different stories joined (by kind)"], sweep),
        table("Exact share of the longer text, by shingle length: the lowest among reposts of three kinds, "
              "the highest among different reports of two kinds",
              ["shingle", "word_edits", "combined", "truncated", "same_names", "shared_passage"], exact),
        table("MinHash estimate minus exact Jaccard over the labelled pairs",
              ["signature", "mean", "standard deviation", "largest",
               "standard deviation ÷ independent permutations'", "ms/article"], errors),
        table("Grouping at scale (group() in a fresh process; memory = peak over the loaded signatures)",
              ["archive", "articles", "bands", "signature ms/article", "group s", "group CPU s", "group MB",
               "pairs checked", "pairs checked per article", "stories", "largest story", "precision", "recall"],
              scale_rows),
        table(f"Incremental, in a database: the last {INCREMENT:.0%} added to a grouping of the rest (and some "
              "articles removed); storystore.regroup against storystore.group_all on the same articles",
              ["archive", "articles", "added", "removed", "group_all CPU s", "regroup CPU s",
               "regroup ÷ group_all", "regroup ÷ group() alone", "stories regrouped", "largest story",
               "equals group_all"],
              increment_rows),
    ]
    notes = ["Incremental: group_all is the full build's story step (group, then write articles.story, stories "
             "and the band index); group() alone is the grouping without writing, from the table above. The "
             "update's cost follows the articles added (band lookups, writing their rows) and the stories "
             "that lose an article (grouped again whole).",
             f"Synthetic archives: {REPOSTS:.0%} reposts of one of the last {RECENT} new articles, each with one "
             "edit of tests/helpers/reposts.py drawn at random; the other articles are random sentences, so two of "
             "them now and then share a long sentence, and more often the larger the archive.",
             "A crawl made by tests/helpers/corpus.py is no test of precision: its articles are overlapping runs of "
             "the same newspaper paragraphs, so most of them chain into one story. Its row measures the cost when "
             "nearly every article has near-duplicates; its incremental regrouping redoes that story."]
    path = save("stories", "Stories: near-duplicate grouping", tables, notes, targets, out=args.out)
    print(f"wrote {path}")
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
