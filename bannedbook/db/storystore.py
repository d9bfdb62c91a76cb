"""Stories in the archive: articles.story, the stories table and the band
index (story_bands), written at the end of a build from the signatures its
workers made (bannedbook/research/stories.py says how articles are grouped).

A full build groups every article (`group_all`) and writes the band index:
for each comparable article, one row per band, (band key, article id),
keyed for lookup. An incremental build (`regroup`) touches only the stories
a change touches, and ends with what a full build gives:

- a new article (or an article whose text changed) is looked up in the band
  index (`stories.neighbours`): the stored articles it would be joined with
  are found without reading any other signature;
- a story that gains articles stays whole (none of its links went), so it
  joins the new articles' stories as one unit, without being grouped again;
- a story that loses an article (removed, or its text changed) may fall
  apart: its remaining members are grouped again, alone (no link leaves a
  story, so no other article can hold them together);
- the units joined make the new stories, each named after its first article
  in date order; every other story keeps its articles and its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import sqlite_utils

from bannedbook.db.schema import ARTICLE_DATE, STORY_BANDS_SQL
from bannedbook.research import stories

# Articles with their signatures (callers add where and order by: date
# order is the order that names a story).
_SIGNED = """select articles.id, story_signatures.signature from articles
             left join story_signatures on story_signatures.article_id = articles.id"""


def _signed(db: sqlite_utils.Database, rows: Iterable[tuple[str, bytes | None]]) -> Iterator[tuple[str, bytes]]:
    """(id, signature) pairs; an article stored without a current signature
    (never, from this build's own workers) is signed here from its body."""
    for key, signature in rows:
        if not stories.is_current(signature):
            (body,) = db.execute("select body from articles where id = ?", [key]).fetchone()
            signature = stories.signature(body)
        yield key, signature


def group_all(db: sqlite_utils.Database) -> None:
    """Group every article of a full build into stories, and write the band index."""
    size = db.execute("select count(*) from articles").fetchone()[0]
    loaded = stories.Loaded(_signed(db, db.execute(f"{_SIGNED} order by articles.date_order")), size=size)
    assigned = stories.components(loaded)
    db.execute("delete from stories")
    _write(db, assigned)
    db.execute("drop table if exists story_bands")
    db.execute(STORY_BANDS_SQL)
    db.conn.executemany("insert into story_bands (key, article_id) values (?, ?)", stories.band_rows(loaded))


# The articles an incremental build forgot (removed, or written again).
GONE_SQL = "select id from temp.gone_stories"


def remember_gone(db: sqlite_utils.Database, ids_sql: str) -> None:
    """Before an incremental build forgets articles (ids_sql selects them):
    keep the story each was in and its signature, the first time it is forgotten."""
    db.execute("create temp table if not exists gone_stories (id text primary key, story text, signature blob)")
    db.execute(f"""insert or ignore into temp.gone_stories
                   select articles.id, articles.story, story_signatures.signature from articles
                   left join story_signatures on story_signatures.article_id = articles.id
                   where articles.id in ({ids_sql})""")


def regroup(db: sqlite_utils.Database, added_sql: str) -> set[str]:
    """After an incremental build has numbered its articles (added_sql selects
    the ids of the articles it wrote, new or read again): update the band
    index and regroup the stories they touch. Returns the ids of the
    stories that were there before and are written again."""
    remember_gone(db, "select null where 0")  # the table, if nothing was forgotten
    gone = {key: (story, signature) for key, story, signature in
            db.execute("select id, story, signature from temp.gone_stories")}
    added = dict(_signed(db, db.execute(f"{_SIGNED} where articles.id in ({added_sql})")))
    if not added and not gone:
        return set()
    # Read again with the same text: its links are the same, only its date
    # or title may have moved (its story's name and row are written again).
    same = {key for key, signature in added.items() if key in gone and gone[key][1] == signature}
    fresh = {key: signature for key, signature in added.items() if key not in same}
    lost = {key: signature for key, (_, signature) in gone.items() if key not in same}
    _forget_bands(db, lost)
    pairs = stories.neighbours(fresh.items(), lambda keys: _lookup(db, keys),
                               lambda keys: _signed(db, _signatures_of(db, keys)))
    db.conn.executemany("insert into story_bands (key, article_id) values (?, ?)",
                        [(band, key) for key, signature in fresh.items() for band in stories.band_keys(signature)])

    story_of = {key: gone[key][0] for key in same}  # stored articles' stories before the change
    story_of.update(_stories_of(db, {other for _, other in pairs if other not in fresh and other not in same}))
    split = {gone[key][0] for key in lost}  # stories that lost an article: grouped again
    unit_of = {key: ("new", key) for key in fresh}
    for story in split:
        members = [key for key in same if gone[key][0] == story] + \
                  [key for (key,) in db.execute("select id from articles where story = ?", [story])]
        for key, first in stories.group(_signed(db, _signatures_of(db, members, ordered=True))).items():
            unit_of[key] = ("part", first)
    for key, story in story_of.items():
        unit_of.setdefault(key, ("story", story))

    # Union-find over the units the new pairs join.
    parent = {unit: unit for unit in set(unit_of.values())}

    def root(unit: tuple) -> tuple:
        while parent[unit] != unit:
            parent[unit] = parent[parent[unit]]
            unit = parent[unit]
        return unit

    for key, other in pairs:
        a, b = root(unit_of[key]), root(unit_of[other])
        if a != b:
            parent[a] = b
    head = _heads(db, parent, {key: story_of[key] for key in same})
    name: dict[tuple, tuple[int, str]] = {}  # root -> (date_order, id) of its story's first article
    for unit in parent:
        top = root(unit)
        name[top] = min(name.get(top, head[unit]), head[unit])
    name = {top: key for top, (_, key) in name.items()}
    assigned = {key: name[root(unit)] for key, unit in unit_of.items() if unit[0] != "story" or key in same}
    renamed = {unit[1]: name[root(unit)] for unit in parent if unit[0] == "story"}
    before = split | set(renamed)
    db.conn.executemany("delete from stories where id = ?", [(story,) for story in before])
    db.conn.executemany("update articles set story = ? where story = ?",
                        [(new, old) for old, new in renamed.items() if new != old])
    _write(db, assigned, set(name.values()))
    return before


def _heads(db: sqlite_utils.Database, units: Iterable[tuple], same: dict[str, str]) -> dict:
    """(date_order, id) of each unit's first article: a new article itself,
    the first of a part of a story grouped again, or the first of a stored
    story among its articles and those read again with the same text
    (same: id -> story), whose date may have moved."""
    heads = {}
    for unit in units:
        kind, key = unit
        if kind == "story":
            candidates = [key for key, story in same.items() if story == unit[1]]
            candidates += [key for (key,) in db.execute(
                "select id from articles where story = ? order by date_order limit 1", [unit[1]])]
        else:
            candidates = [key]
        heads[unit] = min(_lookup_many(db, "select date_order, id from articles where id in ({})",
                                       candidates).items())
    return heads


def _lookup_many(db: sqlite_utils.Database, sql: str, keys: Iterable[str]) -> dict:
    keys, found = list(keys), {}
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        found.update(db.execute(sql.format(", ".join("?" * len(part))), part))
    return found


def _stories_of(db: sqlite_utils.Database, keys: Iterable[str]) -> dict[str, str]:
    return _lookup_many(db, "select id, story from articles where id in ({})", keys)


def _signatures_of(db: sqlite_utils.Database, keys: Iterable[str], ordered: bool = False) -> list:
    """(id, signature) rows of those articles, in date order when ordered."""
    keys, rows = list(keys), []
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        rows += db.execute(f"""select articles.id, story_signatures.signature, articles.date_order from articles
                               left join story_signatures on story_signatures.article_id = articles.id
                               where articles.id in ({', '.join('?' * len(part))})""", part).fetchall()
    if ordered:
        rows.sort(key=lambda row: row[2])
    return [row[:2] for row in rows]


def _lookup(db: sqlite_utils.Database, band_keys: list[int]) -> list[tuple[int, str]]:
    """(band key, article id) of the stored articles with any of those band keys."""
    db.execute("create temp table if not exists asked (key integer primary key)")
    db.execute("delete from temp.asked")
    db.conn.executemany("insert or ignore into temp.asked values (?)", [(key,) for key in band_keys])
    # CROSS JOIN keeps this order: each key asked looked up in the index, never the index scanned.
    return db.execute("select b.key, b.article_id from temp.asked a cross join story_bands b on b.key = a.key"
                      ).fetchall()


def _forget_bands(db: sqlite_utils.Database, signatures: dict[str, bytes | None]) -> None:
    """Drop the band rows of articles gone or changed (found by their old
    signature's keys)."""
    for key, signature in signatures.items():
        if stories.is_current(signature):
            db.conn.executemany("delete from story_bands where key = ? and article_id = ?",
                                [(band, key) for band in stories.band_keys(signature)])
        else:  # never written by this code's workers; found the slow way
            db.execute("delete from story_bands where article_id = ?", [key])


def _write(db: sqlite_utils.Database, assigned: dict[str, str], names: set[str] | None = None) -> None:
    """Set articles.story for the articles in assigned and write the rows of
    the stories named (all the stories of assigned when None), whose old
    rows must be gone."""
    db.execute("create temp table if not exists story_of (id text primary key, story text)")
    db.execute("delete from temp.story_of")
    db.conn.executemany("insert into temp.story_of values (?, ?)", assigned.items())
    db.execute("""update articles set story = (select story from temp.story_of where story_of.id = articles.id)
                  where id in (select id from temp.story_of)""")
    db.execute("create temp table if not exists story_names (id text primary key)")
    db.execute("delete from temp.story_names")
    if names is None:
        db.execute("insert into temp.story_names select distinct story from temp.story_of")
    else:
        db.conn.executemany("insert into temp.story_names values (?)", [(name,) for name in names])
    db.execute(f"""insert into stories (id, title, first_date, last_date, members, sources)
                  select articles.story, (select title from articles first where first.id = articles.story),
                    min({ARTICLE_DATE}), max({ARTICLE_DATE}),
                    count(*), count(distinct source)
                  from articles where story in (select id from temp.story_names) group by articles.story""")
