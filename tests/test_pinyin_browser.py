"""The search page's pinyin choices in a real browser on a real server: a
reader types xijinping, sees the Chinese strings it may mean with their
counts, and each link (and "all of them") opens a search that finds that
many articles; tok still finds TikTok."""

import re

import pytest
from helpers.pinyin_pages import write_pinyin_crawl

from bannedbook.build.pipeline import build


@pytest.fixture(scope="module")
def url(serve, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pinyin-browser")
    db = folder / "bannedbook.db"
    build(write_pinyin_crawl(folder / "raw"), db, workers=1, progress=False)
    return serve(db)


def found(page) -> int:
    text = page.locator(".result-count").inner_text()
    match = re.search(r"([\d,]+) articles? found", text)
    return int(match.group(1).replace(",", "")) if match else 0


def search(page, url, query):
    page.goto(url + "/bannedbook/search")
    page.locator("input[name=q]").fill(query)
    page.locator("form.search-form button[type=submit]").click()
    page.wait_for_load_state()


def test_choices_open_their_searches(url, page):
    search(page, url, "xijinping")
    assert found(page) == 0  # nothing holds the Latin text itself
    links = page.locator(".pinyin-choices a")
    shown = links.all_inner_texts()
    assert shown == ["习近平", "袭近平", "全部 all of them"]
    counts = [int(n.replace(",", "")) for n in re.findall(r"\(([\d,]+)\)",
                                                           page.locator(".pinyin-choices").inner_text())]
    assert counts == [2, 1]
    for i, expected in enumerate([*counts, sum(counts)]):
        page.locator(".pinyin-choices a").nth(i).click()
        page.wait_for_url("**/bannedbook/search?q=*")
        assert found(page) == expected, shown[i]
        if i < len(counts):
            assert page.locator("ol.results mark").first.inner_text() in ("习近平", "習近平", "袭近平")
        page.go_back()


def test_latin_text_is_still_searched(url, page):
    search(page, url, "tok")
    assert found(page) == 1
    assert "TikTok" in page.locator("ol.results").inner_text()
    assert page.locator(".pinyin-choices").count() == 0
