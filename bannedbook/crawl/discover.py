"""Which URLs a crawl of bannedbook.org visits: the site's sitemaps and feeds,
what counts as an article, and the one normal form of an article's URL.

Nothing here touches the network: `discover` is handed a function that
fetches politely (see bannedbook/crawl/crawl.py), so these rules are tested on bytes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin

import feedparser
import lxml.html
from lxml import etree

from bannedbook.text.urls import article_kind, normalise_url, origin

# The sitemap protocol caps a sitemap at 50 MB uncompressed; more is a gzip bomb or a mistake.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
# A sitemap index that points at another index, and so on: bannedbook's nest one level.
MAX_SITEMAP_DEPTH = 3
# An index may list 50,000 sitemaps, each another index: a site (or a trap) could
# have the crawl read sitemaps for ever. bannedbook's are a few hundred.
MAX_SITEMAPS = 2000
FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml"}
DEFAULT_SITEMAPS = ("sitemap.xml", "wp-sitemap.xml")


def same_site(url: str, site: str) -> bool:
    """Only the site's own scheme, host and port: a sitemap that lists another
    host (or the same host under another name) is not ours to crawl."""
    try:
        return origin(url) == origin(site)
    except ValueError:  # a port that is not a number
        return False


@dataclass
class Sitemap:
    sitemaps: list[str] = field(default_factory=list)  # a sitemap index's children
    pages: list[str] = field(default_factory=list)
    lastmod: dict[str, str] = field(default_factory=dict)  # loc → its <lastmod> as changed_by gives it


def changed_by(lastmod: str | None) -> str | None:
    """A sitemap <lastmod> (W3C datetime: a date, or a date and time with a
    zone) as the UTC time by which the page had last changed, in the form
    WARC-Date has (2024-07-08T12:00:00Z), so the two compare as text. A bare
    date counts as the end of that day: a page captured on the day it changed
    is asked for again rather than missed. None for a value that is no date."""
    text = (lastmod or "").strip()
    try:
        if len(text) == 10:
            when = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
        else:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None
    return when.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def ungzip(data: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """A `.xml.gz` sitemap comes gzipped as a file, not as a Content-Encoding,
    so the HTTP client leaves it compressed."""
    if data[:2] != b"\x1f\x8b":
        return data
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
        out = unzipped.read(limit + 1)
    if len(out) > limit:
        raise ValueError(f"more than {limit} bytes once unzipped")
    return out


def parse_sitemap(data: bytes, limit: int = MAX_SITEMAP_BYTES) -> Sitemap:
    """A sitemap (<urlset>) or a sitemap index (<sitemapindex>), gzipped or
    not (at most limit bytes unzipped), with or without the sitemaps.org
    namespace. Entities are not resolved and nothing is fetched by the parser."""
    found = Sitemap()
    events = etree.iterparse(io.BytesIO(ungzip(data, limit)), events=("end",), tag=("{*}sitemap", "{*}url"),
                             resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    for _, element in events:
        loc = (element.findtext("{*}loc") or "").strip()
        if loc:
            (found.sitemaps if etree.QName(element).localname == "sitemap" else found.pages).append(loc)
            if lastmod := changed_by(element.findtext("{*}lastmod")):
                found.lastmod[loc] = lastmod
        element.clear(keep_tail=False)
    return found


def feed_links(data: bytes) -> list[str]:
    """Entry links of an RSS or Atom feed."""
    parsed = feedparser.parse(data)
    return [entry.link for entry in parsed.entries if entry.get("link")]


def feeds_on_page(data: bytes, base: str) -> list[str]:
    """The feeds a page announces with <link rel="alternate" type="application/rss+xml">."""
    try:
        document = lxml.html.fromstring(data)
    except (etree.ParserError, ValueError):
        return []
    found = []
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "alternate" in rel and (link.get("type") or "").lower() in FEED_TYPES and link.get("href"):
            found.append(urljoin(base, link.get("href")))
    return found


@dataclass
class Found:
    url: str
    source: str  # the sitemap or feed that listed it
    lastmod: str | None = None  # when it last changed, by its sitemap (changed_by's form)


@dataclass
class Discovery:
    """What discovery saw besides the articles it yields, for the summary."""
    skipped: Counter = field(default_factory=Counter)  # reason → URLs
    problems: list[str] = field(default_factory=list)  # sitemaps or feeds that could not be read
    read: dict[str, str | None] = field(default_factory=dict)  # sitemaps read → the lastmod their index gave
    unchanged: list[str] = field(default_factory=list)  # sitemaps not read: unchanged since last read


def discover(site: str, fetch: Callable[[str], bytes | None], robots_sitemaps: Iterable[str] = (),
             feeds: Iterable[str] = (), include_mirrors: bool = False, report: Discovery | None = None,
             limit: int = MAX_SITEMAP_BYTES, unchanged: Callable[[str, str], bool] | None = None) -> Iterator[Found]:
    """Every article URL the site's sitemaps and feeds list, normalised, once.

    `fetch(url)` returns the body, or None when the URL could not be had (it
    says why itself). Sitemaps come from robots.txt's Sitemap: lines, then
    /sitemap.xml and /wp-sitemap.xml; then feeds, from the home page's
    <link rel=alternate> and `feeds`. URLs of other hosts are never fetched; a
    gzipped sitemap file is unzipped to at most limit bytes, and at most
    MAX_SITEMAPS sitemaps are read. A sitemap whose index gives a lastmod is
    not fetched when `unchanged(url, lastmod)` says it was read since (its
    pages are known from then); report.read has the lastmod of each read."""
    report = report if report is not None else Discovery()
    seen: set[str] = set()

    def take(urls: Iterable[str], source: str, lastmod: dict[str, str] | None = None) -> Iterator[Found]:
        for raw in urls:
            url = normalise_url(raw, source)
            if url is None:
                report.skipped["not an http(s) URL"] += 1
            elif not same_site(url, site):
                report.skipped["off-site"] += 1
            elif (kind := article_kind(url)) is None:
                report.skipped["not an article"] += 1
            elif kind == "mirror" and not include_mirrors:
                report.skipped["zh-tw mirror"] += 1
            elif url in seen:
                report.skipped["listed twice"] += 1
            else:
                seen.add(url)
                yield Found(url, source, (lastmod or {}).get(raw))

    def read(url: str, what: str, parse: Callable[[bytes], object]) -> object | None:
        if not same_site(url, site):
            report.problems.append(f"{what} {url}: off-site, not fetched")
            return None
        data = fetch(url)
        if data is None:
            return None
        try:
            return parse(data)
        except (etree.XMLSyntaxError, ValueError, EOFError, OSError, zlib.error) as error:
            report.problems.append(f"{what} {url}: {type(error).__name__}: {error}")
            return None

    home = normalise_url(site)
    queue = [(normalise_url(url, site), 0, None)
             for url in [*robots_sitemaps, *(urljoin(home, p) for p in DEFAULT_SITEMAPS)]]
    visited: set[str] = set()
    while queue:
        sitemap_url, depth, changed = queue.pop(0)
        if sitemap_url is None or sitemap_url in visited:
            continue
        if changed and unchanged and unchanged(sitemap_url, changed):
            visited.add(sitemap_url)
            report.unchanged.append(sitemap_url)
            continue
        if len(visited) >= MAX_SITEMAPS:
            left = len({url for url, _, _ in queue} - visited) + 1
            report.problems.append(f"more than {MAX_SITEMAPS:,} sitemaps: {left:,} more not read")
            break
        visited.add(sitemap_url)
        sitemap = read(sitemap_url, "sitemap", lambda data: parse_sitemap(data, limit))
        if not isinstance(sitemap, Sitemap):
            continue
        report.read[sitemap_url] = changed
        if depth >= MAX_SITEMAP_DEPTH and sitemap.sitemaps:
            report.problems.append(f"sitemap {sitemap_url}: nested deeper than {MAX_SITEMAP_DEPTH}, children ignored")
        else:
            queue.extend((normalise_url(child, sitemap_url), depth + 1, sitemap.lastmod.get(child))
                         for child in sitemap.sitemaps)
        yield from take(sitemap.pages, sitemap_url, sitemap.lastmod)
    # feeds after sitemaps: an article both list is known with its sitemap's lastmod
    given = [url for url in (normalise_url(f, site) for f in feeds) if url]
    feed_urls = list(dict.fromkeys([*(read(home, "home page", lambda d: feeds_on_page(d, home)) or []), *given]))
    for feed in feed_urls:
        yield from take(read(feed, "feed", feed_links) or [], feed)
