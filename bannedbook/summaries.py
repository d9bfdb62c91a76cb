"""Counts over the whole archive, made once by the build instead of on every
request: the database is immutable, so the home page's top tags, the top_tags
query and the facets of the unfiltered articles table read them from the
facet_counts table. (Articles per month come from the days table,
bannedbook/days.py, which holds the articles per day.)

Written by every build that changes the articles, after they are numbered,
as the days table is.
"""

from __future__ import annotations

import sqlite_utils

# The facets of the articles table (metadata.yml), each as the SQL that
# counts every article's value: (value, articles). Null values are not a
# facet value, as in Datasette's column facets.
FACET_SQL = {
    "tags": "select tag_id, count(*) from article_tags group by tag_id",
    **{column: f"select [{column}], count(*) from articles where [{column}] is not null group by [{column}]"
       for column in ("author", "source", "category", "year", "script")},
}


def write_summaries(db: sqlite_utils.Database) -> None:
    """(Re)write facet_counts from the articles and their tags."""
    db.execute("delete from facet_counts")
    for facet, sql in FACET_SQL.items():
        db.execute(f"insert into facet_counts (facet, value, articles) select ?, * from ({sql})", [facet])
    db.execute("ANALYZE facet_counts")
