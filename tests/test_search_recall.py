"""Search finds every article a substring scan finds, on a small
synthetic crawl, with the benchmark's own queries and ground truth."""

import asyncio

from helpers.corpus import generate
from helpers.search_queries import database_rows, found_ids, pick_queries
from helpers.truth import ground_truth

from bannedbook.build.pipeline import build
from bannedbook.web.site import make_datasette


def test_search_finds_every_article_a_substring_scan_finds(tmp_path):
    generate(tmp_path / "raw", 50, seed=7)
    db = tmp_path / "bannedbook.db"
    build(tmp_path / "raw", db, workers=1, progress=False)
    queries = [q.text for q in pick_queries(db, 32, seed=5)]
    assert len(queries) >= 30
    truth = ground_truth(database_rows(db), queries)
    assert sum(1 for ids in truth.values() if ids) >= 25, "queries should mostly find something"
    datasette = make_datasette(db)

    def get_json(path):
        response = asyncio.run(datasette.client.get(path))
        assert response.status_code == 200, response.text
        return response.json()

    hits = found_total = 0
    for query in queries:
        found = found_ids(get_json, query)
        missing = truth[query] - found
        assert not missing, f"{query!r}: {len(missing)} of {len(truth[query])} articles not found"
        hits += len(found & truth[query])
        found_total += len(found)
    assert hits / found_total >= 0.99
