"""Writing the archive: the writer of a full build, the search index, and the
atomic swap that means a failed build never leaves a half-written database.

Incremental builds (bannedbook/build/update.py) reuse this writer and add what
forgetting and renumbering need.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from bannedbook.db import storystore, versionstore
from bannedbook.db.schema import (
    ARTICLE_DATE,
    FTS_SQL,
    FTS_TABLE,
    INDEX_SQL,
    INDEXES,
    SLOT_BITS,
    TABLES,
    columns,
    day_keys,
    day_number,
    insert_sql,
)
from bannedbook.errors import BuildError
from bannedbook.records import CAPTURE_KINDS, Article, Page, WarcFile
from bannedbook.search.index import index_columns, index_row, index_text
from bannedbook.text.chinese import normalise
from bannedbook.text.dates import capture_time
from bannedbook.text.decode import safe_text
from bannedbook.text.urls import SITE_HOSTS, article_url, host, is_mirror


def article_id(article: Article) -> str:
    """Stable id: from the article's URL when the page states one (the
    site's Traditional mirror names the same article as its Simplified
    page), else from its text as written, so the same page in another
    encoding is the same article while a Traditional and a Simplified copy
    without URLs stay two."""
    if article.url:
        return url_id(article.url)
    return hashlib.sha256(f"{article.title}\n{article.body}".encode()).hexdigest()[:16]


def url_id(url: str) -> str:
    """The id of the article at url (see article_id)."""
    return hashlib.sha256(article_url(url).encode("utf-8")).hexdigest()[:16]


# Which source speaks for an article, most trusted first (rank's first key).
TRUST = ("a capture of the site", "a plain file stating the URL", "a page stating no URL")


def rank(page: Page) -> tuple:
    """Which of the pages of one article gives it its text: the lowest rank,
    the first in path order among equals. The most trusted source first
    (TRUST: the site's own capture, then a plain file, whatever their
    dates, so a capture is never replaced by a less trusted source); then
    the Simplified page over the site's Traditional mirror; then a capture
    with a valid time over one without; then the latest (a page fetched
    again because it changed)."""
    capture = page.capture
    when = capture_time(capture.captured) if capture else None
    trust = 0 if capture and capture.url else 1 if page.article.url else 2
    mirror = is_mirror(page.article.url) or bool(capture and is_mirror(capture.url))
    return (trust, mirror, when is None, -(when.timestamp() if when else 0))


def why_not(loser: tuple, winner: tuple) -> str:
    """Why the page of rank `winner` shows an article rather than the one
    of rank `loser` (see rank)."""
    if loser[0] != winner[0]:
        return f"{TRUST[winner[0]]} is trusted over {TRUST[loser[0]]}"
    if loser[1] != winner[1]:
        return "the Simplified page is shown rather than the site's Traditional mirror"
    if loser[2] != winner[2]:
        return "a capture with a valid date is shown rather than one without"
    if loser[3] != winner[3]:
        return "the latest capture is shown"
    return "the first in file order is shown"


def _building(path: Path) -> tuple[Path, Path, Path]:
    """The name a build writes under, the mark of an update committed but
    not yet written into the database file, and the file's header as it
    was before the update (its log mode and change counter are rewritten
    before anything else)."""
    temp = path.parent / f".{path.name}.building"
    return temp, Path(f"{temp}.sealed"), Path(f"{temp}.header")


def recover(path: Path) -> None:
    """Clear what a killed build left beside the database at path: an
    update that was committed (sealed) is written into it; anything else
    (a full build's file, an update's uncommitted log) is dropped, and the
    database gets back its header, byte for byte."""
    path = Path(path)
    temp, sealed, header = _building(path)
    if sealed.exists() and temp.exists():
        _checkpoint(sqlite_utils.Database(temp))
    elif header.exists() and path.is_file():
        # Killed or failed before the seal: no page of the file was
        # written but its header; it gets back the one it had.
        saved = header.read_bytes()
        if len(saved) == 100 and saved[:16] == b"SQLite format 3\0":
            with open(path, "r+b") as handle:
                handle.write(saved)
                os.fsync(handle.fileno())
    for name in (sealed, header, temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
        name.unlink(missing_ok=True)


def _checkpoint(db: sqlite_utils.Database) -> None:
    """Write a sealed update's log into the database file and leave it in
    rollback-journal mode."""
    db.execute("PRAGMA locking_mode = EXCLUSIVE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode = DELETE")
    db.close()


@contextmanager
def atomic_database(path: Path, update: bool = False) -> Iterator[sqlite_utils.Database]:
    """The database at `path` as the block writes it, changed only when the
    block completes; on any failure (or a kill) `path` is left as it was.

    A full build writes a new file beside `path` and moves it over it. An
    update writes in place, at the cost of what it changes: through a
    second name of the same file (a hard link), in write-ahead-log mode
    holding the file's lock, so every page it writes goes to that name's
    log, which nothing that opens `path` reads. Once the block completes
    the log is marked sealed and written into the file (a checkpoint); a
    build killed before the mark leaves `path`'s pages as they were (the
    next build drops the log), one killed after it is completed by the
    next build (recover). docs/design.md, "Atomic updates"."""
    path = Path(path)
    if path.is_dir():
        raise BuildError(f"cannot write database {path}: it is a directory")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise BuildError(f"cannot write database {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BuildError(f"cannot write database {path}: permission denied")
    recover(path)
    temp, sealed, header = _building(path)
    if update:
        with open(path, "rb") as handle:
            header.write_bytes(handle.read(100))
        os.link(path, temp)
    db = sqlite_utils.Database(temp)
    try:
        if update:
            db.execute("PRAGMA locking_mode = EXCLUSIVE")  # no reader of path sees a half-applied update
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA wal_autocheckpoint = 0")  # nothing reaches the file before the seal
            db.execute("PRAGMA synchronous = OFF")
            # One transaction: a commit on the way (sqlite-utils commits
            # after its own writes) is ignored, and so is a rollback (a
            # failed statement undoes itself); the block's end commits, or
            # its failure rolls everything back.
            db.conn.set_authorizer(_no_commit)
            db.execute("BEGIN")
        else:
            # No journal: the whole file is thrown away if anything fails.
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
        yield db
        db.conn.set_authorizer(None)
        db.conn.commit()
        if update:
            with open(f"{temp}-wal", "rb") as handle:
                os.fsync(handle.fileno())
            sealed.touch()
            _fsync_folder(folder)
            db.execute("PRAGMA synchronous = FULL")
            _checkpoint(db)
            for name in (sealed, header, temp):
                name.unlink()
            return
        db.execute("PRAGMA journal_mode = DELETE")
        db.conn.commit()
        db.close()
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        db.conn.set_authorizer(None)
        if not sealed.exists():
            db.conn.rollback()  # before close, which writes what the log holds committed into the file
        db.close()
        if not sealed.exists():
            recover(path)
        raise


def _no_commit(action: int, first: str | None, *_) -> int:
    """An authorizer that turns COMMIT and ROLLBACK into nothing."""
    if action == sqlite3.SQLITE_TRANSACTION and first in ("COMMIT", "ROLLBACK"):
        return sqlite3.SQLITE_IGNORE
    return sqlite3.SQLITE_OK


def _fsync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class Store:
    """The one writer of a full build. Rows accumulate in batches, written by
    column name. New articles wait in a temporary table until finish(), which
    numbers them in date order and indexes them for search."""

    BATCH = 200
    touched_days: str | None = None  # every day's row is written (days.write_days)

    def __init__(self, db: sqlite_utils.Database, version: int, hosts: frozenset[str] = frozenset(SITE_HOSTS)):
        self.db = db
        self.version = version  # of the code writing it (build/fingerprint.py), kept in user_version
        self.hosts = hosts  # the hosts whose pages are the archive's (urls.site_hosts)
        self.pending: dict[str, list[dict]] = {table: [] for table in TABLES}
        self.holders: dict[str, tuple[str, tuple]] = {}  # article id -> (path, rank) of the page it shows, this run
        self.duplicates: list[tuple[str, str, tuple]] = []  # (path, article id, rank), named in settle()
        self.revisits: list[Page] = []  # resolved in finish(), when every capture they may refer to is known
        self.versions = versionstore.Versions(db)
        self.create()
        self.tags: set[str] = {name for (name,) in db.execute("select id from tags")}
        db.execute("create temp table new_articles as select * from articles where 0")
        db.execute("create temp table moved_articles (id text primary key)")
        # Looked up by id while pages come (an unseated page, a text read back for versions).
        db.execute("create index temp.new_articles_id on new_articles (id)")

    def create(self) -> None:
        for table, (types, options) in TABLES.items():
            self.db[table].create(types, **options)
        self.db.execute(FTS_SQL)
        self.db.execute(f"PRAGMA user_version = {int(self.version)}")

    def conflict(self, key: str) -> bool:
        """Whether an unchanged file already holds this article (never, in a
        full build; see update.Update)."""
        return False

    def off_site(self, page: Page) -> str | None:
        """Why a page is not the archive's when its URL (where it was
        captured, else the one a plain file states) is on no host of the
        site; None when it is, or when it has no URL."""
        url = page.capture.url if page.capture and page.capture.url else page.article and page.article.url
        if not url:
            return None
        name = host(url)
        if name in self.hosts:
            return None
        if not name:
            return f"the page's URL {safe_text(url[:120])[0]!r} names no host: not a page of the site"
        return (f"the page is of {name}, not of the archive's site ({', '.join(sorted(self.hosts))}); "
                f"a build told --site {name} (SITES=) keeps it")

    def add_page(self, page: Page) -> str:
        """Write what one file or WARC record became; returns its status
        (a revisit's is settled in finish()). Pages must come in path order."""
        capture = page.capture
        revisit = bool(capture and capture.kind == "revisit")
        outside = self.off_site(page) if page.article is not None or revisit else None
        if revisit and not outside:
            self.revisits.append(page)
            return "duplicate"
        # A web-archive record that is no capture of a page (warcinfo, request …) is skipped, not rejected.
        key, status, reason, message = None, "skipped" if page.skipped else "rejected", page.reason, page.message
        if outside:
            status, reason, message = "rejected", "off-site", "; ".join(filter(None, [outside, message]))
        elif page.article is not None:
            key, mine = article_id(page.article), rank(page)
            held = self.holders.get(key)
            self.versions.page(key, page.sha256, page.text_sha256, page.article, mine, page.path, held,
                               lambda: self._text_of(key))
            if held is None or mine < held[1]:
                if held is not None:
                    self._unseat(key, *held)
                status = "article"
                self.holders[key] = (page.path, mine)
                self.add_article(page.article, key, page.path, page.signature)
            else:
                status = "duplicate"
                self.duplicates.append((page.path, key, mine))  # its message names the holder in settle()
        if capture and capture.captured and not capture_time(capture.captured):
            note = f"the capture's date {safe_text(capture.captured[:40])[0]!r} is not a possible date: not used"
            message = "; ".join(filter(None, [message, note]))
        self.pending["raw_files"].append({
            "path": page.path, "sha256": page.sha256, "bytes": page.size, "mtime_ns": page.mtime_ns,
            "encoding": page.encoding, "status": status, "article_id": key,
            "reason": reason if status in ("rejected", "skipped") else None, "message": message,
        })  # fmt: skip
        if capture and capture.kind in CAPTURE_KINDS:
            self.add_capture(page, key, status, page.sha256, reason if status == "rejected" else None)
        return status

    def _text_of(self, key: str) -> tuple[str, str]:
        """The title and body of an article written in this run."""
        self.flush()
        return self.db.execute("select title, body from temp.new_articles where id = ?", [key]).fetchone()

    def add_warc_file(self, warc: WarcFile) -> None:
        """A WARC file read: its row in warc_files and, when parts of it could
        not be read (or none of it), a rejected raw_files row saying which
        byte ranges and why."""
        self.pending["warc_files"].append({"path": warc.path, "bytes": warc.size, "mtime_ns": warc.mtime_ns,
                                           "sha256": warc.sha256, "records": warc.records})
        if warc.damage:
            self.pending["raw_files"].append({
                "path": warc.path, "sha256": warc.sha256, "bytes": warc.size, "mtime_ns": warc.mtime_ns,
                "encoding": None, "status": "rejected", "article_id": None, "reason": warc.reason,
                "message": f"{warc.damage}; {warc.records:,} record(s) read, each with its own row",
            })  # fmt: skip

    def add_capture(self, page: Page, key: str | None, status: str, sha256: str | None, why: str | None = None) -> None:
        """A capture of any kind, whatever it became: revisits resolve
        against all of them. A time no capture can have is not kept."""
        capture = page.capture
        self.pending["captures"].append({
            "article_id": key, "url": capture.url,
            "captured": capture.captured if capture_time(capture.captured) else None, "path": page.path,
            "sha256": sha256, "payload_digest": capture.payload_digest, "kind": capture.kind, "status": status,
            "why": why, **capture.archive_columns(),
        })  # fmt: skip

    def _unseat(self, key: str, old: str, old_rank: tuple) -> None:
        """A page about to be written gives article `key` its text instead of
        the one at `old` (see rank): the old page's rows go, its file becomes
        a duplicate."""
        self.flush()
        db = self.db
        gone_tags = [tag for (tag,) in db.execute("select tag_id from article_tags where article_id = ?", [key])]
        db.execute("delete from temp.new_articles where id = ?", [key])
        for table in ("paragraphs", "links", "article_tags", "story_signatures"):
            db.execute(f"delete from [{table}] where article_id = ?", [key])
        for tag in gone_tags:
            if not db.execute("select 1 from article_tags where tag_id = ? limit 1", [tag]).fetchone():
                db.execute("delete from tags where id = ?", [tag])
                self.tags.discard(tag)
        db.execute("update raw_files set status = 'duplicate' where path = ?", [old])
        db.execute("update captures set status = 'duplicate' where path = ?", [old])
        self.duplicates.append((old, key, old_rank))

    def add_article(self, article: Article, key: str, path: str, signature: bytes | None = None) -> None:
        """Queue an article's rows. signature: its story signature, made by
        a worker (stories.signature of the body); the story is set in finish()."""
        day = article.published or article.not_before
        self.pending["articles"].append({
            "id": key, "url": article.url, "title": article.title, "author": article.author,
            "source": article.source, "source_url": article.source_url, "category": article.category,
            "site_number": article.site_number, "published": article.published,
            "not_before": article.not_before, "captured": None, "not_after": None,  # from captures, in finish()
            "last_seen": None, "removed_after": None, "removed_before": None,
            "year": int(day[:4]) if day else None,
            "date_order": None, "story": None,  # numbered and grouped in finish()
            "script": article.script, "body": article.body, "file": path,
        })  # fmt: skip
        self.pending["paragraphs"] += [
            {"article_id": key, "position": i, "role": p.role, "text": p.text}
            for i, p in enumerate(article.paragraphs, 1)
        ]
        self.pending["links"] += [
            {"article_id": key, "position": i, "url": link.url, "text": link.text, "kind": link.kind,
             "scheme": link.scheme, "target_article_id": None}
            for i, link in enumerate(article.links, 1)
        ]  # fmt: skip
        self.pending["story_signatures"].append({"article_id": key, "signature": signature})
        for name, url in article.tags:
            if name not in self.tags:
                self.tags.add(name)
                self.pending["tags"].append({"id": name, "name": name, "url": url, "key": normalise(name)})
            self.pending["article_tags"].append({"article_id": key, "tag_id": name, "tag_key": normalise(name)})
        if len(self.pending["articles"]) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        # Articles wait in temp.new_articles until finish() can number them;
        # foreign keys are checked by tests, not SQLite, so their children
        # may go in first.
        for table, rows in self.pending.items():
            if rows:
                target = "temp.new_articles" if table == "articles" else None
                self.db.conn.executemany(insert_sql(table, target), rows)
                rows.clear()

    def settle(self) -> set[str]:
        """Once every page is written: resolve the revisits, and name in
        each duplicate's message and capture the page its article is shown
        from and why (the holder is known only now). Then what chose among
        pages is dropped. Returns the articles that gained a capture."""
        found = self.resolve_revisits()  # which leaves nothing pending
        named = []
        for path, key, mine in self.duplicates:
            holder, best = self.holders[key]
            why = why_not(mine, best)
            named.append((f"same article as {holder} ({why})", f"not shown: {why}; {holder} is shown", path))
        self.db.conn.executemany("update raw_files set message = ? || coalesce('; ' || message, '') where path = ?",
                                 [(message, path) for message, _, path in named])
        self.db.conn.executemany("update captures set why = ? where path = ?", [(why, path) for _, why, path in named])
        self.db.conn.executemany("update captures set why = 'shown' where path = ?",
                                 [(path,) for path, _ in self.holders.values()])
        self.versions.settle(self.holders)
        self.holders.clear()
        self.duplicates.clear()
        return found

    def resolve_revisits(self) -> set[str]:
        """A revisit record says "same payload as an earlier capture": it is
        what that capture became (a duplicate of its article, or rejected
        or skipped as it was), found by the payload digest (or the URI and
        date it refers to) among every capture the archive has read. Only a
        capture of the same URL speaks for it. Returns the articles that
        gained a capture."""
        self.flush()
        found: set[str] = set()
        if not self.revisits:
            return found
        for table, names in INDEXES:
            if table == "captures":
                self.db[table].create_index(names, if_not_exists=True)
        for page in self.revisits:
            capture = page.capture
            uri, date = capture.refers_to
            row = self.db.execute(
                """select c.path, c.url, c.captured, c.article_id, c.sha256, r.status, r.reason
                   from captures c join raw_files r on r.path = c.path
                   where c.kind != 'revisit' and ((c.payload_digest = :digest and :digest is not null)
                                                  or (c.url = :uri and c.captured = :date))
                   order by c.url is not :url, c.captured limit 1""",
                {"digest": capture.payload_digest, "uri": uri, "date": date, "url": capture.url}).fetchone()
            key, sha256, reason = None, None, None
            if row is None:
                status, reason = "rejected", "revisit-unresolved"
                message = (f"revisit of a capture not in the archive ({uri or capture.url}, "
                           f"{date or 'date not given'}; payload {capture.payload_digest or 'digest not given'})")
            else:
                path, url, when, held, sha256, status, reason = row
                same = f"same payload as {path} (captured {when or 'at no valid date'})"
                if url != capture.url:
                    status, reason, sha256 = "rejected", "revisit-other-url", None
                    message = f"revisit: {same}, a capture of {url}: a capture speaks only for its own URL"
                elif held is not None and status in ("article", "duplicate"):
                    key, status, reason = held, "duplicate", None
                    found.add(key)
                    message = f"revisit: {same}"
                else:
                    message = f"revisit: {same}, which is {status} ({reason})"
            message = "; ".join(filter(None, [message, page.message]))  # the record's own notes (a bad date …)
            self.pending["raw_files"].append({
                "path": page.path, "sha256": sha256, "bytes": None, "mtime_ns": page.mtime_ns, "encoding": None,
                "status": status, "article_id": key, "reason": reason, "message": message,
            })  # fmt: skip
            self.add_capture(page, key, status, sha256, f"revisit: {same}" if row else reason)
        self.revisits.clear()
        self.flush()
        return found

    def date_captures(self, table: str, where: str = "1") -> None:
        """articles.captured (the earliest capture), last_seen (the latest) and, for an article that
        states no date, not_after (a capture is an upper bound for when it
        was published), for the rows of table selected by where. Only
        captures with a possible time count (add_capture keeps no other)."""
        self.db.execute(f"""update {table} set (captured, last_seen) = (
                                select min(captured), max(captured) from captures
                                where captures.article_id = {table}.id)
                            where {where}""")
        self.db.execute(f"""update {table} set not_after = case when published is null then substr(captured, 1, 10) end
                            where {where}""")

    def finish(self, map_: Callable = map) -> None:
        """Number and index the articles, group them into stories, resolve
        links to articles in the archive, build the indexes and analyse.
        map_ runs the indexing (a process pool's map spreads it over every
        core)."""
        self.settle()
        self.date_captures("temp.new_articles")
        self.number_new_articles()
        versionstore.write_seen(self.db, url_id)
        storystore.group_all(self.db)
        # Written whole and optimised: the indexes below reuse the pages it frees.
        write_search_index(self.db, map_, whole=True)
        for table, names in INDEXES:
            self.db[table].create_index(names, if_not_exists=True)
        for sql in INDEX_SQL:
            self.db.execute(sql)
        self.resolve_links("url in (select url from articles where url is not null)")
        resolve_tags(self.db)
        self.db.execute("ANALYZE")
        self.db.conn.commit()

    def number_new_articles(self) -> None:
        """Move temp.new_articles into articles under their date keys
        (schema.date_key). The keys of a day are made from all its articles
        together, so an article already held whose key a new one takes is
        moved too (its search-index entry goes; it is indexed again with
        the new ones). temp.keyed holds the keys of every article written."""
        db = self.db
        db.execute("create temp table if not exists keyed (key integer primary key, id text unique)")
        db.execute("delete from temp.keyed")
        new: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
        for key, date in db.execute(f"select id, {ARTICLE_DATE} from temp.new_articles"):
            new[day_number(date)].append((key, date))
        held = db.execute("select 1 from articles limit 1").fetchone() is not None
        keyed, moved = {}, []
        for day, articles in new.items():
            old = {}
            if held:
                low = day << SLOT_BITS
                old = {key: (rowid, date) for rowid, key, date in db.execute(
                    f"select rowid, id, {ARTICLE_DATE} from articles where rowid between ? and ?",
                    [low, low + (1 << SLOT_BITS) - 1])}
            try:
                keys = day_keys(articles + [(key, date) for key, (_, date) in old.items()])
            except OverflowError as error:
                raise BuildError(str(error)) from None
            here = [key for key, (rowid, _) in old.items() if keys[key] != rowid]
            keyed.update((key, keys[key]) for key in [key for key, _ in articles] + here)
            moved += here
        if moved:
            db.conn.executemany("insert into temp.moved_articles values (?)", [(key,) for key in moved])
            self.unindex("select id from temp.moved_articles")
            db.execute("insert into temp.new_articles select * from articles where id in "
                       "(select id from temp.moved_articles)")
            db.execute("delete from articles where id in (select id from temp.moved_articles)")
            db.execute("delete from temp.moved_articles")
        db.conn.executemany("insert into temp.keyed (key, id) values (?, ?)", [(v, k) for k, v in keyed.items()])
        names = ", ".join(f"[{c}]" for c in columns("articles") if c != "date_order")
        fields = ", ".join(f"new.[{c}]" for c in columns("articles") if c != "date_order")
        db.execute(f"""insert into articles (rowid, date_order, {names})
                       select keyed.key, keyed.key, {fields}
                       from temp.new_articles new join temp.keyed keyed on keyed.id = new.id order by keyed.key""")
        db.execute("delete from temp.new_articles")

    def unindex(self, ids_sql: str) -> None:
        """Take the articles that ids_sql selects out of the search index
        (external content: it forgets a row only when told its exact text)."""
        db = self.db
        db.conn.create_function("index_body", 2, lambda title, body: index_columns(title, body)[0],
                                deterministic=True)
        db.conn.create_function("index_title", 1, index_text, deterministic=True)
        db.execute(f"""insert into [{FTS_TABLE}] ([{FTS_TABLE}], rowid, body_index, title_index)
                       select 'delete', rowid, index_body(title, body), index_title(title)
                       from articles where id in ({ids_sql})""")

    def resolve_links(self, where: str) -> None:
        """Point the links selected by `where` at the article with their URL,
        or at nothing when the archive has none."""
        self.db.execute(f"""update links set target_article_id = (
                                select id from articles where articles.url = links.url)
                            where {where}""")


# Every link of an article to a tag it carries, with what orders them for
# tag_sources (the file, then the link's place on the page).
_TAG_LINKS_SQL = """select article_tags.tag_id as tag_id, articles.id as article_id, articles.file as file,
                          links.position as position
                   from article_tags join articles on articles.id = article_tags.article_id
                   join links on links.article_id = articles.id and links.kind = 'tag'
                                 and links.text = article_tags.tag_id
                   where {where}"""
_FIRST_PER_TAG_SQL = f"""select tag_id, article_id, file, position from (
                             select *, row_number() over (partition by tag_id order by file, position) as n
                             from ({_TAG_LINKS_SQL})) where n = 1"""


def resolve_tags(db: sqlite_utils.Database, touched: str | None = None, added: str = "select null where 0",
                 forgotten: str = "select null where 0") -> None:
    """Give each tag the url the first article linking it (by file, then
    link position) links it with, and keep that article in tag_sources.
    touched selects the tags whose carriers changed (every tag when None),
    added and forgotten the articles written and dropped: a tag whose source
    stays is compared with its new carriers only, so an update costs what
    it changed, not what its tags' carriers number."""
    if touched is None:
        db.execute("delete from tag_sources")
        db.execute(f"insert into tag_sources {_FIRST_PER_TAG_SQL.format(where='1')}")
        touched = "select id from tags"
    else:
        db.execute(f"""delete from tag_sources where tag_id in ({touched})
                       and (article_id in ({forgotten}) or tag_id not in (select id from tags))""")
        lost = f"tag_id in ({touched}) and tag_id in (select id from tags) and tag_id not in " \
               "(select tag_id from tag_sources)"
        db.execute(f"insert into tag_sources {_FIRST_PER_TAG_SQL.format(where=lost)}")
        db.execute(f"""insert or replace into tag_sources
                       select * from ({_FIRST_PER_TAG_SQL.format(where=f'articles.id in ({added})')}) as new
                       where not exists (select 1 from tag_sources as held where held.tag_id = new.tag_id
                                         and (held.file, held.position) <= (new.file, new.position))""")
    db.execute(f"""update tags set url = (
                       select case when links.scheme in ('http', 'https') then links.url end from tag_sources
                       join links on links.article_id = tag_sources.article_id
                                     and links.position = tag_sources.position
                       where tag_sources.tag_id = tags.id)
                   where id in ({touched})""")


INDEX_BATCH = 250  # articles whose index text is made while the previous ones are inserted
# FTS5's merge settings while the whole index is written, and its defaults.
BULK_MERGE = {"automerge": 0, "crisismerge": 64}
DEFAULT_MERGE = {"automerge": 4, "crisismerge": 16}


def _merge_settings(db: sqlite_utils.Database, settings: dict[str, int]) -> None:
    for name, value in settings.items():
        db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}], rank) values (?, ?)", [name, value])


def write_search_index(db: sqlite_utils.Database, map_: Callable = map, whole: bool = False) -> None:
    """Write the search index rows of the articles keyed last (temp.keyed,
    Store.number_new_articles; every article when whole), through chinese.index_columns (the
    normalisation that rewrites queries); map_ runs it (a process pool's
    map spreads it over every core). whole: the index is written whole into
    a new file (a full build), then optimised.

    FTS5's insert is the longest step of a build and runs on one core, in
    rowid order once the articles are keyed; the index text of the next
    batch is made meanwhile (map_ waits in a thread: SQLite lets go of the
    GIL while it inserts), so making it adds no time while the insert is
    the slower of the two. Writing a whole index, FTS5 merges its segments
    only when 64 wait at one level, then once for all ('optimize'): about
    a sixth less time than its default incremental merging, and the pages
    the merges free are reused by the tables' indexes a full build writes
    next (docs/benchmarks.md, profile_build). An update keeps the default
    merging, which reuses them as it goes: it has no indexes left to write,
    and would leave them empty in the file."""
    insert = f"insert into [{FTS_TABLE}] (rowid, body_index, title_index) values (?, ?, ?)"
    whole_sql = "select rowid, title, body from articles where rowid > coalesce(?, -1) order by rowid limit ?"
    keyed_sql = """select articles.rowid, title, body from temp.keyed join articles on articles.rowid = keyed.key
                   where keyed.key > coalesce(?, -1) order by keyed.key limit ?"""
    if whole:
        _merge_settings(db, BULK_MERGE)
    with ThreadPoolExecutor(1) as helper:
        made, last = None, None
        while True:
            rows = db.execute(whole_sql if whole else keyed_sql, [last, INDEX_BATCH]).fetchall()
            if not rows:
                break
            last = rows[-1][0]
            making = helper.submit(lambda rows=rows: list(map_(index_row, rows)))
            if made:
                db.conn.executemany(insert, made.result())
            made = making
        if made:
            db.conn.executemany(insert, made.result())
    if whole:
        _merge_settings(db, DEFAULT_MERGE)
        db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}]) values ('optimize')")


def rebuild_search_index(db: sqlite_utils.Database) -> None:
    """(Re)fill the search index from articles."""
    db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}]) values ('delete-all')")
    db.execute("create temp table if not exists keyed (key integer primary key, id text unique)")
    db.execute("delete from temp.keyed")
    db.execute("insert into temp.keyed select rowid, id from articles")
    write_search_index(db)
    db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}]) values ('optimize')")
