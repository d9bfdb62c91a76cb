"""Stories in the archive: articles.story and the stories table, written at
the end of a build from the signatures its workers made (bannedbook/research/stories.py
says how articles are grouped).

A full build groups every article (`group_all`). An incremental build
regroups only the stories that its new, changed and removed articles touch
(`regroup`, with `stories.affected_stories`), and ends with what a full build
gives: a story's id is its first article in date order, and the stories no
change touched keep their articles, so they keep their ids too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import sqlite_utils

from bannedbook.db.schema import ARTICLE_DATE
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
    """Group every article of a full build into stories."""
    size = db.execute("select count(*) from articles").fetchone()[0]
    assigned = stories.group(_signed(db, db.execute(f"{_SIGNED} order by articles.date_order")), size=size)
    db.execute("delete from stories")
    _write(db, assigned)


def remember_gone(db: sqlite_utils.Database, ids_sql: str) -> None:
    """Before an incremental build forgets articles (ids_sql selects them):
    keep the story each was in, the first time it is forgotten."""
    db.execute("create temp table if not exists gone_stories (id text primary key, story text)")
    db.execute(f"insert or ignore into temp.gone_stories select id, story from articles where id in ({ids_sql})")


def regroup(db: sqlite_utils.Database, added_sql: str) -> set[str]:
    """After an incremental build has numbered its articles (added_sql selects
    the ids of the articles it wrote, new or read again): regroup the stories
    they touch. Returns the ids of the stories regrouped before the change."""
    added = {key for (key,) in db.execute(added_sql)}
    remember_gone(db, "select null where 0")  # the table, if nothing was forgotten
    gone = dict(db.execute("select id, story from temp.gone_stories"))
    if not added and not gone:
        return set()
    before = {key: story for key, story in db.execute("select id, story from articles") if key not in added}
    before.update(gone)
    stored = ((key, signature) for key, signature in
              _signed(db, db.execute(f"{_SIGNED} where articles.id not in ({added_sql})"))
              if key not in gone)
    changed = list(_signed(db, db.execute(
        f"{_SIGNED} where articles.id in ({added_sql}) order by articles.date_order")))
    affected = stories.affected_stories(before, stored, changed, gone.keys() - added)
    members = {key for key, story in before.items() if story in affected and key not in gone} | added
    db.execute("create temp table if not exists regrouped (id text primary key)")
    db.execute("delete from temp.regrouped")
    db.conn.executemany("insert into temp.regrouped values (?)", [(key,) for key in members])
    assigned = stories.group(_signed(db, db.execute(
        f"{_SIGNED} where articles.id in (select id from temp.regrouped) order by articles.date_order")))
    db.conn.executemany("delete from stories where id = ?", [(story,) for story in affected])
    _write(db, assigned)
    return affected


def _write(db: sqlite_utils.Database, assigned: dict[str, str]) -> None:
    """Set articles.story for the articles in assigned and write the rows of
    their stories (whose other rows must be gone)."""
    db.execute("create temp table if not exists story_of (id text primary key, story text)")
    db.execute("delete from temp.story_of")
    db.conn.executemany("insert into temp.story_of values (?, ?)", assigned.items())
    db.execute("""update articles set story = (select story from temp.story_of where story_of.id = articles.id)
                  where id in (select id from temp.story_of)""")
    db.execute(f"""insert into stories (id, title, first_date, last_date, members, sources)
                  select articles.story, (select title from articles first where first.id = articles.story),
                    min({ARTICLE_DATE}), max({ARTICLE_DATE}),
                    count(*), count(distinct source)
                  from articles where id in (select id from temp.story_of) group by articles.story""")
