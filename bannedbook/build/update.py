"""Incremental builds: bring an existing database up to date with its raw
folder so that it ends exactly as a full build of that folder would.

In the order a build meets them:

1. changes_since: which files are new, changed (size or mtime moved and the
   sha256 differs), touched (mtime moved, same bytes) or gone, and which
   articles depend on them. Files that share an article with a changed one
   are read again too, so when an article's first file goes its duplicate
   takes over, as in a full build; and every revisit record, since the
   capture it resolves to may have come or gone.
2. Update.forget: drop every row that depends on those files (the article,
   its paragraphs, links, tags and search-index entry).
3. The changed files are written by the full build's writer (store.Store).
   A new file may hold an article that an unchanged file holds already
   (conflict): which file comes first is settled by forgetting that article
   and reading all its files again together (forget_articles).
4. Update.finish: the new articles get their date keys (schema.date_key:
   sparse, so nothing else moves, but for an article of their day whose
   slot one of them takes) and only they are indexed for search. The
   stories the change touches are grouped again (storystore.regroup). Then
   links and tags touched by the change are resolved again. The pipeline
   then matches the lexicon on changed_articles only (lexicon.update_lexicon).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from bannedbook.build.files import file_sha256, file_state, is_warc, split_name
from bannedbook.build.fingerprint import pipeline_version
from bannedbook.db import storystore, summaries, versionstore
from bannedbook.db.schema import SLOT_BITS
from bannedbook.db.store import Store, resolve_tags, url_id, write_search_index
from bannedbook.text.urls import SITE_HOSTS

VERSION_TABLES = ("versions", "page_texts", "version_terms")


@dataclass
class Changes:
    """What an incremental build must do to the previous database."""

    read: list[str]  # inputs to read: new or changed files, and records or files sharing an article with them
    drop: list[str]  # raw_files rows to delete before they are written again (or because they are gone)
    touched: dict[str, int]  # same bytes, new mtime: file -> mtime_ns
    warcs: list[str]  # warc_files rows to delete: changed or gone WARC files
    gone: int  # files no longer there
    articles: set[str]  # article ids whose rows are dropped and written again
    gone_records: int = 0  # rows of WARC records in the files no longer there
    orphaned: int = 0  # articles held only by files no longer there: they go unless a file read holds them

    def __bool__(self) -> bool:
        return bool(self.read or self.drop or self.touched or self.warcs)


def changes_since(db_path: Path, files: dict[str, Path]) -> Changes | None:
    """Compare the files found (name -> path) with the raw_files and
    warc_files of the database at db_path. None when there is no database
    this code can update."""
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] != pipeline_version():
                return None
            old = {row[0]: row[1:] for row in conn.execute(
                "select path, sha256, bytes, mtime_ns, article_id from raw_files")}
            # A WARC file is compared as a whole; its records are FILE#OFFSET rows.
            known = {row[0]: row[1:] for row in conn.execute("select path, sha256, bytes, mtime_ns from warc_files")}
            revisits = {path for (path,) in conn.execute("select path from captures where kind = 'revisit'")}
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    rows_of: dict[str, list[str]] = defaultdict(list)
    for name in old:
        rows_of[split_name(name)[0]].append(name)
    for name, (sha, size, mtime, _) in old.items():
        if not is_warc(split_name(name)[0]):  # a WARC record is not a file
            known[name] = (sha, size, mtime)
    read, touched = set(), {}
    for name, path in files.items():
        sha, size, mtime = known.get(name, (None, None, None))
        state = file_state(path)
        if not sha or state is None:  # new, or never read (rejected before reading)
            read.add(name)
        elif state == (size, mtime):
            continue
        elif state[0] == size and file_sha256(path) == sha:
            touched[name] = state[1]
        else:
            read.add(name)
    gone = (rows_of.keys() | known.keys()) - files.keys()
    drop = {row for name in read | gone for row in rows_of.get(name, [])}
    articles = {old[name][3] for name in drop if old[name][3]}
    # Other inputs holding those articles are read again, record by record.
    again = {name for name, row in old.items() if row[3] in articles and split_name(name)[0] in files}
    read |= again - drop
    drop |= again
    if drop or read:
        # A revisit is what the capture its payload names became: once any
        # capture may have come or gone, every revisit is resolved again,
        # its record read again by offset (they are small).
        again = {name for name in revisits if split_name(name)[0] in files} - drop
        read |= again
        drop |= again
    warcs = sorted(name for name in read | gone if is_warc(name) and name in known)
    touched = {name: mtime for name, mtime in touched.items() if name not in read}
    gone_records = sum(split_name(row)[1] is not None for name in gone for row in rows_of.get(name, []))
    holders: dict[str, set[str]] = defaultdict(set)
    for name, row in old.items():
        if row[3]:
            holders[row[3]].add(split_name(name)[0])
    orphaned = sum(held <= gone for held in holders.values())
    return Changes(sorted(read), sorted(drop), touched, warcs, len(gone), articles, gone_records, orphaned)


class Update(Store):
    """The writer of an incremental build, over a copy of the old database."""

    def __init__(self, db: sqlite_utils.Database, changes: Changes, hosts: frozenset[str] = frozenset(SITE_HOSTS)):
        super().__init__(db, pipeline_version(), hosts)
        db.execute("create temp table gone_articles (id text primary key, url text)")
        db.execute("create temp table touched_tags (name text primary key)")
        db.execute("create temp table gone_urls (url text primary key)")
        db.execute("create temp table recaptured (id text primary key)")
        db.execute("create temp table touched_days (day integer primary key)")
        db.execute("create temp table forgotten (id text primary key)")
        self.forget(changes)

    touched_days = "select day from temp.touched_days"  # the days whose rows change (days.write_days)
    # The articles written again or gone: those the lexicon is matched on again.
    changed_articles = f"select id from temp.added union {storystore.GONE_SQL}"

    def create(self) -> None:
        pass  # the tables are there

    def conflict(self, key: str) -> bool:
        """True when a page holds an article that an unchanged file already
        holds: which file comes first is settled by re-reading them together
        (see forget_articles)."""
        return key not in self.holders and self.db.execute(
            "select 1 from articles where id = ?", [key]).fetchone() is not None

    # ------------------------------------------------------------ forgetting

    def forget(self, changes: Changes) -> None:
        """Drop every row that depends on an input that is new, changed or
        gone, so those inputs can be written again as a full build would
        write them."""
        db = self.db
        db.conn.executemany("update raw_files set mtime_ns = ? where path = ?",
                            [(mtime, path) for path, mtime in changes.touched.items() if not is_warc(path)])
        db.conn.executemany("update warc_files set mtime_ns = ? where path = ?",
                            [(mtime, path) for path, mtime in changes.touched.items() if is_warc(path)])
        db.conn.executemany("delete from warc_files where path = ?", [(path,) for path in changes.warcs])
        for table in ("raw_files", "captures"):
            db.conn.executemany(f"delete from {table} where path = ?", [(path,) for path in changes.drop])
        self._forget_articles(changes.articles)

    def forget_articles(self, keys: set[str]) -> list[str]:
        """Drop articles that unchanged files hold and their files' rows;
        returns those files, to be read again with the new ones."""
        self.flush()
        paths = [path for key in sorted(keys) for (path,) in
                 self.db.execute("select path from raw_files where article_id = ?", [key])]
        for table in ("raw_files", "captures"):
            self.db.conn.executemany(f"delete from {table} where path = ?", [(p,) for p in paths])
        self._forget_articles(keys)
        return paths

    def _forget_articles(self, keys: set[str]) -> None:
        db = self.db
        db.execute("delete from temp.gone_articles")
        db.conn.executemany("insert into temp.gone_articles (id, url) select id, url from articles where id = ?",
                            [(key,) for key in keys])
        gone = "select id from temp.gone_articles"
        storystore.remember_gone(db, gone)
        summaries.count_changes(db, gone, -1)
        db.execute(f"insert or ignore into temp.forgotten {gone}")
        db.execute(f"insert or ignore into temp.touched_days select rowid >> {SLOT_BITS} from articles "
                   f"where id in ({gone})")
        self.unindex(gone)
        db.execute(f"""insert or ignore into temp.touched_tags
                       select tag_id from article_tags where article_id in ({gone})""")
        db.execute("insert or ignore into temp.gone_urls select url from temp.gone_articles where url is not null")
        for table in ("paragraphs", "links", "article_tags", "captures", "story_signatures", *VERSION_TABLES):
            db.execute(f"delete from [{table}] where article_id in ({gone})")
        db.execute(f"delete from articles where id in ({gone})")

    def removed(self) -> int:
        """Articles the database held before that it no longer holds."""
        return self.db.execute("select count(*) from temp.forgotten where id not in (select id from articles)"
                               ).fetchone()[0]

    # ------------------------------------------------------------ finishing

    def finish(self, map_: Callable = map) -> None:
        """Key and index the new articles (and those of their days whose
        keys they take), then resolve what the change touched."""
        recaptured = self.settle()
        self.date_captures("temp.new_articles")
        db = self.db
        db.conn.executemany("insert into temp.recaptured values (?)", [(key,) for key in recaptured])
        self.date_captures("articles", "id in (select id from temp.recaptured)")
        db.execute("create temp table added as select id from temp.new_articles")
        self.number_new_articles()
        db.execute(f"insert or ignore into temp.touched_days select key >> {SLOT_BITS} from temp.keyed")
        summaries.count_changes(db, "select id from temp.added", 1)
        versionstore.write_seen(db, url_id)
        storystore.regroup(db, "select id from temp.added")
        write_search_index(db, map_)
        self._resolve_touched()
        db.execute("PRAGMA analysis_limit = 1000")
        db.execute("ANALYZE")
        db.conn.commit()

    def _resolve_touched(self) -> None:
        db, new = self.db, "select id from temp.added"
        self.resolve_links(f"""url in (select url from temp.gone_urls)
                               or url in (select url from articles where id in ({new}))
                               or article_id in ({new})""")
        db.execute(f"""insert or ignore into temp.touched_tags
                       select tag_id from article_tags where article_id in ({new})""")
        db.execute("""delete from tags where id in (select name from temp.touched_tags)
                      and id not in (select tag_id from article_tags)""")
        resolve_tags(db, "select name from temp.touched_tags", new, "select id from temp.forgotten")
