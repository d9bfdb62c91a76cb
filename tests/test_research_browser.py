"""The research pages in a real browser, on a real server: the trends chart
(a line and a legend entry per query, points that open the search whose
count they show) and the lexicon page (terms that open their search)."""

import re
import sqlite3
from urllib.parse import quote

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout


@pytest.fixture(scope="module")
def url(serve, research_db):
    return serve(research_db)



def table_count(page) -> int:
    """The row count Datasette's table page states ("1,234 rows where …")."""
    match = re.match(r"([\d,]+) rows?", page.locator("h3").first.inner_text())
    return int(match.group(1).replace(",", ""))


def open_a_point(page, line: int) -> tuple[str, int]:
    """Click a point of a line, the first that no other line's point covers;
    returns its label and count."""
    dots = page.locator(f"svg g.series-{line} circle")
    for i in range(dots.count()):
        try:
            dots.nth(i).click(trial=True, timeout=500)
        except PlaywrightTimeout:
            continue
        label = dots.nth(i).locator("title").text_content()
        dots.nth(i).click()
        page.wait_for_url("**/bannedbook/articles?*")
        return label, int(re.search(r": ([\d,]+)", label).group(1).replace(",", ""))
    raise AssertionError(f"no point of line {line} can be clicked")


def test_compare_two_queries(url, page):
    page.goto(url + "/-/trends?q=" + quote("江泽民") + "&q=" + quote("李鹏 OR 國務院") + "&by=year")
    assert page.locator("svg polyline").count() == 2
    assert page.locator(".trends-legend li .label").all_inner_texts() == ["江泽民", "李鹏 OR 國務院"]
    box = page.locator("svg g.series-0 polyline").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 20  # drawn across the chart, not flat
    assert page.locator("svg g.series-1 circle").count() > 3
    for line in (0, 1):
        label, count = open_a_point(page, line)
        assert table_count(page) == count, label
        page.go_back()


def test_themes_and_the_share_switch(url, page, research_db):
    themes = [theme for (theme,) in sqlite3.connect(research_db).execute(
        "select theme from themes order by articles desc, theme limit 8")]
    page.goto(url + "/bannedbook/lexicon")
    page.locator("a.theme-trends").click()
    page.wait_for_url("**/-/trends?theme=*")
    assert page.locator("svg polyline").count() == len(themes) >= 3
    assert page.locator(".trends-legend li .label").all_inner_texts() == [f"主题 theme: {t}" for t in themes]
    label, count = open_a_point(page, 0)
    assert table_count(page) == count, label
    page.go_back()
    page.get_by_role("link", name=re.compile("show shares")).click()
    assert page.locator("svg text").first.text_content().endswith("%")


def test_lexicon_terms_open_their_search(url, page, research_db):
    page.goto(url + "/bannedbook/lexicon")
    rows = page.locator("table.lexicon-terms tbody tr")
    expected = sqlite3.connect(research_db).execute(
        "select term, articles from lexicon order by articles desc, term").fetchall()
    assert rows.count() == len(expected)
    first = rows.first
    term, articles = expected[0]
    assert first.locator("a.term").inner_text() == term and articles > 0
    first.locator("a.term").click()
    page.wait_for_url("**/bannedbook/search?q=*")
    assert page.locator(".result-count").inner_text().startswith(f"找到 {articles:,} 篇")
    # A theme narrows the list.
    page.go_back()
    theme = sqlite3.connect(research_db).execute(
        "select theme from lexicon where term = ?", [term]).fetchone()[0]
    page.locator(".theme-facet a", has_text=theme).click()
    cells = page.locator("table.lexicon-terms tbody tr td:nth-child(2)").all_inner_texts()
    assert cells and set(cells) == {theme}
