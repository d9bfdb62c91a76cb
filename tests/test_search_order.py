"""Search through the table JSON on a small corpus: every match, newest
first, the right count, page after page."""

import asyncio
import sqlite3
from collections import defaultdict
from urllib.parse import quote

import pytest
from helpers.corpus import generate
from helpers.truth import ground_truth

from bannedbook.build.pipeline import build
from bannedbook.db.schema import day_keys, day_number
from bannedbook.web.site import make_datasette


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("order")
    generate(folder / "raw", 80, seed=5)
    db = folder / "bannedbook.db"
    build(folder / "raw", db, workers=2, progress=False)
    return db


def newest_first(db, query, where="1"):
    """What the benchmark's substring scan finds, newest first: by date key
    (schema.day_keys, from published, else not_before: the day, then the
    time of day, then the id; undated last), made here from the dates."""
    conn = sqlite3.connect(db)
    rows = conn.execute("select id, title, body, coalesce(published, not_before) from articles").fetchall()
    allowed = {key for (key,) in conn.execute(f"select id from articles where {where}")}
    conn.close()
    days = defaultdict(list)
    for key, _, _, date in rows:
        days[day_number(date)].append((key, date))
    keys = {key: value for articles in days.values() for key, value in day_keys(articles).items()}
    found = ground_truth((row[:3] for row in rows), [query])[query] & allowed
    return sorted(found, key=keys.__getitem__, reverse=True)


def pages(datasette, path):
    """Every page of a table JSON answer, following next_url."""
    while path:
        page = asyncio.run(datasette.client.get(path)).json()
        yield page
        path = page["next_url"] and page["next_url"].split("localhost", 1)[-1]


@pytest.mark.parametrize("query", ["的", "人", "中国", "经济 发展", "國家"])
def test_table_search_pages_through_every_match_newest_first(corpus_db, query):
    datasette = make_datasette(corpus_db)
    expected = newest_first(corpus_db, query)
    assert len(expected) > 7, "the corpus should give several pages"
    found = list(pages(datasette, f"/bannedbook/articles.json?_search={quote(query)}&_size=7&_shape=objects"))
    assert [row["id"] for page in found for row in page["rows"]] == expected
    assert {page["filtered_table_rows_count"] for page in found} == {len(expected)}


def test_search_with_another_filter_is_counted_with_it(corpus_db):
    datasette = make_datasette(corpus_db)
    expected = newest_first(corpus_db, "中国", where="script = 'traditional'")
    assert 0 < len(expected) < len(newest_first(corpus_db, "中国"))
    found = list(pages(datasette, f"/bannedbook/articles.json?_search={quote('中国')}&script=traditional&_size=5"))
    assert [row[0] for page in found for row in page["rows"]] == expected
    assert found[0]["filtered_table_rows_count"] == len(expected)
