"""Crawl bannedbook.org's articles, politely, into WARC files under RAW/crawl/.

    python -m bannedbook.crawl [SITE] --raw DIR [--rate R] [--max-pages N]

What it fetches: the article URLs the site's sitemaps and feeds list (see
bannedbook/discover.py), on the site's own host, the /bnews/zh-tw/ copies
left out unless --include-mirrors. How: robots.txt obeyed (Disallow,
Crawl-delay, Request-rate; the slowest of them and --rate wins), one request
at a time on one connection, a User-Agent that names the project and a
contact, Retry-After honoured on 429 and 503 (seconds or an HTTP date),
backoff on server errors and timeouts, one redirect followed per URL, a URL
given up after a few tries with the reason kept. What it keeps: every 200
and 3xx response with its request, as received (the body still
Content-Encoded; only the chunked framing removed, and the Transfer-Encoding
header with it), in gzipped WARC files (bannedbook/crawlstore.py), which a
later run, killed or not, picks up from. A run after a finished crawl starts
a new one that asks for every known page with If-None-Match /
If-Modified-Since and stores only what changed.

HTTP is requests with urllib3's Retry: Retry already parses both forms of
Retry-After, backs off, and retries a response whose headers time out; httpx's
transport retries only failed connections, so that would be ours to write.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
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
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError
from urllib3.util.retry import Retry
from warcio.utils import Digester

from bannedbook.crawlstore import WARC_SIZE, CrawlError, CrawlStore, Exchange
from bannedbook.discover import Discovery, discover, same_site
from bannedbook.urls import normalise

SITE = "https://www.bannedbook.org/"
PRODUCT = "bannedbook-archive"  # the token robots.txt rules are matched against
MAX_REDIRECTS = 1
NO_CONTACT = ("say who runs this crawl, so the site's operators can reach you: --contact URL-or-e-mail "
              "(make crawl CONTACT=…, or BANNEDBOOK_CRAWL_CONTACT=…)")
MAX_PAGE_BYTES = 20 * 1024 * 1024  # an article page is ~100 KB; more is not an article
ROBOTS_MAX_AGE = 24 * 3600  # RFC 9309: a robots.txt is not to be trusted for longer
# Encodings every WARC reader can undo (brotli and zstd need extra packages).
ACCEPT_ENCODING = "gzip, deflate"


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
    timeout: float = 30.0
    tries: int = 3
    backoff: float = 2.0  # seconds; doubles on each further try (urllib3 retries the first at once)
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


class PacedRetry(Retry):
    """urllib3's Retry (Retry-After, backoff), with every retry also waiting
    its turn at the pacer: a retry is a request like any other."""

    def __init__(self, *args, pacer: Pacer | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = pacer

    def new(self, **kwargs) -> PacedRetry:
        kwargs.setdefault("pacer", self.pacer)
        return super().new(**kwargs)

    def sleep(self, response=None) -> None:
        if self.pacer:
            self.pacer.done()  # the failed try has just ended
        super().sleep(response)
        if self.pacer:
            self.pacer.wait()


def make_session(settings: Settings, pacer: Pacer) -> requests.Session:
    retry = PacedRetry(total=settings.tries - 1, connect=settings.tries - 1, read=settings.tries - 1,
                       status=settings.tries - 1, other=0, redirect=0, raise_on_redirect=False,
                       status_forcelist=(429, 500, 502, 503, 504), allowed_methods={"GET"},
                       respect_retry_after_header=True, raise_on_status=False,
                       backoff_factor=settings.backoff / 2, pacer=pacer)
    session = requests.Session()
    # one connection, kept alive: never two requests to the site at once
    adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=1, pool_block=True)
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


def protocol(raw: urllib3.BaseHTTPResponse) -> str:
    return f"HTTP/{raw.version // 10}.{raw.version % 10}"


def _location(got: Exchange) -> str | None:
    return next((value for name, value in got.headers if name.lower() == "location"), None)


class Crawler:
    def __init__(self, settings: Settings, store: CrawlStore) -> None:
        self.settings = settings
        self.store = store
        self.site = normalise(settings.site) or settings.site
        self.pacer = Pacer(1 / settings.rate if settings.rate > 0 else 0.0)
        self.session = make_session(settings, self.pacer)
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

    # -- HTTP ----------------------------------------------------------------

    def get(self, url: str, headers: dict[str, str] | None = None, raw: bool = False) -> Exchange:
        """One GET, no redirect followed, retried as Retry says. The body as
        transferred when raw (for the WARC), else decoded (for sitemaps)."""
        self.pacer.wait()
        try:
            response = self.session.get(url, headers=headers, timeout=self.settings.timeout,
                                        allow_redirects=False, stream=True)
        except requests.RequestException as error:
            self.pacer.done()
            raise describe(error, self.settings.tries) from error
        try:
            if raw:
                body = response.raw.read(MAX_PAGE_BYTES + 1, decode_content=False)
            else:
                body = b"".join(response.iter_content(1 << 16))
                if len(body) > MAX_PAGE_BYTES * 3:
                    raise Failed("too large", f"more than {MAX_PAGE_BYTES * 3} bytes")
        except (urllib3.exceptions.HTTPError, requests.RequestException) as error:
            raise describe(error) from error
        finally:
            response.close()
            self.pacer.done()
        if len(body) > MAX_PAGE_BYTES and raw:
            raise Failed("too large", f"more than {MAX_PAGE_BYTES} bytes")
        sent = response.request
        target = urlsplit(sent.url)
        request_headers = [("Host", target.netloc), *sent.headers.items()]
        return Exchange(
            url=url, protocol=protocol(response.raw), status=response.status_code, reason=response.reason or "",
            # the body is stored de-chunked, so its framing header would mislead a reader
            headers=[(k, v) for k, v in response.raw.headers.iteritems() if k.lower() != "transfer-encoding"],
            body=body, request_line=f"GET {sent.path_url} {protocol(response.raw)}", request_headers=request_headers)

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
            url = normalise(location, url) or ""
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
        url = normalise("/robots.txt", self.site)
        try:
            got = self.get(url)
            for _ in range(5):  # RFC 9309 asks to follow at least five redirects
                location = _location(got)
                if not (300 <= got.status < 400 and location):
                    break
                url = normalise(location, url) or ""
                if not same_site(url, self.site):
                    raise CrawlError(f"robots.txt redirects to another site ({url}); not crawling")
                got = self.get(url)
        except Failed as failed:
            raise CrawlError(f"robots.txt could not be fetched ({failed.reason}); not crawling") from None
        if got.status == 200:
            self.robots = protego.Protego.parse(got.body.decode("utf-8", "replace"))
            self.robots_note = "obeyed"
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

    def visit(self, url: str, crawl: int) -> str:
        """Fetch one page and record what became of it; returns the outcome."""
        if not same_site(url, self.site):
            return self.fail(url, crawl, Failed("off-site", url))
        if not self.allowed(url):
            self.store.mark(url, crawl, "robots")
            return "robots"
        known = self.store.latest(url)
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
        retried = f" ({self.settings.tries} tries)" if got.status in (429, 500, 502, 503, 504) else ""
        return self.fail(url, crawl, Failed(f"HTTP {got.status}{retried}"), got.status)

    def redirect(self, url: str, crawl: int, got: Exchange, location: str) -> str:
        target = normalise(location, url)
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
            found = discover(self.site, self.document, robots_sitemaps=list(self.robots.sitemaps),
                             feeds=self.settings.feeds, include_mirrors=self.settings.include_mirrors,
                             report=self.discovery)
            self.tally["new"] = self.store.discovered(crawl, ((f.url, f.source) for f in found))
        todo = [url for url in self.store.pending(crawl) if url.startswith(self.prefix)]
        self.tally["queued"] = len(todo)
        progress = self.settings.progress
        bar = tqdm(total=len(todo), unit="page", file=sys.stderr, dynamic_ncols=True,
                   disable=None if progress is None else not progress)
        try:
            for url in todo:
                if self.settings.max_pages is not None and self.pages >= self.settings.max_pages:
                    return False
                if not self.store.visited(url, crawl):  # a redirect may have got there first
                    self.tally[self.visit(url, crawl)] += 1
                bar.update()
                bar.set_postfix(stored=self.tally["stored"] + self.tally["changed"],
                                failed=sum(self.failures.values()), refresh=False)
        finally:
            bar.close()
        if [url for url in self.store.pending(crawl) if url.startswith(self.prefix)]:
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
             f"  unchanged              {t['unchanged']}",
             f"  redirected             {t['redirected']}",
             f"  skipped by robots.txt  {t['robots']}"]
    failed = sum(crawler.failures.values())
    lines.append(f"  failed                 {failed}" + (": " + ", ".join(
        f"{reason} ×{n}" for reason, n in crawler.failures.most_common()) if failed else ""))
    lines += [f"    {url}: {reason}" for url, reason in crawler.failed_urls[:5]]
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
    store = CrawlStore(settings.raw, settings.warc_size)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bannedbook.crawl", description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", default=SITE, help=f"the site to crawl (default {SITE})")
    parser.add_argument("--raw", type=Path, default=Path("raw"), help="where WARC files go: RAW/crawl/ (default raw)")
    parser.add_argument("--rate", type=float, default=1.0,
                        help="requests per second at most (default 1; 0: only robots.txt's limit)")
    parser.add_argument("--max-pages", type=int, help="stop after requesting this many pages (run again to go on)")
    parser.add_argument("--contact", default=os.environ.get("BANNEDBOOK_CRAWL_CONTACT", ""),
                        help="your URL or e-mail, sent in the User-Agent for the site's operators (required; "
                             "or set BANNEDBOOK_CRAWL_CONTACT)")
    parser.add_argument("--include-mirrors", action="store_true", help="also fetch the /bnews/zh-tw/ copies")
    parser.add_argument("--feed", action="append", default=[], help="a feed to read besides those the home page lists")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an answer (default 30)")
    parser.add_argument("--tries", type=int, default=3, help="tries per URL before giving up (default 3)")
    parser.add_argument("--backoff", type=float, default=2.0, help="seconds before the second retry, doubling")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.rate < 0 or args.tries < 1 or args.timeout <= 0 or (args.max_pages is not None and args.max_pages < 0):
        parser.error("--rate must be >= 0, --tries >= 1, --timeout > 0, --max-pages >= 0")
    if not args.contact.strip():
        parser.error(NO_CONTACT)
    if not normalise(args.site) or not urlsplit(args.site).hostname:
        parser.error(f"not an http(s) URL: {args.site}")
    settings = Settings(site=args.site, raw=args.raw, rate=args.rate, max_pages=args.max_pages,
                        contact=args.contact, include_mirrors=args.include_mirrors, feeds=args.feed,
                        timeout=args.timeout, tries=args.tries, backoff=args.backoff,
                        progress=False if args.no_progress else None)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        finished = crawl(settings)
    except CrawlError as error:
        print(f"crawl: {error}", file=sys.stderr)
        return 1
    return 130 if finished is None else 0  # the shell's code for a run stopped by a signal


if __name__ == "__main__":
    sys.exit(main())
