"""WARC files as input: every record accounted for at its byte offset, the
provenance a researcher cites, the site's Traditional mirror as one article,
damaged files, and incremental builds that treat a WARC like any file."""

import asyncio
import gzip
import hashlib
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers.pages import CANONICAL, SEED, SEED_NAME, full_page, traditional
from helpers.snapshot import content
from helpers.warcs import HEADER_ONLY_URL, SITE, UNDATED_URL, Entry, crawl_entries, write_warc
from warcio.archiveiterator import ArchiveIterator

from bannedbook.build.pipeline import build
from bannedbook.web.site import make_datasette

RECAPTURED = CANONICAL.replace("2059001", "2059021")
PAIR = CANONICAL.replace("2059001", "2059031")  # Simplified page and zh-tw mirror, in one WARC, mirror first
PLAIN_PAIR = CANONICAL.replace("2059001", "2059041")  # the same, as plain files
NEW_URL = CANONICAL.replace("2059001", "2059090")


def mirror_of(url: str) -> str:
    return url.replace("/bnews/", "/bnews/zh-tw/")


def recaptures() -> list[Entry]:
    """A page captured twice, the later capture edited."""
    later = full_page(url=RECAPTURED).replace("蹊跷声明", "蹊跷声明（更正后）")
    return [Entry(RECAPTURED, full_page(url=RECAPTURED).encode(), date="2024-07-20T00:00:00Z"),
            Entry(RECAPTURED, later.encode(), date="2024-09-01T00:00:00Z")]


def damaged_entries() -> list[Entry]:
    return [Entry(CANONICAL.replace("2059001", str(2059050 + i)),
                  full_page(url=CANONICAL.replace("2059001", str(2059050 + i))).encode()) for i in range(3)]


def write_raw(raw: Path) -> dict:
    """The crawl: WARC files of every shape beside plain pages. Returns what
    the tests need to know about it."""
    entries = crawl_entries()
    offsets = dict(zip(entries, write_warc(raw / "crawl" / "2024-07" / "a.warc.gz", list(entries.values())),
                       strict=True))
    write_warc(raw / "crawl" / "b.warc", [Entry(mirror_of(PAIR), traditional(full_page(url=mirror_of(PAIR))).encode()),
                                          Entry(PAIR, full_page(url=PAIR).encode()), *recaptures()])
    damaged = raw / "damaged" / "c.warc.gz"
    damaged_offsets = write_warc(damaged, damaged_entries())
    cut_at = damaged_offsets[2]
    damaged.write_bytes(damaged.read_bytes()[: cut_at + 300])  # the third response is cut short
    (raw / "plain").mkdir()
    (raw / "plain" / "a-mirror.html").write_text(traditional(full_page(url=mirror_of(PLAIN_PAIR))))
    (raw / "plain" / "b-simplified.html").write_text(full_page(url=PLAIN_PAIR))
    (raw / SEED_NAME).write_text(SEED)
    return {"entries": entries, "offsets": offsets, "cut_at": cut_at, "before_damage": damaged_offsets[:2]}


@pytest.fixture(scope="module")
def warc_crawl(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warc")
    facts = write_raw(folder / "raw")
    build(folder / "raw", folder / "bannedbook.db", workers=2, progress=False)
    return folder / "raw", folder / "bannedbook.db", facts


def query(db: Path, sql: str, params=()) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def record_offsets(path: Path) -> dict[int, str]:
    """offset -> WARC-Type of every record, as warcio's own indexer finds them."""
    found = {}
    with open(path, "rb") as handle:
        iterator = ArchiveIterator(handle)
        for record in iterator:
            found[iterator.get_record_offset()] = record.rec_type
    return found


def test_every_record_has_a_row_at_its_offset(warc_crawl):
    raw, db, _ = warc_crawl
    rows = {path for (path,) in query(db, "select path from raw_files where path like '%#%'")}
    expected = set()
    for name in ("crawl/2024-07/a.warc.gz", "crawl/b.warc"):
        expected |= {f"{name}#{offset}" for offset in record_offsets(raw / name)}
    # The damaged file: every record up to the cut one, which has its row too.
    damaged = warc_crawl[2]["cut_at"]
    expected |= {f"damaged/c.warc.gz#{offset}" for offset in record_offsets(raw / "damaged/c.warc.gz")
                 if offset < damaged} | {f"damaged/c.warc.gz#{damaged}"}
    assert rows == expected
    # warcinfo and request records describe the others: skipped, saying what they are.
    kinds = {path.rpartition("#")[2]: record_offsets(raw / path.rpartition("#")[0])[int(path.rpartition("#")[2])]
             for (path,) in query(db, "select path from raw_files where status = 'skipped'")}
    assert set(kinds.values()) == {"warcinfo", "request"}
    assert query(db, "select status, reason, message from raw_files where path = 'crawl/b.warc#0'") == [
        ("skipped", "warcinfo", "warcinfo record: describes the web-archive file (the crawl, its software); "
                                "not a page")]


def test_records_become_articles_or_say_why_not(warc_crawl):
    _, db, facts = warc_crawl
    row = {name: query(db, "select status, reason, message from raw_files where path = ?",
                       [f"crawl/2024-07/a.warc.gz#{offset}"])[0] for name, offset in facts["offsets"].items()}
    assert row["article"][0] == row["header-charset"][0] == row["brotli"][0] == row["resource"][0] == "article"
    assert row["mirror"][:2] == ("duplicate", None) and "same article as" in row["mirror"][2]
    assert row["revisit"][0] == "duplicate" and "revisit" in row["revisit"][2]
    assert row["not-found"][:2] == ("rejected", "HTTP 404")
    assert row["moved"][:2] == ("rejected", "HTTP 301") and CANONICAL in row["moved"][2]
    assert row["image"][:2] == ("rejected", "image/jpeg")
    assert row["listing"][:2] == ("rejected", "no-article")


def test_charset_from_the_http_header_and_content_encodings_undone(warc_crawl):
    _, db, _ = warc_crawl
    (title, body, encoding), = query(db, """select a.title, a.body, r.encoding from articles a
                                            join raw_files r on r.path = a.file where a.url = ?""", [HEADER_ONLY_URL])
    assert title == "仅凭HTTP头得知编码的文章" and "上海合作组织" in body and encoding == "gb18030"
    # gzip (the Simplified page) and br (the undated one) were stored encoded.
    assert query(db, "select count(*) from articles where url in (?, ?) and body like '%哈萨克斯坦%'",
                 [CANONICAL, UNDATED_URL]) == [(2,)]


def test_a_page_without_canonical_url_takes_the_capture_url(warc_crawl):
    _, db, _ = warc_crawl
    # Tracking queries dropped; category, number and date read from the URL as from a canonical one.
    assert query(db, "select category, site_number, published from articles where url = ?", [HEADER_ONLY_URL]) == [
        ("world", 2060001, "2024-07-10")]


def test_captures_say_what_was_captured_from_where_and_when(warc_crawl):
    _, db, facts = warc_crawl
    entries = facts["entries"]
    captures = {path: (url, captured, sha256, kind, status) for url, captured, path, sha256, kind, status
                in query(db, "select url, captured, path, sha256, kind, status from captures")}
    article = captures[f"crawl/2024-07/a.warc.gz#{facts['offsets']['article']}"]
    # sha256 of the page as served: the gzip content encoding undone.
    assert article == (CANONICAL, "2024-07-09T08:00:00Z", hashlib.sha256(entries["article"].body).hexdigest(),
                       "response", "article")
    revisit = captures[f"crawl/2024-07/a.warc.gz#{facts['offsets']['revisit']}"]
    assert revisit[1:] == ("2024-08-01T00:00:00Z", hashlib.sha256(entries["header-charset"].body).hexdigest(),
                           "revisit", "duplicate")
    # Every response, resource and revisit record is a capture, whatever it became (revisits resolve
    # against all of them); those of an article, and only those, name it.
    records = {path for (path,) in query(db, "select path from raw_files where path like '%#%'")}
    # Records that are no capture (warcinfo, request …) and records cut by damage (no payload to compare) are not.
    skipped = {path for (path,) in query(db, "select path from raw_files where status = 'skipped'"
                                             " or reason = 'damaged-record'")}
    assert records - skipped <= set(captures) <= records and len(captures) >= len(facts["offsets"])
    assert query(db, """select count(*) from captures c join raw_files r using (path)
                        where c.status != r.status or c.article_id is not r.article_id
                        or (c.article_id is null) != (r.status = 'rejected')""") == [(0,)]
    # articles.captured is the earliest capture; the revisit came later.
    assert query(db, "select captured from articles where url = ?", [HEADER_ONLY_URL]) == [("2024-07-10T03:04:05Z",)]
    assert query(db, "select captured from articles where url = ?", [SITE + "/bnews/zh-tw/x"]) == []


def test_a_capture_bounds_the_date_of_an_undated_article(warc_crawl):
    _, db, _ = warc_crawl
    assert query(db, "select published, not_before, not_after from articles where url = ?", [UNDATED_URL]) == [
        (None, "2024-07-04", "2024-07-09")]
    # A stated date needs no bound; a plain file has no capture.
    assert query(db, "select captured, not_after from articles where url = ?", [CANONICAL]) == [
        ("2024-07-09T08:00:00Z", None)]
    assert query(db, "select captured, not_after from articles where file = ?", [SEED_NAME]) == [(None, None)]


@pytest.mark.parametrize("url", [CANONICAL, PAIR, PLAIN_PAIR])
def test_the_traditional_mirror_is_the_same_article_shown_in_simplified(warc_crawl, url):
    _, db, _ = warc_crawl
    rows = query(db, "select id, url, script from articles where url in (?, ?)", [url, mirror_of(url)])
    assert [(u, script) for _, u, script in rows] == [(url, "simplified")]
    files = query(db, "select status, message from raw_files where article_id = ? order by status", [rows[0][0]])
    assert [status for status, _ in files] == ["article", "duplicate"]


def test_the_mirror_is_never_counted_twice(warc_crawl):
    _, db, _ = warc_crawl
    datasette = make_datasette(db)
    # A phrase of the article's text, in its Traditional form: search finds each article once.
    response = asyncio.run(datasette.client.get(
        "/bannedbook/articles.json?_search=" + quote("哈薩克斯坦") + "&_facet=category&_size=100"))
    data = response.json()
    ids = [row[0] for row in data["rows"]]
    assert len(ids) == len(set(ids)) == data["filtered_table_rows_count"]
    expected = query(db, "select count(*) from articles where body like '%哈萨克斯坦%' or title like '%哈萨克斯坦%'")
    assert data["filtered_table_rows_count"] == expected[0][0]
    facet = {item["value"]: item["count"] for item in data["facet_results"]["category"]["results"]}
    assert facet["comments"] == query(db, """select count(*) from articles where category = 'comments'
                                             and (body like '%哈萨克斯坦%' or title like '%哈萨克斯坦%')""")[0][0]


def test_the_latest_capture_is_shown_and_the_earlier_kept(warc_crawl):
    _, db, _ = warc_crawl
    (body, captured), = query(db, "select body, captured from articles where url = ?", [RECAPTURED])
    assert "蹊跷声明（更正后）" in body
    assert captured == "2024-07-20T00:00:00Z"  # the earliest capture still dates it
    assert query(db, "select captured, status from captures where url = ? order by captured", [RECAPTURED]) == [
        ("2024-07-20T00:00:00Z", "duplicate"), ("2024-09-01T00:00:00Z", "article")]


def raw_of(warc_crawl) -> Path:
    return warc_crawl[0]


def test_a_damaged_warc_keeps_what_comes_before_the_damage(warc_crawl):
    _, db, facts = warc_crawl
    before = facts["before_damage"]
    rows = query(db, "select path, status from raw_files where path like 'damaged/%' and status != 'skipped'")
    assert set(rows) == {(f"damaged/c.warc.gz#{offset}", "article") for offset in before} | {
        (f"damaged/c.warc.gz#{facts['cut_at']}", "rejected"), ("damaged/c.warc.gz", "rejected")}
    (reason, message), = query(db, "select reason, message from raw_files where path = 'damaged/c.warc.gz'")
    size = (raw_of(warc_crawl) / "damaged/c.warc.gz").stat().st_size
    assert reason == "damaged-warc" and message.startswith(f"bytes {facts['cut_at']:,}–{size:,}")
    assert "truncated" in message
    (reason, message), = query(db, "select reason, message from raw_files where path = ?",
                               [f"damaged/c.warc.gz#{facts['cut_at']}"])
    assert reason == "damaged-record" and "truncated" in message


@pytest.mark.parametrize("cut", ["in the payload", "in the headers", "at a record's end"])
def test_an_uncompressed_warc_cut_short(tmp_path, cut):
    """warcio hands over a record cut short without a word: the build notices,
    and a file that ends where a record ends is whole."""
    path = tmp_path / "raw" / "x.warc"
    offsets = write_warc(path, damaged_entries(), gz=False)
    data = path.read_bytes()
    # In the second response's payload or WARC headers; or where the third one's request record begins.
    end = {"in the payload": offsets[2] - 1000, "in the headers": offsets[1] + 40,
           "at a record's end": data.rindex(b"WARC/1.0", 0, offsets[2])}
    path.write_bytes(data[: end[cut]])
    build(tmp_path / "raw", tmp_path / "x.db", workers=1, progress=False)
    rows = query(tmp_path / "x.db", "select path, status, reason from raw_files where status != 'skipped'")
    if cut == "at a record's end":
        assert sorted(rows) == sorted([(f"x.warc#{offsets[0]}", "article", None),
                                       (f"x.warc#{offsets[1]}", "article", None)])
    else:
        # The record cut short has its own row; the file's row says which bytes were lost.
        assert set(rows) == {("x.warc", "rejected", "damaged-warc"), (f"x.warc#{offsets[0]}", "article", None),
                             (f"x.warc#{offsets[1]}", "rejected", "damaged-record")}


def test_a_revisit_of_a_capture_not_in_the_archive_is_rejected(tmp_path):
    original = Entry(CANONICAL, full_page().encode())
    write_warc(tmp_path / "raw" / "only-revisit.warc.gz", [
        Entry(CANONICAL, kind="revisit", refers_to=original, digest="sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ")])
    build(tmp_path / "raw", tmp_path / "x.db", workers=1, progress=False)
    assert query(tmp_path / "x.db", "select status, reason from raw_files where status != 'skipped'") == [
        ("rejected", "revisit-unresolved")]
    assert query(tmp_path / "x.db", "select status, article_id from captures") == [("rejected", None)]


def test_a_revisit_found_by_uri_and_date_in_another_time_zone_is_a_duplicate(tmp_path):
    # No digest in common: the revisit names its original by URI and date, written as local time.
    original = Entry(CANONICAL, full_page().encode(), date="2024-07-09T08:00:00Z")
    write_warc(tmp_path / "raw" / "x.warc.gz", [original, Entry(
        CANONICAL, kind="revisit", refers_to=original, date="2024-08-01T00:00:00Z",
        digest="sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", refers_date="2024-07-09T10:00:00+02:00")])
    build(tmp_path / "raw", tmp_path / "x.db", workers=1, progress=False)
    assert sorted(query(tmp_path / "x.db", "select kind, status from captures")) == [
        ("response", "article"), ("revisit", "duplicate")]


def test_a_page_declared_latin1_by_its_server_is_still_read_as_chinese(tmp_path):
    page = full_page().encode("utf-8")
    write_warc(tmp_path / "raw" / "x.warc", [Entry(CANONICAL, page.replace(b"charset=utf-8", b""),
                                                   content_type="text/html; charset=ISO-8859-1")])
    build(tmp_path / "raw", tmp_path / "x.db", workers=1, progress=False)
    assert query(tmp_path / "x.db", "select title from articles") == [("杨威：中共能挖动哈萨克斯坦和上合组织吗？",)]


def test_the_article_page_shows_when_and_where_it_was_captured(warc_crawl):
    _, db, _ = warc_crawl
    datasette = make_datasette(db)
    (key,) = query(db, "select id from articles where url = ?", [UNDATED_URL])[0]
    html = asyncio.run(datasette.client.get(f"/bannedbook/articles/{key}")).text
    # No <time datetime> for the capture: Zotero would take it as the undated article's date.
    assert 'captured <span class="capture-date" title="2024-07-09T08:00:00Z">2024-07-09</span>' in html
    assert "<time datetime" not in html
    assert f'href="{UNDATED_URL}"' in html
    assert "不晚于 not after 2024-07-09" in html and "不早于 not before 2024-07-04" in html


# ---------------------------------------------------------------- incremental


def copy(warc_crawl, tmp_path: Path) -> tuple[Path, Path]:
    raw, db, _ = warc_crawl
    shutil.copytree(raw, tmp_path / "raw")
    shutil.copy(db, tmp_path / "bannedbook.db")
    return tmp_path / "raw", tmp_path / "bannedbook.db"


def assert_same_as_full_build(raw: Path, db: Path, tmp_path: Path) -> dict:
    counts = build(raw, db, workers=2, progress=False)
    full = tmp_path / "full.db"
    build(raw, full, workers=2, progress=False, full=True)
    assert content(db) == content(full)
    return counts


def test_an_unchanged_warc_is_not_read_again(warc_crawl, tmp_path):
    raw, db = copy(warc_crawl, tmp_path)
    before = db.read_bytes()
    assert build(raw, db, workers=2, progress=False).read == 0
    assert db.read_bytes() == before


@pytest.mark.parametrize("change", ["new", "changed", "gone", "touched", "repaired", "simplified-gone"])
def test_warc_changes_give_what_a_full_build_gives(warc_crawl, tmp_path, change):
    raw, db = copy(warc_crawl, tmp_path)
    b = raw / "crawl" / "b.warc"
    if change == "new":  # a later crawl: one changed page, one new, one capture of a known page
        write_warc(raw / "crawl" / "2024-09" / "d.warc.gz", [
            Entry(RECAPTURED, full_page(url=RECAPTURED).replace("上合组织", "上合组织（再改）", 1).encode(),
                  date="2024-10-01T00:00:00Z"),
            Entry(NEW_URL, full_page(url=NEW_URL).encode()),
            Entry(UNDATED_URL, full_page(url=UNDATED_URL, published=None).encode(), date="2024-06-01T00:00:00Z")])
    elif change == "changed":  # b rewritten without its recaptures
        write_warc(b, [Entry(mirror_of(PAIR), traditional(full_page(url=mirror_of(PAIR))).encode()),
                       Entry(PAIR, full_page(url=PAIR).encode())])
    elif change == "gone":
        b.unlink()
    elif change == "touched":
        b.touch()
    elif change == "repaired":  # the damaged file, now whole
        write_warc(raw / "damaged" / "c.warc.gz", damaged_entries())
    elif change == "simplified-gone":  # only the mirror of PAIR remains: it takes over
        write_warc(b, [Entry(mirror_of(PAIR), traditional(full_page(url=mirror_of(PAIR))).encode()), *recaptures()])
    counts = assert_same_as_full_build(raw, db, tmp_path)
    if change == "touched":
        assert counts.read == 0
    if change == "simplified-gone":
        assert query(db, "select script from articles where url = ?", [mirror_of(PAIR)]) == [("traditional",)]


def test_gzip_and_plain_warc_read_alike(tmp_path):
    entries = damaged_entries()
    write_warc(tmp_path / "gz" / "x.warc.gz", entries)
    write_warc(tmp_path / "plain" / "x.warc", entries, gz=False)
    for folder in ("gz", "plain"):
        build(tmp_path / folder, tmp_path / f"{folder}.db", workers=1, progress=False)
    sql = "select id, title, body, captured from articles order by id"
    assert query(tmp_path / "gz.db", sql) == query(tmp_path / "plain.db", sql) != []
    assert gzip.decompress((tmp_path / "gz" / "x.warc.gz").read_bytes()).startswith(b"WARC/")
