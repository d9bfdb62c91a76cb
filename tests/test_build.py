"""Whole builds: every file accounted for, ids stable, builds atomic."""

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
from conftest import ROOT
from helpers.pages import CANONICAL, full_page, write_crawl
from helpers.pages import crawl as crawl_pages

from bannedbook.build.pipeline import build
from bannedbook.db.store import Store


def rows(db, sql, params=()):
    return sqlite_utils.Database(db).execute(sql, params).fetchall()


def test_every_file_has_a_row(crawl_db):
    pages = [name for name in crawl_pages() if not name.endswith(".md")]
    paths = {path for (path,) in rows(crawl_db, "select path from raw_files")}
    assert paths == set(pages)


def test_statuses_and_reasons(crawl_db):
    status = dict(rows(crawl_db, "select path, status from raw_files"))
    assert status["000_e365f8a2e595efac.txt"] == "article"
    assert status["copies/exact-duplicate.txt"] == "duplicate"
    # The same page declared gb2312 and undeclared is one article.
    assert {status["full/gb18030.htm"], status["full/gb18030-copy-undeclared.htm"]} == {"article", "duplicate"}
    for path in ("broken/empty.txt", "broken/random.html", "broken/no-article.html"):
        assert status[path] == "rejected"
    assert status["broken/truncated.html"] == "article"
    messages = dict(rows(crawl_db, "select path, message from raw_files where status = 'rejected'"))
    assert all(messages.values())
    assert "empty" in messages["broken/empty.txt"]


def test_encodings_recorded(crawl_db):
    encoding = dict(rows(crawl_db, "select path, encoding from raw_files"))
    assert encoding["full/gb18030.htm"] == "gb18030"
    assert encoding["full/big5.html"] in ("cp950", "big5hkscs")
    assert encoding["full/traditional.html"] == "utf-8"


def test_duplicates_point_at_their_article(crawl_db):
    for article_id, message in rows(
        crawl_db, "select article_id, message from raw_files where status = 'duplicate'"
    ):
        assert rows(crawl_db, "select count(*) from articles where id = ?", [article_id]) == [(1,)]
        assert message.startswith("same article as ")


def test_foreign_keys_hold(crawl_db):
    conn = sqlite3.connect(crawl_db)
    assert conn.execute("pragma foreign_key_check").fetchall() == []
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)


def test_links_resolve_to_articles_in_the_archive(tmp_path):
    """A page whose related list points at another page in the crawl."""
    from helpers.pages import CANONICAL, full_page, write_crawl

    target = CANONICAL.replace("2059001", "2057307").replace("comments/20240708", "headline/20240702")
    pages = {"a.html": full_page(url=target).encode(), "b.txt": crawl_pages()["000_e365f8a2e595efac.txt"]}
    build(write_crawl(tmp_path / "raw", pages), tmp_path / "x.db", workers=1, progress=False)
    linked = rows(tmp_path / "x.db", """select target_article_id from links
                  where url = ? and kind = 'related' and article_id in (select id from articles where url is null)""",
                  [target])
    target_id = rows(tmp_path / "x.db", "select id from articles where url = ?", [target])[0][0]
    assert linked == [(target_id,)]


def test_ids_stable_across_rebuilds(crawl, crawl_db, tmp_path):
    again = tmp_path / "again.db"
    build(crawl, again, workers=1, progress=False)
    sql = "select id, title, body from articles order by id"
    assert rows(again, sql) == rows(crawl_db, sql)


def test_missing_raw_is_an_error_and_keeps_the_old_db(tmp_path, seed_db):
    db = tmp_path / "bannedbook.db"
    db.write_bytes(seed_db.read_bytes())
    result = subprocess.run([sys.executable, "build_db.py", str(tmp_path / "nope"), str(db)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "not a directory" in result.stderr
    assert db.read_bytes() == seed_db.read_bytes()


@pytest.mark.parametrize("where", ["a folder without write permission", "a file system that holds no files"])
def test_unwritable_db_is_a_one_line_error(tmp_path, where):
    """Root may write into any folder (and CI runs as root), but not even
    root can create a file in /proc."""
    if where == "a folder without write permission":
        if os.geteuid() == 0:
            pytest.skip("root may write anywhere; the /proc case covers root")
        folder = tmp_path / "readonly"
        folder.mkdir()
        folder.chmod(0o555)
    else:
        folder = Path("/proc")
    result = subprocess.run([sys.executable, "build_db.py", "raw", str(folder / "bannedbook-test.db")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "bannedbook-test.db" in result.stderr, result.stderr
    assert not (folder / "bannedbook-test.db").exists()


def test_a_write_that_fails_midway_is_a_one_line_error_and_keeps_the_old_db(tmp_path, seed_db):
    """The disk fills up during the build (a file-size limit stands in for
    the full disk): a one-line message, the previous database as it was,
    no temporary file left."""
    db = tmp_path / "bannedbook.db"
    db.write_bytes(seed_db.read_bytes())
    raw = write_crawl(tmp_path / "raw", {f"p{i}.html": full_page(url=CANONICAL.replace("2059001", str(i))).encode()
                                         for i in range(40)})

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so the write fails instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    result = subprocess.run([sys.executable, "build_db.py", str(raw), str(db), "--full", "--workers", "1"],
                            cwd=ROOT, capture_output=True, text=True, preexec_fn=small_files)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "cannot write" in result.stderr, result.stderr
    assert db.read_bytes() == seed_db.read_bytes()
    assert not list(tmp_path.glob(".*building*"))


def test_db_in_missing_folder_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "build_db.py", "raw", str(tmp_path / "no" / "x.db")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr


def test_failed_build_leaves_previous_db_untouched(tmp_path, seed_db, monkeypatch):
    db = tmp_path / "bannedbook.db"
    db.write_bytes(seed_db.read_bytes())
    before = db.read_bytes()

    def explode(self, *args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "finish", explode)
    with pytest.raises(RuntimeError):
        build(ROOT / "raw", db, workers=1, progress=False, full=True)
    assert db.read_bytes() == before
    assert not list(tmp_path.glob(".*building*"))


def test_summary_counts(crawl, tmp_path):
    result = subprocess.run([sys.executable, "build_db.py", str(crawl), str(tmp_path / "s.db")],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    counts = {line.split()[0]: line.split()[-1] for line in lines[1:]}
    assert counts["files"] == "12"
    assert counts["duplicates"] == "2"
    assert counts["rejected"] == "3"
    assert int(counts["articles"]) == 12 - 2 - 3
    # The CLI leaves Datasette's table counts beside the database, under the
    # name it is served by; the search index's count (Datasette cannot count
    # it itself) is the rows the index really holds.
    tables = json.loads((tmp_path / "s.db.inspect.json").read_text())["bannedbook"]["tables"]
    assert tables["articles"]["count"] == int(counts["articles"])
    indexed = rows(tmp_path / "s.db", "select count(*) from articles_fts_docsize")[0][0]
    assert tables["articles_fts"]["count"] == indexed


def test_search_index_rebuilds_through_our_function_and_generic_rebuild_fails_loudly(seed_db, tmp_path):
    from bannedbook.db.store import rebuild_search_index
    from bannedbook.search.query import match_expression

    db_path = tmp_path / "copy.db"
    db_path.write_bytes(seed_db.read_bytes())
    db = sqlite_utils.Database(db_path)
    sql = "select rowid from articles_fts where articles_fts match ?"
    before = {q: db.execute(sql, [match_expression(q)]).fetchall() for q in ("習近平", "塔", "中共 朝鲜")}
    assert all(before.values())
    with pytest.raises(sqlite3.Error):  # the stock command cannot re-index unsegmented text
        db.execute("insert into articles_fts(articles_fts) values ('rebuild')")
    rebuild_search_index(db)
    assert {q: db.execute(sql, [match_expression(q)]).fetchall() for q in before} == before
