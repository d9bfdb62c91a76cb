"""The build's pipeline: the workers' result pipe, and the search index
written in batches while the next batch's text is made."""

import sqlite3
import sys

import pytest
import sqlite_utils

from bannedbook.build.workers import RESULT_PIPE_BYTES, make_pool, widen_result_pipe
from bannedbook.db import store


def index_dump(db_path) -> list:
    """Every (term, rowid, column, offset) of the search index."""
    conn = sqlite3.connect(db_path)
    conn.execute("create virtual table temp.vocab using fts5vocab(main, 'articles_fts', 'instance')")
    rows = sorted(conn.execute("select term, doc, col, offset from temp.vocab"))
    conn.close()
    return rows


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_search_index_written_in_small_batches_is_the_same(crawl_db, tmp_path, monkeypatch, batch):
    """Batches of 1, 2 and 3 articles: every batch is inserted, once, in
    rowid order, whether map_ is a pool's or Python's."""
    copy = tmp_path / "copy.db"
    copy.write_bytes(crawl_db.read_bytes())
    monkeypatch.setattr(store, "INDEX_BATCH", batch)
    db = sqlite_utils.Database(copy)
    assert db.execute("select count(*) from articles").fetchone()[0] > 2 * batch  # three batches or more
    pool = make_pool(2)
    try:
        store.rebuild_search_index(db)  # Python's map
        db.conn.commit()
        assert index_dump(copy) == index_dump(crawl_db)
        db.execute("insert into articles_fts(articles_fts) values ('delete-all')")
        store.write_search_index(db, map_=lambda function, rows: pool.map(function, rows, chunksize=2), whole=True)
        db.conn.commit()
    finally:
        pool.terminate()
    assert index_dump(copy) == index_dump(crawl_db)
    docs = db.execute("select count(*) from articles_fts_docsize").fetchone()[0]
    assert docs == db.execute("select count(*) from articles").fetchone()[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are Linux's")
def test_the_workers_results_have_a_wide_pipe():
    import fcntl

    with open("/proc/sys/fs/pipe-max-size") as limit:
        if int(limit.read()) < RESULT_PIPE_BYTES:
            pytest.skip("this system allows smaller pipes")
    pool = make_pool(1)
    try:
        size = fcntl.fcntl(pool._outqueue._reader.fileno(), fcntl.F_GETPIPE_SZ)
        assert size >= RESULT_PIPE_BYTES
        assert pool.map(len, ["ab", "abc"]) == [2, 3]
    finally:
        pool.terminate()


def test_a_pool_without_a_pipe_is_left_as_it_is():
    class NoPipe:
        pass

    assert widen_result_pipe(NoPipe()) is None


def test_a_whole_index_is_written_with_bulk_merging_and_left_with_the_defaults(crawl_db, tmp_path, monkeypatch):
    """FTS5's merge settings change only while a full build writes the whole
    index, and it leaves the defaults for whatever writes it next; an update
    or a rebuild keeps them throughout."""
    seen = []
    original = store._merge_settings
    monkeypatch.setattr(store, "_merge_settings", lambda db, settings: (seen.append(settings), original(db, settings)))
    copy = tmp_path / "copy.db"
    copy.write_bytes(crawl_db.read_bytes())
    db = sqlite_utils.Database(copy)
    assert dict(rows(crawl_db, "select k, v from articles_fts_config where k != 'version'")) == store.DEFAULT_MERGE
    store.rebuild_search_index(db)
    db.execute("delete from temp.keyed")  # an update that keyed no article
    store.write_search_index(db)
    assert seen == []
    db.execute("insert into articles_fts(articles_fts) values ('delete-all')")
    store.write_search_index(db, whole=True)
    assert seen == [store.BULK_MERGE, store.DEFAULT_MERGE]
    config = dict(db.execute("select k, v from articles_fts_config where k in ('automerge', 'crisismerge')"))
    assert config == store.DEFAULT_MERGE
    db.conn.commit()
    assert index_dump(copy) == index_dump(crawl_db)


def rows(db_path, sql) -> list:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
