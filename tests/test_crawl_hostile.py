"""The crawler against a hostile site (tests/helpers/fakesite.py, hostile=True): it
always ends by itself, with the good pages stored, each bad URL failed with
its reason and recorded, nothing read beyond its limits. Limits and deadlines
are made small through Settings, so each case takes a fraction of a second
(the memory a bomb costs is measured in benchmarks/crawl_bench.py)."""

from __future__ import annotations

import email.utils
import gzip
import io
import sqlite3
import threading
import time
import zlib

import pytest
from helpers.fakesite import FakeSite, gzip_bomb
from test_crawl import FAST, pages, read_warcs
from warcio.archiveiterator import ArchiveIterator

from bannedbook.crawl import discover as discover_module
from bannedbook.crawl.crawl import ROBOTS_MAX_BYTES, DecodedSize, Settings, crawl, retry_after
from bannedbook.errors import CrawlError
from bannedbook.text.decode import MAX_PAGE_BYTES

DEADLINE = 0.5
LIMIT = 1_000_000
ENDS_WITHIN = 30  # seconds; a crawl here takes a few
HOSTILE = {**FAST, "deadline": DEADLINE, "max_wait": 5.0, "page_bytes": LIMIT, "document_bytes": LIMIT}


def run(site: FakeSite, raw, **settings) -> tuple[bool | None, str, float]:
    """A crawl in a thread of its own, so that a crawl that never ends fails
    the test instead of hanging it."""
    out = io.StringIO()
    result: list = []
    started = time.monotonic()

    def work() -> None:
        try:
            result.append(crawl(Settings(site.site, raw, **{**HOSTILE, **settings}), out=out))
        except Exception as error:  # raised again in the test's thread
            result.append(error)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(ENDS_WITHIN)
    if worker.is_alive():
        pytest.fail(f"the crawl had not ended after {ENDS_WITHIN} s")
    if isinstance(result[0], Exception):
        raise result[0]
    return result[0], out.getvalue(), time.monotonic() - started


def failures(raw) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(raw / "crawl" / "state.sqlite") as db:
        return {url: (reason, detail) for url, reason, detail in
                db.execute("select url, reason, detail from urls where outcome = 'failed'")}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    raw = tmp_path_factory.mktemp("hostile") / "raw"
    with FakeSite(hostile=True, articles=4) as site:
        finished, summary, elapsed = run(site, raw)
        yield site, raw, finished, summary, elapsed


def test_the_crawl_ends_by_itself_with_every_good_page(hostile):
    site, raw, finished, summary, elapsed = hostile
    assert finished is True, summary
    assert pages(read_warcs(raw)) == {url: 1 for url in site.article_urls}
    # two dripping pages cost a deadline each; everything else is quick
    assert elapsed < 30, summary


@pytest.mark.parametrize("page, reason", [
    ("dripping", f"took longer than {DEADLINE:g} s"),
    ("dripping_headers", f"took longer than {DEADLINE:g} s"),
    ("ten_years", "Retry-After over 5 s: left for a later crawl"),
    ("year_9999", "Retry-After over 5 s: left for a later crawl"),
    ("brotli", "Content-Encoding br (not asked for)"),
    ("page_bomb", "too large"),
    ("lying_length", "too large"),
])
def test_each_hostile_page_fails_once_with_its_reason(hostile, page, reason):
    site, raw, _, summary, _ = hostile
    path = getattr(site, page)
    assert failures(raw)[site.base + path][0] == reason
    assert len(site.requests_for(path)) == 1  # not tried again: trying again would cost the same
    assert f"{reason} ×" in summary


def test_a_bomb_is_measured_after_decoding(hostile):
    site, raw, _, _, _ = hostile
    assert failures(raw)[site.base + site.page_bomb][1] == f"more than {LIMIT:,} bytes once decoded"
    assert failures(raw)[site.base + site.lying_length][1] == f"more than {LIMIT:,} bytes"


def test_the_retry_after_asked_for_is_kept(hostile):
    site, raw, _, _, _ = hostile
    ten_years = failures(raw)[site.base + site.ten_years][1]
    assert ten_years == f"HTTP 503 asked to wait {10 * 365 * 86400:,} s"
    year_9999 = failures(raw)[site.base + site.year_9999][1]
    assert year_9999.startswith("HTTP 429 asked to wait ") and year_9999.endswith(" s")
    assert int(year_9999.split()[-2].replace(",", "")) > 7000 * 365 * 86400


def test_nothing_stored_is_encoded_otherwise_or_decodes_past_the_limit(hostile):
    _, raw, _, _, _ = hostile
    for path in (raw / "crawl").glob("*.warc.gz"):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    assert record.http_headers.get_header("Content-Encoding") in (None, "gzip")
                    assert len(record.content_stream().read(LIMIT + 1)) <= LIMIT


def test_robots_txt_bomb_is_read_to_its_limit_and_its_rules_obeyed(hostile):
    site, raw, _, _, _ = hostile
    asked = {hit.path for hit in site.log}
    assert "/private/sitemap.xml" not in asked  # Disallow: /private/, from the bomb's first lines
    records = read_warcs(raw)
    assert f"robots: obeyed (its first {ROBOTS_MAX_BYTES:,} bytes, as RFC 9309 allows)" in records[0].payload.decode()


def test_sitemap_bombs_and_a_lying_length_are_problems_not_the_end(hostile):
    site, _, _, summary, _ = hostile
    for name in ("bomb.xml", "huge.xml"):
        assert f"discovery: {site.base}/sitemaps/{name}: too large" in summary
    assert (f"discovery: sitemap {site.base}/sitemaps/bomb-file.xml.gz: ValueError: more than {LIMIT} bytes "
            "once unzipped") in summary
    assert "the next one does" in summary  # the summary says when a failed URL is asked again


def test_a_resumed_crawl_does_not_ask_for_a_failed_url_again_the_next_crawl_does(tmp_path):
    with FakeSite(hostile=True, articles=1, crawl_delay=0.01) as site:
        run(site, tmp_path, max_pages=0)  # discovery only: the crawl's order is in the state file
        with sqlite3.connect(tmp_path / "crawl" / "state.sqlite") as db:
            order = [url for (url,) in db.execute("select url from urls order by rowid")]
        dripping = site.base + site.dripping
        finished, _, _ = run(site, tmp_path, max_pages=order.index(dripping) + 1)
        assert finished is False and dripping in failures(tmp_path)
        finished, _, _ = run(site, tmp_path)  # goes on with the same crawl
        assert finished is True and len(site.requests_for(site.dripping)) == 1
        finished, _, _ = run(site, tmp_path)  # a new crawl: asked again, and failed again in time
        assert finished is True and len(site.requests_for(site.dripping)) == 2


def test_a_crawl_delay_beyond_the_ceiling_is_refused(tmp_path):
    with FakeSite(crawl_delay=10**8, articles=1) as site, pytest.raises(CrawlError, match="--max-wait"):
        run(site, tmp_path)
    assert [hit.path for hit in site.log] == ["/robots.txt"]


def test_retry_after_seconds_dates_and_garbage():
    now = 1_700_000_000.0
    assert retry_after("120", now) == 120.0
    assert retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == 30.0
    assert retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now) > 7000 * 365 * 86400
    assert retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    for garbage in ("", None, "soon", "-5", "1e9", "Fri, 99 Foo 9999"):
        assert retry_after(garbage, now) is None


@pytest.mark.parametrize("encoding, body", [
    ("gzip", gzip.compress(b"a" * 300_000) + gzip.compress(b"b" * 50_000)),  # two members
    ("gzip", gzip.compress(b"a" * 350_000) + b"\0" * 8),  # junk after a member is ignored
    ("deflate", zlib.compress(b"c" * 350_000)),
    ("deflate", zlib.compress(b"c" * 350_000)[2:-4]),  # raw deflate, as some servers send it
    ("identity", b"d" * 350_000),
])
def test_decoded_size_counts_any_split_of_the_body(encoding, body):
    for step in (1, 7, 4096, len(body)):
        size = DecodedSize(encoding)
        for start in range(0, len(body), step):
            size.feed(body[start:start + step], 10**9)
        assert size.size == 350_000, step


def test_decoded_size_stops_counting_at_the_limit():
    size = DecodedSize("gzip")
    size.feed(gzip_bomb(b"<html>"), 1000)  # a gigabyte
    assert 1000 < size.size <= 1000 + (1 << 16)


def test_one_page_limit_for_the_crawler_and_the_build():
    assert Settings().page_bytes == MAX_PAGE_BYTES


def test_a_sitemap_trap_is_read_only_so_far(monkeypatch):
    """An index of indexes without end: discovery stops at MAX_SITEMAPS and says how many it left."""
    monkeypatch.setattr(discover_module, "MAX_SITEMAPS", 20)
    site = "https://www.bannedbook.org/"
    asked = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        children = "".join(f"<sitemap><loc>{url.removesuffix('.xml')}-{i}.xml</loc></sitemap>" for i in range(50))
        return f"<sitemapindex>{children}</sitemapindex>".encode()

    report = discover_module.Discovery()
    list(discover_module.discover(site, fetch, report=report))
    sitemaps = [url for url in asked if "sitemap" in url]
    assert len(sitemaps) == 20
    assert any(problem.startswith("more than 20 sitemaps: ") for problem in report.problems)
