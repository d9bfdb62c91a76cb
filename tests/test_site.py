"""The served site, through Datasette's own test client, on the seed."""

import asyncio
import json
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup

from bannedbook.web.site import make_datasette


@pytest.fixture(scope="module")
def site(seed_db):
    datasette = make_datasette(seed_db)

    def get(path):
        return asyncio.run(datasette.client.get(path))

    return get


@pytest.fixture(scope="module")
def seed_id(seed_db):
    import sqlite_utils

    return sqlite_utils.Database(seed_db).execute("select id from articles").fetchone()[0]


def found_ids(site, query):
    response = site(f"/bannedbook/articles.json?_search={quote(query)}&_shape=array&_col=title")
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()]


def test_pages_answer_with_the_article(site, seed_id, gold):
    title = gold["title"]
    for path in ["/", "/bannedbook", "/bannedbook/articles", f"/bannedbook/articles/{seed_id}",
                 "/bannedbook/paragraphs", "/bannedbook/links", "/bannedbook/tags", "/bannedbook/raw_files"]:
        response = site(path)
        assert response.status_code == 200, path
    assert title in site("/bannedbook/articles").text
    assert title in site(f"/bannedbook/articles/{seed_id}").text
    data = site(f"/bannedbook/articles/{seed_id}.json?_shape=array").json()
    assert data[0]["title"] == title


def test_table_search_box_and_html(site, gold):
    page = site(f"/bannedbook/articles?_search={quote('習近平')}")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.find("input", attrs={"name": "_search"})["value"] == "習近平"
    assert gold["title"] in page.text


@pytest.mark.parametrize("query", json.load(open("tests/fixtures/seed.gold.json"))["search_must_find_this_article"])
def test_gold_queries_find_the_article(site, seed_id, query):
    assert found_ids(site, query) == [seed_id]


@pytest.mark.parametrize("query", json.load(open("tests/fixtures/seed.gold.json"))["search_must_not_find_this_article"])
def test_gold_queries_do_not_find_the_article(site, query):
    assert found_ids(site, query) == []


def test_search_all_page(site, gold):
    page = site(f"/-/search?q={quote('習近平')}")
    assert page.status_code == 200
    # Its JavaScript fetches the table JSON with _search: the table is listed.
    assert "/bannedbook/articles" in page.text


@pytest.mark.parametrize("query", ['"', "(", "*", "a:b", "NOT", '"普京', "-", "普京 OR", "{", "\\"])
def test_hostile_queries_are_not_errors(site, query):
    for path in (f"/bannedbook/articles?_search={quote(query)}", f"/bannedbook/articles.json?_search={quote(query)}",
                 f"/bannedbook/search?q={quote(query)}"):
        assert site(path).status_code == 200, path


def test_ranked_search_query(site, seed_id):
    rows = site(f"/bannedbook/search.json?q={quote('習近平 普京')}&_shape=array").json()
    assert [row["id"] for row in rows] == [seed_id]
    assert "\ue000习近平\ue001" in rows[0]["snippet"] or "\ue000普京\ue001" in rows[0]["snippet"]
    html = site(f"/bannedbook/search?q={quote('習近平')}").text
    assert "<mark>习近平</mark>" in html


def test_sql_functions_in_the_console(site, seed_id):
    sql = ("select id from articles where rowid in "
           "(select rowid from articles_fts where articles_fts match cjk_match('塔利班'))")
    rows = site(f"/bannedbook.json?sql={quote(sql)}&_shape=array").json()
    assert rows == [{"id": seed_id}]


def test_json_skips_default_facets_unless_asked(site):
    plain = site("/bannedbook/articles.json?_search=%E6%99%AE%E4%BA%AC").json()
    assert plain["facet_results"] == {}
    asked = site("/bannedbook/articles.json?_search=%E6%99%AE%E4%BA%AC&_facet=author").json()
    assert "author" in asked["facet_results"]
    page = BeautifulSoup(site("/bannedbook/articles?_search=%E6%99%AE%E4%BA%AC").text, "html.parser")
    # The facet itself (a column header also says data-column="author"), with the article's author counted.
    facet = page.select_one("div.facet-info#facet-author")
    assert facet is not None and "杨威" in facet.get_text()


def test_a_database_file_named_otherwise_is_served_as_the_archive(seed_db, tmp_path, serve, gold):
    """`make serve DB=archive-2024.db`: the full site (metadata, canned
    queries, templates, hooks) under the name bannedbook, with the table
    counts the build left beside the file."""
    import shutil
    import subprocess
    import sys
    import urllib.request

    from conftest import ROOT

    db = tmp_path / "archive-2024.db"
    shutil.copy(seed_db, db)
    subprocess.run([sys.executable, "-c", "import sys; from bannedbook.web.site import write_inspect_file; "
                    "write_inspect_file(sys.argv[1])", str(db)], cwd=ROOT, check=True)
    url = serve(db)

    def get(path):
        with urllib.request.urlopen(url + path, timeout=30) as response:
            return response.status, response.read().decode()

    assert [d["name"] for d in json.loads(get("/-/databases.json")[1]) if d["name"] != "_internal"] == ["bannedbook"]
    status, home = get("/bannedbook")
    assert status == 200 and "禁闻档案" in home  # metadata.yml's title
    search = json.loads(get("/bannedbook/search.json?q=" + quote("習近平") + "&_shape=array")[1])
    assert len(search) == 1 and gold["title"] in BeautifulSoup(search[0]["title"], "html.parser").text
    article = get(f"/bannedbook/articles/{search[0]['id']}")[1]
    assert gold["body_starts_with"] in article  # the article template
    found = json.loads(get("/bannedbook/articles.json?_search=" + quote("習近平") + "&_shape=array")[1])
    assert [row["id"] for row in found] == [search[0]["id"]]  # the Chinese search hook


def test_the_about_link_opens_the_about_page(site):
    home = BeautifulSoup(site("/").text, "html.parser")
    about = home.find("a", string=lambda s: s and "About" in s)
    assert about is not None and about["href"] == "/about"
    page = site("/about")
    assert page.status_code == 200 and "raw_files" in page.text and "not before" in page.text


def test_the_inspect_file_counts_what_datasette_inspect_counts(seed_db, tmp_path):
    """The build writes the inspect data itself (no hash of the whole file):
    every table Datasette counts, with the same count, and the search index
    counted as the articles it holds one row each."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from bannedbook.web.site import write_inspect_file

    db = tmp_path / "bannedbook.db"
    shutil.copy(seed_db, db)
    ours = json.loads(write_inspect_file(db).read_text(encoding="utf-8"))["bannedbook"]
    theirs_file = tmp_path / "theirs.json"
    subprocess.run([str(Path(sys.executable).with_name("datasette")), "inspect", str(db),
                    "--inspect-file", str(theirs_file)], check=True, capture_output=True)
    theirs = json.loads(theirs_file.read_text(encoding="utf-8"))["bannedbook"]
    counted = {name: table["count"] for name, table in theirs["tables"].items() if name != "articles_fts"}
    assert {name: table["count"] for name, table in ours["tables"].items() if name != "articles_fts"} == counted
    assert ours["tables"]["articles_fts"]["count"] == counted["articles"] > 0
    assert ours["size"] == theirs["size"] == db.stat().st_size and ours["hash"] is None
