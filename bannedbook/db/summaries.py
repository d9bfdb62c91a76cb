"""Counts over the whole archive, made once by the build instead of on every
request: the database is immutable, so the home page's top tags, the top_tags
query and the facets of the unfiltered articles table read them from the
facet_counts table, and the month chart its articles and stories from
month_counts.

Written by every build that changes the articles, after they are keyed and
the days table is written. A full build counts everything; an update
counts the articles it forgets (before) and writes (after) with
count_changes, and write_summaries applies the difference: only the facet
values and tags those articles have are counted again.
"""

from __future__ import annotations

import sqlite_utils

from bannedbook.db.schema import MONTH_SHIFT, SLOT_BITS, TAG_LABEL_SQL, tag_counts_sql

COLUMNS = ("author", "source", "category", "year", "script")

# The facets of the articles table (metadata.yml), each as the SQL that
# counts every article's value: (value, articles). Null values are not a
# facet value, as in Datasette's column facets.
FACET_SQL = {
    # A tag in either script is one value (tags.key), shown as the spelling
    # most articles use, as the tag facet of a filtered table shows it.
    "tags": f"select value, count from ({tag_counts_sql()})",
    **{column: f"select [{column}], count(*) from articles where [{column}] is not null group by [{column}]"
       for column in COLUMNS},
}

# Articles and stories per month, from the (story, date_order) index alone:
# a month is a range of date keys (schema.MONTH_SHIFT), named by its days.
MONTH_SQL = f"""
with months as (select first_date_order >> {MONTH_SHIFT} as number, min(substr(day, 1, 7)) as month
                from days where day is not null group by 1),
     counted as (select date_order >> {MONTH_SHIFT} as number, count(*) as articles,
                        count(distinct story) as stories
                 from articles indexed by idx_articles_story_date_order
                 where date_order >= {1 << SLOT_BITS} group by 1)
select month, articles, stories from counted join months using (number)"""


def _create_changes(db: sqlite_utils.Database) -> None:
    db.execute("create temp table if not exists facet_changes (facet text, value text, articles integer)")
    db.execute("create temp table if not exists changed_tag_keys (key text primary key)")
    db.execute("create temp table if not exists changed_spellings (tag_id text primary key)")


def count_changes(db: sqlite_utils.Database, ids_sql: str, sign: int) -> None:
    """Remember the facet values and tags of the articles ids_sql selects:
    sign -1 before an update forgets them, +1 once it has written them."""
    _create_changes(db)
    for column in COLUMNS:
        db.execute(f"""insert into temp.facet_changes select ?, [{column}], ? * count(*) from articles
                       where id in ({ids_sql}) and [{column}] is not null group by [{column}]""", [column, sign])
    db.execute(f"""insert or ignore into temp.changed_tag_keys
                   select tag_key from article_tags where article_id in ({ids_sql})""")
    db.execute(f"""insert or ignore into temp.changed_spellings
                   select tag_id from article_tags where article_id in ({ids_sql})""")


def write_summaries(db: sqlite_utils.Database, changes: bool = False) -> None:
    """(Re)write facet_counts from the articles and their tags, and
    month_counts. changes: apply only what count_changes remembered."""
    if not changes:
        db.execute("delete from facet_counts")
        for facet, sql in FACET_SQL.items():
            db.execute(f"insert into facet_counts (facet, value, articles) select ?, * from ({sql})", [facet])
    else:
        _create_changes(db)
        db.execute("""insert or ignore into facet_counts (facet, value, articles)
                      select distinct facet, value, 0 from temp.facet_changes""")
        db.execute("""update facet_counts set articles = articles + (
                          select sum(articles) from temp.facet_changes changes
                          where changes.facet = facet_counts.facet and changes.value = facet_counts.value)
                      where (facet, value) in (select facet, value from temp.facet_changes)""")
        db.execute("delete from facet_counts where articles <= 0")
        # A tag's label may change with its counts: its rows go (a label is
        # one of its key's spellings) and are counted again.
        keys = "select key from temp.changed_tag_keys"
        db.execute(f"""delete from facet_counts where facet = 'tags' and value in (
                           select tag_id from temp.changed_spellings
                           union select tag_id from article_tags where tag_key in ({keys}))""")
        db.execute(f"""insert into facet_counts (facet, value, articles)
                       select 'tags', {TAG_LABEL_SQL.format(key="counted.tag_key")}, counted.count
                       from (select tag_key, count(distinct article_id) as count from article_tags
                             where tag_key in ({keys}) group by tag_key) counted""")
        for table in ("facet_changes", "changed_tag_keys", "changed_spellings"):
            db.execute(f"delete from temp.{table}")
    db.execute("delete from month_counts")
    db.execute(f"insert into month_counts (month, articles, stories) {MONTH_SQL}")
    db.execute("ANALYZE facet_counts")
