"""The days table: how many articles each day has, by the date trends count
by (published, else the not_before estimate), and where they sit in date
order. Written by every build that changes the articles, after they are
numbered."""

from __future__ import annotations

import sqlite_utils

from bannedbook.db.schema import ARTICLE_DATE

DAY_SQL = f"substr({ARTICLE_DATE}, 1, 10)"


def write_days(db: sqlite_utils.Database) -> None:
    """(Re)write days from articles. Articles are numbered in date order
    (schema.DATE_ORDER), so every day's articles are one run of date_order."""
    db.execute("delete from days")
    db.execute(f"""insert into days (day, first_date_order, last_date_order, articles)
                   select {DAY_SQL}, min(date_order), max(date_order), count(*)
                   from articles group by 1 order by 2""")
    db.execute("ANALYZE days")
