"""A real `datasette` and chromium: the article page's list of the story's
other versions, and the search's "one result per story" switch
(tests/helpers/story_pages.py)."""

import sqlite3
from urllib.parse import quote

import pytest
from helpers.pages import SEED_NAME
from helpers.story_pages import REPOST_SOURCE


@pytest.fixture(scope="module")
def url(serve, story_db):
    return serve(story_db)



def test_the_story_list_leads_to_the_other_versions(url, page, story_db):
    with sqlite3.connect(story_db) as db:
        ids = dict(db.execute("select file, id from articles"))
    page.goto(f"{url}/bannedbook/articles/{ids[SEED_NAME]}")
    story = page.locator("section.story")
    assert story.locator("h2").inner_text() == "同一报道 The same story elsewhere"
    items = story.locator("li")
    assert items.count() == 3
    # Open the repost from the list: it is the same story, and lists the seed first.
    items.filter(has_text=REPOST_SOURCE).locator("a").click()
    page.wait_for_url(f"**/articles/{ids['repost/voa.html']}")
    assert page.locator("section.story li").first.locator("a").get_attribute("href").endswith(ids[SEED_NAME])
    page.locator("a.story-all").click()
    page.wait_for_url("**/bannedbook/articles?story=*")
    assert page.locator("table.rows-and-columns tbody tr").count() == 4


def test_one_result_per_story(url, page):
    page.goto(f"{url}/bannedbook/search?q=" + quote("上合组织"))
    assert page.locator(".result-count").inner_text().startswith("找到 5 篇")
    assert page.locator("ol.results > li").count() == 5
    assert page.locator("a.versions").count() == 0
    page.check("input[name=collapse]")
    page.click("form[role=search] button")
    page.wait_for_url("**collapse=1**")
    assert page.locator(".result-count").inner_text().startswith("找到 2 个报道")
    assert page.locator("ol.results > li").count() == 2
    versions = page.locator("a.versions")
    assert versions.count() == 1 and versions.inner_text() == "4 个版本 versions"
    assert versions.is_visible()
    # The switch stays on for the next search, and can be turned off.
    assert page.is_checked("input[name=collapse]")
    page.uncheck("input[name=collapse]")
    page.click("form[role=search] button")
    page.wait_for_url(lambda address: "collapse" not in address)
    assert page.locator("ol.results > li").count() == 5
