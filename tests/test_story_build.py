"""Stories in the build: every article in one story, named after its first
article in date order, with its row in stories; signatures made by the
workers and kept. (Incremental builds: tests/test_incremental.py.)"""

import sqlite3
from collections import defaultdict
from pathlib import Path

from helpers.pages import SEED_NAME
from helpers.story_pages import SEED_STORY_FILES, write_story_crawl

from bannedbook.build.pipeline import read_page
from bannedbook.research import stories


def query(db: Path, sql: str, params=()) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_one_report_is_one_story_named_after_its_first_article(story_db):
    story_of = dict(query(story_db, "select file, story from articles"))
    id_of = dict(query(story_db, "select file, id from articles"))
    # Four versions (a repost, the Traditional rendering, the page with its URL): one story,
    # named after the oldest (the seed, dated by its estimate 2024-07-04).
    assert {story_of[file] for file in SEED_STORY_FILES} == {id_of[SEED_NAME]}
    # The other report is a story of its own.
    assert story_of["full/related.html"] == id_of["full/related.html"]


def test_every_story_is_its_first_article_in_date_order(crawl_db, story_db):
    for db in (crawl_db, story_db):
        members = defaultdict(list)
        for key, story in query(db, "select id, story from articles order by date_order"):
            members[story].append(key)
        assert all(story == keys[0] for story, keys in members.items())
        rows = {row[0]: row[1:] for row in query(db, "select id, members, title from stories")}
        assert rows.keys() == members.keys()
        for story, keys in members.items():
            title = query(db, "select title from articles where id = ?", [story])[0][0]
            assert rows[story] == (len(keys), title)
        assert query(db, "pragma foreign_key_check") == []


def test_a_story_row_spans_its_articles(story_db):
    (seed,) = query(story_db, "select id from articles where file = ?", [SEED_NAME])[0]
    row = query(story_db, "select first_date, last_date, members, sources from stories where id = ?", [seed])
    # Sources: 中文大纪元, the Traditional page's own spelling of it, and 美国之音.
    assert row == [("2024-07-04", "2024-07-10T08:00:00+08:00", 4, 3)]


def test_signatures_are_made_by_the_workers_and_kept(story_db, tmp_path):
    raw = write_story_crawl(tmp_path / "raw")
    page = read_page(raw / "repost" / "voa.html", raw)  # what a worker process returns
    assert page.signature == stories.signature(page.article.body)
    kept = dict(query(story_db, """select a.file, s.signature from articles a
                                   join story_signatures s on s.article_id = a.id"""))
    assert kept["repost/voa.html"] == page.signature
    assert len(kept) == query(story_db, "select count(*) from articles")[0][0]
