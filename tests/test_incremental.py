"""Incremental builds: a rebuild reads only new and changed files
and ends with the same content as a full build of the same folder."""

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from helpers.corpus import generate
from helpers.pages import CANONICAL, NO_AUTHOR_NO_TAGS, SEED, SEED_NAME, full_page, write_crawl
from helpers.snapshot import content

from bannedbook.build import pipeline
from bannedbook.build.fingerprint import pipeline_modules
from bannedbook.build.update import Update
from bannedbook.db import store


def build(raw: Path, db: Path, **options) -> dict:
    return pipeline.build(raw, db, workers=2, progress=False, **options)


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> tuple[Path, Path]:
    """A crawl of every shape (tests/helpers/pages.py and the benchmark corpus) and its full build."""
    folder = tmp_path_factory.mktemp("incremental")
    raw = write_crawl(folder / "raw")
    generate(raw / "corpus", 60, seed=3)
    build(raw, folder / "first.db")
    return raw, folder / "first.db"


def copy(first: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    raw, db = first
    shutil.copytree(raw, tmp_path / "raw")
    shutil.copy(db, tmp_path / "bannedbook.db")
    return tmp_path / "raw", tmp_path / "bannedbook.db"


def rows(db: Path, sql: str, params: list | tuple = ()) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_unchanged_rebuild_reads_nothing_and_keeps_the_file(first, tmp_path):
    raw, db = copy(first, tmp_path)
    before = db.read_bytes()
    counts = build(raw, db)
    assert counts.read == 0
    assert db.read_bytes() == before


def assert_same_as_full_build(raw: Path, db: Path, tmp_path: Path) -> dict:
    counts = build(raw, db)
    full = tmp_path / "full.db"
    build(raw, full, full=True)
    assert content(db) == content(full)
    assert counts.articles == len(rows(full, "select id from articles"))
    assert rows(db, "pragma integrity_check") == [("ok",)]
    return counts


def test_changes_give_what_a_full_build_gives(first, tmp_path):
    raw, db = copy(first, tmp_path)
    article_files = [file for (file,) in rows(db, """select file from articles where id not in
                     (select article_id from raw_files where status = 'duplicate') order by file""")]
    # The first file of an article that has a duplicate goes: the duplicate takes over.
    (with_duplicate,) = rows(db, """select file from articles where id in (select article_id from raw_files
                                    where status = 'duplicate') order by file limit 1""")[0]
    (raw / with_duplicate).unlink()
    # An article that other articles link to goes (and comes back below).
    (linked,) = rows(db, """select a.file from links l join articles a on a.id = l.target_article_id
                            where a.file != ? order by a.file limit 1""", [with_duplicate])[0]
    linked_bytes = (raw / linked).read_bytes()
    (raw / linked).unlink()
    # A copy of an unchanged article's file, named to come first, becomes the article.
    held = next(f for f in article_files[5:] if f != linked)
    shutil.copy(raw / held, raw / "000-earlier-copy.html")
    # A file changes; another is written again with the same bytes (only its mtime moves).
    changed, touched = (raw / f for f in article_files[1:4] if f not in (linked, held, with_duplicate))
    changed.write_bytes(changed.read_bytes().replace("的".encode(), "地".encode()))
    touched.write_bytes(touched.read_bytes())
    os.utime(touched, ns=(1, 1))
    # A new article, first in file order, links its tags elsewhere: the tags' urls change.
    variant = SEED.replace("杨威：", "杨威（转载）：").replace("/bnews/tag/", "/tags/").replace(
        "<p>中共能挖动", '<p><a href="/tags/转载/" class="st_tag" rel="tag">转载</a>中共能挖动')
    (raw / "0-variant.txt").write_text(variant)
    # A new crawl arrives, with a rejected file.
    generate(raw / "new-crawl", 15, seed=11)
    (raw / "new-crawl" / "empty.html").write_bytes(b"")

    counts = assert_same_as_full_build(raw, db, tmp_path)
    assert 0 < counts.read < counts.files / 2
    assert rows(db, "select url from tags where id = '普京'") == [("https://www.bannedbook.org/tags/普京/",)]
    assert rows(db, "select count(*) from tags where id = '转载'") == [(1,)]

    # The linked article comes back: links in unchanged articles find it again.
    (raw / linked).write_bytes(linked_bytes)
    (raw / "0-variant.txt").unlink()
    counts = assert_same_as_full_build(raw, db, tmp_path)
    assert counts.read <= 3
    assert rows(db, "select count(*) from tags where id = '转载'") == [(0,)]
    assert rows(db, "select count(*) from links where target_article_id is not null")[0][0] > 0


def test_a_failed_incremental_build_keeps_the_old_database(first, tmp_path, monkeypatch):
    raw, db = copy(first, tmp_path)
    before = db.read_bytes()
    generate(raw / "new-crawl", 5, seed=12)

    def explode(self, *args):
        raise RuntimeError("killed")

    monkeypatch.setattr(Update, "finish", explode)
    with pytest.raises(RuntimeError):
        build(raw, db)
    assert db.read_bytes() == before
    assert not list(tmp_path.glob(".*building*"))


KILLED_AT = """
import os, sys
from pathlib import Path
from bannedbook.build import pipeline, update
from bannedbook.db import store
{where} = lambda *args, **kwargs: os._exit(9)  # the process dies there, as with kill -9
pipeline.build(Path(sys.argv[1]), Path(sys.argv[2]), workers=1, progress=False)
"""


def served_articles(db: Path) -> list:
    """The articles as the server reads the file (immutable: no lock, no log)."""
    with closing(sqlite3.connect(f"file:{db}?immutable=1", uri=True)) as conn:
        return conn.execute("select id, date_order, title from articles order by date_order").fetchall()


@pytest.mark.parametrize("where", ["update.Update.finish", "store._checkpoint"])
def test_an_update_killed_before_or_after_its_seal(first, tmp_path, where):
    """Killed before its seal (in the middle of its transaction), an update
    leaves the file byte for byte as it was; killed after it (as its log is
    about to be written into the file), the next build completes it. Either
    way a reader of the file sees the old articles until then."""
    raw, db = copy(first, tmp_path)
    generate(raw / "new-crawl", 5, seed=12)
    killed = subprocess.run([sys.executable, "-c", KILLED_AT.format(where=where), str(raw), str(db)],
                            capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    assert tmp_path.joinpath(".bannedbook.db.building-wal").exists()
    sealed = tmp_path.joinpath(".bannedbook.db.building.sealed").exists()
    assert sealed == (where == "store._checkpoint")
    assert served_articles(db) == served_articles(first[1])
    counts = build(raw, db)  # recovers first
    assert not list(tmp_path.glob(".*building*"))
    if sealed:
        assert counts.read == 0  # the update was completed: nothing left to read
    else:
        assert counts.read > 0
    build(raw, tmp_path / "full.db", full=True)
    assert content(db) == content(tmp_path / "full.db")
    assert rows(db, "pragma integrity_check") == [("ok",)]


def test_a_killed_update_leaves_the_file_as_it_was(first, tmp_path):
    raw, db = copy(first, tmp_path)
    before = db.read_bytes()
    generate(raw / "new-crawl", 5, seed=12)
    killed = subprocess.run([sys.executable, "-c", KILLED_AT.format(where="update.Update.finish"), str(raw),
                             str(db)], capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    store.recover(db)
    assert db.read_bytes() == before
    assert not list(tmp_path.glob(".*building*"))


def test_a_database_from_other_code_is_rebuilt_in_full(first, tmp_path):
    raw, db = copy(first, tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("pragma user_version = 1")
    counts = build(raw, db)
    assert counts.read == counts.files
    assert content(db) == content(first[1])


def test_the_code_fingerprint_covers_every_module_a_build_runs():
    """Every module of the package a build loads (whatever its import
    style) is in the fingerprint, so a change to it rebuilds in full."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, bannedbook.build.pipeline, bannedbook.db.store as s; "
         "s.Store; import bannedbook.build.warc, bannedbook.research.stories as st; st.signature('文' * 60); "
         "print(' '.join(m for m in sys.modules if m.startswith('bannedbook.')))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert {f"bannedbook.{name}" for name in ("build.pipeline", "build.extract", "text.chinese", "research.stories",
                                              "build.warc", "build.files", "db.store")} <= set(loaded)
    assert set(loaded) <= set(pipeline_modules())


def date_order(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    rows = conn.execute("select rowid, date_order, id, coalesce(published, not_before, ''), file from articles"
                        " order by rowid").fetchall()
    index_rowids = [r for (r,) in conn.execute("select rowid from articles_fts_docsize order by rowid")]
    conn.close()
    assert [r[0] for r in rows] == [r[1] for r in rows] == index_rowids
    assert [r[3][:10] for r in rows] == sorted(r[3][:10] for r in rows)  # days in date order
    return [r[1:3] for r in rows]


def middle_date(db: Path) -> str:
    conn = sqlite3.connect(db)
    days = [day for (day,) in conn.execute("select published from articles where published is not null"
                                           " order by published")]
    conn.close()
    return days[len(days) // 2][:10]


@pytest.mark.parametrize("change", ["newest", "middle", "oldest", "remove", "newest changed in place"])
def test_articles_stay_numbered_in_date_order(first, tmp_path, change):
    """date_order (= rowid = the index's rowid, a sparse date key) runs
    oldest to newest after any incremental build, exactly as a full build
    keys the same files,
    and the search index holds the same entries (a changed article's old
    entries gone: the newest keeps its rowid, so nothing else rewrites them)."""
    raw, db = copy(first, tmp_path)
    if change == "remove":
        sorted(raw.joinpath("corpus").rglob("*.html"))[14].unlink()  # one from the middle
    elif change == "newest changed in place":
        ((file, body),) = rows(db, "select file, body from articles order by date_order desc limit 1")
        page = raw / file
        text = page.read_text(encoding="utf-8")
        word = next(line[i:i + 6] for line in body.splitlines() for i in range(0, len(line) - 6, 6)
                    if line[i:i + 6] in text)
        page.write_text(text.replace(word, "改写过的句子", 1), encoding="utf-8")
    else:
        day = {"newest": "2099-01-01", "middle": middle_date(db), "oldest": "1990-01-01"}[change]
        page = SEED.replace("<h2>", f'<p class="date">{day}</p><h2>', 1).replace("上合组织", f"上合组织{change}")
        raw.joinpath(f"{change}.html").write_text(page, encoding="utf-8")
    build(raw, db)
    build(raw, tmp_path / "full.db", full=True)
    assert date_order(db) == date_order(tmp_path / "full.db")
    assert content(db) == content(tmp_path / "full.db")


def test_stories_regrouped_as_a_full_build_groups_them(first, tmp_path):
    """A repost of an article, older than it, joins its story and names it; the
    first article of another story goes (its next one names it); an article
    of that story changes into another report and leaves it."""
    raw, db = copy(first, tmp_path)
    (seed,) = rows(db, "select story from articles where file = ?", [SEED_NAME])[0]
    members = [file for (file,) in rows(db, "select file from articles where story = ? order by date_order", [seed])]
    assert members[0] == SEED_NAME and len(members) >= 4
    (raw / SEED_NAME).unlink()
    (raw / "copies" / "exact-duplicate.txt").unlink()  # the same bytes: it would take the seed's place
    changed = members[-1]
    (raw / changed).write_text(full_page(url=CANONICAL.replace("2059001", "2059099"),
                                         fragment=NO_AUTHOR_NO_TAGS.replace("短文", "另一篇短文")))
    # A story of two in the generated crawl, and a repost of its first article dated before it.
    story, first_id = rows(db, """select a.story, a.id from stories s join articles a on a.id = s.id
                                  where s.members = 2 and coalesce(a.published, a.not_before) > '2000-01-02'
                                  order by a.date_order limit 1""")[0]
    (title,) = rows(db, "select title from articles where id = ?", [first_id])[0]
    body = "".join(f"<p>{text}</p>" for (text,) in rows(
        db, "select text from paragraphs where article_id = ? and role = 'body' order by position", [first_id]))
    (raw / "zz-repost.html").write_text(full_page(
        url=CANONICAL.replace("2059001", "2059098"), published="2000-01-01T08:00:00+08:00",
        fragment=f"<h2>转载：{title}</h2><div class='entry'>{body}<p>（转载自本网）</p></div>"))

    assert_same_as_full_build(raw, db, tmp_path)
    story_of = dict(rows(db, "select file, story from articles"))
    id_of = dict(rows(db, "select file, id from articles"))
    assert story_of[members[1]] == id_of[members[1]]  # the next article names the story now
    assert {story_of[file] for file in members[1:-1]} == {id_of[members[1]]}
    assert story_of[changed] == id_of[changed]
    assert story_of["zz-repost.html"] == id_of["zz-repost.html"]
    assert rows(db, "select count(*) from articles where story = ?", [id_of["zz-repost.html"]]) == [(3,)]
    assert rows(db, "select count(*) from stories where id in (?, ?)", [seed, story]) == [(0,)]
