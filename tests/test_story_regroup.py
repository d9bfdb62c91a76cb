"""Stories kept up to date by an incremental build (bannedbook/db/storystore.py):
after random sequences of added, removed and changed articles, and articles
read again with the same text under another date, articles.story, stories
and the band index equal what grouping the whole archive at once gives."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from helpers.story_pairs import load_pairs

from bannedbook.db import storystore
from bannedbook.db.schema import TABLES
from bannedbook.research import stories

PAIRS = Path(__file__).resolve().parent / "fixtures" / "story_pairs.jsonl"


@pytest.fixture(scope="module")
def signed() -> dict[str, tuple[str, bytes]]:
    """Texts made by tests/helpers/story_pairs.py (reposts and different
    reports that share names and passages), each with its signature."""
    texts, _ = load_pairs(PAIRS)
    return {key: (text, stories.signature(text)) for key, text in sorted(texts.items())}


def create(path: Path) -> sqlite_utils.Database:
    db = sqlite_utils.Database(path)
    for table in ("stories", "articles", "story_signatures"):
        types, options = TABLES[table]
        db[table].create(types, **options)
    db["articles"].create_index(["story", "date_order"])
    return db


def write(db: sqlite_utils.Database, articles: dict[str, tuple[str, str, str]], signed) -> None:
    """articles: id -> (text key, date, source); their rows and signatures."""
    db["articles"].insert_all({"id": key, "title": f"标题 {key}", "body": signed[text][0], "published": date,
                               "source": source, "file": key} for key, (text, date, source) in articles.items())
    db["story_signatures"].insert_all({"article_id": key, "signature": signed[text][1]}
                                      for key, (text, _, _) in articles.items())


def number(db: sqlite_utils.Database) -> None:
    """Date order with gaps (an update need not number articles 1..N)."""
    db.execute("""update articles set date_order = 7 * (select count(*) from articles b
                  where (b.published, b.id) <= (articles.published, articles.id)) + 3""")


def seen(path: Path) -> dict:
    with sqlite3.connect(path) as conn:
        return {table: sorted(conn.execute(sql)) for table, sql in [
            ("story", "select id, story from articles"), ("stories", "select * from stories"),
            ("bands", "select key, article_id from story_bands")]}


def full(path: Path, articles: dict, signed) -> dict:
    db = create(path)
    write(db, articles, signed)
    number(db)
    storystore.group_all(db)
    db.conn.commit()
    db.close()
    return seen(path)


def update(path: Path, now: dict, gone: set[str], written: dict, signed) -> set[str]:
    """What an incremental build does: forget, write, number, regroup."""
    db = sqlite_utils.Database(path)
    ids = ", ".join(f"'{key}'" for key in gone)
    storystore.remember_gone(db, f"select id from articles where id in ({ids})")
    for table, column in (("story_signatures", "article_id"), ("articles", "id")):
        db.execute(f"delete from {table} where {column} in ({ids})")
    write(db, written, signed)
    number(db)
    db.execute("create temp table added (id text)")
    db.conn.executemany("insert into temp.added values (?)", [(key,) for key in written])
    regrouped = storystore.regroup(db, "select id from temp.added")
    db.conn.commit()
    db.close()
    return regrouped


@pytest.mark.parametrize("seed", range(4))
def test_random_changes_regroup_as_a_full_build_groups(signed, tmp_path, seed):
    rng = random.Random(seed)
    texts = list(signed)
    rng.shuffle(texts)

    def date() -> str:
        return f"2001-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"

    now = {f"k{i}": (text, date(), rng.choice("ABC")) for i, text in enumerate(texts[:300])}
    spare = texts[300:]
    path = tmp_path / "incremental.db"
    full(path, now, signed)
    regrouped_total = 0
    for step in range(4):
        keys = sorted(now)
        removed = set(rng.sample(keys, rng.randint(0, 15)))
        rest = [key for key in keys if key not in removed]
        changed = {key: (rng.choice(texts), date(), now[key][2]) for key in rng.sample(rest, rng.randint(0, 10))}
        # Read again with the same text (a file beside it changed), sometimes under another date.
        again = {key: (now[key][0], rng.choice([now[key][1], date()]), now[key][2])
                 for key in rng.sample([k for k in rest if k not in changed], 10)}
        added = {f"s{step}n{i}": (spare.pop() if rng.random() < 0.5 else rng.choice(texts), date(), "D")
                 for i in range(rng.randint(1, 20))}
        written = {**changed, **again, **added}
        for key in removed:
            del now[key]
        now.update(written)
        regrouped = update(path, now, removed | set(changed) | set(again), written, signed)
        regrouped_total += len(regrouped)
        assert seen(path) == full(tmp_path / f"full{step}.db", now, signed), f"step {step}"
    stories_held = len(seen(path)["stories"])
    assert regrouped_total < 4 * stories_held / 2, "regrouped most of the archive"


def test_a_new_article_joins_two_stories_and_its_removal_splits_them(signed, tmp_path):
    """The transitive cases: overlapping excerpts of one long text, A and B
    sharing too little to be one story, C sharing most of its text with
    each. Adding C merges their stories (named after A); removing it splits
    them again, each named after its own first article."""
    text = max((text for text, _ in signed.values()), key=len)
    tenth = len(text) // 10
    part = [text[i * tenth:(i + 1) * tenth] for i in range(10)]
    excerpts = {"A": "".join(part[0:6]), "C": "".join(part[2:8]), "B": "".join(part[4:10])}
    signed = {**signed, **{name: (body, stories.signature(body)) for name, body in excerpts.items()}}
    assert stories.shared(signed["A"][1], signed["B"][1]) < stories.SHARE <= stories.shared(signed["A"][1],
                                                                                            signed["C"][1])
    now = {"a": ("A", "2001-01-01", "X"), "b": ("B", "2001-01-02", "Y")}
    path = tmp_path / "db.db"
    assert {story for _, story in full(path, now, signed)["story"]} == {"a", "b"}
    now["c"] = ("C", "2001-01-03", "Z")
    update(path, now, set(), {"c": now["c"]}, signed)
    assert seen(path) == full(tmp_path / "full1.db", now, signed)
    assert {story for _, story in seen(path)["story"]} == {"a"}
    del now["c"]
    update(path, now, {"c"}, {}, signed)
    assert seen(path) == full(tmp_path / "full2.db", now, signed)
    assert {story for _, story in seen(path)["story"]} == {"a", "b"}
