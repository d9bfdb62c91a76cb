"""Lexicons: terms matched as search matches a quoted phrase (checked
against a scan of every article's text folded with OpenCC, tests/helpers/truth.py),
their exact counts, the build's handling of bad CSV files, and incremental
builds."""

import asyncio
import csv
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlite_utils
from conftest import ROOT
from helpers.truth import fold, phrase_hits

from bannedbook.build.pipeline import build
from bannedbook.research.lexicon import LexiconError, read_lexicons, write_lexicon
from bannedbook.search.query import quoted
from bannedbook.web.site import make_datasette

# Simplified and Traditional, Latin in any case and width, one character, and
# terms full of what would be search syntax if they were queries.
TERMS = [
    ("江泽民", "leaders"), ("江澤民", "leaders"), ("李鹏", "leaders"), ("經濟", "economy"), ("经济改革", "economy"),
    ("国务院", "state"), ("中", "one character"), ("ｔｉｋｔｏｋ", "latin"), ("COVID-19", "latin"), ("wto", "latin"),
    ("OR", "syntax"), ("AND", "syntax"), ("NOT", "syntax"), ("-经济", "syntax"), ("经济*", "syntax"),
    ('"江泽民"', "syntax"), ("(李鹏)", "syntax"), ("香港:澳门", "syntax"), ("中国 OR 美国", "syntax"),
    ("江泽民 -李鹏", "syntax"), ("NEAR(中国 美国)", "syntax"), ('新华社"北京', "syntax"), ("^中国", "syntax"),
    ("同志。", "syntax"), ("*", "syntax"), ("没有这个词语", "absent"),
]  # fmt: skip

def write_csv(path: Path, rows, header=("term", "theme"), encoding="utf-8", delimiter=","):
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def lexicon_db(research_db, tmp_path_factory):
    """The research crawl with TERMS matched in, as the build's last step
    does (the build itself is tested below)."""
    folder = tmp_path_factory.mktemp("lexicon")
    db = folder / "bannedbook.db"
    db.write_bytes(research_db.read_bytes())
    database = sqlite_utils.Database(db)
    write_lexicon(database, read_lexicons([write_csv(folder / "terms.csv", TERMS)]))
    database.close()
    return db


def query(db, sql, params=()):
    return sqlite3.connect(db).execute(sql, params).fetchall()


def test_terms_are_found_as_a_scan_of_the_folded_text_finds_them(lexicon_db):
    articles = query(lexicon_db, "select id, title, body, script from articles")
    folded = [(article_id, fold(title), fold(body)) for article_id, title, body, _ in articles]
    found = {}
    for article_id, term, hits in query(lexicon_db, "select article_id, term, hits from article_terms"):
        found.setdefault(term, {})[article_id] = hits
    for term, _ in TERMS:
        wanted = fold(term)
        # Title and body apart: search never finds a phrase across the two.
        expected = {article_id: n for article_id, title, body in folded
                    if (n := phrase_hits(wanted, title) + phrase_hits(wanted, body))}
        assert found.get(term, {}) == expected, term
    # The corpus holds what the terms are about, in both scripts.
    scripts = dict((article_id, script) for article_id, _, _, script in articles)
    assert {scripts[key] for key in found["江泽民"]} == {"simplified", "traditional"}
    assert found["江澤民"] == found["江泽民"] and found["經濟"]
    assert found["ｔｉｋｔｏｋ"] and found["COVID-19"] and found["中"]
    assert set(found['"江泽民"']) < set(found["江泽民"])  # "江泽民" must end a word: not 江泽民同志
    assert "没有这个词语" not in found and "*" not in found
    # Counts, not only presence: terms of one word and of several occur more than once in an article.
    assert max(found["中"].values()) > 1 and max(found["江泽民 -李鹏"].values()) > 1


def test_each_term_is_what_its_quoted_search_finds(lexicon_db):
    """articles per term = the count of the table search for the term as one
    quoted phrase (chinese.quoted), through Datasette."""
    datasette = make_datasette(lexicon_db)
    counts = dict(query(lexicon_db, "select term, articles from lexicon"))
    for term, _ in TERMS:
        response = asyncio.run(datasette.client.get("/bannedbook/articles.json",
                                                    params={"_search": quoted(term), "_size": "1"}))
        assert response.json()["filtered_table_rows_count"] == counts[term], term


def test_totals_and_themes(lexicon_db):
    pairs = query(lexicon_db, "select term, count(*), sum(hits) from article_terms group by term")
    assert sorted(pairs) == sorted(query(lexicon_db, "select term, articles, hits from lexicon where articles > 0"))
    themes = dict(query(lexicon_db, "select theme, articles from themes"))
    for theme, n in themes.items():
        assert n == query(lexicon_db, """select count(distinct article_id) from article_terms
                                         where term in (select term from lexicon where theme = ?)""", [theme])[0][0]
    assert query(lexicon_db, "select terms from themes where theme = 'syntax'")[0][0] == sum(
        theme == "syntax" for _, theme in TERMS)
    assert query(lexicon_db, "select encoding, terms, message from lexicon_files") == [
        ("utf-8", len(TERMS), "1 kept but match nothing (no letters or digits)")]


def test_the_article_page_lists_its_terms(lexicon_db):
    from bs4 import BeautifulSoup

    article_id = query(lexicon_db, "select article_id from article_terms where term = '江泽民' limit 1")[0][0]
    datasette = make_datasette(lexicon_db)
    html = asyncio.run(datasette.client.get(f"/bannedbook/articles/{article_id}")).text
    links = BeautifulSoup(html, "html.parser").select(".lexicon-terms-of-article a.lexicon-term")
    terms = {term for (term,) in query(lexicon_db, "select term from article_terms where article_id = ?",
                                       [article_id])}
    assert {link.text for link in links} == terms
    assert all(link["href"].startswith("/bannedbook/search?q=") for link in links)


# ------------------------------------------------------------------ bad input


def read(path):
    return read_lexicons([path])


def test_gbk_bom_and_utf16_files_read_alike(tmp_path):
    rows = [("习近平", "领导人"), ("法轮功", "宗教"), ("臺灣", "地方")]
    expected = [(t.term, t.theme) for t in read(write_csv(tmp_path / "plain.csv", rows)).terms]
    assert expected == rows
    for name, encoding, delimiter in [("gbk.csv", "gb18030", ","), ("bom.csv", "utf-8-sig", ","),
                                      ("excel.txt", "utf-16", "\t")]:
        lexicon = read(write_csv(tmp_path / name, rows, encoding=encoding, delimiter=delimiter))
        assert [(t.term, t.theme) for t in lexicon.terms] == rows, name
    assert read(tmp_path / "gbk.csv").files[0].encoding == "gb18030"


def test_rows_that_cannot_be_terms_are_skipped_and_counted(tmp_path):
    path = write_csv(tmp_path / "messy.csv", [
        ("  习近平  ", " 领导人 "), ("", "空"), ("   ", "空"), ("习近平", "领导人"), ("习近平", "其他"),
        ("x" * 201, "太长"), ("!!!", "标点"), (), ("法轮功",),
    ])  # fmt: skip
    lexicon = read(path)
    assert [(t.term, t.theme) for t in lexicon.terms] == [
        ("习近平", "领导人"), ("习近平", "其他"), ("!!!", "标点"), ("法轮功", None)]
    assert lexicon.files[0].message == ("2 empty term(s); 1 duplicate(s); 1 term(s) over 200 characters; "
                                        "1 kept but match nothing (no letters or digits)")


def test_other_columns_are_kept_under_names_of_their_own(tmp_path):
    path = write_csv(tmp_path / "cols.csv", [("六四", "事件", "1989", "x", "y", "z")],
                     header=("Term", "THEME", "year", "articles", "", "year"))
    lexicon = read(path)
    assert lexicon.columns == ["year", "articles_2", "column_5", "year_2"]
    assert lexicon.terms[0].extra == {"year": "1989", "articles_2": "x", "column_5": "y", "year_2": "z"}


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", None, "no such file"),
    ("empty.csv", b"", "the file is empty"),
    ("no-term.csv", "word,theme\n六四,事件\n".encode(), "no `term` column in its first row (it holds: word, theme)"),
    ("binary.csv", bytes(range(256)) * 40, "lexicon"),
    ("bad-utf8.csv", "term\n六四\n".encode() + b"\xff\xfe\xfa" + "法轮功\n".encode() * 200, "save it as UTF-8"),
    ("folder.csv", "folder", "cannot be read"),
])  # fmt: skip
def test_a_file_that_cannot_be_used_is_one_clear_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(LexiconError) as error:
        read(path)
    assert message in str(error.value) and "\n" not in str(error.value) and str(path) in str(error.value)


def test_build_db_refuses_an_unusable_lexicon_and_keeps_the_database(tmp_path, seed_db):
    db = tmp_path / "bannedbook.db"
    db.write_bytes(seed_db.read_bytes())
    before = db.read_bytes()
    bad = write_csv(tmp_path / "bad.csv", [("六四", "事件")], header=("word", "theme"))
    done = subprocess.run([sys.executable, "build_db.py", "raw", str(db), "--lexicon", str(bad)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no `term` column" in done.stderr
    assert db.read_bytes() == before


def test_a_100000_term_list(tmp_path):
    rows = [(f"词{i}", f"theme {i % 7}") for i in range(100_000)] + [("习近平", "领导人"), ("普京", "领导人")]
    db = tmp_path / "bannedbook.db"
    counts = build(ROOT / "raw", db, workers=1, progress=False, lexicon=[write_csv(tmp_path / "big.csv", rows)])
    assert counts.lexicon.terms == 100_002
    assert query(db, "select count(*) from lexicon")[0][0] == 100_002
    assert sorted(query(db, "select term from article_terms")) == [("习近平",), ("普京",)]


# ------------------------------------------------------------------ builds


def test_incremental_builds_keep_the_lexicon_up_to_date(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "seed.txt").write_bytes((ROOT / "raw" / "000_e365f8a2e595efac.txt").read_bytes())
    db = tmp_path / "bannedbook.db"
    terms = write_csv(tmp_path / "terms.csv", [("习近平", "领导人"), ("没有这个词语", "无")])
    build(raw, db, workers=1, progress=False, lexicon=[terms])
    assert query(db, "select term, articles from lexicon") == [("习近平", 1), ("没有这个词语", 0)]

    # Nothing changed: nothing is read or written.
    stamp = db.stat().st_mtime_ns
    counts = build(raw, db, workers=1, progress=False, lexicon=[terms])
    assert counts.read == 0 and not counts.lexicon.written and db.stat().st_mtime_ns == stamp

    # The lexicon changed: it is matched again, no page is read.
    write_csv(terms, [("习近平", "领导人"), ("普京", "领导人")])
    counts = build(raw, db, workers=1, progress=False, lexicon=[terms])
    assert counts.read == 0 and counts.lexicon.written
    assert query(db, "select term, articles from lexicon") == [("习近平", 1), ("普京", 1)]

    # A new article holding a term: it is counted.
    text = (ROOT / "raw" / "000_e365f8a2e595efac.txt").read_text(encoding="utf-8")
    (raw / "other.txt").write_text(text.replace("习近平", "習近平").replace("普京", "某人") + "\n<!-- 另一篇 -->",
                                   encoding="utf-8")
    counts = build(raw, db, workers=1, progress=False, lexicon=[terms])
    assert counts.read == 1
    articles = dict(query(db, "select term, articles from lexicon"))
    assert articles == {"习近平": query(db, "select count(*) from articles")[0][0], "普京": 1}
    days = query(db, "select sum(articles) from days")[0][0]
    assert days == query(db, "select count(*) from articles")[0][0]

    # Built without a lexicon: the tables are emptied.
    build(raw, db, workers=1, progress=False)
    assert query(db, "select count(*) from lexicon")[0][0] == 0 == query(db, "select count(*) from article_terms")[0][0]


def test_a_failing_lexicon_step_leaves_the_old_database(tmp_path, monkeypatch):
    import bannedbook.build.pipeline

    db = tmp_path / "bannedbook.db"
    build(ROOT / "raw", db, workers=1, progress=False)
    before = db.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("the lexicon step failed")

    monkeypatch.setattr(bannedbook.build.pipeline, "write_lexicon", broken)
    with pytest.raises(RuntimeError):
        build(ROOT / "raw", db, workers=1, progress=False, full=True)
    assert db.read_bytes() == before and not list(tmp_path.glob(".*.building"))


def test_the_example_lexicon_is_well_formed():
    lexicon = read(ROOT / "lexicons" / "example.csv")
    assert len(lexicon.terms) >= 12 and all(t.theme for t in lexicon.terms)
    assert not lexicon.files[0].message
    assert Counter(t.term for t in lexicon.terms).most_common(1)[0][1] == 1
