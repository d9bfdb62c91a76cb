"""Crawl bannedbook.org's articles, politely, into WARC files under RAW/crawl/.

    bannedbook crawl [SITE] --raw DIR [--rate R] [--max-pages N]

What it fetches: the article URLs the site's sitemaps and feeds list (see
bannedbook/crawl/discover.py), on the site's own host, the /bnews/zh-tw/ copies
left out unless --include-mirrors. How: robots.txt obeyed (Disallow,
Crawl-delay, Request-rate; the slowest of them and --rate wins), one request
at a time on one connection, a User-Agent that names the project and a
contact, Retry-After honoured on 429 and 503 (seconds or an HTTP date),
backoff on server errors and timeouts, one redirect followed per URL, a URL
given up after a few tries with the reason kept. What it keeps: every 200
and 3xx response with its request, as received (the body still
Content-Encoded; only the chunked framing removed, and the Transfer-Encoding
header with it), in gzipped WARC files (bannedbook/crawl/crawlstore.py), which a
later run, killed or not, picks up from. A run after a finished crawl starts
a new one that asks for every known page with If-None-Match /
If-Modified-Since and stores only what changed.

HTTP is requests on one kept-alive connection; the retries are ours (a
few lines), so that nothing waits or reads without a bound: every response
has a deadline for the whole of it (a timer shuts the socket of a server that
drips bytes, which a per-read timeout never stops), Retry-After is obeyed up
to a ceiling (beyond it the URL is failed, saying so, and the next crawl asks
again), every body is read in pieces up to a limit that holds after any
Content-Encoding (robots.txt, sitemaps, feeds, pages), and a body in an
encoding we did not ask for is refused, not stored.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import os
import signal
import socket
import sys
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit

import protego
import requests
import urllib3
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, MaxRetryError, NewConnectionError, ProtocolError
from warcio.utils import Digester

from bannedbook.crawl.crawlstore import BACKFILL, WARC_SIZE, BackfillStore, CrawlStore, Exchange
from bannedbook.crawl.discover import MAX_SITEMAP_BYTES, Discovery, discover, same_site
from bannedbook.errors import CrawlError
from bannedbook.text.decode import MAX_PAGE_BYTES  # one limit: a page the build would not read is not fetched whole
from bannedbook.text.urls import SITE, normalise_url

PRODUCT = "bannedbook-archive"  # the token robots.txt rules are matched against
MAX_REDIRECTS = 1
NO_CONTACT = ("say who runs this crawl, so the site's operators can reach you: --contact URL-or-e-mail "
              "(make crawl CONTACT=…, or BANNEDBOOK_CRAWL_CONTACT=…)")
ROBOTS_MAX_AGE = 24 * 3600  # RFC 9309: a robots.txt is not to be trusted for longer
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309: parse at least 500 KiB; what follows may be ignored
# Encodings every WARC reader can undo (brotli and zstd need extra packages).
ACCEPT_ENCODING = "gzip, deflate"
ACCEPTED = {"identity", "gzip", "x-gzip", "deflate"}
RETRY_STATUSES = (429, 500, 502, 503, 504)
CHUNK = 1 << 16


def software_version() -> str:
    try:
        return version("bannedbook-archive")
    except PackageNotFoundError:
        return "0"


@dataclass
class Settings:
    site: str = SITE
    raw: Path = Path("raw")
    rate: float = 1.0  # requests per second; 0 for no limit of our own (robots.txt still applies)
    max_pages: int | None = None
    # Who the site's operators can write to about this crawl: whoever runs
    # it, so there is no default (Heritrix, too, will not crawl without one).
    contact: str = ""
    include_mirrors: bool = False
    feeds: list[str] = field(default_factory=list)
    timeout: float = 30.0  # seconds to connect, and for each read
    deadline: float = 120.0  # seconds for a whole response, first byte sent to last byte read
    max_wait: float = 600.0  # the longest Retry-After (or robots.txt Crawl-delay) obeyed
    tries: int = 3
    backoff: float = 2.0  # seconds; doubles on each further try (the first retry is at once)
    page_bytes: int = MAX_PAGE_BYTES  # a page's body, as transferred and once decoded
    document_bytes: int = MAX_SITEMAP_BYTES  # a sitemap, feed or home page, decoded
    robots_bytes: int = ROBOTS_MAX_BYTES
    warc_size: int = WARC_SIZE
    progress: bool | None = None  # None: a bar only on a terminal

    @property
    def user_agent(self) -> str:
        contact = self.contact if "://" in self.contact or "@" not in self.contact else f"mailto:{self.contact}"
        return f"{PRODUCT}/{software_version()} (+{contact})"


class Pacer:
    """Starts a request no sooner than `interval` seconds after the previous
    one ended, so the site never sees two closer than that, however long the
    connection or the answer took (start to start would let a slow answer
    eat into the pause)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last: float | None = None
        self.requests = 0

    def wait(self) -> None:
        if self.last is not None:
            delay = self.last + self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.requests += 1

    def done(self) -> None:
        self.last = time.monotonic()


class Deadline:
    """Ends an exchange still going after its time. A socket timeout bounds
    each read only, so a server sending a byte a second never trips it; here
    a timer thread shuts the connection's socket, which wakes the blocked
    read at once, in the headers or in the body."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.timer: threading.Timer | None = None
        self.generation = 0  # which start() a timer belongs to: a late timer of a stopped one does nothing
        self.expired = False

    def connected(self, sock: socket.socket) -> None:
        """Each new connection's socket (there is one connection at a time)."""
        with self.lock:
            self.sock = sock
            if self.expired:
                _shut(sock)

    def start(self, seconds: float) -> None:
        with self.lock:
            self.expired = False
            self.generation += 1
            self.timer = threading.Timer(seconds, self._expire, args=(self.generation,))
            self.timer.daemon = True
            self.timer.start()

    def _expire(self, generation: int) -> None:
        with self.lock:
            if generation != self.generation:
                return
            self.expired = True
            if self.sock is not None:
                _shut(self.sock)

    def stop(self) -> None:
        with self.lock:
            self.generation += 1
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _watched_pools(deadline: Deadline) -> dict[str, type]:
    """urllib3 connection pools whose connections hand their socket to deadline."""

    def watched(base: type) -> type:
        class Watched(base):
            def connect(self) -> None:
                super().connect()
                deadline.connected(self.sock)

        return Watched

    return {"http": type("Pool", (HTTPConnectionPool,), {"ConnectionCls": watched(HTTPConnection)}),
            "https": type("Pool", (HTTPSConnectionPool,), {"ConnectionCls": watched(HTTPSConnection)})}


class WatchedAdapter(HTTPAdapter):
    def __init__(self, deadline: Deadline, **kwargs) -> None:
        self.deadline = deadline
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _watched_pools(self.deadline)


def make_session(settings: Settings, deadline: Deadline) -> requests.Session:
    session = requests.Session()
    # one connection, kept alive: never two requests to the site at once; no
    # retries in urllib3 (Crawler.get makes them, within its bounds)
    adapter = WatchedAdapter(deadline, max_retries=0, pool_connections=1, pool_maxsize=1, pool_block=True)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING,
                            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                            "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    return session


class Failed(Exception):
    """A URL that could not be had: `reason` is short and counted in the summary."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def describe(error: Exception, tries: int | None = None) -> Failed:
    """A short reason for the summary (the exception's text goes to detail)."""
    cause = error.args[0] if isinstance(error, requests.RequestException) and error.args else error
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    if isinstance(cause, NewConnectionError):  # a subclass of the connect timeout
        reason = "could not connect"
    elif isinstance(cause, urllib3.exceptions.TimeoutError | requests.Timeout):
        reason = "timed out"
    elif isinstance(cause, ProtocolError):
        reason = "connection broken"
    else:
        reason = type(cause).__name__
    return Failed(f"{reason} ({tries} tries)" if tries else reason, str(cause))


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait (seconds or an HTTP date);
    None when there is none or it cannot be read."""
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class DecodedSize:
    """How many bytes a gzip or deflate body decodes to, counted piece by
    piece as it arrives without keeping them: a stored page must decode
    within the page limit, or it would be a bomb for the build."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.size = 0
        self.unzip = None
        self.pending = b""  # deflate: the first bytes, until they say zlib or raw
        self.members = 0  # gzip members decoded whole
        self.ended = False  # what follows is not decoded (after deflate's end, or junk after a gzip member)

    def feed(self, data: bytes, limit: int) -> None:
        """Count data's decoded bytes; stops counting once over limit.
        Raises zlib.error when the body does not decode."""
        if self.encoding == "identity":
            self.size += len(data)
            return
        if self.unzip is None:
            if self.encoding == "deflate":
                self.pending += data
                if len(self.pending) < 2:
                    return
                data, self.pending = self.pending, b""
                # RFC 9110's deflate is zlib-wrapped; some servers send it raw
                wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
                self.unzip = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            else:
                self.unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while self.size <= limit and not self.ended:
            if self.unzip.eof:
                self.members += 1
                data = self.unzip.unused_data + data
                self.ended = self.encoding == "deflate"
                if self.ended or not data:
                    return
                self.unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next gzip member
            try:
                out = self.unzip.decompress(data, CHUNK)
            except zlib.error:
                if not self.members:
                    raise
                self.ended = True  # junk after a whole member is ignored, as browsers and urllib3 do
                return
            self.size += len(out)
            # at a member's end its leftover input is in unused_data (unconsumed_tail may repeat it)
            data = b"" if self.unzip.eof else self.unzip.unconsumed_tail
            if not (out or data or self.unzip.eof):
                return


def content_encoding(headers) -> str:
    """The response's Content-Encoding, lower case; "" for none."""
    return ",".join(part.strip().lower() for part in headers.get("Content-Encoding", "").split(",") if part.strip())


def read_body(response: requests.Response, limit: int, raw: bool, truncate: bool = False) -> tuple[bytes, bool]:
    """The body, read piece by piece: as transferred when raw (for the WARC:
    at most limit bytes, decoding to at most limit), else decoded (at most
    limit bytes). Returns (body, whole); more than limit raises Failed, or
    with truncate gives the first limit bytes and whole False."""
    body = bytearray()
    if raw:
        encoding = content_encoding(response.headers) or "identity"
        if encoding not in ACCEPTED:
            raise Failed(f"Content-Encoding {encoding[:40]} (not asked for)",
                         f"asked for {ACCEPT_ENCODING}; not stored, as the archive's readers may not decode it")
        decoded = DecodedSize("gzip" if encoding == "x-gzip" else encoding)
        for piece in response.raw.stream(CHUNK, decode_content=False):
            body += piece
            try:
                decoded.feed(piece, limit)
            except zlib.error as error:
                raise Failed(f"undecodable {encoding} body", str(error)) from None
            if len(body) > limit or decoded.size > limit:
                where = "" if len(body) > limit else " once decoded"
                raise Failed("too large", f"more than {limit:,} bytes{where}")
        return bytes(body), True
    try:
        for piece in response.raw.stream(CHUNK, decode_content=True):
            body += piece
            if len(body) > limit:
                if truncate:
                    return bytes(body[:limit]), False
                raise Failed("too large", f"more than {limit:,} bytes")
    except DecodeError as error:
        raise Failed("undecodable body", str(error)) from None
    return bytes(body), True


def protocol(raw: urllib3.BaseHTTPResponse) -> str:
    return f"HTTP/{raw.version // 10}.{raw.version % 10}"


def _location(got: Exchange) -> str | None:
    return next((value for name, value in got.headers if name.lower() == "location"), None)


class Client:
    """Polite HTTP to one host: one kept-alive connection, requests paced,
    tried again within bounds (see get). The crawler has one for the site;
    a backfill one per archive host."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pacer = Pacer(1 / settings.rate if settings.rate > 0 else 0.0)
        self.deadline = Deadline()
        self.session = make_session(settings, self.deadline)

    def get(self, url: str, headers: dict[str, str] | None = None, raw: bool = False,
            limit: int | None = None, truncate: bool = False) -> Exchange:
        """One GET, no redirect followed, tried again on a broken connection,
        a timeout or HTTP 429/5xx (after Retry-After, else a backoff). The
        body as transferred when raw (for the WARC), else decoded (for
        sitemaps); at most limit bytes (see read_body)."""
        s = self.settings
        limit = limit or (s.page_bytes if raw else s.document_bytes)
        for attempt in range(1, s.tries + 1):
            try:
                got = self._once(url, headers, raw, limit, truncate)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                if attempt == s.tries:
                    raise describe(error, s.tries) from error
                wait = self._backoff(attempt)
            else:
                if got.status not in RETRY_STATUSES or attempt == s.tries:
                    return got
                asked = retry_after(dict((k.lower(), v) for k, v in got.headers).get("retry-after"))
                if asked is not None and asked > s.max_wait:
                    raise Failed(f"Retry-After over {s.max_wait:g} s: left for a later crawl",
                                 f"HTTP {got.status} asked to wait {asked:,.0f} s")
                wait = self._backoff(attempt) if asked is None else asked
            if wait > 0:
                time.sleep(wait)
        raise AssertionError("unreachable")  # the last try returns or raises

    def _backoff(self, attempt: int) -> float:
        """The wait before try attempt + 1: none before the second, then backoff, doubling."""
        return 0.0 if attempt == 1 else self.settings.backoff * 2 ** (attempt - 2)

    @staticmethod
    def _too_slow(deadline: float) -> Failed:
        return Failed(f"took longer than {deadline:g} s", "the limit for a whole response")

    def _once(self, url: str, headers: dict[str, str] | None, raw: bool, limit: int, truncate: bool) -> Exchange:
        """One request and its whole response, within the deadline."""
        deadline = self.settings.deadline
        self.pacer.wait()
        self.deadline.start(deadline)
        response = None
        try:
            response = self.session.get(url, headers=headers, timeout=self.settings.timeout,
                                        allow_redirects=False, stream=True)
            body, whole = read_body(response, limit, raw, truncate)
            if self.deadline.expired:  # a body read to the connection's end: the shut socket ended it
                raise self._too_slow(deadline)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            if self.deadline.expired:
                raise self._too_slow(deadline) from error
            raise
        finally:
            self.deadline.stop()
            if response is not None:
                response.close()
            self.pacer.done()
        sent = response.request
        target = urlsplit(sent.url)
        request_headers = [("Host", target.netloc), *sent.headers.items()]
        return Exchange(
            url=url, protocol=protocol(response.raw), status=response.status_code, reason=response.reason or "",
            # the body is stored de-chunked, so its framing header would mislead a reader
            headers=[(k, v) for k, v in response.raw.headers.iteritems() if k.lower() != "transfer-encoding"],
            body=body, request_line=f"GET {sent.path_url} {protocol(response.raw)}", request_headers=request_headers,
            whole=whole)


class Crawler:
    def __init__(self, settings: Settings, store: CrawlStore) -> None:
        self.settings = settings
        self.store = store
        self.site = normalise_url(settings.site) or settings.site
        self.client = Client(settings)
        self.pacer = self.client.pacer
        self.get = self.client.get
        self.robots: protego.Protego | None = None
        self.robots_at = 0.0
        self.robots_note = ""
        self.tally: Counter = Counter()
        self.failures: Counter = Counter()
        self.failed_urls: list[tuple[str, str]] = []
        self.discovery = Discovery()
        self.pages = 0
        self.crawl_id = 0
        parts = urlsplit(self.site)
        self.prefix = f"{parts.scheme}://{parts.netloc}/"  # the site's URLs in the state file

    # -- site documents ------------------------------------------------------

    def document(self, url: str) -> bytes | None:
        """robots.txt-allowed site document (sitemap, feed, home page) after
        at most one on-site redirect; None (and a note why) otherwise."""
        for _ in range(MAX_REDIRECTS + 1):
            if not self.allowed(url):
                self.discovery.problems.append(f"{url}: disallowed by robots.txt, not fetched")
                return None
            try:
                got = self.get(url)
            except Failed as failed:
                self.discovery.problems.append(f"{url}: {failed.reason}")
                return None
            if got.status == 200:
                return got.body
            location = _location(got)
            if not (300 <= got.status < 400 and location):
                if got.status != 404:  # a missing /sitemap.xml is no problem worth reporting
                    self.discovery.problems.append(f"{url}: HTTP {got.status}")
                return None
            url = normalise_url(location, url) or ""
            if not same_site(url, self.site):
                self.discovery.problems.append(f"{url}: redirect off-site, not followed")
                return None
        self.discovery.problems.append(f"{url}: redirect chain longer than {MAX_REDIRECTS}")
        return None

    # -- robots.txt ----------------------------------------------------------

    def load_robots(self) -> None:
        """RFC 9309: a robots.txt that is missing (4xx) allows everything; one
        that cannot be had (5xx, 429, no answer) forbids everything, so the
        crawl stops rather than guess."""
        url = normalise_url("/robots.txt", self.site)
        limit = self.settings.robots_bytes
        try:
            got = self.get(url, limit=limit, truncate=True)
            for _ in range(5):  # RFC 9309 asks to follow at least five redirects
                location = _location(got)
                if not (300 <= got.status < 400 and location):
                    break
                url = normalise_url(location, url) or ""
                if not same_site(url, self.site):
                    raise CrawlError(f"robots.txt redirects to another site ({url}); not crawling")
                got = self.get(url, limit=limit, truncate=True)
        except Failed as failed:
            raise CrawlError(f"robots.txt could not be fetched ({failed.reason}); not crawling") from None
        if got.status == 200:
            self.robots = protego.Protego.parse(got.body.decode("utf-8", "replace"))
            self.robots_note = "obeyed" if got.whole else f"obeyed (its first {limit:,} bytes, as RFC 9309 allows)"
        elif 400 <= got.status < 500 and got.status != 429:
            self.robots = protego.Protego.parse("")
            self.robots_note = f"none (HTTP {got.status}: everything allowed)"
        else:
            raise CrawlError(f"robots.txt answered HTTP {got.status}; not crawling until it can be read")
        self.robots_at = time.monotonic()
        delays = [1 / self.settings.rate if self.settings.rate > 0 else 0.0,
                  self.robots.crawl_delay(PRODUCT) or 0.0]
        if rate := self.robots.request_rate(PRODUCT):
            delays.append(rate.seconds / rate.requests)
        if max(delays) > self.settings.max_wait:
            raise CrawlError(f"robots.txt asks for {max(delays):,.0f} s between requests, more than the longest "
                             f"wait this crawl obeys ({self.settings.max_wait:g} s, --max-wait); not crawling")
        self.pacer.interval = max(delays)

    def allowed(self, url: str) -> bool:
        if self.robots is None or time.monotonic() - self.robots_at > ROBOTS_MAX_AGE:
            self.load_robots()
        return self.robots.can_fetch(url, PRODUCT)

    # -- pages ---------------------------------------------------------------

    def fail(self, url: str, crawl: int, failed: Failed, status: int | None = None) -> str:
        self.store.mark(url, crawl, "failed", failed.reason, failed.detail, status)
        self.failures[failed.reason] += 1
        self.failed_urls.append((url, failed.reason))
        return "failed"

    def visit(self, url: str, crawl: int, lastmod: str | None = None) -> str:
        """Fetch one page and record what became of it; returns the outcome.
        A page whose sitemap lastmod is before the newest capture held of it
        (the crawl's or a backfill's) is not asked for."""
        if not same_site(url, self.site):
            return self.fail(url, crawl, Failed("off-site", url))
        known = self.store.latest(url)
        if lastmod and known and lastmod < known.captured:
            held = BACKFILL if known.warc.startswith(f"{BACKFILL}/") else "crawl"
            self.store.mark(url, crawl, "unchanged", f"lastmod {lastmod} before the {held}'s capture {known.captured}")
            return f"not asked ({held})"
        if not self.allowed(url):
            self.store.mark(url, crawl, "robots")
            return "robots"
        conditional = {}
        if known and known.etag:
            conditional["If-None-Match"] = known.etag
        if known and known.last_modified:
            conditional["If-Modified-Since"] = known.last_modified
        self.pages += 1
        try:
            got = self.get(url, conditional, raw=True)
        except Failed as failed:
            return self.fail(url, crawl, failed)
        if got.status == 304 and conditional:
            self.store.mark(url, crawl, "unchanged", status=304)
            return "unchanged"
        if got.status == 200:
            if known and known.payload_digest and known.payload_digest == self._digest(got):
                self.store.mark(url, crawl, "unchanged", "same content", status=200)
                return "unchanged"
            self.store.save(crawl, got, "stored")
            return "changed" if known else "stored"
        location = _location(got)
        if 300 <= got.status < 400 and got.status != 304 and location:
            return self.redirect(url, crawl, got, location)
        retried = f" ({self.settings.tries} tries)" if got.status in RETRY_STATUSES else ""
        return self.fail(url, crawl, Failed(f"HTTP {got.status}{retried}"), got.status)

    def redirect(self, url: str, crawl: int, got: Exchange, location: str) -> str:
        target = normalise_url(location, url)
        self.store.save(crawl, got, "redirected")
        hops = self.store.redirects(url)
        if target is None or not same_site(target, self.site):
            return self.fail(url, crawl, Failed("redirected off-site", f"{url} → {location}"), got.status)
        if hops >= MAX_REDIRECTS:
            return self.fail(url, crawl, Failed(f"redirect chain longer than {MAX_REDIRECTS}",
                                                f"{url} → {target}"), got.status)
        if not self.store.visited(target, crawl):
            self.store.queue_redirect(target, url, hops + 1)
            self.tally[self.visit(target, crawl)] += 1
        return "redirected"

    @staticmethod
    def _digest(got: Exchange) -> str:
        """The WARC-Payload-Digest warcio would give this body."""
        digester = Digester("sha1")
        digester.update(got.body)
        return str(digester)

    # -- the crawl -----------------------------------------------------------

    def warcinfo(self) -> dict[str, str]:
        s = self.settings
        return {
            "software": f"{PRODUCT}/{software_version()} (bannedbook.crawl; warcio/{version('warcio')}, "
                        f"requests/{requests.__version__})",
            "format": "WARC File Format 1.0",
            "conformsTo": "http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf",
            "isPartOf": f"bannedbook-archive crawl of {self.site}",
            "description": "Articles of bannedbook.org for the bannedbook archive. Bodies as transferred "
                           "(Content-Encoding kept); chunked transfer framing removed with its header.",
            "http-header-user-agent": s.user_agent,
            "robots": f"{self.robots_note}; Crawl-delay and Request-rate honoured",
            "rate": f"at most {s.rate} requests/s" if s.rate > 0 else "no limit of our own",
            "interval": f"{self.pacer.interval:.3f} s between requests (the slower of rate and robots.txt)",
            "connections": "1",
            "include-mirrors": "yes" if s.include_mirrors else "no (/bnews/zh-tw/ copies skipped)",
            "operator": s.contact,
        }

    def run(self) -> bool:
        """Crawl until done, or until max_pages were requested; True when the
        crawl finished (the next run starts a new, conditional one)."""
        crawl, discovered = self.store.begin(self.site)
        self.crawl_id = crawl
        self.load_robots()
        self.store.warcinfo = self.warcinfo()
        if not discovered:
            taken = "with mirrors" if self.settings.include_mirrors else ""  # a sitemap read without is read again
            found = discover(self.site, self.document, robots_sitemaps=list(self.robots.sitemaps),
                             feeds=self.settings.feeds, include_mirrors=self.settings.include_mirrors,
                             report=self.discovery, limit=self.settings.document_bytes,
                             unchanged=lambda url, lastmod: self.store.sitemap_unchanged(url, lastmod, taken))
            self.tally["new"] = self.store.discovered(crawl, ((f.url, f.source, f.lastmod) for f in found),
                                                      self.discovery.read, taken)
        todo = [(url, lastmod) for url, lastmod in self.store.pending(crawl) if url.startswith(self.prefix)]
        self.tally["queued"] = len(todo)
        progress = self.settings.progress
        bar = tqdm(total=len(todo), unit="page", file=sys.stderr, dynamic_ncols=True,
                   disable=None if progress is None else not progress)
        try:
            for url, lastmod in todo:
                if self.settings.max_pages is not None and self.pages >= self.settings.max_pages:
                    return False
                if not self.store.visited(url, crawl):  # a redirect may have got there first
                    self.tally[self.visit(url, crawl, lastmod)] += 1
                bar.update()
                bar.set_postfix(stored=self.tally["stored"] + self.tally["changed"],
                                failed=sum(self.failures.values()), refresh=False)
        finally:
            bar.close()
        if [url for url, _ in self.store.pending(crawl) if url.startswith(self.prefix)]:
            return False  # redirect targets queued by a resumed run: the next run takes them
        self.store.finish(crawl)
        return True


def summary(crawler: Crawler, finished: bool | None, elapsed: float) -> str:
    t = crawler.tally
    state = {True: "finished: the next run starts a new crawl that asks only for changes",
             False: "stopped before the end: run again to go on",
             None: "interrupted: run again to go on"}[finished]
    lines = [f"crawl {crawler.crawl_id} of {crawler.site}: {state}",
             f"  queued this run        {t['queued']} ({t['new']} new URLs from sitemaps and feeds)",
             f"  stored                 {t['stored'] + t['changed']} (new {t['stored']}, changed {t['changed']})",
             f"  unchanged              {t['unchanged']} (asked: 304, or the same content)",
             f"  not asked              {t['not asked (crawl)'] + t[f'not asked ({BACKFILL})']}: sitemap lastmod "
             f"before the newest capture ({t['not asked (crawl)']} a crawl's, {t[f'not asked ({BACKFILL})']} "
             "a backfill's)",
             f"  redirected             {t['redirected']}",
             f"  skipped by robots.txt  {t['robots']}"]
    failed = sum(crawler.failures.values())
    lines.append(f"  failed                 {failed}" + (": " + ", ".join(
        f"{reason} ×{n}" for reason, n in crawler.failures.most_common()) if failed else ""))
    lines += [f"    {url}: {reason}" for url, reason in crawler.failed_urls[:5]]
    if failed:
        lines.append("    (recorded in the state file: this crawl does not ask for them again; the next one does)")
    if unread := crawler.discovery.unchanged:
        lines.append(f"  sitemaps not read      {len(unread)} (lastmod unchanged since read; their pages known "
                     f"from then), {len(crawler.discovery.read)} read")
    if skipped := crawler.discovery.skipped:
        lines.append("  not queued             " + ", ".join(f"{reason} {n}" for reason, n in skipped.most_common()))
    for problem in crawler.discovery.problems[:5]:
        lines.append(f"  discovery: {problem}")
    for note in crawler.store.recovered[:5]:
        lines.append(f"  repaired: {note}")
    rate = crawler.pages / elapsed if elapsed else 0.0
    lines.append(f"  pages                  {crawler.pages} in {elapsed:.1f} s: {rate:.2f} pages/s "
                 f"({crawler.pacer.requests} requests, {crawler.pacer.interval:.2f} s apart at least)")
    files = crawler.store.warc_files()
    lines.append(f"  WARC files             {len(files)} in {crawler.store.folder}")
    return "\n".join(lines)


def crawl(settings: Settings, out=sys.stdout) -> bool | None:
    """Run a crawl (or go on with an unfinished one) and print its summary.
    True: the crawl finished; False: stopped at max_pages; None: interrupted."""
    if not settings.contact.strip():
        raise CrawlError(NO_CONTACT)
    if (Path(settings.raw) / BACKFILL).is_dir():
        try:  # index any WARC file in RAW/backfill/ its state does not know (copied in, or a kill's leftover)
            BackfillStore(settings.raw).close()
        except CrawlError:
            pass  # a backfill is running: its state is read as it stands
    store = CrawlStore(settings.raw, settings.warc_size)
    store.read_also(BACKFILL)  # what a backfill holds is not fetched again unless changed since
    crawler = Crawler(settings, store)
    start = time.monotonic()
    finished: bool | None = None
    try:
        finished = crawler.run()
    except KeyboardInterrupt:
        finished = None
    except BaseException:
        store.close()
        raise
    store.close()
    print(summary(crawler, finished, time.monotonic() - start), file=out)
    return finished


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # closes the WARC file under its final name, as Ctrl-C does


def parser() -> argparse.ArgumentParser:
    """`bannedbook crawl`'s options, whose defaults are Settings' own."""
    parser = argparse.ArgumentParser(prog="bannedbook crawl", description=__doc__.split("\n\n")[0])
    default = Settings()  # the defaults live in Settings, once
    parser.add_argument("site", nargs="?", default=default.site, help=f"the site to crawl (default {default.site})")
    parser.add_argument("--raw", type=Path, default=default.raw,
                        help=f"where WARC files go: RAW/crawl/ (default {default.raw})")
    parser.add_argument("--rate", type=float, default=default.rate,
                        help=f"requests per second at most (default {default.rate:g}; 0: only robots.txt's limit)")
    parser.add_argument("--max-pages", type=int, default=default.max_pages,
                        help="stop after requesting this many pages (run again to go on)")
    parser.add_argument("--contact", default=os.environ.get("BANNEDBOOK_CRAWL_CONTACT", default.contact),
                        help="your URL or e-mail, sent in the User-Agent for the site's operators (required; "
                             "or set BANNEDBOOK_CRAWL_CONTACT)")
    parser.add_argument("--include-mirrors", action="store_true", default=default.include_mirrors,
                        help="also fetch the /bnews/zh-tw/ copies")
    parser.add_argument("--feed", action="append", default=default.feeds,
                        help="a feed to read besides those the home page lists")
    parser.add_argument("--timeout", type=float, default=default.timeout,
                        help=f"seconds to connect, and to wait for each read (default {default.timeout:g})")
    parser.add_argument("--deadline", type=float, default=default.deadline,
                        help=f"seconds for a whole response, however it trickles in (default {default.deadline:g})")
    parser.add_argument("--max-wait", type=float, default=default.max_wait,
                        help="the longest Retry-After or robots.txt Crawl-delay obeyed; a URL asking for more is "
                             f"left for the next crawl (default {default.max_wait:g})")
    parser.add_argument("--tries", type=int, default=default.tries,
                        help=f"tries per URL before giving up (default {default.tries})")
    parser.add_argument("--backoff", type=float, default=default.backoff,
                        help=f"seconds before the second retry, doubling (default {default.backoff:g})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(site=args.site, raw=args.raw, rate=args.rate, max_pages=args.max_pages,
                    contact=args.contact, include_mirrors=args.include_mirrors, feeds=args.feed,
                    timeout=args.timeout, deadline=args.deadline, max_wait=args.max_wait,
                    tries=args.tries, backoff=args.backoff,
                    progress=False if args.no_progress else None)


def main(argv: list[str] | None = None) -> int:
    options = parser()
    args = options.parse_args(argv)
    if (args.rate < 0 or args.tries < 1 or args.timeout <= 0 or args.deadline <= 0 or args.max_wait < 0
            or (args.max_pages is not None and args.max_pages < 0)):
        options.error("--rate must be >= 0, --tries >= 1, --timeout and --deadline > 0, "
                      "--max-wait and --max-pages >= 0")
    if not args.contact.strip():
        options.error(NO_CONTACT)
    if not normalise_url(args.site) or not urlsplit(args.site).hostname:
        options.error(f"not an http(s) URL: {args.site}")
    settings = settings_from(args)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        finished = crawl(settings)
    except CrawlError as error:
        print(f"crawl: {error}", file=sys.stderr)
        return 1
    return 130 if finished is None else 0  # the shell's code for a run stopped by a signal


if __name__ == "__main__":
    sys.exit(main())
