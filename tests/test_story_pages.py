"""Where stories and tags in both scripts show: the article page's list of
the story's other versions, one result per story (the table's _collapse=1,
the search's collapse=1), and a tag counted as one in either script
(tests/helpers/story_pages.py: one report four times over, and another report)."""

import sqlite3
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from helpers.pages import SEED_NAME
from helpers.story_pages import REPOST_ONLY, REPOST_SOURCE, SEED_STORY_FILES

from bannedbook.web import reader
from bannedbook.web.reader import query_string


@pytest.fixture(scope="module")
def site(story_db, site_for):
    return site_for(story_db)


@pytest.fixture(scope="module")
def ids(story_db) -> dict:
    """file -> article id."""
    with sqlite3.connect(story_db) as db:
        return dict(db.execute("select file, id from articles"))


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def table(site, **params) -> dict:
    return site(f"/bannedbook/articles.json?_shape=objects&{query_string(params)}").json()


def test_the_article_page_lists_the_other_versions(site, ids):
    section = soup(site(f"/bannedbook/articles/{ids['full/traditional.html']}")).select_one("section.story")
    items = section.select("li")
    # The other three, oldest first: the seed (which names the story), the page, the repost.
    others = [ids[file] for file in SEED_STORY_FILES if file != "full/traditional.html"]
    assert [li.a["href"] for li in items] == [f"/bannedbook/articles/{key}" for key in others]
    assert "首发 first" in items[0].select_one(".meta").get_text()
    assert REPOST_SOURCE in items[2].select_one(".meta").get_text()
    # Shown, but not as <time datetime>: Zotero would take it for this article's own date.
    assert items[2].select_one(".date").get_text() == "2024-07-10 08:00" and not items[2].select_one("time")
    assert "3 other versions" in section.get_text()
    assert section.select_one("a.story-all")["href"] == "/bannedbook/articles?story=" + ids[SEED_NAME]
    # A report alone has no such list.
    assert soup(site(f"/bannedbook/articles/{ids['full/related.html']}")).select_one("section.story") is None


def test_a_large_story_shows_a_few_and_links_to_all(site, ids, monkeypatch):
    monkeypatch.setattr(reader, "STORY_SHOWN", 2)
    section = soup(site(f"/bannedbook/articles/{ids['repost/voa.html']}")).select_one("section.story")
    assert len(section.select("li")) == 2
    assert "the first 2 shown" in section.get_text()
    assert "all 4 versions" in section.select_one("a.story-all").get_text()


def test_collapse_lists_one_article_per_story(site, ids, story_db):
    everything = table(site, _search="上合组织")
    assert everything["filtered_table_rows_count"] == 5
    collapsed = table(site, _search="上合组织", _collapse="1")
    assert collapsed["filtered_table_rows_count"] == 2
    assert {row["id"] for row in collapsed["rows"]} == {ids[SEED_NAME], ids["full/related.html"]}
    # Only the repost has this paragraph: its story is still found, through it.
    only = table(site, _search=REPOST_ONLY, _collapse="1")
    assert [row["id"] for row in only["rows"]] == [ids["repost/voa.html"]]
    # Other filters choose the rows first: the earliest of the story's articles with a URL.
    with_url = table(site, _collapse="1", url__notblank="1", _sort="date_order")
    with sqlite3.connect(story_db) as db:  # ties of one date go by date key (time of day, then id)
        earliest = [key for (key,) in db.execute(
            """select id from articles a where coalesce(url, '') != '' and date_order = (
                   select min(date_order) from articles b where b.story = a.story and coalesce(b.url, '') != '')
               order by date_order""")]
    assert [row["id"] for row in with_url["rows"]] == earliest
    assert earliest[0] == ids["full/related.html"] and len(earliest) == 2
    # Facets count stories.
    facets = table(site, _collapse="1", _facet="source")["facet_results"]
    assert {r["value"]: r["count"] for r in facets["source"]["results"]} == {"中文大纪元": 1, "美国之音": 1}
    tags = {r["value"]: r["count"] for r in facets["tags"]["results"]}
    assert tags["习近平"] == 2 and tags["普京"] == 1
    page = soup(site("/bannedbook/articles?_collapse=1"))
    assert "one article per story" in page.get_text()


def search(site, **params) -> list[dict]:
    return site(f"/bannedbook/search.json?_shape=array&{query_string(params)}").json()


def test_search_collapses_a_story_to_its_first_match(site, ids):
    rows = search(site, q="上合组织")
    assert len(rows) == 5 and all(r["total"] == 5 and r["versions"] == 1 for r in rows)
    rows = search(site, q="上合组织", collapse="1")
    assert {r["id"]: (r["versions"], r["total"]) for r in rows} == {
        ids[SEED_NAME]: (4, 2), ids["full/related.html"]: (1, 2)}
    assert [r["id"] for r in search(site, q=REPOST_ONLY, collapse="1")] == [ids["repost/voa.html"]]
    page = soup(site("/bannedbook/search?" + query_string({"q": "上合组织", "collapse": "1"})))
    assert page.select_one("input[name=collapse]").has_attr("checked")
    assert "2 stories found" in page.select_one(".result-count").get_text()
    versions = page.select("a.versions")
    assert [a.get_text() for a in versions] == ["4 个版本 versions"]
    assert versions[0]["href"] == f"/bannedbook/articles/{ids[SEED_NAME]}#story"


def test_a_tag_in_either_script_is_one_tag(site, story_db, ids):
    with sqlite3.connect(story_db) as db:
        spelled = dict(db.execute("select article_id, tag_id from article_tags where tag_key = '习近平'"))
    # Each page keeps its own spelling...
    assert spelled[ids["full/traditional.html"]] == "習近平"
    assert spelled[ids[SEED_NAME]] == "习近平"
    # ...and either spelling finds all five.
    for name in ("習近平", "习近平"):
        page = soup(site("/bannedbook/tag?tag=" + quote(name)))
        assert "5 篇文章" in page.select_one(".result-count").get_text()
        assert len(page.select("ol.results > li")) == 5
        assert table(site, _tag=name)["filtered_table_rows_count"] == 5
    assert "習近平 (1)" in page.select_one(".spellings").get_text()
    top = {r["tag"]: r for r in site("/bannedbook/top_tags.json?_shape=array").json()}
    assert top["习近平"]["articles"] == 5 and "習近平" not in top
    assert top["习近平"]["spellings"] == '["习近平","習近平"]'
    with_tag = {r["tag"]: r["articles"] for r in site("/bannedbook/tags_with.json?_shape=array&tag=習近平").json()}
    assert with_tag["上合组织"] == 5 and with_tag["普京"] == 4
    facet = table(site, _facet="source")["facet_results"]["tags"]["results"]
    assert {r["value"]: r["count"] for r in facet}["习近平"] == 5
    # The Traditional page shows its own spelling, with the count of both.
    article = soup(site(f"/bannedbook/articles/{ids['full/traditional.html']}"))
    counts = {a.get_text(): a.find_next_sibling("span").get_text() for a in article.select("a.tag")}
    assert counts["習近平"] == "5"
    # Filtering by one spelling selects the facet's row of the other, and removes it.
    selected = table(site, _tag="習近平", _facet="source")["facet_results"]["tags"]["results"]
    row = next(r for r in selected if r["value"] == "习近平")
    assert row["selected"] and "_tag" not in row["toggle_url"]


def test_searches_and_charts_by_tag_count_both_spellings(site):
    assert [r["articles"] for r in site("/bannedbook/articles_per_month.json?_shape=array&tag=習近平").json()] == [5]
    assert len(search(site, q="峰会", tag="習近平")) == len(search(site, q="峰会", tag="习近平")) == 5
    atom = site("/bannedbook/feed.atom?tag=" + quote("朝鮮")).text
    assert atom.count("<entry>") == 4
