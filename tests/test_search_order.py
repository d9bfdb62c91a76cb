"""Search through the table JSON on a small corpus: every match, newest
first, the right count, page after page."""

import asyncio
import sqlite3
import sys
from urllib.parse import quote

import pytest
from conftest import ROOT

import build_db
from bannedbook.chinese import normalise, query_terms
from bannedbook.site import make_datasette

sys.path.insert(0, str(ROOT / "benchmarks"))
from corpus import generate  # noqa: E402


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("order")
    generate(folder / "raw", 80, seed=5)
    db = folder / "bannedbook.db"
    build_db.build(folder / "raw", db, workers=2, progress=False)
    return db


def newest_first(db, query):
    """What a substring scan finds, newest first (undated last, ties by file, reversed)."""
    conn = sqlite3.connect(db)
    rows = conn.execute("select id, title, body, coalesce(published, not_before, ''), file from articles").fetchall()
    conn.close()
    terms = query_terms(query)
    found = [row for row in rows if all(term in normalise(row[1] + "\n" + row[2]) for term in terms)]
    return [row[0] for row in sorted(found, key=lambda row: (row[3], row[4]), reverse=True)]


@pytest.mark.parametrize("query", ["的", "人", "中国", "经济 发展", "國家"])
def test_table_search_pages_through_every_match_newest_first(corpus_db, query):
    datasette = make_datasette(corpus_db)
    expected = newest_first(corpus_db, query)
    assert len(expected) > 7, "the corpus should give several pages"
    ids, count = [], None
    path = f"/bannedbook/articles.json?_search={quote(query)}&_size=7&_shape=objects"
    while path:
        page = asyncio.run(datasette.client.get(path)).json()
        count = page["filtered_table_rows_count"] if count is None else count
        ids += [row["id"] for row in page["rows"]]
        path = page["next_url"] and page["next_url"].split("localhost", 1)[-1]
    assert count == len(expected)
    assert ids == expected
