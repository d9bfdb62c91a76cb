"""The crawler against a fake bannedbook.org on 127.0.0.1 (tests/helpers/fakesite.py):
what it asks for and when (the server's request log), and what it keeps
(read back with warcio and gzip, not with the crawler's own reader)."""

from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers.fakesite import TITLE, FakeSite, path_of
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from bannedbook.build.files import find_pages
from bannedbook.crawl import crawlstore
from bannedbook.crawl.crawl import Settings, crawl, parser, settings_from
from bannedbook.crawl.crawlstore import CrawlStore, Exchange
from bannedbook.crawl.discover import parse_sitemap
from bannedbook.errors import CrawlError
from bannedbook.text.urls import article_kind, normalise_url

ROOT = Path(__file__).resolve().parent.parent
CONTACT = "https://example.org/archive-team"
FAST = {"contact": CONTACT, "rate": 0, "timeout": 0.3, "backoff": 0.2, "progress": False}


@dataclass
class Record:
    file: str
    type: str
    uri: str
    id: str
    headers: StatusAndHeaders
    http: StatusAndHeaders | None
    payload: bytes


def read_warcs(raw: Path) -> list[Record]:
    """Every record of every finished WARC file, each file read to its end
    by gzip (a member cut short raises) and warcio (digests checked)."""
    records = []
    for path in sorted((raw / "crawl").glob("*.warc.gz")):
        gzip.decompress(path.read_bytes())
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh, check_digests="raise"):
                records.append(Record(path.name, record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                                      record.rec_headers.get_header("WARC-Record-ID"), record.rec_headers,
                                      record.http_headers, record.raw_stream.read()))
    return records


def pages(records: list[Record], status: str = "200") -> Counter:
    return Counter(r.uri for r in records if r.type == "response" and r.http.get_statuscode() == status)


def run(site: FakeSite, raw: Path, **settings) -> str:
    out = io.StringIO()
    crawl(Settings(site.site, raw, **{**FAST, **settings}), out=out)
    return out.getvalue()


def article_hits(site: FakeSite) -> list:
    return [hit for hit in site.log if hit.path.startswith("/bnews/")]


@pytest.fixture(scope="module")
def misbehaving(tmp_path_factory):
    """One crawl of a site that does everything a real site does to crawlers."""
    raw = tmp_path_factory.mktemp("crawl") / "raw"
    with FakeSite(misbehave=True) as site:
        summary = run(site, raw)
        yield site, raw, summary, read_warcs(raw)


def test_every_served_article_is_stored_once(misbehaving):
    site, _, _, records = misbehaving
    assert pages(records) == Counter(site.article_urls)


def test_robots_disallowed_paths_and_sitemaps_are_never_requested(misbehaving):
    site, _, summary, _ = misbehaving
    asked = {hit.path for hit in site.log}
    assert site.disallowed not in asked and "/private/sitemap.xml" not in asked
    assert site.requests_for("/robots.txt")
    assert "skipped by robots.txt  1" in summary


def test_requests_are_spaced_by_crawl_delay(misbehaving):
    site = misbehaving[0]
    times = [hit.time for hit in site.log]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # the crawler waits after each answer, so the server sees at least the
    # delay between requests (no pacing at all gives gaps of a millisecond)
    assert len(gaps) > 20 and min(gaps) >= site.crawl_delay - 0.002


def test_sitemap_index_gzip_sitemap_wp_sitemap_and_feed_are_read(misbehaving):
    site, _, _, records = misbehaving
    stored = pages(records)
    for path in [*site.gz_sitemap, *site.wp_sitemap, *site.feed]:
        assert stored[site.base + path] == 1, path


def test_retry_after_in_seconds_and_as_a_date(misbehaving):
    site, _, _, records = misbehaving
    for path in (site.too_many, site.unavailable):
        first, second = site.requests_for(path)
        assert (first.status, second.status) == ((429 if path == site.too_many else 503), 200)
        assert second.time - first.time >= 1.0  # Retry-After: 1, or a date at least a second ahead
        assert pages(records)[site.base + path] == 1


def test_a_server_error_is_tried_again_after_the_delay(misbehaving):
    site, _, _, records = misbehaving
    first, second = site.requests_for(site.broken)
    assert (first.status, second.status) == (500, 200)
    assert second.time - first.time >= site.crawl_delay - 0.002  # backoff starts at 0: the delay still holds
    assert pages(records)[site.base + site.broken] == 1


def test_a_slow_page_is_tried_again(misbehaving):
    site, _, _, records = misbehaving
    hits = site.requests_for(site.slow_path)
    assert len(hits) == 2 and hits[-1].status == 200
    assert pages(records)[site.base + site.slow_path] == 1


def test_one_redirect_is_followed_a_chain_is_a_failure(misbehaving):
    site, _, summary, records = misbehaving
    assert len(site.requests_for(site.moved)) == 1
    assert len(site.requests_for(site.moved_to)) == 1  # listed in the sitemap too, fetched once
    (moved,) = [r for r in records if r.type == "response" and r.uri == site.base + site.moved]
    assert moved.http.get_statuscode() == "301"
    assert moved.http.get_header("Location") == site.base + site.moved_to
    assert not site.requests_for(path_of(2059496))
    assert "redirect chain longer than 1 ×1" in summary


def test_a_404_is_a_failure_not_retried(misbehaving):
    site, _, summary, records = misbehaving
    assert [hit.status for hit in site.requests_for(site.missing)] == [404]
    assert "HTTP 404 ×1" in summary and site.base + site.missing not in pages(records, "404")


def test_a_charset_only_the_header_gives_is_kept(misbehaving):
    site, _, _, records = misbehaving
    (record,) = [r for r in records if r.type == "response" and r.uri == site.base + site.gbk]
    assert record.http.get_header("Content-Type") == "text/html; charset=gbk"
    assert b"charset" not in record.payload
    assert TITLE in record.payload.decode("gbk")


def test_a_gzipped_chunked_page_is_stored_as_transferred(misbehaving):
    site, raw, _, records = misbehaving
    (record,) = [r for r in records if r.type == "response" and r.uri == site.base + site.gzipped]
    assert record.http.get_header("Content-Encoding") == "gzip" and record.payload[:2] == b"\x1f\x8b"
    assert record.http.get_header("Transfer-Encoding") is None  # stored de-chunked
    # a WARC reader undoes the Content-Encoding itself
    with (raw / "crawl" / record.file).open("rb") as fh:
        (html,) = [r.content_stream().read() for r in ArchiveIterator(fh)
                   if r.rec_type == "response" and r.rec_headers.get_header("WARC-Target-URI") == record.uri]
    assert (site.base + site.gzipped).encode() in html and TITLE in html.decode("utf-8")


def test_off_site_tracking_twins_and_mirrors_are_not_fetched(misbehaving):
    site, _, summary, _ = misbehaving
    assert not site.requests_for(site.offsite)  # listed as http://localhost:PORT/…, the same server
    assert [hit.path for hit in site.log if hit.path.startswith(path_of(2059100))] == [path_of(2059100)]
    assert not [hit for hit in site.log if "/zh-tw/" in hit.path]
    assert "zh-tw mirror 1" in summary and "off-site 1" in summary


def test_every_response_is_citable_and_has_its_request(misbehaving):
    site, _, _, records = misbehaving
    assert records[0].type == "warcinfo"
    info = records[0].payload.decode()
    assert "bannedbook-archive" in info and "robots: obeyed" in info and "http-header-user-agent" in info
    for response, request in zip(records[1::2], records[2::2], strict=True):
        assert response.type == "response" and request.type == "request"
        assert request.headers.get_header("WARC-Concurrent-To") == response.id
        assert request.uri == response.uri
        for name in ("WARC-Target-URI", "WARC-Date", "WARC-Payload-Digest", "WARC-Block-Digest"):
            assert response.headers.get_header(name), name
        assert request.http.protocol == "GET"  # warcio's split of "GET /path HTTP/1.1"
        assert request.http.statusline == urlsplit(response.uri).path + " HTTP/1.1"
        assert "bannedbook-archive" in request.http.get_header("User-Agent")


def test_the_user_agent_names_the_project_and_a_contact(misbehaving):
    site = misbehaving[0]
    agents = {hit.headers.get("User-Agent") for hit in site.log}
    assert len(agents) == 1 and agents.pop().startswith("bannedbook-archive/")
    assert all("(+https://" in hit.headers["User-Agent"] for hit in site.log)


def test_the_build_sees_only_finished_warc_files(misbehaving):
    _, raw, summary, _ = misbehaving
    names = {p.name for p in (raw / "crawl").iterdir()}
    assert not [n for n in names if n.endswith(crawlstore.OPEN)]
    warcish = {n for n in names if ".warc" in n}
    assert warcish and all(n.endswith(".warc.gz") for n in warcish)
    # The build reads the closed WARC files and nothing else of the crawler's (its state, its lock).
    assert sorted(p.name for p in find_pages(raw)) == sorted(warcish)
    assert "stored                 " in summary and "pages/s" in summary


def test_the_slower_of_rate_and_crawl_delay_wins(tmp_path):
    with FakeSite(crawl_delay=0.01, articles=4) as site:
        run(site, tmp_path, rate=20)
    times = [hit.time for hit in site.log]
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.05 - 0.002


def test_mirrors_are_fetched_when_asked(tmp_path):
    with FakeSite(articles=2, crawl_delay=0.01) as site:
        run(site, tmp_path, include_mirrors=True)
    assert site.requests_for(path_of(2059100, mirror=True))


def test_a_second_crawl_asks_conditionally_and_stores_only_what_changed(tmp_path):
    with FakeSite(articles=4, crawl_delay=0.01, lastmod=False) as site:  # no lastmod: every page is asked
        run(site, tmp_path)
        first = read_warcs(tmp_path)
        changed = path_of(2059102)
        site.change(changed)
        site.log.clear()
        summary = run(site, tmp_path)
    second = read_warcs(tmp_path)
    hits = article_hits(site)
    assert len(hits) == len(site.article_urls)
    for hit in hits:
        # article 2059101 sends no ETag: it is asked by date
        asked = hit.headers.get("If-Modified-Since" if "2059101" in hit.path else "If-None-Match")
        assert asked, hit.path
        assert hit.status == (200 if hit.path == changed else 304), hit.path
    assert pages(second) - pages(first) == Counter({site.base + changed: 1})
    assert "unchanged              " + str(len(site.article_urls) - 1) in summary


def test_a_second_crawl_asks_only_for_what_the_sitemaps_say_changed(tmp_path):
    with FakeSite(articles=40, crawl_delay=0, sitemap_size=10) as site:
        run(site, tmp_path)
        first = len(site.log)
        site.log.clear()
        summary = run(site, tmp_path)
        assert article_hits(site) == [], summary  # unchanged: only robots.txt, home page, feed and sitemaps
        assert "sitemaps not read      5 " in summary and "not asked              42: " in summary
        # robots.txt, the home page, its feed, the index, /sitemap.xml (404) and /wp-sitemap.xml
        assert len(site.log) == 6
        old, new = path_of(2059103), path_of(2059131)  # in different sitemaps; old changes first
        site.change(old)
        time.sleep(1.1)  # lastmod has whole seconds
        site.change(new)
        site.log.clear()
        summary = run(site, tmp_path)
    sitemaps = [hit.path for hit in site.log if hit.path.startswith("/sitemaps/")]
    assert sorted(sitemaps) == ["/sitemaps/posts-2.xml", "/sitemaps/posts-4.xml"], sitemaps
    assert [hit.path for hit in article_hits(site)] == [new, old]  # the newest first
    assert all(hit.status == 200 for hit in article_hits(site))
    assert "stored                 2 (new 0, changed 2)" in summary
    assert len(site.log) <= 0.2 * first


def test_a_page_served_again_unchanged_is_not_stored_again(tmp_path):
    with FakeSite(articles=3, crawl_delay=0.01, conditional=False) as site:
        run(site, tmp_path)
        site.change(path_of(2059100))
        site.log.clear()
        run(site, tmp_path)
    assert {hit.status for hit in article_hits(site)} == {200}
    stored = pages(read_warcs(tmp_path))
    assert stored[site.base + path_of(2059100)] == 2  # changed: kept beside the first capture
    assert stored - Counter({site.base + path_of(2059100): 1}) == Counter(site.article_urls)


def test_max_pages_stops_and_the_next_run_goes_on(tmp_path):
    with FakeSite(articles=6, crawl_delay=0.01) as site:
        summary = run(site, tmp_path, max_pages=3)
        assert len(article_hits(site)) == 3 and "run again" in summary
        summary = run(site, tmp_path)
    assert "finished" in summary
    assert Counter(hit.path for hit in article_hits(site)) == Counter(
        {url.removeprefix(site.base): 1 for url in site.article_urls})
    assert pages(read_warcs(tmp_path)) == Counter(site.article_urls)


def test_killed_crawls_resume_without_fetching_stored_pages_again(tmp_path):
    """kill -9 twice while pages are arriving, then let it finish."""
    kills = [3, 7]
    process: dict[str, subprocess.Popen] = {}

    def kill(count: int) -> None:
        if kills and count == kills[0]:
            kills.pop(0)
            os.kill(process["crawler"].pid, signal.SIGKILL)

    with FakeSite(articles=10, crawl_delay=0.01) as site:
        site.on_page = kill
        for _ in range(3):
            process["crawler"] = subprocess.Popen(
                [sys.executable, "-m", "bannedbook", "crawl", site.site, "--raw", str(tmp_path), "--rate", "0",
                 "--no-progress", "--timeout", "5", "--contact", CONTACT],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = process["crawler"].communicate(timeout=30)
            if process["crawler"].returncode == 0:
                break
            assert process["crawler"].returncode == -signal.SIGKILL, err.decode()
    assert not kills, "the crawl ended before it could be killed"
    assert b"finished" in out
    assert not list((tmp_path / "crawl").glob(f"*{crawlstore.OPEN}"))
    assert pages(read_warcs(tmp_path)) == Counter(site.article_urls)
    fetched = Counter(hit.path for hit in article_hits(site))
    # only a page whose answer was on its way when the crawler died is asked twice
    assert sum(fetched.values()) - len(fetched) <= 2
    assert not [hit for hit in article_hits(site) if "If-None-Match" in hit.headers]


def test_sigterm_closes_the_warc_file_and_prints_the_summary(tmp_path):
    with FakeSite(articles=8, crawl_delay=0.05) as site:
        stop = []
        site.on_page = lambda count: count == 2 and stop.append(True)
        crawler = subprocess.Popen([sys.executable, "-m", "bannedbook", "crawl", site.site, "--raw", str(tmp_path),
                                    "--rate", "0", "--no-progress", "--contact", CONTACT],
                                   cwd=ROOT, stdout=subprocess.PIPE)
        while not stop and crawler.poll() is None:
            time.sleep(0.01)
        crawler.send_signal(signal.SIGTERM)
        out, _ = crawler.communicate(timeout=30)
    assert crawler.returncode == 130 and b"interrupted" in out
    assert not list((tmp_path / "crawl").glob(f"*{crawlstore.OPEN}"))
    # the second page may have been on its way when the signal came: not stored, fetched next run
    assert 1 <= sum(pages(read_warcs(tmp_path)).values()) < len(site.article_urls)


def exchange(n: int) -> Exchange:
    return Exchange(url=f"http://127.0.0.1/bnews/a/20240708/{n}.html", protocol="HTTP/1.1", status=200,
                    reason="OK", headers=[("Content-Type", "text/html; charset=utf-8"), ("ETag", f'"{n}"')],
                    body=("<p>文章</p>" * 200).encode(), request_line=f"GET /bnews/a/20240708/{n}.html HTTP/1.1",
                    request_headers=[("Host", "127.0.0.1")])


def half_written(folder: Path) -> tuple[Path, list[int]]:
    """Three pages written and the crawler gone without closing the file;
    returns the .open file and where each record group ends."""
    store = CrawlStore(folder)
    crawl_id, _ = store.begin("http://127.0.0.1/")
    ends = []
    for n in range(3):
        store.save(crawl_id, exchange(n), "stored")
        ends.append(store._file.tell())
    path = store.folder / (store._name + crawlstore.OPEN)
    store._file.close()  # as a killed process leaves it: no rename
    store.db.close()
    store._lock.close()
    return path, ends


@pytest.mark.parametrize("cut, kept", [
    ("whole", 3),
    ("inside the last response", 2),
    ("between a response and its request", 2),
    ("inside the last request", 2),
    ("inside the gzip trailer", 2),
    ("inside the warcinfo", 0),
])
def test_a_half_written_warc_file_is_cut_back_on_start(tmp_path, cut, kept):
    path, ends = half_written(tmp_path)
    data = path.read_bytes()
    offsets = {"whole": len(data), "inside the last response": ends[1] + 300,
               "between a response and its request": _response_end(data, ends[1]),
               "inside the last request": ends[2] - 40, "inside the gzip trailer": ends[2] - 3,
               "inside the warcinfo": 30}
    path.write_bytes(data[:offsets[cut]])
    store = CrawlStore(tmp_path)
    files = store.warc_files()
    assert not list(store.folder.glob(f"*{crawlstore.OPEN}"))
    urls = [exchange(n).url for n in range(3)]
    assert [store.latest(url) is not None for url in urls] == [n < kept for n in range(3)]
    crawl_id, _ = store.begin("http://127.0.0.1/")
    assert [store.visited(url, crawl_id) for url in urls] == [n < kept for n in range(3)]
    store.close()
    if kept:
        assert pages(read_warcs(tmp_path)) == Counter(urls[:kept])
    else:
        assert files == []


def _response_end(data: bytes, start: int) -> int:
    """Where the gzip member of the response record that starts at `start` ends."""
    unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
    unzip.decompress(data[start:])
    return len(data) - len(unzip.unused_data)


def test_an_interrupt_between_writing_and_indexing_loses_nothing(tmp_path, monkeypatch):
    """Ctrl-C closes the file under its final name; a page written but not yet
    indexed is found there on the next start, not fetched again."""
    store = CrawlStore(tmp_path)
    crawl_id, _ = store.begin("http://127.0.0.1/")
    store.save(crawl_id, exchange(0), "stored")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_index", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.save(crawl_id, exchange(1), "stored")
    store.close()
    store = CrawlStore(tmp_path)
    try:
        assert store.latest(exchange(1).url) is not None and store.visited(exchange(1).url, crawl_id)
    finally:
        store.close()


def test_a_lost_state_file_is_rebuilt_from_the_warc_files(tmp_path):
    with FakeSite(articles=3, crawl_delay=0.01) as site:
        run(site, tmp_path)
        for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
            (tmp_path / "crawl" / name).unlink(missing_ok=True)
        site.log.clear()
        run(site, tmp_path)
    assert {hit.status for hit in article_hits(site)} == {304}
    assert pages(read_warcs(tmp_path)) == Counter(site.article_urls)


def test_an_unreadable_robots_txt_stops_the_crawl(tmp_path):
    with FakeSite(robots_status=503) as site, pytest.raises(CrawlError, match="robots.txt"):
        run(site, tmp_path, tries=2)
    assert not article_hits(site)


def test_no_crawl_without_a_contact_for_the_operators(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BANNEDBOOK_CRAWL_CONTACT"}
    with FakeSite(articles=2, crawl_delay=0.01) as site:
        command = subprocess.run([sys.executable, "-m", "bannedbook", "crawl", site.site, "--raw", str(tmp_path)],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
        with pytest.raises(CrawlError, match="--contact"):
            run(site, tmp_path, contact=" ")
        assert not site.log
    assert command.returncode == 2 and "--contact" in command.stderr
    assert not list(tmp_path.iterdir())
    assert "(+mailto:ops@example.org)" in Settings("https://x.org/", contact="ops@example.org").user_agent


def test_a_second_crawler_on_the_same_folder_is_refused(tmp_path):
    store = CrawlStore(tmp_path)
    try:
        with pytest.raises(CrawlError, match="another crawl"):
            CrawlStore(tmp_path)
    finally:
        store.close()


def test_a_missing_robots_txt_allows_everything(tmp_path):
    with FakeSite(articles=2, crawl_delay=0.01, robots_status=404) as site:
        run(site, tmp_path)
    # no robots.txt, so no Sitemap: line to the index; the feed and /wp-sitemap.xml remain
    assert pages(read_warcs(tmp_path)) == Counter(site.base + p for p in site.feed + site.wp_sitemap)


# -- discovery rules, on bytes ------------------------------------------------

def test_normalise_drops_tracking_and_fragments_only():
    url = "HTTPS://WWW.Bannedbook.org:443/bnews/a/20240708/1.html?utm_source=x&p=2&fbclid=y#top"
    assert normalise_url(url) == "https://www.bannedbook.org/bnews/a/20240708/1.html?p=2"
    assert normalise_url("/bnews/a/1.html", "https://www.bannedbook.org/x/") == "https://www.bannedbook.org/bnews/a/1.html"
    assert normalise_url("mailto:x@example.org") is None and normalise_url("javascript:void(0)") is None


def test_article_urls_and_their_zh_tw_copies():
    assert article_kind("https://www.bannedbook.org/bnews/comments/20240708/2059001.html") == "article"
    assert article_kind("https://www.bannedbook.org/bnews/zh-tw/comments/20240708/2059001.html") == "mirror"
    assert article_kind("https://www.bannedbook.org/bnews/tag/abc/") is None


def test_sitemaps_without_namespace_gzipped_and_with_entities():
    plain = b"<urlset><url><loc> https://a.org/bnews/x/20240708/1.html </loc></url></urlset>"
    assert parse_sitemap(gzip.compress(plain)).pages == ["https://a.org/bnews/x/20240708/1.html"]
    hostile = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
               b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://a.org/&e;</loc>'
               b"</url></urlset>")
    (loc,) = parse_sitemap(hostile).pages
    assert loc == "https://a.org/"


def test_any_url_a_page_states_is_read_without_raising():
    from bannedbook.text.urls import article_url, is_mirror

    for url in ("http://[::1", "http://[::1/bnews/zh-tw/a/20240708/1.html", "", "zh-tw", "//[zz"):
        assert article_url(url) == url and not is_mirror(url)
    assert article_url("https://www.bannedbook.org/bnews/zh-tw/a/20240708/1.html") == (
        "https://www.bannedbook.org/bnews/a/20240708/1.html")


def test_the_command_lines_defaults_are_the_settings_defaults(monkeypatch):
    """`bannedbook crawl` with no options crawls as Settings() says: the
    defaults are written once, in Settings."""
    monkeypatch.delenv("BANNEDBOOK_CRAWL_CONTACT", raising=False)
    assert settings_from(parser().parse_args(["--contact", "https://example.org/me"])) == \
        Settings(contact="https://example.org/me")
    changed = settings_from(parser().parse_args(["--contact", "me@example.org", "--rate", "0.5", "--tries", "5"]))
    assert (changed.rate, changed.tries, changed.contact) == (0.5, 5, "me@example.org")
