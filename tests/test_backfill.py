"""The backfill against real pywb on 127.0.0.1 (tests/helpers/wayback.py)
over WARC files these tests write, for captures of the fake site
(tests/helpers/fakesite.py): what it asks the archive for and how, what it
writes (read back with warcio), what the build makes of it, and what a crawl
after it still fetches from the site."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from helpers.fakesite import FakeSite, article_html, path_of
from helpers.wayback import CommonCrawl, Snapshot, Wayback
from helpers.wayback import pywb_bin as wayback_bin
from warcio.archiveiterator import ArchiveIterator

from bannedbook.build.pipeline import build
from bannedbook.crawl.backfill import Options, backfill, original_headers, page_count, parse_listing, warc_date
from bannedbook.crawl.crawl import Settings, crawl

ROOT = Path(__file__).resolve().parent.parent
CONTACT = "https://example.org/archive-team"
ARCHIVED = [2059100, 2059101, 2059102, 2059103, 2059104, 2059200, 2059300]  # 2059105: not in the archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The fake site, and a pywb collection holding: one capture of each
    article but one, as the site serves it; an older, different version of
    the first; the same bytes as the first again a few months on; a 404, the
    zh-tw mirror and a page that is not an article."""
    if wayback_bin() is None:
        pytest.skip("pywb is not installed: `make test` installs it into .venv-pywb (tests/pywb-requirements.txt)")
    folder = tmp_path_factory.mktemp("wayback")
    with FakeSite(articles=6, crawl_delay=0, sitemap_size=4) as site:
        def url(number: int) -> str:
            return site.base + next(path for path, page in site.pages.items() if page.number == number
                                    and "/zh-tw/" not in path)

        snapshots = [Snapshot(url(n), f"2025010{i + 1}120000", site.pages[url(n)[len(site.base):]].body(site.base))
                     for i, n in enumerate(ARCHIVED)]
        first = url(2059100)
        snapshots += [
            Snapshot(first, "20220301080000", article_html(first, 2059100, version=7).encode()),
            Snapshot(first, "20250601000000", snapshots[0].body),  # the same payload again
            Snapshot(url(2059101), "20230101000000", b"<html>gone</html>", status="404 Not Found"),
            Snapshot(site.base + path_of(2059100, mirror=True), "20240101000000", b"<html>mirror</html>"),
            Snapshot(site.base + "/bnews/tag/x", "20240101000000", b"<html>tag</html>"),
        ]
        with Wayback(folder, snapshots) as wayback:
            yield site, wayback, snapshots


def run(wayback: Wayback, site: FakeSite, raw: Path, **options) -> str:
    out = io.StringIO()
    options = {"sources": [wayback.collection], **options}
    backfill(Options(site=site.site, raw=raw, contact=CONTACT, rate=0, backoff=0.1, **options), out=out)
    return out.getvalue()


def records(raw: Path) -> list:
    """(type, URI, headers) of every record the backfill wrote, read with warcio, digests checked."""
    found = []
    for path in sorted((raw / "backfill").glob("*.warc.gz")):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh, check_digests="raise"):
                record.content_stream().read()
                found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"), record.rec_headers))
    return found


def test_the_listing_formats_of_each_archive():
    wayback = b'[["urlkey","timestamp","original","mimetype","statuscode","digest","length"],' \
              b'["org,x)/a","20200101000000","http://x.org/a","text/html","200","ABC","12"]]'
    assert parse_listing(wayback) == [{"urlkey": "org,x)/a", "timestamp": "20200101000000", "original":
                                       "http://x.org/a", "mimetype": "text/html", "statuscode": "200",
                                       "digest": "ABC", "length": "12"}]
    pywb = b'{"url": "http://x.org/a", "timestamp": "20200101000000"}\n{"url": "http://x.org/b", "timestamp": "2"}\n'
    assert [row["url"] for row in parse_listing(pywb)] == ["http://x.org/a", "http://x.org/b"]
    assert page_count(b"17\n") == 17 and page_count(b'{"pages": 3, "pageSize": 5, "blocks": 14}') == 3
    assert page_count(pywb) is None  # no paged index: the answer is the listing itself
    assert warc_date("20220301080000") == "2022-03-01T08:00:00Z"


def test_a_replay_keeps_the_sites_headers_not_the_archives():
    replayed = [("Content-Type", "text/html"), ("X-Archive-Orig-Content-Type", "text/html; charset=gbk"),
                ("X-Archive-Orig-ETag", '"abc"'), ("X-Archive-Orig-Content-Length", "999"), ("Content-Length", "12"),
                ("Content-Encoding", "gzip"), ("Memento-Datetime", "Sun, 02 Jan 2022 03:04:05 GMT"),
                ("Link", "<http://x.org/a>; rel=original"), ("X-Archive-Src", "a.warc.gz"), ("Date", "today"),
                ("Last-Modified", "Sat, 01 Jan 2022 00:00:00 GMT")]
    assert original_headers(replayed) == [
        ("Content-Type", "text/html; charset=gbk"), ("ETag", '"abc"'), ("Content-Length", "12"),
        ("Content-Encoding", "gzip"), ("Last-Modified", "Sat, 01 Jan 2022 00:00:00 GMT")]


def test_a_backfill_writes_each_capture_with_its_date_and_archive(archive, tmp_path):
    site, wayback, snapshots = archive
    wayback.log.clear()
    wayback.refuse = [1]  # the first request is told to come back in a second
    summary = run(wayback, site, tmp_path)
    log = list(wayback.log)
    assert log[0].status == 429 and log[1].path == log[0].path and log[1].time - log[0].time >= 1.0
    assert len({asked.peer for asked in log}) == 1  # one connection
    assert all(CONTACT in asked.headers["User-Agent"] for asked in log)
    replays = [asked.path for asked in log if asked.replay]
    wanted = {(s.url, s.timestamp) for s in snapshots[:8]}
    assert sorted(replays) == sorted(f"/bannedbook/{t}id_/{u}" for u, t in wanted)  # each once, nothing else
    written = records(tmp_path)
    responses = [(uri, headers) for kind, uri, headers in written if kind == "response"]
    assert {(uri, h.get_header("Archive-Timestamp")) for uri, h in responses} == wanted
    for uri, headers in responses:
        stamp = headers.get_header("Archive-Timestamp")
        assert headers.get_header("WARC-Date") == warc_date(stamp)
        assert headers.get_header("Archive-Name") == wayback.collection
        assert headers.get_header("WARC-Source-URI") == f"{wayback.collection}/{stamp}id_/{uri}"
        assert headers.get_header("Archive-Filename", "").startswith("archive-")
    assert Counter(kind for kind, _, _ in written) == Counter({"response": 8, "metadata": 8, "warcinfo": 1})
    assert "payload already held: 1" in summary and "HTTP 404: 1" in summary and "zh-tw mirror: 1" in summary
    # again: nothing new listed, nothing fetched
    wayback.log.clear()
    assert "stored 0" in run(wayback, site, tmp_path) and not [a for a in wayback.log if a.replay]

    db = tmp_path / "archive.db"
    build(tmp_path, db, 1, progress=False, sites=[site.base])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select url, captured, archive, archive_timestamp, archive_file, archive_offset, "
                            "archive_uri, status from captures").fetchall()
        articles = conn.execute("select url, captured from articles").fetchall()
    assert {(url, captured) for url, captured, *_ in rows} == {(u, warc_date(t)) for u, t in wanted}
    assert all(archive == wayback.collection and stamp and file and offset is not None and uri
               for _, _, archive, stamp, file, offset, uri, _ in rows)
    first = site.base + path_of(2059100)
    assert dict(articles)[first] == "2022-03-01T08:00:00Z"  # the earliest capture dates it
    assert len(articles) == len(ARCHIVED)


def test_common_crawl_records_are_read_by_byte_range(archive, tmp_path):
    site, wayback, snapshots = archive
    crawls = {"CC-MAIN-2025-05": f"{wayback.collection}/cdx", "CC-MAIN-2019-30": f"{wayback.collection}/none"}
    with CommonCrawl(wayback, crawls) as cc:
        summary = run(wayback, site, tmp_path, sources=["cc"], cc_collinfo=cc.collinfo, cc_data=cc.data,
                      since="2021", intervals={"cc-index": 0, "cc-data": 0})
    assert "cc: 12 captures listed; this run stored 8" in summary, summary
    assert not [asked for asked in wayback.log if "/none" in asked.path]  # the 2019 crawl is not asked
    data = [asked for asked in cc.log if asked.path.startswith("/data/")]
    assert len(data) == 8 and all(asked.status == 206 and asked.headers["Range"] for asked in data)
    bodies = {(s.url, s.timestamp): s.body for s in snapshots}
    for path in sorted((tmp_path / "backfill").glob("*.warc.gz")):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response":
                    continue
                headers = record.rec_headers
                assert headers.get_header("Archive-Name") == "cc"
                file, offset = headers.get_header("Archive-Filename"), headers.get_header("Archive-Offset")
                assert headers.get_header("WARC-Source-URI") == f"{cc.data}{file}#{offset}"
                key = (headers.get_header("WARC-Target-URI"), headers.get_header("Archive-Timestamp"))
                assert record.content_stream().read() == bodies[key]  # the original bytes


def test_a_crawl_after_a_backfill_fetches_only_what_the_archive_lacks(archive, tmp_path):
    site, wayback, _ = archive
    run(wayback, site, tmp_path)
    changed = path_of(2059103)
    site.change(changed)
    site.log.clear()
    out = io.StringIO()
    crawl(Settings(site.site, tmp_path, contact=CONTACT, rate=0, progress=False), out=out)
    fetched = sorted(hit.path for hit in site.log if hit.path.startswith("/bnews/"))
    assert fetched == sorted([changed, path_of(2059105)]), out.getvalue()  # changed since, and never archived
    assert "not asked              6: sitemap lastmod before the newest capture (0 a crawl's, 6 a backfill's)" \
        in out.getvalue()
    # and a backfill after the crawl still fetches the archives' earlier text of a page the crawl holds newer
    wayback.log.clear()
    again = tmp_path / "again"
    (again / "crawl").mkdir(parents=True)
    for path in (tmp_path / "crawl").glob("*.warc.gz"):
        os.link(path, again / "crawl" / path.name)
    os.link(tmp_path / "crawl" / "state.sqlite", again / "crawl" / "state.sqlite")
    summary = run(wayback, site, again)
    replayed = {asked.path.split("id_/")[1] for asked in wayback.log if asked.replay}
    assert site.base + changed in replayed and site.base + path_of(2059105) not in replayed
    assert "fresher" not in summary, summary


def test_backfilled_files_copied_in_without_their_state_count_for_the_crawl(archive, tmp_path):
    site, wayback, _ = archive
    run(wayback, site, tmp_path / "elsewhere")
    (tmp_path / "backfill").mkdir()
    for path in (tmp_path / "elsewhere" / "backfill").glob("*.warc.gz"):
        path.rename(tmp_path / "backfill" / path.name)
    site.log.clear()
    out = io.StringIO()
    crawl(Settings(site.site, tmp_path, contact=CONTACT, rate=0, progress=False), out=out)
    assert "6 a backfill's" in out.getvalue(), out.getvalue()
    assert path_of(2059100) not in {hit.path for hit in site.log}


def test_a_killed_backfill_resumes_and_holds_each_capture_once(archive, tmp_path):
    site, wayback, snapshots = archive
    wayback.log.clear()
    process: dict[str, subprocess.Popen] = {}
    wayback.on_replay = lambda count: count == 3 and os.kill(process["run"].pid, signal.SIGKILL)
    codes = []
    try:
        for _ in range(2):
            process["run"] = subprocess.Popen(
                [sys.executable, "-m", "bannedbook", "backfill", site.site, "--from", wayback.collection,
                 "--raw", str(tmp_path), "--rate", "0", "--contact", CONTACT], cwd=ROOT,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = process["run"].communicate(timeout=120)
            codes.append(process["run"].returncode)
    finally:
        wayback.on_replay = None
    assert codes == [-signal.SIGKILL, 0], err.decode()
    assert b"finished" in out
    assert sum(asked.replay for asked in wayback.log) >= 3 + 1  # killed, then went on
    responses = Counter((uri, h.get_header("Archive-Timestamp")) for kind, uri, h in records(tmp_path)
                        if kind == "response")
    assert responses == Counter({(s.url, s.timestamp): 1 for s in snapshots[:8]})
    assert not list((tmp_path / "backfill").glob("*.open"))


def test_an_archive_asking_for_a_long_pause_ends_the_run_for_later(archive, tmp_path):
    site, wayback, _ = archive
    wayback.refuse = [3600]
    try:
        summary = run(wayback, site, tmp_path, max_wait=5)
    finally:
        wayback.refuse = []
    assert "paused: " in summary and "run again later" in summary
    assert not records(tmp_path)


def test_the_command_line_wants_a_contact_and_a_source(tmp_path):
    base = [sys.executable, "-m", "bannedbook", "backfill", "--raw", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k != "BANNEDBOOK_CRAWL_CONTACT"}
    done = subprocess.run(base, cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "--contact" in done.stderr
    done = subprocess.run([*base, "--contact", CONTACT, "--from", "archive.org"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 2 and "neither ia, cc nor" in done.stderr
    done = subprocess.run([*base, "--contact", CONTACT, "--since", "last year"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 2 and "not a date" in done.stderr
