"""A fake bannedbook.org on 127.0.0.1 for the crawler's tests.

It serves robots.txt, a home page that announces a feed, a sitemap index
(one sitemap gzipped), /wp-sitemap.xml, and article pages in the site's real
shape (tests/helpers/pages.py), each article a distinct page with its own number and
canonical URL. With `misbehave=True` it also does what real sites do to
crawlers: a 429 and a 503 with Retry-After (seconds, then an HTTP date), a
page slower than the crawler's timeout once, a 500 once, a 301, a redirect chain, a 404,
a page whose charset only the HTTP header gives (GBK), a gzipped and chunked
page, a path robots.txt disallows, an off-site URL and a tracking-query twin
in the sitemap, and the /bnews/zh-tw/ copy of an article. With
`hostile=True` it does what an adversary would: a page that drips its body a
byte at a time and one that drips its headers, a 503 asking to come back in
ten years and a 429 asking for the year 9999, a gzip-encoded robots.txt and
sitemap that decode to a gigabyte, a gzipped sitemap file that unzips to
one, a sitemap whose Content-Length says 5 GB (and whose body never ends),
an unrequested brotli page, and a gzip page that decodes past the page
limit; the good pages are served as usual.

Every request is logged (`site.log`) with the time it arrived, so tests
assert on what the crawler asked for and when. `site.article_urls` lists the
articles a complete default crawl must store, for any test that builds the
crawl into the archive.

    with FakeSite(misbehave=True) as site:
        crawl(Settings(site.base, ...))
        site.requests_for("/bnews/...")
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import brotli

from helpers.pages import SEED, full_page, traditional

TITLE = "杨威：中共能挖动哈萨克斯坦和上合组织吗？"
EPOCH = 1720400000  # 2024-07-08, the Last-Modified of a page's first version


def article_html(url: str, number: int, version: int = 0, charset: str = "utf-8") -> str:
    """The seed article as the site serves it, made distinct by number (and
    by version, for a page that changes between crawls)."""
    marker = f"<p>测试文章第{number}号。</p>" + (f"<p>第{version}次更新。</p>" if version else "")
    fragment = SEED.replace(f"<h2>{TITLE}</h2>", f"<h2>{TITLE}（{number}）</h2>", 1).replace(
        '<div class="entry">', '<div class="entry">' + marker, 1)
    return full_page(charset=charset, url=url, fragment=fragment)


@dataclass
class Page:
    path: str
    number: int
    charset: str = "utf-8"  # "" serves the page with its charset only in the Content-Type header
    script: str = "simplified"
    etag: bool = True
    gzip_chunked: bool = False
    version: int = 0
    article: bool = True  # a distinct article a complete crawl stores
    modified: float | None = None  # when it last changed (None: on the day of EPOCH), for sitemap <lastmod>

    @property
    def lastmod(self) -> str:
        if self.modified is None:
            return "2024-07-08"  # a bare date, as many sitemaps give
        return dt.datetime.fromtimestamp(self.modified, dt.UTC).isoformat(timespec="seconds")

    def body(self, base: str) -> bytes:
        html = article_html(base + self.path, self.number, self.version, self.charset or "gbk")
        if self.script == "traditional":
            html = traditional(html)
        if not self.charset:
            html = html.replace('<meta http-equiv="Content-Type" content="text/html; charset=gbk">\n', "")
            assert "charset" not in html
            return html.encode("gbk", "xmlcharrefreplace")
        return html.encode(self.charset)


@dataclass
class Hit:
    time: float
    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class Misbehaviour:
    """Answers a path gives before it behaves (consumed one per request)."""
    answers: list[str] = field(default_factory=list)


def path_of(number: int, category: str = "comments", date: str = "20240708", mirror: bool = False) -> str:
    return f"/bnews/{'zh-tw/' if mirror else ''}{category}/{date}/{number}.html"


class FakeSite:
    def __init__(self, misbehave: bool = False, articles: int = 6, crawl_delay: float = 0.05,
                 slow: float = 1.0, robots_status: int = 200, conditional: bool = True, hostile: bool = False,
                 drip: float = 0.02, lastmod: bool = True, sitemap_size: int | None = None) -> None:
        self.misbehave = misbehave
        self.hostile = hostile
        self.drip = drip  # seconds between the bytes of a dripping answer
        self.conditional = conditional  # False: every request gets the whole page, as from many servers
        self.lastmod = lastmod  # False: sitemaps without <lastmod>, as some sites serve them
        self.sitemap_size = sitemap_size  # URLs per sitemap (posts-N.xml), as WordPress splits a big site
        self.crawl_delay = crawl_delay
        self.slow = slow
        self.robots_status = robots_status
        self.log: list[Hit] = []
        self.lock = threading.Lock()
        self.pages: dict[str, Page] = {}
        self.redirects: dict[str, str] = {}
        self.behaviour: dict[str, list[str]] = {}
        self.on_page: Callable[[int], None] | None = None  # called with the count of article pages served
        self.pages_served = 0
        self.gz_sitemap: list[str] = []  # paths listed in the gzipped sitemap
        self.plain_sitemap: list[str] = []
        self.wp_sitemap: list[str] = []
        self.feed: list[str] = []
        for n in range(articles):
            page = self._add(Page(path_of(2059100 + n), 2059100 + n, etag=n != 1))  # article 1: Last-Modified only
            (self.gz_sitemap if n % 2 else self.plain_sitemap).append(page.path)
        mirror = path_of(2059100, mirror=True)
        self.pages[mirror] = Page(mirror, 2059100, script="traditional", article=False)
        self.plain_sitemap.append(mirror)
        self.wp_sitemap.append(self._add(Page(path_of(2059200, "china"), 2059200)).path)
        self.feed.append(self._add(Page(path_of(2059300, "world"), 2059300)).path)
        if misbehave:
            self._misbehave()
        if hostile:
            self._hostile()

    def _add(self, page: Page) -> Page:
        self.pages[page.path] = page
        return page

    def _misbehave(self) -> None:
        listed = self.plain_sitemap
        self.too_many = self._add(Page(path_of(2059401), 2059401)).path
        self.behaviour[self.too_many] = ["429"]
        self.unavailable = self._add(Page(path_of(2059402), 2059402)).path
        self.behaviour[self.unavailable] = ["503"]
        self.slow_path = self._add(Page(path_of(2059403), 2059403)).path
        self.broken = self._add(Page(path_of(2059407), 2059407)).path
        self.behaviour[self.broken] = ["500"]
        self.behaviour[self.slow_path] = ["slow"]
        self.gbk = self._add(Page(path_of(2059404), 2059404, charset="")).path
        self.gzipped = self._add(Page(path_of(2059405), 2059405, gzip_chunked=True)).path
        self.moved_to = self._add(Page(path_of(2059406), 2059406)).path
        self.moved = path_of(2059499)
        self.redirects[self.moved] = self.moved_to
        self.chain = path_of(2059498)
        self.redirects[self.chain] = path_of(2059497)
        self.redirects[path_of(2059497)] = path_of(2059496)
        self.pages[path_of(2059496)] = Page(path_of(2059496), 2059496, article=False)
        self.missing = path_of(2059495)
        self.disallowed = path_of(2059494, "secret")
        self.pages[self.disallowed] = Page(self.disallowed, 2059494, article=False)
        self.twin = path_of(2059100) + "?utm_source=twitter&utm_medium=social&fbclid=abc#comments"
        self.offsite = path_of(2059493)  # listed under another host name for this server
        self.pages[self.offsite] = Page(self.offsite, 2059493, article=False)
        listed += [self.too_many, self.unavailable, self.slow_path, self.broken, self.gbk, self.gzipped, self.moved,
                   self.moved_to, self.chain, self.missing, self.disallowed, self.twin]

    def _hostile(self) -> None:
        def page(number: int, trick: str) -> str:
            path = self._add(Page(path_of(number), number, article=False)).path
            self.behaviour[path] = [trick] * 1000  # every time it is asked
            self.plain_sitemap.append(path)
            return path

        self.dripping = page(2059601, "drip")
        self.dripping_headers = page(2059602, "drip-headers")
        self.ten_years = page(2059603, "retry-ten-years")
        self.year_9999 = page(2059604, "retry-9999")
        self.brotli = page(2059605, "brotli")
        self.page_bomb = page(2059606, "gzip-bomb")
        self.lying_length = page(2059607, "lying-length")

    # -- the server ----------------------------------------------------------

    def __enter__(self) -> FakeSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as separate writes: with Nagle's algorithm and
            # delayed ACKs each response would stall ~40 ms
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                hit = Hit(time.monotonic(), self.path, dict(self.headers))
                with site.lock:
                    site.log.append(hit)
                try:
                    site.answer(self, hit)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the crawler gave up waiting (the slow page)

            def handle(self) -> None:
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the crawler hung up on a hostile answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def site(self) -> str:
        return self.base + "/"

    @property
    def article_urls(self) -> list[str]:
        """The canonical URLs of the distinct articles a complete default crawl stores."""
        return sorted(self.base + page.path for page in self.pages.values()
                      if page.article and "/zh-tw/" not in page.path)

    def requests_for(self, path: str) -> list[Hit]:
        return [hit for hit in self.log if hit.path == path]

    def change(self, path: str) -> None:
        """The article at path changes: new text, new ETag and Last-Modified,
        and its sitemap (and the index's entry for that) a new <lastmod>."""
        self.pages[path].version += 1
        self.pages[path].modified = time.time()
        self.__dict__.pop("sitemaps", None)  # made again with the new lastmod

    # -- answers -------------------------------------------------------------

    def answer(self, handler: BaseHTTPRequestHandler, hit: Hit) -> None:
        path = hit.path
        behaviour = self.behaviour.get(path)
        if behaviour:
            trick = behaviour.pop(0)
            if trick == "429":
                return self.send(handler, hit, 429, b"slow down", headers={"Retry-After": "1"})
            if trick == "503":
                when = email.utils.formatdate(time.time() + 2, usegmt=True)
                return self.send(handler, hit, 503, b"busy", headers={"Retry-After": when})
            if trick == "500":
                return self.send(handler, hit, 500, b"oops", "text/plain")
            if trick == "slow":
                time.sleep(self.slow)
            if trick in HOSTILE:
                return HOSTILE[trick](self, handler, hit)
        if path == "/robots.txt":
            if self.hostile:  # the real rules, then a gigabyte of comment, gzip-encoded
                return self.send_encoded(handler, hit, gzip_bomb(self.robots().encode() + b"#"), "text/plain")
            return self.send(handler, hit, self.robots_status, self.robots().encode(), "text/plain")
        if path == "/":
            feed = '<link rel="alternate" type="application/rss+xml" title="禁闻网 RSS" href="/feed/">'
            home = f"<html><head>{feed}</head><body><h1>禁闻网</h1></body></html>"
            return self.send(handler, hit, 200, home.encode(), "text/html; charset=utf-8")
        if path == "/feed/":
            return self.send(handler, hit, 200, self.rss(), "application/rss+xml; charset=utf-8")
        if path in self.sitemaps:
            body, kind = self.sitemaps[path]
            return self.send(handler, hit, 200, body, kind)
        if path in self.redirects:
            return self.send(handler, hit, 301, b"", headers={"Location": self.base + self.redirects[path]})
        page = self.pages.get(path)
        if page is None:
            return self.send(handler, hit, 404, b"<html><body>404</body></html>", "text/html; charset=utf-8")
        return self.send_page(handler, hit, page)

    def send_page(self, handler: BaseHTTPRequestHandler, hit: Hit, page: Page) -> None:
        etag = f'"{page.number}-{page.version}"'
        modified = email.utils.formatdate(EPOCH + 86400 * page.version, usegmt=True)
        headers = {"Last-Modified": modified}
        if page.etag:
            headers["ETag"] = etag
        asked_etag = hit.headers.get("If-None-Match")
        asked_date = hit.headers.get("If-Modified-Since")
        unchanged = (asked_etag and page.etag and asked_etag == etag) or (
            not asked_etag and asked_date
            and email.utils.parsedate_to_datetime(asked_date) >= email.utils.parsedate_to_datetime(modified))
        if self.conditional and unchanged:
            return self.send(handler, hit, 304, b"", headers=headers)
        charset = page.charset or "gbk"
        body = page.body(self.base)
        if page.gzip_chunked:
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(body)
        self.send(handler, hit, 200, body, f"text/html; charset={charset}", headers, chunked=page.gzip_chunked)
        if page.article:
            with self.lock:
                self.pages_served += 1
                count = self.pages_served
            if self.on_page:
                self.on_page(count)

    def send(self, handler: BaseHTTPRequestHandler, hit: Hit, status: int, body: bytes,
             content_type: str | None = None, headers: dict[str, str] | None = None, chunked: bool = False) -> None:
        hit.status = status
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for start in range(0, len(body), 1000):
                chunk = body[start:start + 1000]
                handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")
        else:
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        handler.wfile.flush()

    # -- hostile answers -----------------------------------------------------

    def send_encoded(self, handler: BaseHTTPRequestHandler, hit: Hit, body: bytes, content_type: str,
                     encoding: str = "gzip") -> None:
        self.send(handler, hit, 200, body, content_type, {"Content-Encoding": encoding})

    def drip_body(self, handler: BaseHTTPRequestHandler, hit: Hit) -> None:
        """Headers at once, then a byte every `drip` seconds, for ever (each
        read sees a byte long before any read timeout)."""
        hit.status = 200
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", "1000000")
        handler.end_headers()
        self._drip(handler, b"<" * 1000000)

    def drip_headers(self, handler: BaseHTTPRequestHandler, hit: Hit) -> None:
        hit.status = 200
        self._drip(handler, b"HTTP/1.1 200 OK\r\n" + b"X-Drip: " + b"x" * 60000 + b"\r\n\r\n")

    def _drip(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        for i in range(len(data)):
            handler.wfile.write(data[i:i + 1])
            handler.wfile.flush()
            time.sleep(self.drip)

    def retry_ten_years(self, handler: BaseHTTPRequestHandler, hit: Hit) -> None:
        self.send(handler, hit, 503, b"come back later", "text/plain", {"Retry-After": str(10 * 365 * 86400)})

    def retry_9999(self, handler: BaseHTTPRequestHandler, hit: Hit) -> None:
        self.send(handler, hit, 429, b"too many", "text/plain", {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"})

    def brotli_page(self, handler: BaseHTTPRequestHandler, hit: Hit) -> None:
        body = self.pages[hit.path].body(self.base)
        self.send_encoded(handler, hit, brotli.compress(body), "text/html; charset=utf-8", "br")

    def gzip_bomb_page(self, handler: BaseHTTPRequestHandler, hit: Hit) -> None:
        self.send_encoded(handler, hit, gzip_bomb(b"<html><body>", members=2), "text/html; charset=utf-8")

    def lying_length(self, handler: BaseHTTPRequestHandler, hit: Hit) -> None:
        """A Content-Length of 5 GB and a body that goes on until the reader hangs up."""
        hit.status = 200
        handler.send_response(200)
        handler.send_header("Content-Type", "application/xml; charset=utf-8")
        handler.send_header("Content-Length", str(5 * 10**9))
        handler.end_headers()
        handler.wfile.write(b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
        block = b" " * (1 << 16)
        for _ in range(5 * 10**9 // len(block)):
            handler.wfile.write(block)

    # -- documents -----------------------------------------------------------

    def robots(self) -> str:
        return (f"User-agent: *\nCrawl-delay: {self.crawl_delay}\nDisallow: /bnews/secret/\nDisallow: /private/\n\n"
                f"User-agent: otherbot\nDisallow: /\n\nSitemap: {self.base}/sitemap_index.xml\n")

    @functools.cached_property
    def sitemaps(self) -> dict[str, tuple[bytes, str]]:
        def lastmod(path: str) -> str:
            page = self.pages.get(path)
            return page.lastmod if page else "2024-07-08"

        def urlset(paths: list[str], host: str | None = None) -> bytes:
            urls = "".join(f"<url><loc>{escape((host or self.base) + p)}</loc>"
                           + (f"<lastmod>{lastmod(p)}</lastmod>" if self.lastmod else "") + "</url>" for p in paths)
            if self.misbehave and paths is self.plain_sitemap:
                urls += f"<url><loc>http://localhost:{self.port}{self.offsite}</loc></url>"
            return (f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"{urls}</urlset>").encode()

        def index(paths: list[str], listed: dict[str, list[str]]) -> bytes:
            def newest(path: str) -> str:  # a sitemap changes when a page it lists does
                dates = [lastmod(p) for p in listed.get(path, [])]
                return f"<lastmod>{max(dates)}</lastmod>" if self.lastmod and dates else ""

            maps = "".join(f"<sitemap><loc>{self.base}{p}</loc>{newest(p)}</sitemap>" for p in paths)
            return (f'<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet type="text/xsl" href="/s.xsl"?>\n'
                    f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{maps}</sitemapindex>').encode()

        xml = "application/xml; charset=utf-8"
        hostile = ["/sitemaps/bomb.xml", "/sitemaps/bomb-file.xml.gz", "/sitemaps/huge.xml"] if self.hostile else []
        if self.hostile:
            self.behaviour["/sitemaps/bomb.xml"] = ["sitemap-bomb"] * 1000
            self.behaviour["/sitemaps/huge.xml"] = ["lying-length"] * 1000
        listed = {"/sitemaps/posts-1.xml.gz": self.gz_sitemap, "/sitemaps/posts-2.xml": self.plain_sitemap,
                  "/private/sitemap.xml": [path_of(2059999)], "/wp-sitemap-posts-post-1.xml": self.wp_sitemap}
        if self.sitemap_size:  # the articles in numbered sitemaps of sitemap_size, newest (highest number) first
            paths = sorted({*self.gz_sitemap, *self.plain_sitemap, *self.wp_sitemap, *self.feed},
                           key=lambda p: -self.pages[p].number if p in self.pages else 0)
            chunks = [paths[i:i + self.sitemap_size] for i in range(0, len(paths), self.sitemap_size)]
            listed = {f"/sitemaps/posts-{n + 1}.xml": chunk for n, chunk in enumerate(chunks)}
            maps = {path: (urlset(chunk), xml) for path, chunk in listed.items()}
            return {"/sitemap_index.xml": (index(list(maps), listed), xml), **maps,
                    "/wp-sitemap.xml": (index([], listed), xml)}
        return {
            "/sitemap_index.xml": (index([*hostile, "/sitemaps/posts-1.xml.gz", "/sitemaps/posts-2.xml",
                                          "/private/sitemap.xml"], listed), xml),
            # a gzipped file, not an encoding: the crawler unzips it itself
            "/sitemaps/bomb-file.xml.gz": (gzip_bomb(b'<?xml version="1.0"?><urlset>', members=8),
                                           "application/x-gzip"),
            "/sitemaps/posts-1.xml.gz": (gzip.compress(urlset(self.gz_sitemap)), "application/x-gzip"),
            "/sitemaps/posts-2.xml": (urlset(self.plain_sitemap), xml),
            "/private/sitemap.xml": (urlset([path_of(2059999)]), xml),
            "/wp-sitemap.xml": (index(["/wp-sitemap-posts-post-1.xml"], listed), xml),
            "/wp-sitemap-posts-post-1.xml": (urlset(self.wp_sitemap), xml),
        }

    def rss(self) -> bytes:
        items = "".join(f"<item><title>{TITLE}</title><link>{self.base}{p}</link></item>" for p in self.feed)
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>禁闻网</title>'
                f"<link>{self.base}/</link>{items}</channel></rss>").encode()


# 16 MB of one byte, gzipped once (16 KB): members of it make any size of bomb cheaply.
_BLOCK = 1 << 24


@functools.cache
def _gzipped_block(byte: bytes) -> bytes:
    return gzip.compress(byte * _BLOCK, compresslevel=9)


def gzip_bomb(head: bytes, members: int = 64, byte: bytes = b" ") -> bytes:
    """head, then members × 16 MB of byte (a gigabyte by default), as one
    gzip body of many members (RFC 1952 allows them; every decoder reads on)."""
    return gzip.compress(head) + _gzipped_block(byte) * members


HOSTILE = {
    "drip": FakeSite.drip_body,
    "drip-headers": FakeSite.drip_headers,
    "retry-ten-years": FakeSite.retry_ten_years,
    "retry-9999": FakeSite.retry_9999,
    "brotli": FakeSite.brotli_page,
    "gzip-bomb": FakeSite.gzip_bomb_page,
    "lying-length": FakeSite.lying_length,
    "sitemap-bomb": lambda site, handler, hit: site.send_encoded(
        handler, hit, gzip_bomb(b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'),
        "application/xml; charset=utf-8"),
}
