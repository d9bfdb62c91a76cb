import json
from pathlib import Path

import pytest
from helpers.pages import SEED_NAME, write_crawl

from bannedbook.build.pipeline import build

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def gold() -> dict:
    return json.loads((ROOT / "tests" / "fixtures" / "seed.gold.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def seed_db(tmp_path_factory) -> Path:
    """The seed page as shipped in raw/, built alone (a developer's own crawl
    into raw/ stays out of the tests)."""
    folder = tmp_path_factory.mktemp("seed")
    db = folder / "bannedbook.db"
    build(write_crawl(folder / "raw", {SEED_NAME: (ROOT / "raw" / SEED_NAME).read_bytes()}), db, workers=1,
          progress=False)
    return db


@pytest.fixture(scope="session")
def crawl(tmp_path_factory) -> Path:
    return write_crawl(tmp_path_factory.mktemp("crawl") / "raw")


@pytest.fixture(scope="session")
def crawl_db(crawl, tmp_path_factory) -> Path:
    """Every page shape in tests/helpers/pages.py, built with a process pool."""
    db = tmp_path_factory.mktemp("crawl-db") / "bannedbook.db"
    build(crawl, db, workers=2, progress=False)
    return db


@pytest.fixture(scope="session")
def reader_db(tmp_path_factory) -> Path:
    """The seed and the article its related reading points at (tests/helpers/reader_pages.py)."""
    from helpers.reader_pages import write_reader_crawl

    folder = tmp_path_factory.mktemp("reader")
    db = folder / "bannedbook.db"
    build(write_reader_crawl(folder / "raw"), db, workers=1, progress=False)
    return db


@pytest.fixture(scope="session")
def site_for():
    """site_for(db) is get(path): the site in process, through Datasette's
    own test client, failing on any answer but 200."""
    import asyncio

    from bannedbook.web.site import make_datasette

    def site(db: Path):
        datasette = make_datasette(db)

        def get(path: str):
            response = asyncio.run(datasette.client.get(path))
            assert response.status_code == 200, (path, response.text[:2000])
            return response

        return get

    return site


@pytest.fixture(scope="session")
def serve():
    """serve(db) starts a real `datasette` on 127.0.0.1 as `make serve DB=db`
    does (the project's full configuration); returns its URL."""
    from contextlib import ExitStack

    from helpers.servers import served

    with ExitStack() as servers:
        yield lambda db: servers.enter_context(served(db))


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (playwright cannot download its
    own browser here). Module-scoped: Playwright's event loop must be gone
    before other modules call asyncio.run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A new browser page that fails the test on a script error, a dialog,
    or anything the Content-Security-Policy blocks (chromium reports that
    on the console)."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    page.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text
            else None)
    yield page
    page.close()
    assert not errors, errors


@pytest.fixture(scope="session")
def research_db(tmp_path_factory) -> Path:
    """A 300-page synthetic crawl (tests/helpers/corpus.py: 2010-2024, a fifth of
    it Traditional) built with the example lexicon, for trends and lexicons."""
    from helpers.corpus import generate

    folder = tmp_path_factory.mktemp("research")
    generate(folder / "raw", 300, seed=3)
    db = folder / "bannedbook.db"
    build(folder / "raw", db, workers=2, progress=False, lexicon=[ROOT / "lexicons" / "example.csv"])
    return db


@pytest.fixture(scope="session")
def story_db(tmp_path_factory) -> Path:
    """One report four times over, its tags in both scripts, and another report (tests/helpers/story_pages.py)."""
    from helpers.story_pages import write_story_crawl

    folder = tmp_path_factory.mktemp("stories")
    db = folder / "bannedbook.db"
    build(write_story_crawl(folder / "raw"), db, workers=1, progress=False)
    return db


def pytest_collection_modifyitems(items):
    """Tests that drive chromium are marked `browser`, so `pytest -m "not
    browser"` is the quick loop (make test runs them all)."""
    for item in items:
        if {"browser", "page"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
