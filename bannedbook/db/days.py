"""The days table: how many articles each day has, by the date trends count
by (published, else the not_before estimate), and where they sit in date
order. Written by every build that changes the articles, after they are
keyed: whole by a full build, only the days it touched by an update."""

from __future__ import annotations

import sqlite_utils

from bannedbook.db.schema import ARTICLE_DATE, SLOT_BITS

DAY_SQL = f"substr({ARTICLE_DATE}, 1, 10)"


def write_days(db: sqlite_utils.Database, touched: str | None = None) -> None:
    """(Re)write days from articles. Articles are keyed in date order
    (schema.day_keys), so every day's articles are one run of date_order,
    within the key range of its day number. touched: a select of the day
    numbers (key >> SLOT_BITS) whose rows are written again; all when None."""
    if touched is None:
        db.execute("delete from days")
        db.execute(f"""insert into days (day, first_date_order, last_date_order, articles)
                       select {DAY_SQL}, min(date_order), max(date_order), count(*)
                       from articles group by 1 order by 2""")
    else:
        db.execute(f"delete from days where first_date_order >> {SLOT_BITS} in ({touched})")
        db.execute(f"""insert into days (day, first_date_order, last_date_order, articles)
                       select {DAY_SQL}, min(date_order), max(date_order), count(*)
                       from ({touched}) touched join articles
                         on articles.rowid between touched.day << {SLOT_BITS}
                                               and ((touched.day + 1) << {SLOT_BITS}) - 1
                       group by 1 order by 2""")
    db.execute("ANALYZE days")
