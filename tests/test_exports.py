"""Exports hold every match: each CSV, RIS, BibTeX and JSON-lines link of
the search, tag, author and table pages, followed as a reader would, counted
row by row against what the search finds (a few hundred articles, read forty
at a time so that paging is exercised). And no CSV the site serves holds a
cell a spreadsheet would run."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest
import rispy
from bs4 import BeautifulSoup
from helpers.readers import bibtexparser_entries

from bannedbook.search.query import match_expression
from bannedbook.search.snippet import MARK_END, MARK_START
from bannedbook.text.chinese import normalise
from bannedbook.web.exports import safe_cell
from bannedbook.web.site import make_datasette

PAGE = 40  # export_page_size: far below the matches, so every export reads several pages
BASE = "https://archive.example.org"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def site(db: Path, **config):
    datasette = make_datasette(db)
    datasette._metadata_local.setdefault("plugins", {}).setdefault("bannedbook", {}).update(
        {"base_url": BASE, "export_page_size": PAGE, **config})
    return datasette


@pytest.fixture(scope="module")
def get(research_db):
    datasette = site(research_db)

    def fetch(path: str, status: int = 200):
        response = asyncio.run(datasette.client.get(path))
        assert response.status_code == status, (path, response.text[:500])
        return response

    return fetch


def sql(db: Path, query: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        conn.create_function("cjk_match", 1, match_expression)
        conn.create_function("cjk_normalise", 1, normalise)
        return conn.execute(query, params).fetchall()


def matching(db: Path, q: str) -> set[str]:
    found = sql(db, """select id from articles where rowid in
                       (select rowid from articles_fts where articles_fts match cjk_match(?))""", [q])
    return {row[0] for row in found}


def ids_in(response, format_: str) -> list[str]:
    """The article ids of an export, in its order, read with a reader of its format."""
    text = response.text
    if format_ == "csv":
        return [row["id"] for row in csv.DictReader(io.StringIO(text))]
    if format_ == "jsonl":
        return [json.loads(line)["id"] for line in text.splitlines()]
    if format_ == "ris":
        return [record["id"] for record in rispy.loads(text)]
    return [entry["url"].rsplit("/", 1)[1] for entry in bibtexparser_entries(text).values()]


def export_links(html: str) -> dict[str, str]:
    page = BeautifulSoup(html, "html.parser")
    return {format_: page.select_one(f"a.export-{format_}")["href"] for format_ in ("csv", "ris", "bib", "jsonl")}


@pytest.fixture(scope="module")
def common(research_db) -> str:
    """A search that finds a few hundred articles."""
    q = "的"
    assert 100 < len(matching(research_db, q)) <= 300
    return q


def test_every_export_of_the_search_page_holds_every_match(get, research_db, common):
    expected = matching(research_db, common)
    first_page = get(f"/bannedbook/search.json?q={quote(common)}&_shape=array").json()
    assert first_page[0]["total"] == len(expected) and len(first_page) == 100
    for format_, href in export_links(get(f"/bannedbook/search?q={quote(common)}").text).items():
        ids = ids_in(get(href), format_)
        assert len(ids) == len(expected) and set(ids) == expected, format_
        assert ids[:100] == [row["id"] for row in first_page], f"{format_}: ranked as the page ranks"

    # One result per story: as many as the page counts.
    collapsed = get(f"/bannedbook/search.json?q={quote(common)}&collapse=1&_shape=array").json()
    links = export_links(get(f"/bannedbook/search?q={quote(common)}&collapse=1").text)
    assert len(ids_in(get(links["ris"]), "ris")) == collapsed[0]["total"] < len(expected)


def test_a_repeated_parameter_means_in_an_export_what_it_means_on_the_page(get, research_db, common):
    # Datasette reads the first of a repeated parameter; an export must not read the last.
    rare = "经济"
    both = f"q={quote(rare)}&q={quote(common)}"
    page = get(f"/bannedbook/search.json?{both}&_shape=array").json()
    expected = matching(research_db, rare)
    assert page[0]["total"] == len(expected) < len(matching(research_db, common))
    for format_ in ("csv", "ris", "jsonl"):
        ids = ids_in(get(f"/bannedbook/search.{format_}?{both}"), format_)
        assert set(ids) == expected and ids[:len(page)] == [row["id"] for row in page], format_


def test_every_export_of_the_table_holds_every_row_its_filters_select(get, research_db, common):
    (tag,) = sql(research_db, """select tag_id from article_tags group by tag_key order by count(*) desc limit 1""")[0]
    for query in (f"_search={quote(common)}", f"_search={quote(common)}&_tag={quote(tag)}",
                  f"_search={quote(common)}&_collapse=1", "_sort=title"):
        count = get(f"/bannedbook/articles.json?{query}&_size=1").json()["filtered_table_rows_count"]
        page = BeautifulSoup(get(f"/bannedbook/articles?{query}").text, "html.parser")
        # Every format once; the other filters through CSV.
        formats = ("csv", "ris", "bib", "jsonl") if query == f"_search={quote(common)}" else ("csv",)
        links = {format_: page.select_one(f'.export-links a[href*="articles.{format_}"]')["href"]
                 for format_ in formats}
        for format_, href in links.items():
            ids = ids_in(get(href), format_)
            assert len(ids) == len(set(ids)) == count, (query, format_)
        # Datasette's "newline-delimited" JSON link is JSON lines: the whole list too.
        lines = get(f"/bannedbook/articles.json?{query}&_shape=array&_nl=on").text.splitlines()
        assert len(lines) == count
    # The table's order is kept.
    titles = [json.loads(line)["title"] for line in get("/bannedbook/articles.jsonl?_sort=title").text.splitlines()]
    assert titles == sorted(titles)


def test_tag_and_author_pages_export_every_article(research_db):
    # An author has few articles here: read them one at a time.
    datasette = site(research_db, export_page_size=1)

    def get(path: str):
        response = asyncio.run(datasette.client.get(path))
        assert response.status_code == 200, path
        return response

    (tag, tag_count), = sql(research_db, """select tag_id, count(distinct article_id) from article_tags
                                            group by tag_key order by count(*) desc limit 1""")
    (author, author_count), = sql(research_db, """select author, count(*) from articles where author is not null
                                                  group by author order by count(*) desc limit 1""")
    for path, count in ((f"/bannedbook/tag?tag={quote(tag)}", tag_count),
                        (f"/bannedbook/author?author={quote(author)}", author_count)):
        assert count > 1
        for format_, href in export_links(get(path).text).items():
            assert len(set(ids_in(get(href), format_))) == count, (path, format_)


def test_titles_are_plain_and_highlights_have_their_own_fields(get, common):
    rows = list(csv.DictReader(io.StringIO(get(f"/bannedbook/search.csv?q={quote(common)}").text)))
    assert all(MARK_START not in row["title"] and MARK_END not in row["title"] for row in rows)
    assert all(MARK_START not in row["snippet"] for row in rows) and any("«" in row["snippet"] for row in rows)
    assert any("«" in row["title_highlighted"] for row in rows)
    assert all(row["archive_url"] == f"{BASE}/bannedbook/articles/{row['id']}" for row in rows)
    assert any(row["url"].startswith("https://www.bannedbook.org/") for row in rows)
    page = get(f"/bannedbook/search.json?q={quote(common)}&_shape=array").json()
    assert all(MARK_START not in row["title"] for row in page)
    assert any(MARK_START in row["title_highlighted"] for row in page)
    record = json.loads(get(f"/bannedbook/search.jsonl?q={quote(common)}").text.splitlines()[0])
    assert MARK_START not in record["title"] and {"title_highlighted", "snippet", "archive_url", "url"} <= set(record)
    # JSON keeps Datasette's paging.
    data = get(f"/bannedbook/articles.json?_search={quote(common)}&_size=5").json()
    assert len(data["rows"]) == 5 and data["next_url"]


@pytest.mark.parametrize("value, safe", [
    ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"), ("+1+2", "'+1+2"),
    ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\r=1", "'\r=1"),
    ("-3", "-3"), ("+1.5e3", "+1.5e3"), ("-", "'-"), ("习近平", "习近平"), ("", ""), (None, ""), (42, "42"),
])
def test_safe_cell(value, safe):
    assert safe_cell(value) == safe


@pytest.fixture(scope="module")
def hostile_db(seed_db, tmp_path_factory) -> Path:
    db_path = tmp_path_factory.mktemp("formulas") / "bannedbook.db"
    shutil.copy(seed_db, db_path)
    with sqlite3.connect(db_path) as db:
        (top,) = db.execute("select max(date_order) from articles").fetchone()
        db.execute("""insert into articles (id, url, title, author, source, published, year, date_order, script, body,
                      file) values ('formula', 'https://www.bannedbook.org/bnews/1.html', '=HYPERLINK("http://evil.example","x")',
                      '@SUM(A1)', '+cmd|'' /C calc''!A0', '2024-01-02', 2024, ?, 'simplified', '=1+1 正文', 'f.txt')""",
                   [top + 1])
        db.execute("insert into tags (id, name, url, key) values ('-2+3', '-2+3', '=evil()', '-2+3')")
        db.execute("insert into article_tags (article_id, tag_id, tag_key) values ('formula', '-2+3', '-2+3')")
    return db_path


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def test_no_csv_the_site_serves_holds_a_formula(hostile_db):
    datasette = site(hostile_db)
    evil = quote('=HYPERLINK("http://evil.example")')
    paths = ["/bannedbook/articles.csv", "/bannedbook/articles.csv?_search=" + quote("正文"),
             "/bannedbook/tags.csv", "/bannedbook/tags.csv?_stream=1&_size=max", "/bannedbook/article_tags.csv",
             "/bannedbook/by_source.csv", "/bannedbook/undated.csv?_dl=1", "/bannedbook/tag.csv?tag=" + quote("-2+3"),
             "/bannedbook.csv?sql=" + quote("select '=1+1' as a, -3 as n, '-3' as s, '@x' as b, char(9) || 'x' as t, "
                                            "'x' || char(10) || '=2' as multi"),
             f"/-/trends.csv?q={evil}&q=" + quote("正文")]
    seen = []
    for path in paths:
        response = asyncio.run(datasette.client.get(path))
        assert response.status_code == 200, (path, response.text[:300])
        found = cells(response.text)
        assert found, path
        bad = [cell for cell in found if cell.startswith(FORMULA) and safe_cell(cell) != cell]
        assert not bad, (path, bad)
        seen += found
    # Neutralised, not dropped: the text is all there behind its quote; numbers stay numbers.
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in seen and "'@SUM(A1)" in seen and "'=evil()" in seen
    assert "'=HYPERLINK(\"http://evil.example\")" in seen  # the trends header, from the query string
    assert "-3" in seen and "'=1+1" in seen and "x\n=2" in seen


def test_the_undated_query_exports_every_undated_article(get, research_db):
    (count,) = sql(research_db, "select count(*) from articles where published is null")[0]
    assert count > PAGE
    for format_ in ("csv", "ris", "jsonl"):
        ids = ids_in(get(f"/bannedbook/undated.{format_}"), format_)
        assert len(set(ids)) == len(ids) == count, format_
