"""Take the README's screenshots with the browser the tests use.

    .venv/bin/python docs/screenshots.py [CHART_DB]

Search and article pages show the test crawl (tests/helpers/reader_pages.py: the seed
and the article its related reading points at); the chart, the trends and
the lexicon page show CHART_DB (default: the same small crawl, built with the
example lexicon; the README's show a synthetic crawl made by
tests/helpers/corpus.py and built with `make build`, since two articles make a
dull chart).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from helpers.reader_pages import write_reader_crawl
from helpers.servers import served

from bannedbook.build.pipeline import build

ROOT = Path(__file__).resolve().parent.parent

DOCS = ROOT / "docs"


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bannedbook.db"
        build(write_reader_crawl(Path(folder) / "raw"), db, workers=1, progress=False,
              lexicon=[ROOT / "lexicons" / "example.csv"])
        chart_db = Path(sys.argv[1]) if len(sys.argv) > 1 else db
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            with served(db) as url:
                page.goto(f"{url}/bannedbook/search?q={quote('習近平')}")
                page.screenshot(path=DOCS / "search.png", full_page=True)
                page.locator("ol.results > li a.article-title").nth(1).click()
                page.screenshot(path=DOCS / "article.png")
            with served(chart_db) as url:
                page.goto(f"{url}/")
                page.locator(".chart-timeline").scroll_into_view_if_needed()
                page.screenshot(path=DOCS / "chart.png", clip={"x": 0, "y": 0, "width": 1000, "height": 1200},
                                full_page=True)
                queries = "&".join(f"q={quote(q)}" for q in ("江泽民", "李鹏", "香港 OR 澳門"))
                page.goto(f"{url}/-/trends?{queries}&by=year&since=2010")
                top = page.locator("h1").bounding_box()  # page coordinates: nothing has scrolled
                form = page.locator("form.trends-form").bounding_box()
                chart = page.locator(".chart-trends").bounding_box()
                # The heading, then the summary, chart and legend (the form between them left out).
                page.evaluate("document.querySelector('form.trends-form').style.display = 'none'")
                chart_end = chart["y"] + chart["height"] - form["height"]
                page.screenshot(path=DOCS / "trends.png", full_page=True,
                                clip={"x": 0, "y": top["y"] - 10, "width": 1000, "height": chart_end - top["y"] + 30})
                page.goto(f"{url}/bannedbook/lexicon")
                page.screenshot(path=DOCS / "lexicon.png", full_page=True)
            browser.close()


if __name__ == "__main__":
    main()
