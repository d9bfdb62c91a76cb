"""A real `datasette` and a real browser (Debian's chromium through
Playwright): a reader searches, reads, follows a tag, sees the chart and
fetches a feed, the way the README's tour does."""

import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from helpers.reader_pages import RELATED_TITLE


@pytest.fixture(scope="module")
def url(serve, reader_db):
    return serve(reader_db)



def test_search_read_and_follow_a_tag(url, page, gold):
    # Search in Traditional characters, from the home page's box.
    page.goto(url + "/")
    page.fill("form[role=search] input[name=q]", "習近平")
    page.click("form[role=search] button")
    page.wait_for_url("**/bannedbook/search?q=*")
    assert page.locator(".result-count").inner_text().startswith("找到 2 篇")
    results = page.locator("ol.results > li")
    # Ranked: the title match first, then the seed (Simplified) with a snippet.
    assert results.nth(0).locator("a.article-title").inner_text() == RELATED_TITLE
    assert results.nth(1).locator("a.article-title").inner_text() == gold["title"]
    assert results.nth(1).locator(".snippet mark").first.inner_text() == "习近平"

    # Open the seed: paragraphs, tags, related reading.
    results.nth(1).locator("a.article-title").click()
    assert page.locator("article.reader h1").inner_text() == gold["title"]
    assert page.locator(".article-body p").count() > 30
    assert page.locator(".article-body h2").count() > 0
    assert sorted(page.locator("a.tag").all_inner_texts()) == sorted(gold["tags"])
    related = page.locator("section.related li")
    assert related.count() == len(gold["related"])
    # The related article in the archive opens inside it, and says who cites it.
    related.filter(has=page.locator(".in-archive")).locator("a").click()
    assert page.locator("article.reader h1").inner_text() == RELATED_TITLE
    assert page.locator("section.cited-by a").inner_text() == gold["title"]

    # Follow a tag: its articles, newest first, with the count.
    page.locator("a.tag", has_text="上合组织").click()
    assert page.locator("h1").inner_text() == "标签 Tag：上合组织"
    assert "2 篇文章" in page.locator(".result-count").inner_text()
    assert page.locator("ol.results > li a.article-title").all_inner_texts() == [gold["title"], RELATED_TITLE]


def test_the_chart_is_drawn(url, page):
    page.goto(url + "/bannedbook/articles_per_month?q=" + quote("習近平"))
    bar = page.locator(".chart-timeline svg rect").first
    box = bar.bounding_box()
    assert box and box["height"] > 50 and box["width"] > 1
    assert bar.locator("title").text_content() == "2024-07: 2"
    # A bar leads to that month's search results.
    bar.click()
    page.wait_for_url("**/bannedbook/search?*since=2024-07*")
    assert page.locator("ol.results > li").count() == 2
    page.goto(url + "/")
    tags = page.locator(".chart-bars svg rect")
    assert tags.count() > 5 and tags.first.bounding_box()["width"] > 100


def test_feed_parses(url, page, gold):
    response = page.request.get(url + "/bannedbook/feed.atom?tag=" + quote("普京"))
    assert response.ok and response.headers["content-type"].startswith("application/xml")
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.fromstring(response.body())
    assert [entry.findtext(f"{atom}title") for entry in feed.iter(f"{atom}entry")] == [gold["title"]]
