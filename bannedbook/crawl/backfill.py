"""Backfill: the web archives' captures of the site's articles, politely,
into WARC files under RAW/backfill/ that the build reads like any other.

    bannedbook backfill [SITE] --contact C [--from ia,cc|URL] [--raw DIR] [--rate R]
                        [--since WHEN] [--until WHEN] [--max N]

Where from: the Internet Archive's Wayback CDX API and replay (`ia`), Common
Crawl's index and its WARC files (`cc`), or any pywb collection at URL (its
URL/cdx API and its replay at URL/), which is how the tests and a mirror are
served. The CDX APIs and replay are spoken directly, not through cdx_toolkit:
that library ignores Retry-After (it doubles its own wait up to 60 s), opens a
new connection per request, sends no contact in its User-Agent and keeps its
pacing in module globals; here every host gets the crawler's own Client (one
kept-alive connection, a pause between requests, Retry-After obeyed up to a
ceiling, every body bounded).

What: every capture the archive lists under the site's /bnews/ prefix (SINCE
and UNTIL bound it by capture time) that is an article's URL and a 200, in
order of capture time, each replayed as the archive holds it (Wayback `id_`
mode: the original bytes and headers; Common Crawl: the original record, by
byte range). Each is written as a response record whose WARC-Date is the
archive's capture time and whose headers say where it came from
(Archive-Name, Archive-Timestamp, and the archive's own WARC file and offset
where its index gives them; WARC-Source-URI the address it was fetched
from), followed by a metadata record holding the archive's index line.
Skipped without a request: a capture whose payload digest is already held
(by a crawl or an earlier backfill: the first capture of each version is
kept, so it is dated by when it first appeared) and a capture older than the
crawl's own newest capture of that URL. MAX stops after that many fetches;
the next run goes on.

State is RAW/backfill/state.sqlite beside the files, as for the crawler
(crawlstore.py: the same repair after a kill -9): the listing of each index
is kept as it arrives, and each capture is marked done in the transaction
that indexes its record, so a killed backfill resumes where it was.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from bannedbook.crawl.crawl import NO_CONTACT, Client, Failed, Settings, _terminate
from bannedbook.crawl.crawlstore import FOLDER, STATE, WARC_VERSION, BackfillStore
from bannedbook.errors import CrawlError
from bannedbook.text.urls import SITE, article_kind, normalise_url

# Seconds between requests to each service at least, whatever RATE says: the
# intervals cdx_toolkit (maintained at Common Crawl) keeps to for these hosts.
INTERVALS = {"ia": 6.0, "cc-index": 1.0, "cc-data": 0.55}
IA_CDX = "https://web.archive.org/cdx/search/cdx"
IA_REPLAY = "https://web.archive.org/web/"
CC_COLLINFO = "https://index.commoncrawl.org/collinfo.json"
CC_DATA = "https://data.commoncrawl.org/"
LISTING_BYTES = 200 * 1024 * 1024  # one page of an index's listing, decoded
PAGE_MEDIA = ("text/html", "application/xhtml+xml")
# Headers a Wayback replay adds of its own: not the site's, so not stored.
REPLAY_HEADERS = {"memento-datetime", "link", "content-location", "preference-applied", "server-timing"}
ORIG = "x-archive-orig-"  # how the Internet Archive passes on a header of the site's it did not keep as sent
# Headers that describe the bytes as they came to us, whatever the site sent.
AS_SENT = {"content-length", "content-encoding", "transfer-encoding"}

def digest_of(value: str | None) -> str:
    """A payload digest as the CDX APIs give it (base32 SHA-1, no prefix)."""
    return (value or "").removeprefix("sha1:").strip().upper()


def warc_date(timestamp: str) -> str:
    """A 14-digit Wayback timestamp as a WARC-Date."""
    when = dt.datetime.strptime(timestamp[:14].ljust(14, "0"), "%Y%m%d%H%M%S")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_of(text: str | None) -> str | None:
    """SINCE/UNTIL (2019, 2019-06, 2019-06-30 or a Wayback timestamp) as CDX wants it: digits."""
    if not text:
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < 4 or len(digits) > 14:
        raise ValueError(f"not a date: {text!r} (give 2019, 2019-06, 2019-06-30 or 20190630120000)")
    return digits


def original_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The site's headers from a Wayback id_ replay's: the Internet Archive's
    X-Archive-Orig-* restored (over its own of the same name), the replay's
    own dropped; those that describe the bytes as they came (length,
    encodings) kept as sent, since the body stored is the body received."""
    original = {name.lower()[len(ORIG):] for name, _ in headers if name.lower().startswith(ORIG)}
    kept = []
    for name, value in headers:
        low = name.lower()
        if low.startswith(ORIG):
            if low[len(ORIG):] not in AS_SENT:
                kept.append((name[len(ORIG):], value))
        elif low in AS_SENT or not (low in REPLAY_HEADERS or low.startswith("x-archive-") or low in original
                                    or low == "date"):
            kept.append((name, value))
    return kept


def parse_listing(body: bytes) -> list[dict]:
    """A CDX answer with output=json: pywb's and Common Crawl's one JSON
    object a line, or the Wayback CDX server's one array of arrays, the
    first row naming the fields."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    if text.startswith("["):
        rows = json.loads(text)
        if not rows:
            return []
        names = rows[0]
        return [dict(zip(names, row, strict=False)) for row in rows[1:]]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def page_count(body: bytes) -> int | None:
    """What a showNumPages query answered: a number of pages (the Wayback
    CDX server: a bare number; Common Crawl: {"pages": N, ...}), or None when
    the server ignored the question and listed the captures (a pywb
    collection without a paged index)."""
    text = body.decode("utf-8", "replace").strip()
    if text.isdigit():
        return int(text)
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("pages"), int):
        return value["pages"]
    return None


@dataclass
class Options:
    site: str = SITE
    raw: Path = Path("raw")
    sources: list[str] = field(default_factory=lambda: ["ia", "cc"])
    contact: str = ""
    rate: float = 1.0  # requests per second to each host at most (the archive's own limit may be lower)
    since: str | None = None
    until: str | None = None
    max_captures: int | None = None
    include_mirrors: bool = False
    timeout: float = 60.0
    max_wait: float = 3600.0  # the Internet Archive asks for an hour's pause after a 429
    tries: int = 5
    backoff: float = 5.0
    progress: bool | None = None
    cc_collinfo: str = CC_COLLINFO  # a mirror's, or the tests'
    cc_data: str = CC_DATA
    intervals: dict[str, float] = field(default_factory=lambda: dict(INTERVALS))  # the tests' local archives: 0


class Stop(Exception):
    """An archive asked for a longer pause than we wait: the run ends, the next goes on."""


class Backfill:
    def __init__(self, options: Options, store: BackfillStore) -> None:
        self.options = options
        self.store = store
        self.site = normalise_url(options.site) or options.site
        self.host = urlsplit(self.site).netloc
        self.settings = Settings(site=self.site, raw=options.raw, rate=options.rate, contact=options.contact,
                                 timeout=options.timeout, max_wait=options.max_wait, tries=options.tries,
                                 backoff=options.backoff)
        self.clients: dict[str, Client] = {}
        self.tally: Counter = Counter()
        self.per_archive: dict[str, Counter] = {}
        self.fetched = 0
        self.run_id = 0
        self.crawl_digests = self._crawl_holds()
        self.notes: list[str] = []

    # -- HTTP, one polite client per host -------------------------------------

    def client(self, url: str, interval: float = 0.0) -> Client:
        host = urlsplit(url).netloc
        if host not in self.clients:
            self.clients[host] = Client(self.settings)
        client = self.clients[host]
        client.pacer.interval = max(client.pacer.interval, interval)
        return client

    def get(self, url: str, interval: float, headers: dict[str, str] | None = None, raw: bool = False,
            limit: int | None = None):
        try:
            got = self.client(url, interval).get(url, headers, raw=raw, limit=limit)
        except Failed as failed:
            if failed.reason.startswith("Retry-After over"):
                raise Stop(f"{urlsplit(url).netloc}: {failed.detail}; run again later") from None
            raise
        if got.status == 429:  # still, after every try: going on would only earn a longer block
            raise Stop(f"{urlsplit(url).netloc} still answers 429 after {self.settings.tries} tries; run again later")
        return got

    @property
    def requests(self) -> int:
        return sum(client.pacer.requests for client in self.clients.values())

    # -- what is held already -----------------------------------------------

    def _crawl_holds(self) -> set[str]:
        """The payload digests the crawl holds."""
        state = Path(self.options.raw) / FOLDER / STATE
        if not state.is_file():
            return set()
        db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
        try:
            rows = db.execute("select payload_digest from captures where status = 200").fetchall()
        finally:
            db.close()
        return {digest_of(digest) for (digest,) in rows if digest}

    def held(self, digest: str) -> bool:
        if not digest:
            return False
        if digest in self.crawl_digests:
            return True
        db = self.store.db
        return bool(db.execute("select 1 from wanted where digest = ? and outcome = 'stored' limit 1",
                               (digest,)).fetchone()
                    or db.execute("select 1 from captures where payload_digest = ? limit 1",
                                  (f"sha1:{digest}",)).fetchone())

    # -- listing ------------------------------------------------------------

    def endpoints(self, source: str) -> list[tuple[str, float]]:
        """The CDX APIs to ask for source, with the pause each host needs."""
        if source == "ia":
            return [(IA_CDX, self.options.intervals["ia"])]
        if source == "cc":
            got = self.get(self.options.cc_collinfo, self.options.intervals["cc-index"])
            if got.status != 200:
                raise Failed(f"HTTP {got.status}", self.options.cc_collinfo)
            since, until = timestamp_of(self.options.since), timestamp_of(self.options.until)
            found = []
            for index in json.loads(got.body):
                year = "".join(ch for ch in str(index.get("id", "")) if ch.isdigit())[:4]
                if (since and year and year < since[:4]) or (until and year and year > until[:4]):
                    continue  # a crawl of a year outside SINCE–UNTIL holds no capture within it
                found.append((index["cdx-api"], self.options.intervals["cc-index"]))
            return found
        return [(source.rstrip("/") + "/cdx", 0.0)]

    def query(self, endpoint: str, page: int | None) -> str:
        params = {"url": f"{self.host}/bnews/", "matchType": "prefix", "output": "json"}
        if since := timestamp_of(self.options.since):
            params["from"] = since
        if until := timestamp_of(self.options.until):
            params["to"] = until
        if page is not None:
            params["page"] = str(page)
        return endpoint + "?" + "&".join(f"{k}={quote(v, safe='/:')}" for k, v in params.items())

    def list(self, source: str) -> None:
        """Every capture source's indexes list, into the state file, page by
        page (a listing cut short is taken up at its next page)."""
        for endpoint, interval in self.endpoints(source):
            done = {page for (page,) in self.store.db.execute(
                "select page from listings where run = ? and archive = ? and endpoint = ?",
                (self.run_id, source, endpoint))}
            if -1 in done:  # listed whole
                continue
            got = self.get(self.query(endpoint, None) + "&showNumPages=true", interval, limit=LISTING_BYTES)
            if got.status in (400, 404):  # pywb and the CDX server: nothing captured
                pages, rows = 0, []
            elif got.status != 200:
                raise Failed(f"HTTP {got.status}", endpoint)
            else:
                pages = page_count(got.body)
                rows = parse_listing(got.body) if pages is None else []
            if pages is None:  # the server listed every capture at once
                self._listed(source, endpoint, -1, rows)
                continue
            for page in range(pages):
                if page in done:
                    continue
                got = self.get(self.query(endpoint, page), interval, limit=LISTING_BYTES)
                if got.status not in (200, 400, 404):
                    raise Failed(f"HTTP {got.status}", endpoint)
                self._listed(source, endpoint, page, parse_listing(got.body) if got.status == 200 else [])
            self._listed(source, endpoint, -1, [])

    def _listed(self, source: str, endpoint: str, page: int, rows: list[dict]) -> None:
        with self.store.db as db:
            for row in rows:
                db.execute("insert or ignore into wanted (archive, url, timestamp, digest, status, mime, filename, "
                           "offset, length, line) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (source, row.get("url") or row.get("original"), row.get("timestamp"),
                            digest_of(row.get("digest")), row.get("status") or row.get("statuscode"),
                            row.get("mime") or row.get("mimetype"), row.get("filename") or "",
                            int(row["offset"]) if str(row.get("offset", "")).isdigit() else -1,
                            int(row["length"]) if str(row.get("length", "")).isdigit() else None,
                            json.dumps(row, ensure_ascii=False, sort_keys=True)))
            db.execute("insert or replace into listings (run, archive, endpoint, page, rows) values (?, ?, ?, ?, ?)",
                       (self.run_id, source, endpoint, page, len(rows)))

    # -- fetching -----------------------------------------------------------

    def why_not(self, source: str, url: str, timestamp: str, digest: str, status: str, mime: str) -> str | None:
        """Why a listed capture is not fetched, or None to fetch it."""
        page = normalise_url(url) if url else None
        kind = article_kind(page) if page else None
        if kind is None or urlsplit(page).netloc != self.host:
            return "not an article's URL"
        if kind == "mirror" and not self.options.include_mirrors:
            return "zh-tw mirror"
        if status != "200":
            return f"HTTP {status or 'status unknown'}"
        if (mime or "").split(";")[0].strip().lower() not in PAGE_MEDIA and mime not in ("unk", "", None):
            return f"not a page ({mime})"
        since, until = timestamp_of(self.options.since), timestamp_of(self.options.until)
        if (since and timestamp < since) or (until and timestamp[:len(until)] > until):
            return "outside SINCE–UNTIL"
        # An older capture whose payload the crawl lacks is fetched all the same: it is an earlier version.
        if self.held(digest):
            return "payload already held"
        return None

    def fetch_all(self, source: str, crawl: int) -> bool:
        """Fetch what source listed and is not done; False when MAX stopped it."""
        tally = self.per_archive.setdefault(source, Counter())
        rows = self.store.db.execute(
            "select rowid, url, timestamp, digest, status, mime, filename, offset, length, line from wanted "
            "where archive = ? and (outcome is null or outcome = 'failed') order by timestamp, rowid",
            (source,)).fetchall()
        for rowid, url, timestamp, digest, status, mime, filename, offset, length, line in rows:
            reason = self.why_not(source, url, timestamp, digest, status, mime)
            if reason:
                self._mark(rowid, "skipped", reason)
                tally[reason] += 1
                continue
            if self.options.max_captures is not None and self.fetched >= self.options.max_captures:
                return False
            self.fetched += 1
            try:
                self.fetch_one(source, crawl, rowid, url, timestamp, filename, offset, length, line)
            except Failed as failed:
                self._mark(rowid, "failed", f"{failed.reason}: {failed.detail}"[:500])
                tally[f"failed: {failed.reason}"] += 1
                continue
            tally["stored"] += 1
        return True

    def _mark(self, rowid: int, outcome: str, reason: str | None) -> None:
        self.store.db.execute("update wanted set outcome = ?, reason = ? where rowid = ?", (outcome, reason, rowid))

    def fetch_one(self, source: str, crawl: int, rowid: int, url: str, timestamp: str, filename: str,
                  offset: int, length: int | None, line: str) -> None:
        if source == "cc":
            status, headers, body, protocol, source_uri = self._from_warc(filename, offset, length)
        else:
            status, headers, body, protocol, source_uri = self._replayed(source, url, timestamp)
        if status != 200:
            raise Failed(f"replayed as HTTP {status}", source_uri)
        provenance = {"Archive-Name": source, "Archive-Timestamp": timestamp, "WARC-Source-URI": source_uri}
        if filename and offset >= 0:
            provenance.update({"Archive-Filename": filename, "Archive-Offset": str(offset)})
        writer = WARCWriter(io.BytesIO(), gzip=True, warc_version=WARC_VERSION)
        http = StatusAndHeaders("200 OK", headers, protocol=protocol)
        response = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                             http_headers=http,
                                             warc_headers_dict={"WARC-Date": warc_date(timestamp), **provenance})
        note = writer.create_warc_record(url, "metadata", payload=io.BytesIO(line.encode()),
                                         warc_content_type="application/json", warc_headers_dict={
                                             "WARC-Date": warc_date(timestamp),
                                             "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")})
        writer.write_record(response)
        writer.write_record(note)
        self.store.append(crawl, writer, response, "stored",
                          then=lambda capture: self._mark(rowid, "stored", capture.warc + f"#{capture.offset}"))

    def _replayed(self, source: str, url: str, timestamp: str):
        """The capture from a Wayback replay in id_ mode: the original bytes,
        the original headers (the Internet Archive's X-Archive-Orig-* ones
        restored, its own dropped)."""
        base = IA_REPLAY if source == "ia" else source.rstrip("/") + "/"
        address = f"{base}{timestamp}id_/{url}"
        got = self.get(address, self.options.intervals["ia"] if source == "ia" else 0.0, raw=True)
        if 300 <= got.status < 400:  # to the nearest capture: not the one listed
            location = next((v for k, v in got.headers if k.lower() == "location"), "")
            raise Failed(f"replay redirects (HTTP {got.status})", f"{address} → {location}")
        return got.status, original_headers(got.headers), got.body, got.protocol, address

    def _from_warc(self, filename: str, offset: int, length: int | None):
        """The capture from Common Crawl's own WARC record, read by byte range."""
        if offset < 0 or not length:
            raise Failed("the index gives no byte range", filename)
        address = self.options.cc_data.rstrip("/") + "/" + filename.lstrip("/")
        byte_range = {"Range": f"bytes={offset}-{offset + length - 1}"}
        got = self.get(address, self.options.intervals["cc-data"], byte_range, raw=True, limit=length + 1)
        if got.status != 206:
            raise Failed(f"HTTP {got.status} for a byte range", address)
        try:
            record = next(iter(ArchiveIterator(io.BytesIO(got.body))))
            http = record.http_headers
            body = record.raw_stream.read()
        except (ArchiveLoadFailed, StopIteration, ValueError, OSError) as error:
            raise Failed("not a WARC record", f"{address} at {offset}: {error}") from None
        if http is None or record.rec_type != "response":
            raise Failed("not a response record", f"{address} at {offset}")
        headers = [(k, v) for k, v in http.headers if k.lower() != "transfer-encoding"]
        return int(http.get_statuscode() or 0), headers, body, http.protocol or "HTTP/1.1", \
            f"{address}#{offset}"

    # -- the run ------------------------------------------------------------

    def warcinfo(self) -> dict[str, str]:
        o = self.options
        return {"software": "bannedbook-archive backfill (bannedbook.crawl.backfill)",
                "format": "WARC File Format 1.0",
                "isPartOf": f"bannedbook-archive backfill of {self.site} from web archives",
                "description": "Captures of the site's articles replayed from web archives (Wayback id_ mode or "
                               "the archive's own WARC record): WARC-Date is the archive's capture time; "
                               "Archive-* headers and WARC-Source-URI say where each came from.",
                "http-header-user-agent": self.settings.user_agent, "connections": "1 per host",
                "sources": ",".join(o.sources), "operator": o.contact}

    def run(self) -> bool:
        crawl, _ = self.store.begin(self.site)
        self.run_id = crawl  # a run lists each index once (a resumed run goes on with its listing)
        self.store.warcinfo = self.warcinfo()
        for source in self.options.sources:
            self.list(source)
            if not self.fetch_all(source, crawl):
                return False
        self.store.finish(crawl)
        return True


def summary(backfill: Backfill, finished: bool | None, elapsed: float) -> str:
    state = {True: "finished", False: "stopped at MAX: run again to go on",
             None: "interrupted: run again to go on"}[finished]
    lines = [f"backfill of {backfill.site}: {state}"]
    db = backfill.store.db
    for source in backfill.options.sources:
        listed = db.execute("select count(*) from wanted where archive = ?", (source,)).fetchone()[0]
        tally = backfill.per_archive.get(source, Counter())
        lines.append(f"  {source}: {listed} captures listed; this run stored {tally['stored']}")
        for reason, n in tally.most_common():
            if reason != "stored":
                lines.append(f"    {'skipped, ' if not reason.startswith('failed') else ''}{reason}: {n}")
    for note in backfill.notes + backfill.store.recovered[:5]:
        lines.append(f"  {note}")
    rate = backfill.fetched / elapsed if elapsed else 0.0
    lines.append(f"  captures fetched       {backfill.fetched} in {elapsed:.1f} s: {rate:.2f}/s "
                 f"({backfill.requests} requests)")
    lines.append(f"  WARC files             {len(backfill.store.warc_files())} in {backfill.store.folder}")
    return "\n".join(lines)


def backfill(options: Options, out=sys.stdout) -> bool | None:
    """Run a backfill (or go on with one) and print its summary. True:
    finished; False: stopped at MAX; None: interrupted or told to pause."""
    if not options.contact.strip():
        raise CrawlError(NO_CONTACT.replace("crawl", "backfill"))
    store = BackfillStore(options.raw)
    job = Backfill(options, store)
    start = time.monotonic()
    finished: bool | None = None
    try:
        finished = job.run()
    except KeyboardInterrupt:
        finished = None
    except Stop as stop:
        job.notes.append(f"paused: {stop}")
    except Failed as failed:
        job.notes.append(f"stopped: {failed.reason} ({failed.detail}); run again to go on")
    except BaseException:
        store.close()
        raise
    store.close_file()
    text = summary(job, finished, time.monotonic() - start)
    store.close()
    print(text, file=out)
    return finished


def parser() -> argparse.ArgumentParser:
    default = Options()
    parser = argparse.ArgumentParser(prog="bannedbook backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", default=default.site, help=f"the site (default {default.site})")
    parser.add_argument("--from", dest="sources", default=",".join(default.sources),
                        help="ia, cc (comma-separated), or a pywb collection's URL (default ia,cc)")
    parser.add_argument("--raw", type=Path, default=default.raw,
                        help=f"WARC files go to RAW/backfill/ (default {default.raw})")
    parser.add_argument("--rate", type=float, default=default.rate,
                        help=f"requests per second to each host at most (default {default.rate:g}; the Internet "
                             "Archive's and Common Crawl's own limits apply whatever it says)")
    parser.add_argument("--since", help="captures from this time (2019, 2019-06-30 or 20190630120000)")
    parser.add_argument("--until", help="captures up to this time")
    parser.add_argument("--max", dest="max_captures", type=int, help="stop after fetching this many captures")
    parser.add_argument("--contact", default=os.environ.get("BANNEDBOOK_CRAWL_CONTACT", ""),
                        help="your URL or e-mail, sent in the User-Agent (required; or BANNEDBOOK_CRAWL_CONTACT)")
    parser.add_argument("--include-mirrors", action="store_true", help="also the /bnews/zh-tw/ copies")
    parser.add_argument("--max-wait", type=float, default=default.max_wait,
                        help=f"the longest Retry-After obeyed; longer pauses the run (default {default.max_wait:g})")
    parser.add_argument("--tries", type=int, default=default.tries, help=f"tries per request ({default.tries})")
    parser.add_argument("--backoff", type=float, default=default.backoff,
                        help=f"seconds before the second retry, doubling (default {default.backoff:g})")
    parser.add_argument("--cc-collinfo", default=default.cc_collinfo, help=argparse.SUPPRESS)
    parser.add_argument("--cc-data", default=default.cc_data, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    options = parser()
    args = options.parse_args(argv)
    if not args.contact.strip():
        options.error(NO_CONTACT.replace("crawl", "backfill"))
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    for source in sources:
        if source not in ("ia", "cc") and not (normalise_url(source) and urlsplit(source).hostname):
            options.error(f"--from: {source!r} is neither ia, cc nor a pywb collection's http(s) URL")
    try:
        timestamp_of(args.since), timestamp_of(args.until)
    except ValueError as error:
        options.error(str(error))
    if args.rate < 0 or args.tries < 1 or (args.max_captures is not None and args.max_captures < 0):
        options.error("--rate and --max must be >= 0, --tries >= 1")
    settings = Options(site=args.site, raw=args.raw, sources=sources, contact=args.contact, rate=args.rate,
                       since=args.since, until=args.until, max_captures=args.max_captures,
                       include_mirrors=args.include_mirrors, max_wait=args.max_wait, tries=args.tries,
                       backoff=args.backoff, cc_collinfo=args.cc_collinfo, cc_data=args.cc_data)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        finished = backfill(settings)
    except CrawlError as error:
        print(f"backfill: {error}", file=sys.stderr)
        return 1
    return 130 if finished is None else 0
