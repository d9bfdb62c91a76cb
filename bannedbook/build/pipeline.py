"""The build: a raw folder of crawled pages and web archives in,
bannedbook.db out.

    find inputs -> read -> decode -> extract   (a map over inputs, every core)
    -> write (one process, in input order) -> number and index
    -> days, facet counts and lexicon (the research and summary tables)

An input is a page file or a record of a WARC file. Every input gets a
raw_files row; rejected ones say why. When the database exists and this
code wrote it, only new and changed files are read (bannedbook/build/update.py);
otherwise, or with full=True, everything is.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from pathlib import Path

import sqlite_utils
from tqdm import tqdm

from bannedbook.build.extract import extract
from bannedbook.build.files import (
    MAX_PAGE_BYTES,
    file_name,
    file_state,
    find_inputs,
    is_arc,
    is_warc,
    open_file,
    order,
    read_file,
    record_name,
    split_name,
)
from bannedbook.build.fingerprint import pipeline_version
from bannedbook.build.update import Update, changes_since
from bannedbook.build.warc import Damaged, Record, record_at, records
from bannedbook.build.workers import make_pool
from bannedbook.db.days import write_days
from bannedbook.db.store import Store, article_id, atomic_database, recover
from bannedbook.db.summaries import write_summaries
from bannedbook.db.versionstore import write_version_terms
from bannedbook.errors import BuildError, Rejected
from bannedbook.records import CAPTURE_KINDS, Capture, Page, WarcFile
from bannedbook.research.lexicon import (
    Lexicon,
    LexiconReport,
    lexicon_is_current,
    read_lexicons,
    update_lexicon,
    write_lexicon,
)
from bannedbook.research.stories import signature
from bannedbook.research.versions import text_hash, text_parts
from bannedbook.text.decode import decode, safe_line, safe_text
from bannedbook.text.urls import normalise_url, site_hosts

HTML_TYPES = ("text/html", "application/xhtml+xml")



def _page_from(page: Page, data: bytes, http_charset: str | None = None) -> Page:
    """Decode and extract data into page. Never raises: whatever goes wrong
    becomes the rejection message."""
    page.sha256, page.size = hashlib.sha256(data).hexdigest(), len(data)
    try:
        decoded = decode(data, http_charset)
        page.encoding = decoded.encoding
        page.article = extract(decoded.text, page_url=page.capture.url if page.capture else None)
        page.signature = signature(page.article.body)
        page.text_sha256 = text_hash(text_parts(page.article.title, page.article.body))
        warnings = [decoded.warning] + page.article.warnings
        page.message = "; ".join(w for w in warnings if w) or None
    except Rejected as rejected:
        page.reason, page.message = rejected.reason, rejected.message
    except Exception as error:  # a page must never stop the build
        page.reason, page.message = "extraction-error", f"extraction failed: {type(error).__name__}: {error}"
        page.message = safe_text(page.message)[0]
    return page


def read_page(path: Path, raw: Path) -> Page:
    """Read, decode and extract one page file. Never raises."""
    page = Page(file_name(path, raw))
    try:
        data = read_file(path, raw)
    except Rejected as rejected:
        page.reason, page.message = rejected.reason, rejected.message
        return page
    _page_from(page, data)
    if page.path != path.relative_to(raw).as_posix():
        page.message = "; ".join(filter(None, [page.message, "the file name is not UTF-8 (bytes shown as \\xNN)"]))
    return page


# What the records that are not captures of pages are, for the reader of raw_files.
SKIPPED = {
    "warcinfo": "describes the web-archive file (the crawl, its software)",
    "request": "the HTTP request the crawler sent",
    "metadata": "the crawler's notes on a capture (links found, fetch times)",
    "conversion": "a conversion of another record's content",
    "continuation": "the continuation of a record segmented over several files",
}


def record_page(name: str, record: Record) -> Page:
    """What a WARC or ARC record became. A 200 HTML response (or an HTML
    resource) is a page; a revisit waits for the writer; a record of
    another type is skipped, saying what it is; anything else is rejected
    with the reason (HTTP status, media type, what kind of capture)."""
    url = (normalise_url(record.url) or record.url) if record.url else None
    page = Page(name, capture=Capture(url, record.captured, record.kind, record.payload_digest, record.refers_to,
                                      record.provenance))
    notes = [note for note in (*record.notes, record.date_error) if note]
    reject = None
    scheme = (record.url or "").partition(":")[0].lower()
    if record.kind not in CAPTURE_KINDS and not record.problem:
        kind = safe_line(record.kind)[:40]
        what = SKIPPED.get(kind, "a record type that holds no page")
        page.skipped, page.reason = True, kind
        page.message = f"{kind} record: {what}; not a page" + "".join(f"; {note}" for note in notes)
        return page
    if record.problem:  # cut short, damaged, too large: whatever its type, it could not be read
        reject = record.problem
    elif record.kind == "revisit":
        page.message = "; ".join(notes) or None
        return page
    elif record.kind == "response" and not record.http:
        if scheme == "dns":
            reject = ("dns", f"a DNS lookup ({record.url[:200]}), not a web page")
        elif scheme not in ("http", "https", ""):
            reject = (scheme[:20], f"a {scheme[:20]}: capture, not an HTTP response")
        else:
            reject = ("not-http", "the response holds no HTTP status line: not an HTTP response")
    elif record.kind == "response" and record.status != 200:
        where = f" to {record.location[:500]}" if record.location and record.status in (301, 302, 303, 307, 308) else ""
        reject = (f"HTTP {record.status}", f"the capture is an HTTP {record.status} response{where}, not a page")
    elif record.media_type and record.media_type not in HTML_TYPES:
        reject = (record.media_type, f"the capture is {record.media_type}, not an HTML page")
    elif record.payload is None:
        reject = ("too-large", f"the page is over {MAX_PAGE_BYTES / 1e6:.0f} MB once decoded; pages this large "
                               "are not read")
    if reject:
        page.reason = safe_line(reject[0])
        page.message = safe_line("; ".join([reject[1], *notes]))  # header values may hold control characters
        page.size = record.payload_bytes
        return page
    _page_from(page, record.payload, record.charset)
    page.message = "; ".join(filter(None, [page.message, *notes])) or None
    return page


# What the workers are handed, in write order (a WarcFile, after its
# records, passes through them as it is).
@dataclass
class PageFile:
    """A page file, read whole by the worker."""

    name: str
    path: Path
    raw: Path


@dataclass
class WarcRecord:
    """A WARC or ARC record, its payload read by the main process."""

    name: str
    record: Record


@dataclass
class Unreadable:
    """An input that could not be read (a record that cannot be read again)."""

    name: str
    error: Rejected


WorkItem = PageFile | WarcRecord | Unreadable | WarcFile


def _read(item: WorkItem) -> Page | WarcFile:
    """One input, in a worker process."""
    if isinstance(item, PageFile):
        state = file_state(item.path)  # before reading: a file changed meanwhile is read again next time
        page = read_page(item.path, item.raw)
        page.mtime_ns = state[1] if state else None
        return page
    if isinstance(item, WarcRecord):
        return record_page(item.name, item.record)
    if isinstance(item, Unreadable):
        return Page(item.name, reason=item.error.reason, message=item.error.message)
    return item  # a WarcFile


class _Budget:
    """Bytes of WARC payloads read but not yet written: reading waits while
    there are too many, so a WARC of any size streams through in bounded
    memory. Reading and writing run in two threads of the main process."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self.condition = threading.Condition()

    def take(self, size: int) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.used == 0 or self.used + size <= self.limit)
            self.used += size

    def give(self, size: int) -> None:
        with self.condition:
            self.used -= size
            self.condition.notify_all()


def _items(names: Iterable[str], files: dict[str, Path], raw: Path, budget: _Budget, bar: tqdm) -> Iterator[WorkItem]:
    """What the workers read, in write order: page files by path, WARC
    records with their payload read here (a WARC is one stream: this runs
    in the pool's feeding thread, and the bar moves as a WARC is read), a
    WarcFile after each whole WARC."""
    for name in names:
        file, offset = split_name(name)
        path = files[file]
        if not is_warc(file):
            yield PageFile(name, path, raw)
        elif offset is not None:
            try:
                record = record_at(open_file(path, raw, limit=None), offset, MAX_PAGE_BYTES, is_arc(file))
            except (Rejected, Damaged) as error:
                yield Unreadable(name, Rejected("unreadable", f"the record cannot be read again: {error}"))
                continue
            budget.take(record.payload_bytes)
            yield WarcRecord(name, record)
        else:
            yield from _warc_items(file, path, raw, budget, bar)


def _warc_items(name: str, path: Path, raw: Path, budget: _Budget, bar: tqdm) -> Iterator[WorkItem]:
    state = file_state(path)
    size, mtime_ns = state or (0, None)
    digest: list[str] = []
    count, damage, reason = 0, None, "damaged-warc"
    try:
        for record in records(open_file(path, raw, limit=None), MAX_PAGE_BYTES, digest, is_arc(name)):
            count += 1
            budget.take(record.payload_bytes)
            bar.update(record.length)
            yield WarcRecord(record_name(name, record.offset), record)
    except Damaged as error:
        damage, reason = str(error), error.reason
    except Rejected as error:
        damage, reason = error.message, error.reason
    yield WarcFile(name, size, mtime_ns, digest[0] if digest else None, count, damage, reason)


@dataclass
class BuildReport:
    """What a build did, as its summary prints it."""

    files: int = 0  # inputs found under the raw folder
    warc_files: int = 0  # of them WARC or ARC files
    incremental: bool = False  # an update of the database this code built before
    read: int = 0  # inputs (pages and WARC records) read this time
    removed_files: int = 0  # files gone since the last build
    removed_records: int = 0  # WARC records in them
    removed_articles: int = 0  # articles the database no longer has
    lexicon: LexiconReport = field(default_factory=LexiconReport)
    # The database as built: its inputs (files and WARC records) by status.
    articles: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0  # WARC records that are not captures of pages
    records: int = 0  # WARC records
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)


def build(raw: Path, db_path: Path, workers: int | None = None, progress: bool = True,
          full: bool = False, lexicon: Sequence[Path] | Path = (), sites: Sequence[str] = (),
          prune: bool = False) -> BuildReport:
    """Build db_path from raw; returns what the summary prints. Unless
    full, a database this code built at db_path is updated: only new and
    changed files are read, rows of files that are gone are removed.
    lexicon: a CSV file of terms to match, or several (bannedbook/research/lexicon.py).
    sites: hosts whose pages the archive keeps besides the site's own
    (urls.site_hosts); pages of any other host are rejected 'off-site'.
    prune: allow a build that would remove more than half of the articles
    of the database at db_path; without it such a build raises BuildError
    and leaves the database as it was (an empty or mistyped raw folder)."""
    if not raw.is_dir():
        raise BuildError(f"raw folder {raw} is not a directory")
    try:
        hosts = site_hosts([sites] if isinstance(sites, str) else sites)
    except ValueError as error:
        raise BuildError(f"site {error}") from None
    # Before anything else: a lexicon that cannot be used fails the build at once.
    terms = read_lexicons([lexicon] if isinstance(lexicon, str | Path) else lexicon)
    # The workers first: a forked worker keeps a copy of all its parent holds
    # (the list of files of a large crawl is tens of MB), so they are forked
    # before the parent holds anything.
    with make_pool(workers) as pool:
        report = _build(raw, db_path, pool, terms, full, progress, hosts, prune)
    _count_built(db_path, report)
    return report


def _build(raw: Path, db_path: Path, pool: Pool, terms: Lexicon, full: bool, progress: bool,
           hosts: frozenset[str], prune: bool) -> BuildReport:
    recover(db_path)  # what a killed build left, before the database is read
    files = find_inputs(raw)
    changes = None if full else changes_since(db_path, files)
    report = BuildReport(files=len(files), warc_files=sum(map(is_warc, files)), incremental=changes is not None,
                         lexicon=LexiconReport(terms=len(terms.terms)))
    if changes is not None and not changes:
        if not lexicon_is_current(db_path, terms):  # only the lexicon changed: match its changed terms
            with atomic_database(db_path, update=True) as db:
                report.lexicon = update_lexicon(db, terms, "select null where 0", pool, _pool_map(pool))
                write_version_terms(db)
        return report  # nothing changed: the database stands
    had = 0 if prune else _article_count(db_path)
    # Refused at once when it is sure before reading anything: no files at
    # all, or only files gone (nothing read can hold their articles again).
    if had and (not files or changes is not None and not changes.read):
        _refuse_pruning(changes.orphaned if files else had, had, raw, db_path)
    names = sorted(files if changes is None else changes.read, key=order)
    with atomic_database(db_path, update=changes is not None) as db:
        store = Store(db, pipeline_version(), hosts) if changes is None else Update(db, changes, hosts)
        report.removed_files = changes.gone if changes else 0
        report.removed_records = changes.gone_records if changes else 0
        held = _write(store, pool, raw, files, names, report, progress)
        if held:  # new inputs of articles that unchanged ones hold: read them all together
            again = store.forget_articles({key for key, _ in held})
            _write(store, pool, raw, files, sorted(set(again) | {name for _, name in held}, key=order), report, False)
        store.finish(_pool_map(pool))
        report.removed_articles = store.removed() if changes is not None else _removed_articles(db, db_path)
        if had:
            _refuse_pruning(report.removed_articles, had, raw, db_path)
        write_days(db, store.touched_days)
        write_summaries(db, changes=changes is not None)
        if changes is None:
            report.lexicon = write_lexicon(db, terms, pool)
        else:  # only the changed articles, and the lexicon's changed terms
            report.lexicon = update_lexicon(db, terms, store.changed_articles, pool, _pool_map(pool))
        write_version_terms(db)
    return report


def _pool_map(pool: Pool):
    """map over the pool's processes, in order."""
    return lambda function, rows: pool.map(function, rows, chunksize=25)


def _article_count(db_path: Path) -> int:
    """The articles of the database at db_path; 0 when there is none (or
    it is not an archive)."""
    if not db_path.is_file():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
            return conn.execute("select count(*) from articles").fetchone()[0]
    except sqlite3.Error:
        return 0


def _removed_articles(db: sqlite_utils.Database, db_path: Path) -> int:
    """Articles of the database at db_path (untouched while a full build
    writes the new one beside it) that the new one no longer has."""
    if not _article_count(db_path):
        return 0
    db.conn.commit()  # a database is attached only outside a transaction
    db.execute("attach database ? as previous", [str(db_path)])
    try:
        return db.execute("select count(*) from previous.articles where id not in (select id from main.articles)"
                          ).fetchone()[0]
    finally:
        db.execute("detach database previous")


def _refuse_pruning(removed: int, had: int, raw: Path, db_path: Path) -> None:
    """A build that would remove more than half of the archive's articles
    is a mistake until told otherwise (an empty, unmounted or mistyped raw
    folder): it stops, and the database stays as it was."""
    if removed * 2 > had:
        raise BuildError(f"refusing to remove {removed:,} of the {had:,} articles of {db_path} (more than half): "
                         f"is {raw} the right folder? If so, build again with PRUNE=1 (--prune)")


def _write(store: Store, pool: Pool, raw: Path, files: dict[str, Path], names: list[str], report: BuildReport,
           progress: bool) -> list[tuple[str, str]]:
    """Read inputs on every core and write them in order; returns the
    (article id, name) of pages held back (see update.Update.conflict)."""
    held = []
    budget = _Budget(64 << 20)
    total = sum(state[0] for name in names if name in files and (state := file_state(files[name])))
    bar = tqdm(total=total, unit="B", unit_scale=True, disable=not progress, file=sys.stderr)
    for result in pool.imap(_read, _items(names, files, raw, budget, bar), chunksize=4):
        if isinstance(result, WarcFile):
            store.add_warc_file(result)
            continue
        report.read += 1
        if result.capture is None:
            bar.update(result.size)
        else:
            budget.give(result.size if result.capture.kind != "revisit" else 0)
        key = result.article and article_id(result.article)
        if key and store.conflict(key):
            held.append((key, result.path))
        else:
            store.add_page(result)
    bar.close()
    return held


def _count_built(db_path: Path, report: BuildReport) -> None:
    """Inputs by status, and rejected and skipped ones by reason, in the database as built."""
    with closing(sqlite3.connect(db_path)) as conn:
        by_status = dict(conn.execute("select status, count(*) from raw_files group by status"))
        report.articles, report.duplicates = by_status.get("article", 0), by_status.get("duplicate", 0)
        report.rejected, report.skipped = by_status.get("rejected", 0), by_status.get("skipped", 0)
        for status, reason, n in conn.execute("""select status, coalesce(reason, '?'), count(*) from raw_files
                                                 where status in ('rejected', 'skipped') group by status, reason"""):
            (report.rejected_by_reason if status == "rejected" else report.skipped_by_reason)[reason] = n
        conn.create_function("is_record", 1, lambda path: split_name(path)[1] is not None, deterministic=True)
        report.records = conn.execute("select count(*) from raw_files where is_record(path)").fetchone()[0]


def summary(report: BuildReport, db_path: Path, seconds: float) -> str:
    """The one screen a build ends with."""
    lines = [
        f"Built {db_path} ({db_path.stat().st_size / 1e6:.1f} MB) in {seconds:.1f} s",
        f"  files        {report.files:>9,}",
    ]
    if report.warc_files:
        lines.append(f"    WARC/ARC   {report.warc_files:>9,}, holding {report.records:,} records")
    lines += [
        f"  articles     {report.articles:>9,}",
        f"  duplicates   {report.duplicates:>9,}",
        f"  rejected     {report.rejected:>9,}",
    ]
    lines += [f"    {reason:<20} {n:>7,}" for reason, n in sorted(report.rejected_by_reason.items())]
    if report.skipped:  # records that are not captures of pages (warcinfo, request, metadata …)
        lines.append(f"  skipped      {report.skipped:>9,}")
        lines += [f"    {reason:<20} {n:>7,}" for reason, n in sorted(report.skipped_by_reason.items())]
    if report.incremental:
        lines += [f"  read now     {report.read:>9,}",
                  f"  removed      {report.removed_files:>9,} file(s), holding {report.removed_records:,} WARC "
                  f"record(s); {report.removed_articles:,} article(s) removed"]
    lexicon = report.lexicon
    if lexicon.terms:
        found = f", in {lexicon.articles:,} article(s) ({lexicon.pairs:,} article-term pairs)"
        if lexicon.changed_terms is not None:  # an update: what was matched again
            found = (f"; {lexicon.articles:,} changed article(s) and {lexicon.changed_terms:,} changed term(s) "
                     f"matched again ({lexicon.pairs:,} article-term pairs written)")
        lines.append(f"  lexicon      {lexicon.terms:>9,} terms" + (found if lexicon.written else " (unchanged)"))
    lines += [f"    {note}" for note in lexicon.notes]
    return "\n".join(lines)
