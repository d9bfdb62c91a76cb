"""Build bannedbook.db from a folder of crawled pages.

    python build_db.py [RAW] [DB]      (defaults: raw/ and bannedbook.db)

Read every *.txt/*.htm/*.html under RAW, decode it, extract the article,
write articles, paragraphs, tags and links, then index them for Chinese
search. Every file gets a row in raw_files, rejected ones with the reason.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

from tqdm import tqdm

from bannedbook.decode import Rejected, decode
from bannedbook.extract import Article, extract
from bannedbook.store import BuildError, Store, atomic_database

PAGE_SUFFIXES = {".txt", ".htm", ".html"}


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


def find_pages(raw: Path) -> list[Path]:
    return sorted(p for p in raw.rglob("*") if p.suffix.lower() in PAGE_SUFFIXES)


def read_page(path: Path, raw: Path) -> Page:
    """Read, decode and extract one file. Never raises: whatever goes wrong
    becomes the file's rejection message."""
    page = Page(path.relative_to(raw).as_posix())
    try:
        data = path.read_bytes()
    except OSError as error:
        page.reason, page.message = "unreadable", f"cannot read the file: {error.strerror or error}"
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
    return page


def _read(args: tuple[Path, Path]) -> Page:
    return read_page(*args)


def build(raw: Path, db_path: Path, workers: int | None = None, progress: bool = True) -> Counter:
    """Build db_path from raw; returns the counts the summary prints."""
    if not raw.is_dir():
        raise BuildError(f"raw folder {raw} is not a directory")
    paths = find_pages(raw)
    counts: Counter = Counter(files=len(paths))
    workers = workers or os.cpu_count() or 1
    with atomic_database(db_path) as db, Pool(workers) as pool:
        store = Store(db)
        first_by_hash: dict[str, Page] = {}
        pages = pool.imap(_read, [(p, raw) for p in paths], chunksize=16)
        for page in tqdm(pages, total=len(paths), unit="file", disable=not progress, file=sys.stderr):
            original = first_by_hash.setdefault(page.sha256, page) if page.sha256 else page
            if page.article is None:
                counts["rejected"] += 1
                counts[f"rejected: {page.reason}"] += 1
                store.add_file(page.path, page.sha256, page.size, page.encoding, "rejected",
                               message=page.message)
                continue
            key, new = store.add_article(page.article, page.path)
            status = "article" if new else "duplicate"
            message = page.message
            if not new:
                first = original.path if original is not page else store.seen_articles[key]
                message = "; ".join(filter(None, [f"same article as {first}", message]))
            counts[status + "s"] += 1
            store.add_file(page.path, page.sha256, page.size, page.encoding, status, key, message)
        store.finish()
    return counts


def summary(counts: Counter, db_path: Path, seconds: float) -> str:
    lines = [
        f"Built {db_path} ({db_path.stat().st_size / 1e6:.1f} MB) in {seconds:.1f} s",
        f"  files read   {counts['files']:>9,}",
        f"  articles     {counts['articles']:>9,}",
        f"  duplicates   {counts['duplicates']:>9,}",
        f"  rejected     {counts['rejected']:>9,}",
    ]
    lines += [f"    {key[10:]:<20} {n:>7,}" for key, n in sorted(counts.items()) if key.startswith("rejected: ")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", default="raw", type=Path)
    parser.add_argument("db", nargs="?", default="bannedbook.db", type=Path)
    parser.add_argument("--workers", type=int, help="processes to extract with (default: all cores)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        counts = build(args.raw, args.db, args.workers, progress=sys.stderr.isatty())
    except BuildError as error:
        print(f"build_db: error: {error}", file=sys.stderr)
        return 2
    print(summary(counts, args.db, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
