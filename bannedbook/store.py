"""Writing the archive: the contract's tables, the search index, and the
atomic swap that means a failed build never leaves a half-written database.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from .chinese import index_text
from .extract import Article

# The search index is external-content FTS5 over articles, so Datasette and
# datasette-search-all find it (they look for content=[articles]). Its columns
# hold bigram text computed by chinese.index_text and are named for what they
# hold: articles has no such columns, so the generic 'rebuild' command (and
# sqlite-utils rebuild-fts) fails loudly instead of silently re-indexing the
# unsegmented text. Rebuild it with rebuild_search_index() below.
# prefix='1' keeps one-character queries (的, 中) fast.
FTS_TABLE = "articles_fts"
FTS_SQL = (
    f"CREATE VIRTUAL TABLE [{FTS_TABLE}] USING FTS5 "
    "(title_index, body_index, content=[articles], prefix='1')"
)
# The ranking search uses: a title hit counts ten times a body hit.
BM25_WEIGHTS = (10.0, 1.0)

SCHEMA = {
    "articles": (
        {
            "id": str, "url": str, "title": str, "author": str, "source": str,
            "source_url": str, "category": str, "site_number": int,
            "published": str, "not_before": str, "year": int, "script": str,
            "body": str, "file": str,
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
         "target_article_id": str},
        {"pk": ("article_id", "position"),
         "foreign_keys": [("article_id", "articles", "id"), ("target_article_id", "articles", "id")]},
    ),
    "raw_files": (
        {"path": str, "sha256": str, "bytes": int, "encoding": str, "status": str,
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


class BuildError(Exception):
    """A build that cannot be done at all (as opposed to a rejected file)."""


def article_id(article: Article) -> str:
    """Stable id: from the canonical URL when the page has one, else from its
    text as written, so the same page in another encoding is the same article
    while a Traditional and a Simplified copy stay two."""
    key = article.url or f"{article.title}\n{article.body}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@contextmanager
def atomic_database(path: Path) -> Iterator[sqlite_utils.Database]:
    """A new database written beside `path` and moved over it only when the
    block completes; on any failure `path` is left as it was."""
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
    """Rows accumulate in batches and are written with sqlite-utils."""

    BATCH = 200

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.pending: dict[str, list[dict]] = {table: [] for table in SCHEMA}
        self.seen_articles: dict[str, str] = {}  # article id -> first file
        self.tags: set[str] = set()
        for table, (columns, options) in SCHEMA.items():
            db[table].create(columns, **options)
        db.execute(FTS_SQL)

    def add_file(self, path: str, sha256: str, size: int, encoding: str | None,
                 status: str, article_id: str | None = None, message: str | None = None) -> None:
        self.pending["raw_files"].append({
            "path": path, "sha256": sha256, "bytes": size, "encoding": encoding,
            "status": status, "article_id": article_id, "message": message,
        })  # fmt: skip

    def add_article(self, article: Article, path: str) -> tuple[str, bool]:
        """Queue an article; returns its id and whether it is new."""
        key = article_id(article)
        if key in self.seen_articles:
            return key, False
        self.seen_articles[key] = path
        day = article.published or article.not_before
        self.pending["articles"].append({
            "id": key, "url": article.url, "title": article.title, "author": article.author,
            "source": article.source, "source_url": article.source_url,
            "category": article.category, "site_number": article.site_number,
            "published": article.published, "not_before": article.not_before,
            "year": int(day[:4]) if day else None, "script": article.script,
            "body": article.body, "file": path,
        })  # fmt: skip
        self.pending["paragraphs"] += [
            {"article_id": key, "position": i, "role": p.role, "text": p.text}
            for i, p in enumerate(article.paragraphs, 1)
        ]
        self.pending["links"] += [
            {"article_id": key, "position": i, "url": link.url, "text": link.text, "kind": link.kind}
            for i, link in enumerate(article.links, 1)
        ]
        for name, url in article.tags:
            if name not in self.tags:
                self.tags.add(name)
                self.pending["tags"].append({"id": name, "name": name, "url": url})
            self.pending["article_tags"].append({"article_id": key, "tag_id": name})
        if len(self.pending["articles"]) >= self.BATCH:
            self.flush()
        return key, True

    def flush(self) -> None:
        # Parents before children, so foreign keys always point at a row.
        for table in ("articles", "tags", "paragraphs", "article_tags", "links", "raw_files"):
            rows = self.pending[table]
            if rows:
                self.db[table].insert_all(rows, batch_size=1000)
                rows.clear()

    def finish(self) -> None:
        """Resolve links to articles in the archive, index, and analyse."""
        self.flush()
        for table, columns in INDEXES:
            self.db[table].create_index(columns)
        self.db.execute(
            """update links set target_article_id = (
                   select id from articles where articles.url = links.url)
               where url in (select url from articles where url is not null)"""
        )
        rebuild_search_index(self.db)
        self.db.execute("ANALYZE")
        self.db.conn.commit()


def rebuild_search_index(db: sqlite_utils.Database) -> None:
    """(Re)fill the search index from articles, through chinese.index_text:
    the same normalisation that rewrites queries."""
    db.conn.create_function("index_text", 1, index_text, deterministic=True)
    db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}]) values ('delete-all')")
    db.execute(
        f"""insert into [{FTS_TABLE}] (rowid, title_index, body_index)
            select rowid, index_text(title), index_text(body) from articles"""
    )
    db.execute(f"insert into [{FTS_TABLE}]([{FTS_TABLE}]) values ('optimize')")
