"""What a reader can see of a database, to compare two builds."""

import sqlite3
from pathlib import Path

from bannedbook.db.schema import TABLES
from bannedbook.search.query import match_expression

QUERIES = ["中国", "习近平", "台湾", "人", "经济 发展", "北京 OR 上海", "wto", "美国 -中国", "新华社"]


def content(db: Path) -> dict:
    """Everything a reader can see, independent of rowids: every table's rows
    sorted, the search index's vocabulary with its counts, and the articles
    each query finds."""
    conn = sqlite3.connect(db)
    dump = {table: sorted(conn.execute(f"select * from [{table}]"), key=repr) for table in TABLES}
    conn.execute("create virtual table temp.vocab using fts5vocab(main, 'articles_fts', 'instance')")
    # Every (term, article, column, offset) the index holds; a row left
    # behind by a deleted article shows as its bare rowid.
    dump["index"] = sorted(conn.execute(
        "select term, coalesce(a.id, doc), col, offset from temp.vocab left join articles a on a.rowid = doc"),
        key=repr)
    for query in QUERIES:
        dump[query] = sorted(conn.execute(
            """select a.id from articles_fts join articles a on a.rowid = articles_fts.rowid
               where articles_fts match ?""", [match_expression(query)]))
    conn.close()
    return dump
