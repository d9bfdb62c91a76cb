"""Writing the archive: the contract's tables, the search index, and the
atomic swap that means a failed build never leaves a half-written database.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from .chinese import index_columns, index_text
from .extract import Article

# The search index is external-content FTS5 over articles, so Datasette and
# datasette-search-all find it (they look for content=[articles]). Its columns
# hold the text computed by chinese.index_columns and are named for what they
# hold: articles has no such columns, so the generic 'rebuild' command (and
# sqlite-utils rebuild-fts) fails loudly instead of silently re-indexing the
# unsegmented text. Rebuild it with rebuild_search_index() below.
#
# Articles are numbered in date order (rowid = date_order = the index's
# rowid), so the newest matches of a search are the index's last rowids:
# Datasette's "sort_desc: date_order" reads 20 of them instead of sorting
# every match, and its count seeks the small date_order index instead of
# the wide articles rows (metadata.yml: fts_pk: date_order).
FTS_TABLE = "articles_fts"
FTS_SQL = f"CREATE VIRTUAL TABLE [{FTS_TABLE}] USING FTS5 (body_index, title_index, content=[articles])"
# Oldest first; undated articles before all others, so newest-first lists
# them last. Ties go by file, so every build numbers the same files alike.
DATE_ORDER = "coalesce(published, not_before, ''), file"

SCHEMA = {
    "articles": (
        {
            "id": str, "url": str, "title": str, "author": str, "source": str,
            "source_url": str, "category": str, "site_number": int,
            "published": str, "not_before": str, "year": int, "date_order": int,
            "script": str, "body": str, "file": str,
        },
        {"pk": "id", "not_null": {"title", "body"}},
    ),
    "paragraphs": (
        {"article_id": str, "position": int, "role": str, "text": str},
        {"pk": ("article_id", "position"), "foreign_keys": [("article_id", "articles", "id")]},
    ),
    "tags": ({"id": str, "name": str, "url": str}, {"pk": "id"}),
    "article_tags": (
        {"article_id": str, "tag_id": str},
        {"pk": ("article_id", "tag_id"),
         "foreign_keys": [("article_id", "articles", "id"), ("tag_id", "tags", "id")]},
    ),
    "links": (
        {"article_id": str, "position": int, "url": str, "text": str, "kind": str,
         "scheme": str, "target_article_id": str},
        {"pk": ("article_id", "position"),
         "foreign_keys": [("article_id", "articles", "id"), ("target_article_id", "articles", "id")]},
    ),
    "raw_files": (
        {"path": str, "sha256": str, "bytes": int, "mtime_ns": int, "encoding": str, "status": str,
         "article_id": str, "message": str},
        {"pk": "path", "foreign_keys": [("article_id", "articles", "id")]},
    ),
}  # fmt: skip

INDEXES = [
    ("articles", ["url"]), ("articles", ["author"]), ("articles", ["source"]),
    ("articles", ["category"]), ("articles", ["year"]), ("articles", ["published"]),
    ("article_tags", ["tag_id"]), ("links", ["url"]), ("links", ["target_article_id"]),
    ("links", ["kind"]), ("raw_files", ["status"]), ("raw_files", ["article_id"]),
]  # fmt: skip

# Search selects articles by date_order (see FTS_SQL). The wider index holds
# what the table page's facets read for every match of a search, and the
# partial one all that the most_cited query reads, so neither has to visit
# the wide article rows (at 100k: a search page for 的 0.9 s -> 0.5 s,
# most_cited 1.6 s -> 0.15 s).
INDEX_SQL = [
    "create unique index idx_articles_date_order on articles (date_order)",
    "create index idx_articles_facets on articles (date_order, id, author, source, category, year, script)",
    "create index idx_links_related on links (url, article_id, target_article_id, text) where kind = 'related'",
]


class BuildError(Exception):
    """A build that cannot be done at all (as opposed to a rejected file)."""


def article_id(article: Article) -> str:
    """Stable id: from the canonical URL when the page has one, else from its
    text as written, so the same page in another encoding is the same article
    while a Traditional and a Simplified copy stay two."""
    key = article.url or f"{article.title}\n{article.body}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def pipeline_version() -> int:
    """A fingerprint of the code that turns files into rows, kept in the
    database's user_version: an incremental build reuses rows only from a
    database the same code wrote."""
    package = Path(__file__).resolve().parent
    sources = [package / name for name in ("decode.py", "extract.py", "chinese.py", "store.py")]
    sources.append(package.parent / "build_db.py")
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources if p.exists())).digest()
    return int.from_bytes(digest[:4], "big") >> 1  # user_version is a signed 32-bit integer


@dataclass
class Changes:
    """What an incremental build must do to the previous database."""

    read: list[str]  # files to read: new, changed, or sharing an article with one
    gone: list[str]  # files no longer there
    touched: dict[str, int]  # same bytes, new mtime: path -> mtime_ns
    articles: set[str]  # article ids whose rows are dropped and written again

    def __bool__(self) -> bool:
        return bool(self.read or self.gone or self.touched)


def changes_since(db_path: Path, files: dict[str, Path]) -> Changes | None:
    """Compare the files found (name -> path) with the raw_files of the
    database at db_path. None when there is no database this code can update."""
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] != pipeline_version():
                return None
            old = {row[0]: row[1:] for row in conn.execute(
                "select path, sha256, bytes, mtime_ns, article_id from raw_files")}
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    read, touched = set(), {}
    for name, path in files.items():
        sha, size, mtime, _ = old.get(name, (None, None, None, None))
        state = _stat(path)
        if not sha or state is None:  # new, or never read (rejected before reading)
            read.add(name)
        elif state == (size, mtime):
            continue
        elif state[0] == size and _sha256(path) == sha:
            touched[name] = state[1]
        else:
            read.add(name)
    gone = old.keys() - files.keys()
    articles = {old[name][3] for name in read | gone if name in old and old[name][3]}
    read |= {name for name, row in old.items() if row[3] in articles and name in files}
    touched = {name: mtime for name, mtime in touched.items() if name not in read}
    return Changes(sorted(read), sorted(gone), touched, articles)


def file_state(path: Path) -> int | None:
    """The mtime an incremental build compares (with the size)."""
    state = _stat(path)
    return state[1] if state else None


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


def _sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


@contextmanager
def atomic_database(path: Path, update: bool = False) -> Iterator[sqlite_utils.Database]:
    """A new database written beside `path` and moved over it only when the
    block completes; on any failure `path` is left as it was. With update,
    the new database starts as a copy of the one at `path`."""
    path = Path(path)
    if path.is_dir():
        raise BuildError(f"cannot write database {path}: it is a directory")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise BuildError(f"cannot write database {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BuildError(f"cannot write database {path}: permission denied")
    temp = folder / f".{path.name}.building"
    temp.unlink(missing_ok=True)  # left by a build that was killed
    if update:
        shutil.copyfile(path, temp)
    db = sqlite_utils.Database(temp)
    try:
        # No journal: the whole file is thrown away if anything fails.
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        yield db
        db.execute("PRAGMA journal_mode = DELETE")
        db.conn.commit()
        db.close()
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        db.close()
        temp.unlink(missing_ok=True)
        raise


class Store:
    """The one writer. Rows accumulate in batches. New articles wait in a
    temporary table until finish(), which numbers them in date order and
    indexes them for search."""

    BATCH = 200

    def __init__(self, db: sqlite_utils.Database, fresh: bool = True):
        self.db = db
        self.fresh = fresh
        self.pending: dict[str, list[tuple]] = {table: [] for table in SCHEMA}
        self.seen_articles: dict[str, str] = {}  # article id -> first file, this run
        self.first_by_hash: dict[str, str] = {}  # sha256 -> first file, this run
        _register_index_functions(db)
        if fresh:
            for table, (columns, options) in SCHEMA.items():
                db[table].create(columns, **options)
            db.execute(FTS_SQL)
            db.execute(f"PRAGMA user_version = {pipeline_version()}")
        self.tags: set[str] = {name for (name,) in db.execute("select id from tags")}
        db.execute("create temp table new_articles as select * from articles where 0")
        db.execute("create temp table gone_articles (id text primary key, url text)")
        db.execute("create temp table touched_tags (name text primary key)")
        db.execute("create temp table gone_urls (url text primary key)")

    # ------------------------------------------------------------ adding

    def conflict(self, key: str) -> bool:
        """True when an incremental build meets an article that an unchanged
        file already holds: which file comes first is settled by re-reading
        them together (see forget_articles)."""
        return not self.fresh and key not in self.seen_articles and self.db.execute(
            "select 1 from articles where id = ?", [key]).fetchone() is not None

    def add_page(self, page) -> str:
        """Write what one file became (a build_db.Page); returns its status.
        Pages must come in path order: the first file of an article is its file."""
        first_same_bytes = self.first_by_hash.setdefault(page.sha256, page.path) if page.sha256 else page.path
        key, status, message = None, "rejected", page.message
        if page.article is not None:
            key, new = self.add_article(page.article, page.path)
            status = "article" if new else "duplicate"
            if not new:
                first = first_same_bytes if first_same_bytes != page.path else self.seen_articles[key]
                message = "; ".join(filter(None, [f"same article as {first}", message]))
        self.pending["raw_files"].append(
            (page.path, page.sha256, page.size, page.mtime_ns, page.encoding, status, key, message))
        return status

    def add_article(self, article: Article, path: str) -> tuple[str, bool]:
        """Queue an article; returns its id and whether it is new."""
        key = article_id(article)
        if key in self.seen_articles:
            return key, False
        self.seen_articles[key] = path
        day = article.published or article.not_before
        self.pending["articles"].append((
            key, article.url, article.title, article.author, article.source, article.source_url,
            article.category, article.site_number, article.published, article.not_before,
            int(day[:4]) if day else None, None, article.script, article.body, path,
        ))  # fmt: skip
        self.pending["paragraphs"] += [(key, i, p.role, p.text) for i, p in enumerate(article.paragraphs, 1)]
        self.pending["links"] += [
            (key, i, link.url, link.text, link.kind, link.scheme, None) for i, link in enumerate(article.links, 1)
        ]
        for name, url in article.tags:
            if name not in self.tags:
                self.tags.add(name)
                self.pending["tags"].append((name, name, url))
            self.pending["article_tags"].append((key, name))
        if len(self.pending["articles"]) >= self.BATCH:
            self.flush()
        return key, True

    def flush(self) -> None:
        # Column order is SCHEMA's. Articles wait in temp.new_articles until
        # finish() can number them; foreign keys are checked by tests, not
        # SQLite, so their children may go in first.
        for table, rows in self.pending.items():
            if not rows:
                continue
            columns = ", ".join(f"[{c}]" for c in SCHEMA[table][0])
            marks = ", ".join("?" * len(SCHEMA[table][0]))
            target = "temp.new_articles" if table == "articles" else f"[{table}]"
            self.db.conn.executemany(f"insert into {target} ({columns}) values ({marks})", rows)
            rows.clear()

    # ------------------------------------------------------------ removing

    def forget(self, changes: Changes) -> None:
        """Incremental build: drop every row that depends on a file that is
        new, changed or gone (changes.read, changes.gone), so those files can
        be written again as a full build would write them."""
        self.db.conn.executemany("update raw_files set mtime_ns = ? where path = ?",
                                 [(mtime, path) for path, mtime in changes.touched.items()])
        self.db.conn.executemany("delete from raw_files where path = ?",
                                 [(path,) for path in changes.read + changes.gone])
        self._forget_articles(changes.articles)

    def forget_articles(self, keys: set[str]) -> list[str]:
        """Drop articles that unchanged files hold and their files' rows;
        returns those files, to be read again with the new ones."""
        self.flush()
        paths = [path for key in sorted(keys) for (path,) in
                 self.db.execute("select path from raw_files where article_id = ?", [key])]
        self.db.conn.executemany("delete from raw_files where path = ?", [(p,) for p in paths])
        self._forget_articles(keys)
        return paths

    def _forget_articles(self, keys: set[str]) -> None:
        db = self.db
        db.execute("delete from temp.gone_articles")
        db.conn.executemany("insert into temp.gone_articles (id, url) select id, url from articles where id = ?",
                            [(key,) for key in keys])
        gone = "select id from temp.gone_articles"
        # External content: the index forgets a row only when told its exact text.
        db.execute(f"""insert into [{FTS_TABLE}] ([{FTS_TABLE}], rowid, body_index, title_index)
                       select 'delete', rowid, index_body(title, body), index_title(title)
                       from articles where id in ({gone})""")
        db.execute(f"""insert or ignore into temp.touched_tags
                       select tag_id from article_tags where article_id in ({gone})""")
        db.execute("insert or ignore into temp.gone_urls select url from temp.gone_articles where url is not null")
        for table in ("paragraphs", "links", "article_tags"):
            db.execute(f"delete from [{table}] where article_id in ({gone})")
        db.execute(f"delete from articles where id in ({gone})")

    # ------------------------------------------------------------ finishing

    def finish(self, map_: Callable = map) -> None:
        """Number and index the new articles, resolve links to articles in
        the archive, and analyse. map_ runs the indexing (a process pool's
        map spreads it over every core)."""
        self.flush()
        db = self.db
        db.execute("create temp table added as select id from temp.new_articles")
        first = db.execute(f"select {DATE_ORDER} from temp.new_articles order by {DATE_ORDER} limit 1").fetchone()
        last = db.execute(f"select {DATE_ORDER}, rowid from articles order by rowid desc limit 1").fetchone()
        count = db.execute("select count(*) from articles").fetchone()[0]
        if last and (last[2] != count or first and tuple(first) < tuple(last[:2])):
            # Articles were removed, or one is older than the newest: number
            # them all again, so date_order is always 1..N as a full build has it.
            db.execute("insert into temp.new_articles select * from articles")
            db.execute("delete from articles")
            db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}]) values ('delete-all')")
        after = db.execute("select coalesce(max(rowid), 0) from articles").fetchone()[0]
        columns = ", ".join(f"[{c}]" for c in SCHEMA["articles"][0] if c != "date_order")
        db.execute(f"""insert into articles (rowid, date_order, {columns})
                       select {after} + row_number() over win, {after} + row_number() over win, {columns}
                       from temp.new_articles window win as (order by {DATE_ORDER}) order by {DATE_ORDER}""")
        write_search_index(db, after, map_)
        if self.fresh:
            for table, columns in INDEXES:
                db[table].create_index(columns)
            for sql in INDEX_SQL:
                db.execute(sql)
            self._resolve_links("url in (select url from articles where url is not null)")
            db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}]) values ('optimize')")
            db.execute("ANALYZE")
        else:
            self._finish_incremental()
        db.conn.commit()

    def _resolve_links(self, where: str) -> None:
        """Point the links selected by `where` at the article with their URL,
        or at nothing when the archive has none."""
        self.db.execute(f"""update links set target_article_id = (
                                select id from articles where articles.url = links.url)
                            where {where}""")

    def _finish_incremental(self) -> None:
        db, new = self.db, "select id from temp.added"
        self._resolve_links(f"""url in (select url from temp.gone_urls)
                                or url in (select url from articles where id in ({new}))
                                or article_id in ({new})""")
        # A tag's url is the one the first article carrying it (in file
        # order) links it with, as in a full build.
        db.execute(f"""insert or ignore into temp.touched_tags
                       select tag_id from article_tags where article_id in ({new})""")
        db.execute("""delete from tags where id in (select name from temp.touched_tags)
                      and id not in (select tag_id from article_tags)""")
        db.execute(
            """update tags set url = (
                   select case when links.scheme in ('http', 'https') then links.url end from article_tags
                   join articles on articles.id = article_tags.article_id
                   join links on links.article_id = articles.id and links.kind = 'tag' and links.text = tags.id
                   where article_tags.tag_id = tags.id order by articles.file, links.position limit 1)
               where id in (select name from temp.touched_tags)"""
        )
        db.execute("PRAGMA analysis_limit = 1000")
        db.execute("ANALYZE")


def index_row(row: tuple[int, str, str]) -> tuple[int, str, str]:
    """(rowid, title, body) -> (rowid, body_index, title_index)."""
    rowid, title, body = row
    return (rowid, *index_columns(title, body))


def _register_index_functions(db: sqlite_utils.Database) -> None:
    db.conn.create_function("index_body", 2, lambda title, body: index_columns(title, body)[0], deterministic=True)
    db.conn.create_function("index_title", 1, index_text, deterministic=True)


def write_search_index(db: sqlite_utils.Database, after: int = 0, map_: Callable = map) -> None:
    """Write the search index rows of the articles numbered after `after`,
    through chinese.index_columns (the normalisation that rewrites queries);
    map_ runs it (a process pool's map spreads it over every core)."""
    end = db.execute("select coalesce(max(rowid), 0) from articles").fetchone()[0]
    for low in range(after + 1, end + 1, 1000):
        rows = db.execute("select rowid, title, body from articles where rowid between ? and ?",
                          [low, low + 999]).fetchall()
        db.conn.executemany(f"insert into [{FTS_TABLE}] (rowid, body_index, title_index) values (?, ?, ?)",
                            map_(index_row, rows))


def rebuild_search_index(db: sqlite_utils.Database) -> None:
    """(Re)fill the search index from articles."""
    db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}]) values ('delete-all')")
    write_search_index(db)
    db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}]) values ('optimize')")
