"""The reader's pages and queries, through Datasette's own client, on the
seed plus the article its related reading points at (tests/helpers/reader_pages.py)."""

import asyncio
import sqlite3
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
import yaml
from bs4 import BeautifulSoup
from helpers.reader_pages import HOSTILE_TEXT, RELATED_TITLE, RELATED_URL

from bannedbook.text.urls import safe_href
from bannedbook.web.reader import query_string
from bannedbook.web.site import METADATA, make_datasette

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def site(reader_db, site_for):
    return site_for(reader_db)


@pytest.fixture(scope="module")
def ids(reader_db, gold) -> dict:
    """title -> id for the two articles."""
    with sqlite3.connect(reader_db) as db:
        found = dict(db.execute("select title, id from articles"))
    return {"seed": found[gold["title"]], "related": found[RELATED_TITLE]}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def test_article_page_reads_like_the_article(site, reader_db, ids, gold):
    page = soup(site(f"/bannedbook/articles/{ids['seed']}"))
    article = page.select_one("article.reader")
    assert article.h1.get_text() == gold["title"]
    author = article.select_one("a.author")
    assert author.get_text() == "杨威" and author["href"] == "/bannedbook/author?author=" + quote("杨威")
    assert article.select_one("a.source")["href"] == gold["source_url"]
    assert "not before 2024-07-04" in article.select_one(".estimate").get_text()
    tags = [a.get_text() for a in article.select("a.tag")]
    assert sorted(tags) == sorted(gold["tags"])
    assert all(a["href"].startswith("/bannedbook/tag?tag=") for a in article.select("a.tag"))
    with sqlite3.connect(reader_db) as db:
        roles = [r for (r,) in db.execute(
            "select role from paragraphs where article_id = ? order by position", [ids["seed"]])]
    body = article.select_one(".article-body")
    assert len(body.find_all("h2")) == roles.count("subheading") > 0
    assert len(body.select("p.caption")) == roles.count("caption") > 0
    assert len(body.find_all("p")) == roles.count("body") + roles.count("caption")


def test_related_reading_inside_and_outside_the_archive(site, ids):
    seed = soup(site(f"/bannedbook/articles/{ids['seed']}"))
    related = seed.select("section.related li")
    assert len(related) == 5
    inside = [li for li in related if li.select_one(".in-archive")]
    assert [li.a["href"] for li in inside] == [f"/bannedbook/articles/{ids['related']}"]
    assert all(li.a["href"].startswith("https://www.bannedbook.org/") for li in related if li not in inside)
    # ...and the article it points at is cited by the seed.
    other = soup(site(f"/bannedbook/articles/{ids['related']}"))
    assert [a["href"] for a in other.select("section.cited-by a")] == [f"/bannedbook/articles/{ids['seed']}"]
    assert other.select_one("a.original")["href"] == RELATED_URL
    assert other.select_one(".article-body h2").get_text() == "峰会议程"


def test_crawled_markup_and_links_stay_text(site, ids):
    response = site(f"/bannedbook/articles/{ids['related']}")
    assert HOSTILE_TEXT not in response.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text
    assert HOSTILE_TEXT in soup(response).select_one(".article-body").get_text()
    hrefs = [a["href"] for a in soup(response).find_all("a", href=True)]
    assert not [h for h in hrefs if "javascript" in h.lower()]


def test_safe_href_and_query_string():
    assert safe_href(" https://example.org/a ") == "https://example.org/a"
    assert safe_href("HTTP://example.org") == "HTTP://example.org"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example", "/local", None, 3):
        assert safe_href(bad) == ""
    assert query_string({"q": "習近平", "tag": "", "page": None}, page=2) == "q=%E7%BF%92%E8%BF%91%E5%B9%B3&page=2"


def search(site, **params) -> list[dict]:
    return site(f"/bannedbook/search.json?_shape=array&{query_string(params)}").json()


def test_search_is_ranked_and_narrowable(site, ids):
    rows = search(site, q="習近平")
    # The title match weighs ten times a body match.
    assert [r["id"] for r in rows] == [ids["related"], ids["seed"]]
    assert all(r["total"] == 2 for r in rows)
    # The match is marked in its own field; title is the plain title.
    assert "\ue000习近平\ue001" in rows[0]["title_highlighted"] and "\ue000" not in rows[0]["title"]
    assert [r["id"] for r in search(site, q="習近平", tag="普京")] == [ids["seed"]]
    assert [r["id"] for r in search(site, q="習近平", author="李明")] == [ids["related"]]
    assert [r["id"] for r in search(site, q="習近平", source="美国之音")] == [ids["related"]]
    assert [r["id"] for r in search(site, q="習近平", since="2024-07-03")] == [ids["seed"]]
    assert [r["id"] for r in search(site, q="習近平", until="2024-07-02")] == [ids["related"]]
    both = [ids["related"], ids["seed"]]
    assert [r["id"] for r in search(site, q="習近平", since="2024-07", until="2024-07")] == both
    assert search(site, q="習近平", page="2") == []


def test_search_page_keeps_the_search_in_the_url(site, ids):
    page = soup(site("/bannedbook/search?q=" + quote("習近平") + "&tag=" + quote("普京")))
    assert page.select_one("input[name=q]")["value"] == "習近平"
    assert page.select_one("input[name=tag]")["value"] == "普京"
    assert "1 article found" in page.select_one(".result-count").get_text()
    results = page.select("ol.results > li")
    assert [li.a["href"] for li in results] == [f"/bannedbook/articles/{ids['seed']}"]
    assert results[0].select_one(".snippet mark").get_text() == "习近平"
    feed = page.find("a", string="Atom 订阅 feed")["href"]
    assert feed == "/bannedbook/feed.atom?q=" + quote("習近平") + "&tag=" + quote("普京")


def test_tag_and_author_pages_newest_first(site, ids):
    page = soup(site("/bannedbook/tag?tag=" + quote("习近平")))
    assert "2 篇文章" in page.select_one(".result-count").get_text()
    # The seed's estimate (2024-07-04) is newer than the other's date (2024-07-02).
    assert [li.a["href"] for li in page.select("ol.results > li")] == [
        f"/bannedbook/articles/{ids['seed']}", f"/bannedbook/articles/{ids['related']}"]
    co_tags = {a.get_text(): a.find_next_sibling("span").get_text() for a in page.select("a.tag")}
    assert co_tags["上合组织"] == "2" and co_tags["普京"] == "1"
    author = soup(site("/bannedbook/author?author=" + quote("李明")))
    assert [li.a.get_text() for li in author.select("ol.results > li")] == [RELATED_TITLE]
    assert not page.select(".listing-notice") and not author.select(".listing-notice")


@pytest.mark.parametrize("kind", ["tag", "author"])
def test_an_unknown_tag_or_author_is_said_not_shown_as_a_bare_zero(site, kind):
    page = soup(site(f"/bannedbook/{kind}?{kind}=" + quote("不存在的名字")))
    (notice,) = page.select(".listing-notice")
    assert "不存在的名字" in notice.get_text() and "spelling" in notice.get_text()
    assert notice.a["href"].endswith("/search?q=" + quote("不存在的名字"))


def test_an_unknown_tag_on_the_table_is_said(site):
    page = soup(site("/bannedbook/articles?_tag=" + quote("不存在的标签")))
    (notice,) = page.select(".table-notice")
    assert "不存在的标签" in notice.get_text()
    assert not soup(site("/bannedbook/articles?_tag=" + quote("普京"))).select(".table-notice")


def test_articles_table_facets_and_tag_filter(site, ids):
    data = site("/bannedbook/articles.json?_tag=" + quote("普京") + "&_shape=objects&_col=title").json()
    assert [row["id"] for row in data["rows"]] == [ids["seed"]]
    # Several tags: articles carrying all of them.
    both = site("/bannedbook/articles.json?_shape=array&_tag=" + quote("上合组织") + "&_tag=" + quote("普京")).json()
    assert [row["id"] for row in both] == [ids["seed"]]
    # JSON computes the default facets only when a request names one (plugin.asgi_wrapper).
    facets = site("/bannedbook/articles.json?_shape=objects&_facet=author").json()["facet_results"]
    assert {"tags", "author", "source", "category", "year"} <= set(facets)
    counts = {r["value"]: r["count"] for r in facets["tags"]["results"]}
    assert counts["习近平"] == 2 and counts["普京"] == 1
    html = site("/bannedbook/articles?_tag=" + quote("普京")).text
    labels = [s.get_text(" ", strip=True) for s in soup_text(html).select(".facet-info-name strong")]
    assert any(label.startswith("标签 Tag") for label in labels)
    assert any(label.startswith("作者 Author") for label in labels)


def soup_text(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def test_research_queries(site, reader_db, ids):
    with sqlite3.connect(reader_db) as db:
        tag_counts = dict(db.execute("select tag_id, count(*) from article_tags group by tag_id"))
    top = site("/bannedbook/top_tags.json?_shape=array").json()
    assert {r["tag"]: r["articles"] for r in top} == tag_counts
    assert [r["articles"] for r in top] == sorted((r["articles"] for r in top), reverse=True)
    months = site("/bannedbook/articles_per_month.json?_shape=array").json()
    assert months == [{"month": "2024-07", "articles": 2, "stories": 2}]
    assert site("/bannedbook/articles_per_month.json?_shape=array&q=" + quote("普京")).json()[0]["articles"] == 1
    rows = site("/bannedbook/tags_with.json?_shape=array&tag=" + quote("普京")).json()
    with_tag = {r["tag"]: r["articles"] for r in rows}
    assert with_tag["习近平"] == 1 and "普京" not in with_tag
    cited = site("/bannedbook/most_cited.json?_shape=array").json()
    assert {"id": ids["related"], "title": RELATED_TITLE, "url": RELATED_URL, "cited_by": 1} in cited
    assert [r["id"] for r in site("/bannedbook/undated.json?_shape=array").json()] == [ids["seed"]]
    sources = {r["source"]: r["articles"] for r in site("/bannedbook/by_source.json?_shape=array").json()}
    assert sources == {"中文大纪元": 1, "美国之音": 1}


def test_month_chart_zero_fills_gaps(tmp_path):
    """Articles in March and July: April to June are drawn, as 0."""
    from helpers.pages import CANONICAL, full_page, write_crawl

    from bannedbook.build.pipeline import build

    pages = {f"{day}.html": full_page(published=f"{day}T09:00:00+08:00", url=CANONICAL.replace("2059001", day[-2:]))
             .encode() for day in ("2024-03-15", "2024-07-08", "2024-07-09")}
    build(write_crawl(tmp_path / "raw", pages), tmp_path / "bannedbook.db", workers=1, progress=False)
    html = asyncio.run(make_datasette(tmp_path / "bannedbook.db").client.get("/bannedbook/articles_per_month")).text
    bars = soup_text(html).select("svg rect.articles")
    assert [b.title.get_text() for b in bars] == ["2024-03: 1", "2024-04: 0", "2024-05: 0", "2024-06: 0", "2024-07: 2"]
    heights = [float(b["height"]) for b in bars]
    assert heights[1:4] == [0, 0, 0] and heights[4] > heights[0] > 0
    # The three pages are one story (the same text under three URLs): July's two count once.
    stories = soup_text(html).select("svg rect.stories")
    assert [b.title.get_text() for b in stories] == ["2024-03: 1 个报道 stories", "2024-07: 1 个报道 stories"]
    assert float(stories[1]["height"]) == float(bars[0]["height"]) < heights[4]


def test_home_page_charts_and_examples(site):
    page = soup(site("/"))
    assert [r.title.get_text() for r in page.select(".chart-timeline rect.articles")] == ["2024-07: 2"]
    assert float(page.select_one(".chart-timeline rect")["height"]) > 0
    assert "习近平: 2" in [r.title.get_text() for r in page.select(".chart-bars rect")]
    links = [a["href"] for a in page.select("ul.examples a")]
    for query in ("articles_per_month", "top_tags", "tags_with", "most_cited", "undated", "by_source"):
        assert f"/bannedbook/{query}" in links
    assert page.select_one("form[role=search]")["action"] == "/bannedbook/search"


def entries(xml: str) -> list[str]:
    return [e.findtext(f"{ATOM}title") for e in ET.fromstring(xml).iter(f"{ATOM}entry")]


def test_feeds(site, gold):
    assert sorted(entries(site("/bannedbook/feed.atom").text)) == sorted([gold["title"], RELATED_TITLE])
    assert entries(site("/bannedbook/feed.atom?tag=" + quote("普京")).text) == [gold["title"]]
    assert entries(site("/bannedbook/feed.atom?q=" + quote("阿斯塔纳")).text) == [RELATED_TITLE]
    # A search with no matches is still a valid feed.
    assert entries(site("/bannedbook/feed.atom?q=" + quote("不存在的词语")).text) == ["暂无文章 · No articles yet"]


def test_every_table_and_column_is_described(reader_db):
    tables = yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["bannedbook"]["tables"]
    with sqlite3.connect(reader_db) as db:
        names = [n for (n,) in db.execute(
            "select name from sqlite_master where type = 'table' and name not like 'articles_fts_%'"
            " and name not like 'sqlite_%'")]
        for name in names:
            assert tables.get(name, {}).get("description"), name
            if name == "articles_fts":
                continue
            columns = [c[1] for c in db.execute(f"pragma table_info([{name}])")]
            missing = [c for c in columns if c not in tables[name].get("columns", {})]
            assert not missing, (name, missing)


@pytest.mark.parametrize("path", [
    "/bannedbook/search", "/bannedbook/search?q=&page=abc", "/bannedbook/search?q=%22&since=%27;&until=x&page=-3",
    "/bannedbook/tag", "/bannedbook/tag?tag=%3Cb%3E", "/bannedbook/author?author=&page=0",
    "/bannedbook/articles_per_month?q=(", "/bannedbook/tags_with", "/bannedbook/articles?_tag=", "/bannedbook",
])
def test_odd_parameters_are_pages_not_errors(site, path):
    site(path)  # asserts 200


def test_parameters_are_shown_as_text(site):
    page = site("/bannedbook/tag?tag=" + quote("<b>x</b>")).text
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_a_title_match_weighs_ten_times_a_body_match(tmp_path):
    """Three articles: the word once in a title, and 16 and 20 times in a
    body. bm25 saturates, so with the title weighted 9x the title article
    comes last, 10x between the two, 11x first: this order holds only at 10."""
    from helpers.pages import write_crawl

    from bannedbook.build.pipeline import build

    filler = "今天的天气很好，人们在公园里散步。" * 3

    def page(title: str, paragraphs: list[str]) -> bytes:
        return (f"<h2>{title}</h2><div class='entry'>" + "".join(f"<p>{p}</p>" for p in paragraphs)
                + "</div>").encode()

    pages = {"title.txt": page("雪莲花开", [filler] * 4)}
    for hits in (16, 20):
        pages[f"body{hits}.txt"] = page(f"山中记事{hits}", [filler] * 3 + [("雪莲" + filler[:17]) * hits])
    build(write_crawl(tmp_path / "raw", pages), tmp_path / "bannedbook.db", workers=1, progress=False)
    datasette = make_datasette(tmp_path / "bannedbook.db")
    rows = asyncio.run(datasette.client.get("/bannedbook/search.json?q=" + quote("雪莲") + "&_shape=array")).json()
    titles = [r["title"].replace("\ue000", "").replace("\ue001", "") for r in rows]  # match markers out
    assert titles == ["山中记事20", "雪莲花开", "山中记事16"]
