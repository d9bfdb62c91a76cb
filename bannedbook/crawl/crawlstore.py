"""Where a crawl keeps what it fetched: WARC files under RAW/crawl/ and a
small SQLite index of them, RAW/crawl/state.sqlite.

The WARC files are the record; the index only saves reading them. A file is
written as NAME.warc.gz.open and renamed to NAME.warc.gz when closed, so the
build (which reads *.warc.gz) never sees a file being written. Each response
is handed to the operating system before the index says it is stored, in the
same transaction that marks its URL visited, so a crawl killed at any moment
leaves at most the tail of one .open file unaccounted for: the next start
cuts that file back to its last whole request/response pair, indexes what it
holds, drops from the index whatever the cut removed (only a power cut can
leave the index ahead of the file), and closes it. A WARC file the index does
not account for (the index lost, a file copied in) is read and indexed the
same way. Files are fsynced when closed, not per page: the repair makes a
per-page fsync unnecessary.

None of the names here ends in .txt, .htm(l) or .warc(.gz) except closed WARC
files, so the build reads nothing else from RAW/crawl/.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import io
import os
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from bannedbook.errors import CrawlError
from bannedbook.text.urls import normalise_url

FOLDER = "crawl"
BACKFILL = "backfill"  # the web archives' captures (bannedbook/crawl/backfill.py), in a store of the same shape
STATE = "state.sqlite"
LOCK = "crawl.lock"
OPEN = ".open"
WARC_VERSION = "1.0"  # 1.1 adds only sub-second dates; some readers still reject it
WARC_SIZE = 1_000_000_000  # the customary size at which a WARC file is closed and the next begun

# captures holds the StoredResponse rows; the name stays because state files of
# crawls under way already use it (it is a different file from the archive's captures).
SCHEMA = """
create table if not exists crawls (
    id integer primary key, site text not null, started text not null, discovered text, finished text);
create table if not exists warcs (
    name text primary key, crawl integer not null, closed integer not null default 0,
    bytes integer not null default 0);
create table if not exists captures (
    warc text not null, offset integer not null, url text not null, captured text not null,
    status integer not null, etag text, last_modified text, payload_digest text, location text,
    primary key (warc, offset));
create index if not exists captures_url on captures (url);
create table if not exists urls (
    url text primary key, source text, redirects integer not null default 0,
    crawl integer, outcome text, reason text, detail text, status integer);
create table if not exists sitemaps (url text primary key, lastmod text, taken text);
"""
# Columns added since state files were first written: added to an older file on opening.
ADDED = {"urls": {"lastmod": "text"}}


@dataclass
class Exchange:
    """One HTTP request and the response as received (body as transferred:
    still Content-Encoded, chunked framing removed)."""
    url: str
    protocol: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    request_line: str
    request_headers: list[tuple[str, str]]
    whole: bool = True  # False: the body was cut at a size limit (only ever a document read, never stored)


@dataclass
class StoredResponse:
    """A response the crawler wrote, as its index keeps it: where in which WARC
    file, and the headers a conditional request asks about. (What the build
    reads from any web archive is records.Capture.)"""

    url: str
    captured: str
    status: int
    etag: str | None
    last_modified: str | None
    payload_digest: str | None
    location: str | None
    warc: str = ""
    offset: int = 0


def _header(headers: StatusAndHeaders | None, name: str) -> str | None:
    return headers.get_header(name) if headers else None


def _stored_response(record, warc: str, offset: int) -> StoredResponse:
    http = record.http_headers
    return StoredResponse(url=record.rec_headers.get_header("WARC-Target-URI"),
                          captured=record.rec_headers.get_header("WARC-Date"),
                          status=int(http.get_statuscode() or 0) if http else 0,
                          etag=_header(http, "ETag"), last_modified=_header(http, "Last-Modified"),
                          payload_digest=record.rec_headers.get_header("WARC-Payload-Digest"),
                          location=_header(http, "Location"), warc=warc, offset=offset)


def _whole_gzip_member(path: Path, offset: int, length: int) -> bool:
    """warcio reads a gzip member cut short without complaint; a strict reader
    (gzip -t, most WARC tools) does not, so check the member's end is there."""
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        # in pieces, kept nowhere: a member copied in from elsewhere may be a bomb
        while not unzip.eof:
            out = unzip.decompress(data, 1 << 16)
            data = unzip.unconsumed_tail
            if not (out or data):
                break
    except zlib.error:
        return False
    return unzip.eof and not unzip.unused_data


def read_pairs(path: Path) -> tuple[int, list[StoredResponse], str | None]:
    """Read a WARC file we wrote: the byte offset where its last whole
    record group ends (the warcinfo, or a response and the request, or for
    a backfill the metadata record, that follows it), the responses before that point, and why reading stopped
    early (None when the file is whole)."""
    end, captures, pending = 0, [], None
    try:
        with path.open("rb") as fh:
            records = ArchiveIterator(fh, check_digests=True)
            for record in records:
                # read as stored (digests are of these bytes), in pieces: never
                # the decoded content, which a file copied in could make a bomb
                while record.raw_stream.read(1 << 16):
                    pass
                offset, length = records.get_record_offset(), records.get_record_length()
                # each record is one gzip member, written whole: a whole member is a whole
                # record (warcio reads a cut one without complaint, and skips its digest check)
                if record.digest_checker.passed is False or not _whole_gzip_member(path, offset, length):
                    return end, captures, f"record at offset {offset} is incomplete"
                kind = record.rec_type
                if kind == "response":
                    pending = _stored_response(record, path.name.removesuffix(OPEN), offset)
                    continue
                if kind in ("request", "metadata") and pending is not None:
                    captures.append(pending)
                elif kind != "warcinfo":
                    return end, captures, f"unexpected {kind} record at offset {offset}"
                pending, end = None, offset + length
    except (ArchiveLoadFailed, zlib.error, EOFError, ValueError, OSError) as error:
        return end, captures, f"unreadable after offset {end}: {error}"
    if pending is not None:
        return end, captures, f"response at offset {pending.offset} has no request record after it"
    size = path.stat().st_size
    if end < size:  # a record cut inside its gzip header is not even seen as one
        return end, captures, f"{size - end} bytes after the last whole record"
    return end, captures, None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class CrawlStore:
    """RAW/crawl/: the WARC files and their index, locked to one crawler."""

    FOLDER = FOLDER
    PREFIX = "bannedbook"  # of the WARC files' names
    EXTRA = ""  # a subclass's own tables

    def __init__(self, raw: Path, warc_size: int = WARC_SIZE) -> None:
        self.folder = Path(raw) / self.FOLDER
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CrawlError(f"cannot make {self.folder}: {error.strerror}") from error
        self._lock = (self.folder / LOCK).open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise CrawlError(f"another {self.FOLDER} is writing to {self.folder}") from None
        try:
            self.db = sqlite3.connect(self.folder / STATE, isolation_level=None)
            self.db.execute("pragma journal_mode = wal")
            self.db.execute("pragma synchronous = normal")  # a killed process loses no commit
            self.db.executescript(SCHEMA + self.EXTRA)
            for table, columns in ADDED.items():
                have = {row[1] for row in self.db.execute(f"pragma table_info({table})")}
                for name, kind in columns.items():
                    if name not in have:
                        self.db.execute(f"alter table {table} add column {name} {kind}")
        except sqlite3.DatabaseError as error:
            raise CrawlError(f"{self.folder / STATE} is not a {self.FOLDER} state file ({error}); "
                             "move it away and it is rebuilt from the WARC files") from error
        self.warc_size = warc_size
        self._also = ""
        self.warcinfo: dict[str, str] = {}
        self._file = None
        self._name = ""
        self.recovered: list[str] = []  # what the start-up repair did, for the summary
        self._recover()

    # -- crawls --------------------------------------------------------------

    def begin(self, site: str) -> tuple[int, bool]:
        """The crawl to run: the unfinished one of this site, else a new one.
        Returns its id and whether its discovery is done."""
        row = self.db.execute("select id, discovered from crawls where site = ? and finished is null "
                              "order by id desc limit 1", (site,)).fetchone()
        if row:
            return row[0], row[1] is not None
        return self.db.execute("insert into crawls (site, started) values (?, ?)", (site, _now())).lastrowid, False

    def discovered(self, crawl: int, found: Iterable[tuple[str, str, str | None]],
                   sitemaps: dict[str, str | None] | None = None, taken: str = "") -> int:
        """Queue what discovery found (URLs already known keep their state,
        and take the newer lastmod), note the lastmod of each sitemap read
        and which of its URLs were taken (`taken`: discovery's options),
        then mark the crawl's discovery done: a resumed crawl skips it."""
        count = 0
        with self.db:
            for url, source, lastmod in found:
                known = self.db.execute("select 1 from urls where url = ?", (url,)).fetchone()
                self.db.execute("insert into urls (url, source, lastmod) values (?, ?, ?) on conflict (url) do update "
                                "set lastmod = coalesce(excluded.lastmod, lastmod)", (url, source, lastmod))
                count += not known
            self.db.executemany("insert or replace into sitemaps (url, lastmod, taken) values (?, ?, ?)",
                                [(url, lastmod, taken) for url, lastmod in (sitemaps or {}).items()])
            self.db.execute("update crawls set discovered = ? where id = ?", (_now(), crawl))
        return count

    def sitemap_unchanged(self, url: str, lastmod: str, taken: str = "") -> bool:
        """Whether the sitemap was read, taking the same URLs from it, when its
        index already gave this lastmod (or a later one)."""
        row = self.db.execute("select lastmod, taken from sitemaps where url = ?", (url,)).fetchone()
        return bool(row and row[0] and lastmod <= row[0] and row[1] == taken)

    def finish(self, crawl: int) -> None:
        self.db.execute("update crawls set finished = ? where id = ?", (_now(), crawl))

    # -- urls ----------------------------------------------------------------

    def pending(self, crawl: int) -> list[tuple[str, str | None]]:
        """The URLs this crawl has still to visit, with their lastmod: the most
        recently changed first (a crawl cut short holds the latest articles),
        then those no sitemap dates, in the order they were found."""
        return list(self.db.execute("select url, lastmod from urls where crawl is null or crawl < ? "
                                    "order by lastmod is null, lastmod desc, rowid", (crawl,)))

    def visited(self, url: str, crawl: int) -> bool:
        row = self.db.execute("select crawl from urls where url = ?", (url,)).fetchone()
        return bool(row and row[0] is not None and row[0] >= crawl)

    def redirects(self, url: str) -> int:
        row = self.db.execute("select redirects from urls where url = ?", (url,)).fetchone()
        return row[0] if row else 0

    def queue_redirect(self, url: str, source: str, redirects: int) -> None:
        self.db.execute("insert into urls (url, source, redirects) values (?, ?, ?) "
                        "on conflict (url) do update set redirects = max(redirects, excluded.redirects)",
                        (url, source, redirects))

    def mark(self, url: str, crawl: int, outcome: str, reason: str | None = None, detail: str | None = None,
             status: int | None = None) -> None:
        self.db.execute(
            "insert into urls (url, crawl, outcome, reason, detail, status) values (?, ?, ?, ?, ?, ?) "
            "on conflict (url) do update set crawl = excluded.crawl, outcome = excluded.outcome, "
            "reason = excluded.reason, detail = excluded.detail, status = excluded.status",
            (url, crawl, outcome, reason, detail, status))

    def latest(self, url: str) -> StoredResponse | None:
        """The newest stored 200 response for url, this store's or (see
        read_also) a backfill's: what a conditional request asks about, and
        what a sitemap's lastmod is compared with. A backfill's has its file
        named BACKFILL/NAME."""
        columns = "url, captured, status, etag, last_modified, payload_digest, location"
        query = f"select {columns}, warc, offset from main.captures where url = :url and status = 200"
        if self._also:
            query += (f" union all select {columns}, '{self._also}/' || warc, offset from also.captures "
                      "where url = :url and status = 200")
        row = self.db.execute(f"{query} order by captured desc limit 1", {"url": url}).fetchone()
        return StoredResponse(*row) if row else None

    def read_also(self, folder: str) -> None:
        """Count the captures another store under RAW (a backfill's) holds as
        this store's own when asking what is known of a URL (read only)."""
        state = self.folder.parent / folder / STATE
        if state.is_file():
            self.db.execute("attach database ? as also", (f"file:{state}?mode=ro",))
            self._also = folder

    # -- WARC files ----------------------------------------------------------

    def save(self, crawl: int, exchange: Exchange, outcome: str) -> StoredResponse:
        """Append the response and its request to the open WARC file, then
        index it and mark its URL visited in one transaction."""
        writer = WARCWriter(io.BytesIO(), gzip=True, warc_version=WARC_VERSION)
        http = StatusAndHeaders(f"{exchange.status} {exchange.reason}", exchange.headers, protocol=exchange.protocol)
        response = writer.create_warc_record(exchange.url, "response", payload=io.BytesIO(exchange.body),
                                             length=len(exchange.body), http_headers=http)
        request = writer.create_warc_record(exchange.url, "request", http_headers=StatusAndHeaders(
            exchange.request_line, exchange.request_headers, is_http_request=True))
        writer.write_request_response_pair(request, response)
        return self.append(crawl, writer, response, outcome)

    def append(self, crawl: int, writer: WARCWriter, response, outcome: str, then=None) -> StoredResponse:
        """Append the record pair writer holds (response first) to the open
        WARC file, then index the response and mark its URL visited, and run
        then(capture) (a subclass's own bookkeeping), in one transaction."""
        if self._file is None:
            self._open(crawl)
        offset = self._file.tell()
        # one write of the whole pair: a kill leaves it whole or cut, never interleaved
        self._file.write(writer.out.getvalue())
        self._file.flush()
        capture = _stored_response(response, self._name, offset)
        with self.db:
            self._index(capture, crawl, outcome)
            if then is not None:
                then(capture)
            # how much of the file the index accounts for: a file that ends up longer
            # (interrupted between the write and this commit) is read again on start
            self.db.execute("update warcs set bytes = ? where name = ?", (self._file.tell(), self._name))
        if self._file.tell() >= self.warc_size:
            self.close_file()
        return capture

    def _index(self, capture: StoredResponse, crawl: int, outcome: str) -> None:
        self.db.execute("insert or ignore into captures (warc, offset, url, captured, status, etag, last_modified, "
                        "payload_digest, location) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (capture.warc, capture.offset, capture.url, capture.captured, capture.status,
                         capture.etag, capture.last_modified, capture.payload_digest, capture.location))
        self.db.execute(
            "insert into urls (url, crawl, outcome, status, detail) values (?, ?, ?, ?, ?) "
            "on conflict (url) do update set crawl = excluded.crawl, outcome = excluded.outcome, "
            "status = excluded.status, detail = excluded.detail, reason = null "
            "where urls.crawl is null or urls.crawl <= excluded.crawl",
            (capture.url, crawl, outcome, capture.status, capture.location))

    def _open(self, crawl: int) -> None:
        serial = self.db.execute("select count(*) from warcs").fetchone()[0] + 1
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
        self._name = f"{self.PREFIX}-{stamp}-{crawl:04d}-{serial:05d}.warc.gz"
        # the index knows the file (and its crawl) before a byte of it exists
        self.db.execute("insert into warcs (name, crawl) values (?, ?)", (self._name, crawl))
        self._file = (self.folder / (self._name + OPEN)).open("xb")
        writer = WARCWriter(self._file, gzip=True, warc_version=WARC_VERSION)
        writer.write_record(writer.create_warcinfo_record(self._name, self.warcinfo))
        self._file.flush()
        self.db.execute("update warcs set bytes = ? where name = ?", (self._file.tell(), self._name))

    def close_file(self) -> None:
        """Close the WARC file being written and give it its final name."""
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())  # the data is on disk before its final name is
        self._file.close()
        self._file = None
        self._finalise(self._name)

    def _finalise(self, name: str) -> None:
        os.replace(self.folder / (name + OPEN), self.folder / name)
        directory = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)
        self.db.execute("update warcs set closed = 1 where name = ?", (name,))

    def close(self) -> None:
        self.close_file()
        self.db.close()
        self._lock.close()

    def warc_files(self) -> list[Path]:
        return sorted(self.folder.glob("*.warc.gz"))

    # -- start-up repair -----------------------------------------------------

    def _recover(self) -> None:
        for path in sorted(self.folder.glob(f"*.warc.gz{OPEN}")):
            name = path.name.removesuffix(OPEN)
            end, captures, problem = read_pairs(path)
            if problem:
                with path.open("r+b") as fh:
                    fh.truncate(end)
                    os.fsync(fh.fileno())
                self.recovered.append(f"{name}: cut back to {end} bytes ({problem})")
            crawl = self._crawl_of(name)
            with self.db:
                # the index may know records the cut removed (a disk that lost its last
                # writes): their URLs are fetched again
                lost = [url for (url,) in self.db.execute(
                    "select url from captures where warc = ? and offset >= ?", (name, end))]
                self.db.execute("delete from captures where warc = ? and offset >= ?", (name, end))
                self.db.executemany("update urls set crawl = null, outcome = null where url = ?",
                                    [(url,) for url in lost])
                for capture in captures:
                    self._reindex(capture, crawl)
                if captures:
                    self.db.execute("update warcs set bytes = ? where name = ?", (end, name))
                    self._finalise(name)
                else:
                    path.unlink()
                    self.db.execute("delete from warcs where name = ?", (name,))
        indexed = dict(self.db.execute("select name, bytes from warcs where closed = 1"))
        for path in self.warc_files():
            if indexed.get(path.name) == path.stat().st_size:
                continue
            end, captures, problem = read_pairs(path)
            if problem:
                self.recovered.append(f"{path.name}: indexed up to offset {end} ({problem})")
            crawl = self._crawl_of(path.name)
            with self.db:
                for capture in captures:
                    self._reindex(capture, crawl)
                self.db.execute("insert into warcs (name, crawl, closed, bytes) values (?, ?, 1, ?) "
                                "on conflict (name) do update set closed = 1, bytes = excluded.bytes",
                                (path.name, crawl, path.stat().st_size))

    def _crawl_of(self, name: str) -> int:
        """The crawl a file was written in; 0 (before every crawl) for a file
        the index does not know, so its pages are asked again, conditionally."""
        row = self.db.execute("select crawl from warcs where name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def _reindex(self, capture: StoredResponse, crawl: int) -> None:
        if self.db.execute("select 1 from captures where warc = ? and offset = ?",
                           (capture.warc, capture.offset)).fetchone():
            return
        outcome = "redirected" if 300 <= capture.status < 400 else "stored"
        self._index(capture, crawl, outcome)
        if capture.location and outcome == "redirected":
            target = normalise_url(capture.location, capture.url)
            if target:
                self.db.execute("insert or ignore into urls (url, source, redirects) values (?, ?, 1)",
                                (target, capture.url))


# What a backfill keeps beside the crawler's tables: each archive's listing, page by
# page, and what became of each capture listed.
BACKFILL_TABLES = """
create table if not exists listings (
    run integer not null, archive text not null, endpoint text not null, page integer not null, rows integer,
    primary key (run, archive, endpoint, page));
create table if not exists wanted (
    archive text not null, url text not null, timestamp text not null, digest text, status text, mime text,
    filename text, offset integer, length integer, line text, outcome text, reason text,
    primary key (archive, url, timestamp, filename, offset));
create index if not exists wanted_digest on wanted (digest);
create index if not exists captures_digest on captures (payload_digest);
"""


class BackfillStore(CrawlStore):
    """RAW/backfill/ (bannedbook/crawl/backfill.py): WARC files and their index as the crawler keeps them,
    plus what each archive listed and what became of each capture."""

    FOLDER = BACKFILL
    PREFIX = "backfill"
    EXTRA = BACKFILL_TABLES
