"""What changed, on the site: the article page's versions and diff (in
process and in chromium), /-/changes with its filters as HTML, JSON, CSV
and Atom, and trends of edits and removals. One archive written here: an
article edited (a sentence naming 習近平 cut) and then gone (404), and a
second article edited once and still there."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from helpers.pages import CANONICAL
from helpers.warcs import Entry, write_warc
from test_versions import CUT, EDITED, PARAGRAPHS, first_warc, page

from bannedbook.build.pipeline import build
from bannedbook.web.site import make_datasette

OTHER = CANONICAL.replace("2059001", "2059002")
OTHER_EDIT = [PARAGRAPHS[0], PARAGRAPHS[1].replace("共同应对", "=HYPERLINK(1)共同应对"), *PARAGRAPHS[2:]]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("changes")
    (folder / "terms.csv").write_text("term,theme\n習近平,人物\n上合组织,组织\n", encoding="utf-8")
    first_warc(folder / "raw")
    write_warc(folder / "raw" / "other.warc.gz", [
        Entry(OTHER, page(PARAGRAPHS, url=OTHER), date="2024-07-20T08:00:00Z"),
        Entry(OTHER, page(OTHER_EDIT, url=OTHER), date="2024-10-02T08:00:00Z"),
    ])
    db = folder / "bannedbook.db"
    build(folder / "raw", db, workers=1, progress=False, lexicon=[folder / "terms.csv"])
    return db


@pytest.fixture(scope="module")
def get(db):
    datasette = make_datasette(db)

    def get(path: str, status: int = 200):
        response = asyncio.run(datasette.client.get(path))
        assert response.status_code == status, (path, response.text[:1000])
        return response

    return get


def ids(db) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("select url, id from articles"))


def test_changes_json_newest_first_and_filtered(get, db):
    rows = get("/-/changes.json").json()["rows"]
    assert [(r["kind"], r["url"], r["before"]) for r in rows] == [
        ("edited", OTHER, "2024-10-02T08:00:00Z"),
        ("removed", CANONICAL, "2024-09-01T08:00:00Z"),
        ("edited", CANONICAL, "2024-08-01T08:00:00Z")]
    assert rows[1]["after"] == "2024-08-01T08:00:00Z" and rows[2]["after"] == "2024-07-11T08:00:00Z"
    assert rows[2]["terms_removed"] == "習近平" and rows[2]["chars_removed"] == len(CUT)
    assert rows[2]["archive_url"].endswith(f"/bannedbook/articles/{ids(db)[CANONICAL]}#v2")

    def urls(query: str) -> list[tuple[str, str]]:
        return [(r["kind"], r["url"]) for r in get("/-/changes.json?" + query).json()["rows"]]

    assert urls("term=" + quote("習近平")) == [("edited", CANONICAL)]
    assert urls("kind=removed") == [("removed", CANONICAL)]
    assert urls("q=" + quote("本文有删节")) == [("removed", CANONICAL), ("edited", CANONICAL)]
    assert urls("q=" + quote("HYPERLINK") + "&kind=edited") == [("edited", OTHER)]
    assert urls("author=" + quote("测试记者")) == urls("")
    assert urls("author=" + quote("别人")) == [] and urls("source=" + quote("别处")) == []
    get("/-/changes.json?kind=other", status=400)


def test_changes_csv_and_atom(get):
    table = list(csv.reader(io.StringIO(get("/-/changes.csv").text)))
    assert table[0][:3] == ["kind", "id", "title"] and len(table) == 4
    assert [row[0] for row in table[1:]] == ["edited", "removed", "edited"]
    feed = ElementTree.fromstring(get("/-/changes.atom?kind=edited").content)
    atom = "{http://www.w3.org/2005/Atom}"
    entries = feed.findall(f"{atom}entry")
    assert [e.find(f"{atom}updated").text for e in entries] == ["2024-10-02T08:00:00Z", "2024-08-01T08:00:00Z"]
    assert entries[1].find(f"{atom}title").text.startswith("[修改 edited v2]")
    page = get("/-/changes?kind=removed").text
    assert "删除 removed" in page and "修改 edited" not in page.split("<ol", 1)[1]


def test_article_page_shows_versions_and_diff(get, db):
    html = get(f"/bannedbook/articles/{ids(db)[CANONICAL]}").text
    assert 'id="versions"' in html and "原页面已删除" in html
    assert f"<del>{CUT}" in html and "<ins>（本文有删节）</ins>" in html
    assert "−習近平" in html  # the lexicon term the edit removed


def test_trends_of_edits_and_removals(get):
    edits = get("/-/trends.json?q=" + quote("上合组织") + "&of=edits&by=year").json()
    removals = get("/-/trends.json?q=" + quote("上合组织") + "&of=removals&by=year").json()
    articles = get("/-/trends.json?q=" + quote("上合组织") + "&by=year").json()
    assert sum(articles["series"][0]["counts"]) == 2
    assert sum(edits["series"][0]["counts"]) == 2 and sum(removals["series"][0]["counts"]) == 1


@pytest.fixture(scope="module")
def url(serve, db):
    return serve(db)


def test_diff_view_in_a_browser(url, page, db):
    page.goto(f"{url}/bannedbook/articles/{ids(db)[CANONICAL]}")
    diff = page.locator("#versions details.diff").last
    assert diff.get_attribute("open") is not None
    assert diff.locator("del").first.inner_text().startswith(CUT[:6])
    assert diff.locator("ins").first.inner_text() == "（本文有删节）"
    assert page.locator("#versions li").count() == 2
    page.locator("dd.removed a").click()
    page.wait_for_url("**/-/changes?kind=removed")
    assert page.locator("li.change").count() == 1
    assert EDITED[0] in page.content() or page.locator("li.change a").inner_text().startswith("峰会报道")
