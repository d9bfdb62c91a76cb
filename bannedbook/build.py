"""The build: a raw folder of crawled pages in, bannedbook.db out.

    find files -> read -> decode -> extract   (a map over files, every core)
    -> write (one process, in path order) -> number and index

Every file gets a raw_files row; rejected ones say why. When the database
exists and this code wrote it, only new and changed files are read
(bannedbook/update.py); otherwise, or with full=True, everything is.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from collections import Counter
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

from tqdm import tqdm

from .decode import Rejected, decode, safe_text
from .extract import Article, extract
from .files import file_name, file_state, find_pages, read_file
from .store import BuildError, Store, article_id, atomic_database
from .update import Update, changes_since


@dataclass
class Page:
    """What one file became, made in a worker process."""

    path: str
    sha256: str = ""
    size: int = 0
    encoding: str | None = None
    article: Article | None = None
    reason: str | None = None
    message: str | None = None
    mtime_ns: int | None = None


def read_page(path: Path, raw: Path) -> Page:
    """Read, decode and extract one file. Never raises: whatever goes wrong
    becomes the file's rejection message."""
    page = Page(file_name(path, raw))
    try:
        data = read_file(path, raw)
    except Rejected as rejected:
        page.reason, page.message = rejected.reason, rejected.message
        return page
    page.sha256, page.size = hashlib.sha256(data).hexdigest(), len(data)
    try:
        decoded = decode(data)
        page.encoding = decoded.encoding
        page.article = extract(decoded.text)
        warnings = [decoded.warning] + page.article.warnings
        page.message = "; ".join(w for w in warnings if w) or None
    except Rejected as rejected:
        page.reason, page.message = rejected.reason, rejected.message
    except Exception as error:  # a page must never stop the build
        page.reason, page.message = "extraction-error", f"extraction failed: {type(error).__name__}: {error}"
        page.message = safe_text(page.message)[0]
    if page.path != path.relative_to(raw).as_posix():
        page.message = "; ".join(filter(None, [page.message, "the file name is not UTF-8 (bytes shown as \\xNN)"]))
    return page


def _read(args: tuple[Path, Path]) -> Page:
    path, raw = args
    state = file_state(path)  # before reading: a file changed meanwhile is read again next time
    page = read_page(path, raw)
    page.mtime_ns = state[1] if state else None
    return page


def build(raw: Path, db_path: Path, workers: int | None = None, progress: bool = True,
          full: bool = False) -> Counter:
    """Build db_path from raw; returns the counts the summary prints. Unless
    full, a database this code built at db_path is updated: only new and
    changed files are read, rows of files that are gone are removed."""
    if not raw.is_dir():
        raise BuildError(f"raw folder {raw} is not a directory")
    files = {file_name(path, raw): path for path in find_pages(raw)}
    changes = None if full else changes_since(db_path, files)
    counts: Counter = Counter(files=len(files))
    if changes is not None and not changes:
        return counts + _totals(db_path)  # nothing changed: the database stands
    paths = sorted(files.values()) if changes is None else sorted(files[name] for name in changes.read)
    with atomic_database(db_path, update=changes is not None) as db, Pool(workers or os.cpu_count()) as pool:
        store = Store(db) if changes is None else Update(db, changes)
        counts["removed"] = len(changes.gone) if changes else 0
        held = _write(store, pool, raw, paths, counts, progress)
        if held:  # new files of articles that unchanged files hold: read them all together
            again = store.forget_articles({key for key, _ in held})
            _write(store, pool, raw, sorted({files[name] for name in again} | {p for _, p in held}), counts, False)
        store.finish(lambda function, rows: pool.map(function, rows, chunksize=25))
    return counts + _totals(db_path)


def _write(store: Store, pool: Pool, raw: Path, paths: list[Path], counts: Counter,
           progress: bool) -> list[tuple[str, Path]]:
    """Read paths on every core and write them in path order; returns the
    (article id, path) of pages held back (see update.Update.conflict)."""
    held = []
    pages = pool.imap(_read, [(path, raw) for path in paths], chunksize=16)
    pages = tqdm(pages, total=len(paths), unit="file", disable=not progress, file=sys.stderr)
    for path, page in zip(paths, pages, strict=True):
        counts["read"] += 1
        key = page.article and article_id(page.article)
        if key and store.conflict(key):
            held.append((key, path))
        elif store.add_page(page) == "rejected":
            counts[f"rejected: {page.reason}"] += 1
    return held


def _totals(db_path: Path) -> Counter:
    """Files by status in the database as built (the summary's names for them)."""
    names = {"article": "articles", "duplicate": "duplicates", "rejected": "rejected"}
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("select status, count(*) from raw_files group by status").fetchall()
    return Counter({names[status]: n for status, n in rows})


def summary(counts: Counter, db_path: Path, seconds: float) -> str:
    """The one screen a build ends with."""
    lines = [
        f"Built {db_path} ({db_path.stat().st_size / 1e6:.1f} MB) in {seconds:.1f} s",
        f"  files        {counts['files']:>9,}",
        f"  articles     {counts['articles']:>9,}",
        f"  duplicates   {counts['duplicates']:>9,}",
        f"  rejected     {counts['rejected']:>9,}",
    ]
    lines += [f"    {key[10:]:<20} {n:>7,}" for key, n in sorted(counts.items()) if key.startswith("rejected: ")]
    if counts["read"] != counts["files"] or counts["removed"]:
        lines += [f"  read now     {counts['read']:>9,}", f"  removed      {counts['removed']:>9,}"]
    return "\n".join(lines)
