"""Which source speaks for an article, and a user's mistakes never cost the
archive: no page claims another URL's identity (in any order or build mode),
revisits resolve against every capture of their own URL, pages of other
hosts stay out unless the build is told them, impossible capture dates date
nothing, and a build that would remove most of the archive refuses."""

import sqlite3
from pathlib import Path

import pytest
from helpers.pages import CANONICAL, SEED, SEED_NAME, full_page, traditional
from helpers.snapshot import content
from helpers.warcs import HEADER_ONLY, SITE, Entry, write_warc

from bannedbook.build.pipeline import build, summary
from bannedbook.crawl.crawlstore import CrawlStore, Exchange
from bannedbook.errors import BuildError

GENUINE_TITLE = "杨威：中共能挖动哈萨克斯坦和上合组织吗？"
FORGED = """<h2>冒名顶替的标题</h2>
<div class="entry"><p>这一段是冒名顶替者写的正文，它声称自己就是那篇真文章。</p>
<p>第二段继续冒充，希望取代真文章的标题和正文。</p></div>"""
# Records in file order.
BY_OFFSET = "substr(path, 1, instr(path, '#')), cast(substr(path, instr(path, '#') + 1) as integer)"
UNDATED = CANONICAL.replace("comments/20240708/2059001", "comments/2059777")
IMAGE = f"{SITE}/wp-content/uploads/photo.jpg"


def run(raw: Path, db: Path, **options):
    return build(raw, db, workers=1, progress=False, **options)


def query(db: Path, sql: str, params=()) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def forged_page(claims: str = CANONICAL) -> bytes:
    """A page that states a genuine article's URL as its own (canonical and og:url)."""
    return full_page(url=claims, fragment=FORGED, published="2024-07-08T09:30:00+08:00").encode()


def genuine() -> Entry:
    return Entry(CANONICAL, full_page().encode(), date="2024-07-09T08:00:00Z")


def assert_genuine_article(db: Path) -> None:
    """The article at CANONICAL is the genuine page, shown from the site's own capture."""
    assert query(db, "select title from articles where url = ?", [CANONICAL]) == [(GENUINE_TITLE,)]
    assert query(db, "select count(*) from articles where body like '%冒名顶替%' and url = ?", [CANONICAL]) == [(0,)]
    (key,) = query(db, "select id from articles where url = ?", [CANONICAL])[0]
    # Every capture of the article is a capture of its own URL.
    assert {url for (url,) in query(db, "select url from captures where article_id = ?", [key])} == {CANONICAL}
    assert query(db, "select captured from articles where id = ?", [key]) == [("2024-07-09T08:00:00Z",)]


def write_crawler_warc(raw: Path, url: str, body: bytes) -> None:
    """A WARC written by the crawler's own store (bannedbook/crawl/crawlstore.py)."""
    store = CrawlStore(raw)
    crawl, _ = store.begin(SITE + "/")
    path = url.removeprefix(SITE)
    store.save(crawl, Exchange(url, "HTTP/1.1", 200, "OK", [("Content-Type", "text/html; charset=utf-8")], body,
                               f"GET {path} HTTP/1.1", [("Host", "www.bannedbook.org")]), "page")
    store.close()


def write_forgeries(raw: Path) -> dict[str, str]:
    """Pages stating the genuine article's URL, of every kind and order;
    returns what each must become, by path prefix."""
    write_warc(raw / "z-later.warc.gz", [Entry("https://evil.example/post", forged_page(), date="2024-09-01T00:00:00Z"),
                                         Entry(f"{SITE}/?s=x", forged_page(), date="2024-09-01T00:00:00Z")])
    write_warc(raw / "0-sorted-first.warc.gz", [
        Entry("https://evil.example/post", forged_page(), date="9999-12-31T23:59:59Z"),
        Entry(f"{SITE}/?s=y", forged_page(), date="9999-12-31T23:59:59Z")])
    (raw / "z-forged.html").write_bytes(forged_page())
    write_crawler_warc(raw, f"{SITE}/?s=forged", forged_page())
    return {"z-later.warc.gz": "capture", "0-sorted-first.warc.gz": "capture", "z-forged.html": "plain file",
            "crawl/": "capture"}


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_a_page_cannot_claim_another_urls_identity(tmp_path, mode):
    """Later captures from another host or another page of the site, ones
    dated 9999 in a file sorted first, a plain file, the crawler's own WARC:
    none speaks for the genuine article, in a full or an incremental build."""
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    write_warc(raw / "m" / "genuine.warc.gz", [genuine()])
    if mode == "incremental":
        run(raw, db)
    kinds = write_forgeries(raw)
    counts = run(raw, db)
    assert_genuine_article(db)
    if mode == "incremental":
        assert counts.incremental
        run(raw, tmp_path / "full.db", full=True)
        assert content(db) == content(tmp_path / "full.db")
    forged = query(db, """select r.path, r.status, r.reason, r.message, a.url from raw_files r
                          left join articles a on a.id = r.article_id
                          where r.path not like 'm/%' and r.path not like '%state.sqlite'
                          and r.status != 'skipped'""")
    assert len(forged) == 6
    for path, status, reason, message, url in forged:
        kind = next(kind for prefix, kind in kinds.items() if path.startswith(prefix))
        if kind == "plain file":  # its stated URL is on the site: the same article, never shown over a capture
            assert (status, url) == ("duplicate", CANONICAL)
            assert "a capture of the site is trusted over a plain file" in message
        elif reason == "off-site":
            assert status == "rejected" and "evil.example" in message
        else:  # a page of the site stating another page's URL: an article of its own URL, the statement noted
            assert status == "article" and url.startswith(f"{SITE}/?s=") and "not believed" in message
    assert sum(reason == "off-site" for _, _, reason, _, _ in forged) == 2


def test_a_plain_file_never_speaks_for_a_capture_of_the_site_even_undated(tmp_path):
    """The capture has no possible date, and the plain file comes first:
    the capture is still the site's own, and shows the article."""
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    write_warc(raw / "m" / "genuine.warc.gz", [Entry(CANONICAL, full_page().encode(), date="!!!! not a date")])
    (raw / "0-forged.html").write_bytes(forged_page())
    run(raw, db)
    assert query(db, "select title, captured from articles where url = ?", [CANONICAL]) == [(GENUINE_TITLE, None)]
    assert query(db, "select status from raw_files where path = '0-forged.html'") == [("duplicate",)]


def test_a_stated_url_is_believed_for_the_page_it_was_captured_from(tmp_path):
    """Tracking queries, http or https, the bare host and the Traditional
    mirror all name the page they were captured from."""
    raw = tmp_path / "raw"
    mirror = CANONICAL.replace("/bnews/", "/bnews/zh-tw/")
    other = CANONICAL.replace("2059001", "2059002")
    write_warc(raw / "a.warc.gz", [
        Entry(CANONICAL.replace("https://www.", "http://") + "?utm_source=x", full_page().encode()),
        Entry(mirror, traditional(full_page(url=CANONICAL)).encode()),
        Entry(other.replace("https://www.", "https://"), full_page(url=other).encode()),
    ])
    run(raw, tmp_path / "x.db")
    rows = query(tmp_path / "x.db", "select a.url, r.status from raw_files r join articles a on a.id = r.article_id"
                                    f" order by {BY_OFFSET}")
    assert rows == [(CANONICAL, "article"), (CANONICAL, "duplicate"), (other, "article")]
    assert query(tmp_path / "x.db", "select count(*) from raw_files where message like '%not believed%'") == [(0,)]
    # The mirror is a capture of its article, not shown: the Simplified page is.
    assert query(tmp_path / "x.db", "select why from captures where url = ?", [mirror]) == [
        ("not shown: the Simplified page is shown rather than the site's Traditional mirror; a.warc.gz#"
         + query(tmp_path / "x.db", "select file from articles where url = ?", [CANONICAL])[0][0].split("#")[1]
         + " is shown",)]


def test_an_impossible_capture_date_never_dates_an_article(tmp_path, site_for):
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    page = full_page(url=UNDATED, published=None)
    edited = page.replace("上合组织", "上合组织（伪造日期）", 1)
    write_warc(raw / "a.warc.gz", [Entry(UNDATED, page.encode(), date="2024-07-09T08:00:00Z")])
    write_warc(raw / "0.warc.gz", [Entry(UNDATED, edited.encode(), date="9999-12-31T00:00:00Z"),
                                   Entry(UNDATED, edited.encode(), date="!!!! not a date"),
                                   Entry(UNDATED, edited.encode(), date="1970-01-01T00:00:00Z")])
    run(raw, db)
    # The capture with a possible date is shown and dates the article; the others are captures without a date.
    assert query(db, "select captured, not_after, body like '%伪造日期%' from articles") == [
        ("2024-07-09T08:00:00Z", "2024-07-09", 0)]
    assert sorted(query(db, "select coalesce(captured, ''), status from captures")) == [
        ("", "duplicate"), ("", "duplicate"), ("", "duplicate"), ("2024-07-09T08:00:00Z", "article")]
    assert query(db, "select count(*) from captures where why like '%a capture with a valid date is shown%'") == [(3,)]
    # The article page lists them, the dated one first.
    (key,) = query(db, "select id from articles")[0]
    html = site_for(db)(f"/bannedbook/articles/{key}").text
    assert 'captured <span class="capture-date" title="2024-07-09T08:00:00Z">' in html
    assert html.count("no valid date") == 3


def test_an_article_captured_only_at_impossible_dates_has_no_capture_date(tmp_path, site_for):
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    write_warc(raw / "a.warc.gz", [Entry(UNDATED, full_page(url=UNDATED, published=None).encode(),
                                         date="9999-12-31T00:00:00Z")])
    run(raw, db)
    assert query(db, "select captured, not_after from articles") == [(None, None)]
    (key,) = query(db, "select id from articles")[0]
    assert "captured at no valid date" in site_for(db)(f"/bannedbook/articles/{key}").text
    assert "9999" not in site_for(db)(f"/bannedbook/articles/{key}.ris").text


def test_a_revisit_attaches_only_to_a_capture_of_its_own_url(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    original = genuine()
    write_warc(raw / "a.warc.gz", [
        original,
        Entry("javascript:alert(1)", kind="revisit", refers_to=original, date="9999-12-31T00:00:00Z"),
        Entry(f"{SITE}/other.html", kind="revisit", refers_to=original, date="2025-01-01T00:00:00Z"),
        Entry("https://evil.example/x", kind="revisit", refers_to=original, date="2025-01-01T00:00:00Z"),
        Entry(CANONICAL, kind="revisit", refers_to=original, date="2025-02-01T00:00:00Z"),
    ])
    run(raw, db)
    assert_genuine_article(db)
    rows = query(db, "select status, reason, message from raw_files where path != (select file from articles)"
                     f" and status != 'skipped' order by {BY_OFFSET}")
    assert [row[:2] for row in rows] == [("rejected", "off-site"), ("rejected", "revisit-other-url"),
                                         ("rejected", "off-site"), ("duplicate", None)]
    assert "names no host" in rows[0][2] and "evil.example" in rows[2][2]
    assert f"a capture of {CANONICAL}" in rows[1][2]
    # Only the same URL's revisit is a capture of the article; none of the others dates it.
    assert query(db, "select url, captured from captures where article_id is not null order by captured") == [
        (CANONICAL, "2024-07-09T08:00:00Z"), (CANONICAL, "2025-02-01T00:00:00Z")]


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_a_revisit_of_a_record_that_is_no_article_is_what_that_record_became(tmp_path, mode):
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    image = Entry(IMAGE, b"\xff\xd8\xff\xe0 not really a jpeg", content_type="image/jpeg")
    gone = Entry(f"{SITE}/bnews/comments/20240708/404.html", b"<h1>Not Found</h1>", "404 Not Found")
    offsets = write_warc(raw / "a.warc.gz", [image, gone])
    # In another file: the digest each original's record states.
    revisits = [Entry(original.url, kind="revisit", refers_to=original, date="2024-08-01T00:00:00Z",
                      status=original.status, content_type=original.content_type,
                      digest=_digest(raw / "a.warc.gz", offset)) for original, offset in zip([image, gone], offsets,
                                                                                             strict=True)]
    if mode == "incremental":
        run(raw, db)
    write_warc(raw / "b.warc.gz", revisits)
    run(raw, db)
    rows = query(db, f"select status, reason, message from raw_files where path like 'b.warc.gz#%'"
                     f" and status != 'skipped' order by {BY_OFFSET}")
    assert [row[:2] for row in rows] == [("rejected", "image/jpeg"), ("rejected", "HTTP 404")]
    for (_, _, message), offset in zip(rows, offsets, strict=True):
        assert f"same payload as a.warc.gz#{offset}" in message and "not in the archive" not in message


@pytest.mark.parametrize("change", ["the original arrives later", "the original goes"])
def test_an_incremental_build_resolves_revisits_as_a_full_build_does(tmp_path, change):
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    image = Entry(IMAGE, b"\xff\xd8\xff\xe0 not really a jpeg", content_type="image/jpeg")
    original = genuine()
    offsets = write_warc(raw / "a.warc.gz", [image, original])
    revisits = [Entry(entry.url, kind="revisit", refers_to=entry, date="2025-01-01T00:00:00Z",
                      content_type=entry.content_type, digest=_digest(raw / "a.warc.gz", offset))
                for entry, offset in zip([image, original], offsets, strict=True)]
    write_warc(raw / "b.warc.gz", revisits)
    kept = (raw / "a.warc.gz").read_bytes()
    if change == "the original arrives later":
        (raw / "a.warc.gz").unlink()
    (raw / "other.html").write_text(SEED)  # so that losing a.warc.gz is not most of the archive
    run(raw, db)
    if change == "the original arrives later":
        (raw / "a.warc.gz").write_bytes(kept)
    else:
        (raw / "a.warc.gz").unlink()
    run(raw, db)
    run(raw, tmp_path / "full.db", full=True)
    assert content(db) == content(tmp_path / "full.db")
    reasons = [reason for (reason,) in query(db, f"select reason from raw_files where path like 'b.warc.gz#%'"
                                                 f" and status != 'skipped' order by {BY_OFFSET}")]
    assert reasons == (["image/jpeg", None] if change == "the original arrives later"
                       else ["revisit-unresolved", "revisit-unresolved"])


def _digest(path: Path, offset: int) -> str:
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as handle:
        handle.seek(offset)
        return next(iter(ArchiveIterator(handle))).rec_headers.get_header("WARC-Payload-Digest")


def test_duplicates_name_the_page_their_article_is_shown_from(tmp_path):
    """Two URLs serving the same bytes are two articles: a duplicate of the
    second names the second, not the first file with the same bytes."""
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    one, two = f"{SITE}/bnews/world/20240710/2060001.html", f"{SITE}/bnews/world/20240710/2060002.html"
    data = HEADER_ONLY.encode()
    write_warc(raw / "a.warc.gz", [Entry(one, data, date="2024-07-10T00:00:00Z"),
                                   Entry(two, data, date="2024-07-12T00:00:00Z"),
                                   Entry(two, data, date="2024-07-11T00:00:00Z"),
                                   Entry(two.replace("/bnews/", "/bnews/zh-tw/"), data, date="2024-07-13T00:00:00Z")])
    run(raw, db)
    duplicates = query(db, """select r.message, a.file from raw_files r join articles a on a.id = r.article_id
                              where r.status = 'duplicate'""")
    assert len(duplicates) == 2
    for message, held_by in duplicates:
        assert message.startswith(f"same article as {held_by} (")
    assert {message.split("(", 1)[1] for message, _ in duplicates} == {
        "the latest capture is shown)", "the Simplified page is shown rather than the site's Traditional mirror)"}


# ---------------------------------------------------------------- the site's hosts


def test_pages_of_other_hosts_are_off_site_unless_the_build_is_told_them(tmp_path):
    raw = tmp_path / "raw"
    blog = "https://blog.example.org/2024/07/post.html"
    write_warc(raw / "a.warc.gz", [genuine(), Entry(blog, full_page(url=blog).encode()),
                                   Entry("https://commoncrawl.org/", full_page(url="https://commoncrawl.org/").encode()),
                                   Entry(CANONICAL.replace("2059001", "2059003").replace("www.", ""),
                                         full_page(url=CANONICAL.replace("2059001", "2059003")).encode())])
    (raw / "stated-elsewhere.html").write_text(full_page(url="https://mirror.example/a.html"))
    (raw / SEED_NAME).write_text(SEED)  # no URL at all: an article, as always
    run(raw, tmp_path / "x.db")
    off = dict(query(tmp_path / "x.db", "select path, message from raw_files where reason = 'off-site'"))
    assert len(off) == 3
    for name in ("blog.example.org", "commoncrawl.org", "mirror.example"):
        assert sum(f"of {name}," in message for message in off.values()) == 1
    assert query(tmp_path / "x.db", "select count(*) from articles") == [(3,)]  # genuine, bare host, seed
    run(raw, tmp_path / "told.db", sites=["blog.example.org", "https://commoncrawl.org/", "mirror.example:8080"])
    assert query(tmp_path / "told.db", "select count(*) from raw_files where reason = 'off-site'") == [(0,)]
    assert query(tmp_path / "told.db", "select count(*) from articles") == [(6,)]
    with pytest.raises(BuildError, match="not a host name"):
        run(raw, tmp_path / "bad.db", sites=["http://"])


# ---------------------------------------------------------------- a mistake never costs the archive


@pytest.fixture
def archive(tmp_path) -> tuple[Path, Path]:
    """Six articles, one file each, and their database."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for n in range(6):
        url = CANONICAL.replace("2059001", str(2059100 + n))
        (raw / f"p{n}.html").write_text(full_page(url=url, fragment=SEED.replace("杨威：", f"杨威{n}：")))
    db = tmp_path / "bannedbook.db"
    run(raw, db)
    assert query(db, "select count(*) from articles") == [(6,)]
    return raw, db


def refused(raw: Path, db: Path, removed: int, **options) -> None:
    before = db.read_bytes()
    with pytest.raises(BuildError) as error:
        run(raw, db, **options)
    message = str(error.value)
    assert "\n" not in message and f"remove {removed:,} of the 6 articles" in message
    assert "PRUNE=1" in message and "--prune" in message and str(raw) in message
    assert db.read_bytes() == before
    assert not list(db.parent.glob(".*building*"))


@pytest.mark.parametrize("mistake", ["empty raw", "another empty folder", "full build of an empty folder",
                                     "most files gone", "most files emptied"])
def test_a_build_that_would_remove_most_of_the_archive_refuses(archive, mistake):
    raw, db = archive
    options, removed = {}, 6
    if mistake == "empty raw":
        for path in raw.iterdir():
            path.unlink()
    elif mistake in ("another empty folder", "full build of an empty folder"):
        raw = raw.parent / "rwa"
        raw.mkdir()
        options["full"] = mistake.startswith("full")
    else:
        removed = 4
        for path in sorted(raw.iterdir())[:4]:
            if mistake == "most files gone":
                path.unlink()
            else:  # read again and rejected (an unmounted disk's placeholders): found only by building
                path.write_bytes(b"")
    refused(raw, db, removed, **options)
    counts = run(raw, db, prune=True)  # told: it goes ahead
    assert query(db, "select count(*) from articles") == [(6 - removed,)]
    assert counts.removed_articles == removed


def test_a_single_removed_page_is_removed(archive):
    raw, db = archive
    (raw / "p3.html").unlink()
    counts = run(raw, db)
    assert query(db, "select count(*) from articles") == [(5,)]
    assert (counts.removed_files, counts.removed_records, counts.removed_articles) == (1, 0, 1)


def test_an_archive_with_no_articles_has_nothing_to_lose(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "empty.html").write_bytes(b"")
    run(raw, tmp_path / "x.db")
    (raw / "empty.html").unlink()
    run(raw, tmp_path / "x.db")
    assert query(tmp_path / "x.db", "select count(*) from raw_files") == [(0,)]


def test_a_removed_warc_is_counted_as_one_file_its_records_and_articles(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    urls = [CANONICAL.replace("2059001", str(2059200 + n)) for n in range(5)]
    write_warc(raw / "a.warc.gz", [Entry(url, full_page(url=url).encode()) for url in urls[:3]])
    write_warc(raw / "b.warc.gz", [Entry(url, full_page(url=url).encode()) for url in urls[3:]]
               + [Entry(IMAGE, b"\xff\xd8", content_type="image/jpeg")])
    run(raw, db)
    # Every record of the file has a row (its warcinfo and request records too): all of them go with it.
    (records,) = query(db, "select count(*) from raw_files where path like 'b.warc.gz#%'")[0]
    assert records >= 3
    (raw / "b.warc.gz").unlink()
    started = 0.0
    counts = run(raw, db)
    assert (counts.removed_files, counts.removed_records, counts.removed_articles) == (1, records, 2)
    line = next(line for line in summary(counts, db, started).splitlines() if line.startswith("  removed"))
    assert line.split() == ["removed", "1", "file(s),", "holding", str(records), "WARC", "record(s);", "2",
                            "article(s)", "removed"]


def test_a_capture_of_the_site_is_never_replaced_by_a_plain_file_incrementally(tmp_path):
    """Order of arrival does not matter: the plain file first, the capture
    later, in an incremental build, gives what a full build gives."""
    raw, db = tmp_path / "raw", tmp_path / "x.db"
    raw.mkdir()
    (raw / "0-forged.html").write_bytes(forged_page())
    run(raw, db)
    assert query(db, "select title from articles") == [("冒名顶替的标题",)]
    write_warc(raw / "z.warc.gz", [genuine()])
    run(raw, db)
    assert_genuine_article(db)
    run(raw, tmp_path / "full.db", full=True)
    assert content(db) == content(tmp_path / "full.db")
