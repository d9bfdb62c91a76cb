"""Equal to a full build, always: random sequences of adds, changes and
removals of pages and WARC records of any dates, each followed by an
incremental build that must give exactly what a full build of the same
folder gives, keys and search-index entries included."""

from helpers.equal_builds import RandomCrawl, exact

from bannedbook.build import pipeline
from bannedbook.db import schema

LEXICON = "term,theme\n经济,经济 economy\n北京,地方 places\n人权,权利 rights\n新闻自由,权利 rights\n"


def test_any_sequence_of_changes_builds_what_a_full_build_builds(tmp_path, monkeypatch):
    # Two slots per time of day instead of 16,384: articles of one day
    # collide all the time, so keys taken and given back are exercised.
    monkeypatch.setattr(schema, "_SLOT_ID_BITS", 1)
    lexicon = tmp_path / "terms.csv"
    lexicon.write_text(LEXICON, encoding="utf-8")
    crawl = RandomCrawl(tmp_path / "raw", seed=5)
    crawl.step("add")
    crawl.step("add warc")
    db, full = tmp_path / "bannedbook.db", tmp_path / "full.db"
    options = {"workers": 1, "progress": False, "lexicon": lexicon, "prune": True}
    pipeline.build(crawl.raw, db, **options)
    changes = list(RandomCrawl.CHANGES) + [None]  # every kind of change once, in a random order, then any
    crawl.rng.shuffle(changes)
    done = []
    for what in changes:
        done.append(crawl.step(what))
        assert pipeline.build(crawl.raw, db, **options).incremental
        pipeline.build(crawl.raw, full, full=True, **options)
        assert exact(db) == exact(full), f"after {done}"
