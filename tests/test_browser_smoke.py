"""A real server and a real browser: the seed article is searchable and readable."""

from urllib.parse import quote


def test_search_and_open_the_article(serve, seed_db, browser, gold):
    url = serve(seed_db)
    page = browser.new_page()
    page.goto(f"{url}/bannedbook/articles?_search={quote('習近平')}")
    link = page.locator("table.rows-and-columns a", has_text=gold["title"][:6]).first
    assert link.count() == 1 or page.get_by_text(gold["title"]).count() >= 1
    page.goto(f"{url}/bannedbook/search?q={quote('習近平')}")
    assert page.locator("mark", has_text="习近平").count() >= 1
    page.close()
