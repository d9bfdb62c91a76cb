"""From the site to the archive: `make crawl` of a site that misbehaves,
killed and resumed, then `make build`, gives exactly the articles the site
serves, each searchable; a later crawl of a changed page and of the site's
Traditional mirror adds captures, not articles."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers.fakesite import FakeSite
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from bannedbook.web.site import make_datasette

ROOT = Path(__file__).resolve().parent.parent
CRAWL = ["--contact", "https://example.org/archive-team",
         "--rate", "0", "--timeout", "0.5", "--backoff", "0.2", "--no-progress"]


def crawl(site: FakeSite, raw: Path, *extra: str, kill_after: int | None = None) -> list[tuple[int, set[str]]]:
    """Run the crawler as `make crawl` does; with kill_after, kill -9 it once
    that many article pages have been served, then run it again to the end.
    Each run's return code and the articles stored when it ended."""
    process: dict[str, subprocess.Popen] = {}
    runs = []

    def kill(count: int) -> None:
        if kill_after is not None and count == kill_after:
            os.kill(process["crawler"].pid, signal.SIGKILL)

    site.on_page = kill
    for _ in range(3):
        command = [sys.executable, "-m", "bannedbook", "crawl", site.site, "--raw", str(raw), *CRAWL, *extra]
        process["crawler"] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process["crawler"].communicate(timeout=120)
        runs.append((process["crawler"].returncode, stored_articles(raw, site)))
        if process["crawler"].returncode == 0:
            assert b"finished" in out
            return runs
        assert process["crawler"].returncode == -signal.SIGKILL, err.decode()
    raise AssertionError("the crawl did not finish")


def stored_articles(raw: Path, site: FakeSite) -> set[str]:
    """The site's articles with a 200 response in the crawl's WARC files,
    read with warcio: the closed ones and the one a kill left open, up to
    where the kill cut it."""
    stored = set()
    for path in sorted((raw / "crawl").glob("*.warc.gz*")):
        with path.open("rb") as fh:
            try:
                for record in ArchiveIterator(fh):
                    if record.rec_type == "response" and record.http_headers.get_statuscode() == "200":
                        stored.add(record.rec_headers.get_header("WARC-Target-URI"))
            except (ArchiveLoadFailed, EOFError, zlib.error):
                assert path.name.endswith(".open"), path  # only a file being written can end mid-record
    return stored & set(site.article_urls)


def make_build(raw: Path, db: Path, site: FakeSite) -> str:
    """The build of the crawl, told the fake site's host (127.0.0.1): the
    pages of any other host are not the archive's."""
    done = subprocess.run([sys.executable, "build_db.py", str(raw), str(db), "--site", site.base], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def query(db: Path, sql: str, params=()) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site-to-archive")
    with FakeSite(misbehave=True, crawl_delay=0.01) as site:
        runs = crawl(site, folder / "raw", kill_after=4)
        # Killed mid-crawl, with some of the articles stored; the second run stored the rest.
        assert [code for code, _ in runs] == [-signal.SIGKILL, 0]
        assert 0 < len(runs[0][1]) < len(site.article_urls) == len(runs[1][1])
        make_build(folder / "raw", folder / "bannedbook.db", site)
        yield site, folder / "raw", folder / "bannedbook.db"


def test_the_archive_holds_exactly_the_served_articles(crawled):
    site, _, db = crawled
    assert sorted(url for (url,) in query(db, "select url from articles")) == site.article_urls
    # Every capture is accounted for: what is not an article (the redirects the crawler stored) says why.
    assert {reason for (reason,) in query(db, "select reason from raw_files where status = 'rejected'")} == {
        "HTTP 301"}
    assert query(db, "select count(*) from articles where captured is null") == [(0,)]


def test_every_crawled_article_is_found_by_search(crawled):
    site, _, db = crawled
    datasette = make_datasette(db)
    for url in site.article_urls:
        number = int(url.rsplit("/", 1)[1].removesuffix(".html"))
        found = asyncio.run(datasette.client.get(
            f"/bannedbook/articles.json?_search={quote(f'测试文章第{number}号')}&_shape=array&_col=url")).json()
        assert [row["url"] for row in found] == [url]


def test_the_page_whose_charset_only_its_server_gave_reads_as_chinese(crawled):
    site, _, db = crawled
    (title, encoding), = query(db, """select a.title, r.encoding from articles a join raw_files r on r.path = a.file
                                     where a.url = ?""", [site.base + site.gbk])
    assert title.startswith("杨威：中共能挖动哈萨克斯坦和上合组织吗？") and encoding == "gb18030"


def test_a_later_crawl_adds_captures_not_articles(crawled, tmp_path):
    site, raw, db = crawled
    import shutil

    shutil.copytree(raw, tmp_path / "raw")
    shutil.copy(db, tmp_path / "bannedbook.db")
    raw, db = tmp_path / "raw", tmp_path / "bannedbook.db"
    changed = site.article_urls[0]
    site.change(changed.removeprefix(site.base))
    crawl(site, raw, "--include-mirrors")
    make_build(raw, db, site)
    assert sorted(url for (url,) in query(db, "select url from articles")) == site.article_urls
    (body,) = query(db, "select body from articles where url = ?", [changed])[0]
    assert "第1次更新" in body  # the latest capture is shown
    assert [status for (status,) in query(
        db, "select status from captures where url = ? order by captured", [changed])] == ["duplicate", "article"]
    # The Traditional mirror the second crawl fetched is a capture of its article.
    mirrors = query(db, """select c.status, a.url from captures c join articles a on a.id = c.article_id
                           where c.url like '%/zh-tw/%'""")
    assert mirrors and all(status == "duplicate" and "/zh-tw/" not in url for status, url in mirrors)
