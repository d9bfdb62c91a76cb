"""Terms over time, side by side: /-/trends (a chart drawn on the server, a
legend and a table), /-/trends.json and /-/trends.csv (the same numbers).

One line per query (up to 8; anything the search box takes) or per lexicon
theme (an article counted once per theme): per month, year or week, how
many articles the search finds, and that as a share of all the articles of
the period. An article's period is its published date, else its not_before
estimate; undated articles are counted apart. The search page's filters
(tag, author, source, since, until) apply to every line.

Each count is the count of a table search, /bannedbook/articles?_search=Q
with the period as _since and _until (filters registered below), and each
point links to it.

No article row is read: articles are numbered in date order (rowid =
date_order = the search index's rowid) and the days table says which rowids
each day holds, so a period is a range of rowids. A query's matches come
from the search index as sorted rowids and are counted per period by
bisection.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from urllib.parse import urlencode

from datasette import Response, hookimpl
from datasette.database import QueryInterrupted
from datasette.filters import FilterArguments
from datasette.utils import sqlite_timelimit

from bannedbook.db.schema import ARTICLE_DATE, FTS_TABLE
from bannedbook.search.query import match_expression
from bannedbook.text.chinese import normalise
from bannedbook.web.search import MAX_QUERY_CHARS

DATABASE = "bannedbook"
BY = ("month", "year", "week")
MAX_SERIES = 8
MAX_PERIODS = 3000
# Estimates before 2000 are dates an article mentions, not when it appeared
# (as in the articles_per_month query): drawn only when asked for.
DEFAULT_SINCE = "2000"
DATE_BASIS = "published, else not_before"
_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FILTERS = ("tag", "author", "source")
# Every parameter the page takes; any other is named on the page (a typo, or
# a parameter of another page), not silently ignored.
PARAMETERS = ("q", "theme", "by", "share", "stories", *FILTERS, "since", "until")
TOO_LONG = "the counts took too long: try fewer or narrower queries"


class TrendsError(ValueError):
    """A request that cannot be answered; the message says why."""


@dataclass
class Params:
    queries: list[str]
    themes: list[str]
    by: str = "month"
    share: bool = False
    stories: bool = False  # count stories (articles.story) instead of articles
    tag: str = ""
    author: str = ""
    source: str = ""
    since: str = ""
    until: str = ""
    notices: list[str] = field(default_factory=list)  # what the page says about the request (unknown names…)

    def filters(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name)}


def date_problem(name: str, value: str) -> str | None:
    """What is wrong with a since or until value (a year, a month or a day,
    as the search and the table's _since/_until take them), or None."""
    if value and not (_DATE.fullmatch(value) and _valid((value + "-01-01")[:10])):
        return f"{name} must be a year, a month or a day (2024, 2024-07 or 2024-07-08), not {value[:40]!r}"
    return None


def parse(args) -> Params:
    """The request's query string (Datasette's MultiParams) as Params."""
    params = Params(
        queries=[q.strip() for q in args.getlist("q") if q.strip()],
        themes=[t.strip() for t in args.getlist("theme") if t.strip()],
        by=(args.get("by") or "month").strip(),
        share=(args.get("share") or "") not in ("", "0"),
        stories=(args.get("stories") or "") not in ("", "0"),
        **{name: (args.get(name) or "").strip() for name in (*FILTERS, "since", "until")},
    )
    if params.by not in BY:
        raise TrendsError(f"by must be month, year or week, not {params.by[:40]!r}")
    for value in (*params.queries, *params.themes, *params.filters().values()):
        if len(value) > MAX_QUERY_CHARS:
            raise TrendsError(f"a query, theme or filter is at most {MAX_QUERY_CHARS:,} characters; "
                              f"one here has {len(value):,}")
    if unknown := sorted(set(args.keys()) - set(PARAMETERS)):
        names = ", ".join(repr(name[:40]) for name in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        params.notices.append(f"not a parameter of this page, ignored: {names} "
                              f"(it takes {', '.join(PARAMETERS)})")
    for name in ("since", "until"):
        if problem := date_problem(name, getattr(params, name)):
            raise TrendsError(problem)
    if params.since and params.until and _first_day(params.since) > _last_day(params.until):
        raise TrendsError(f"since ({params.since}) is after until ({params.until})")
    if len(params.queries) + len(params.themes) > MAX_SERIES:
        raise TrendsError(f"at most {MAX_SERIES} lines at once (queries and themes together)")
    return params


@dataclass
class Period:
    label: str
    since: str  # as the table search's _since and _until take them
    until: str
    first: int = 0  # rowids (date_order), inclusive; first > last when none
    last: int = -1
    articles: int = 0


def narrower_until(a: str, b: str) -> str:
    """Of two `until` values (a date prefix: 2024, 2024-07, 2024-07-08),
    the one that lets fewer articles through; both alone say the same."""
    if a.startswith(b):
        return a
    if b.startswith(a):
        return b
    return min(a, b)


def period_count(by: str, first: dt.date, last: dt.date) -> int:
    """How many periods calendar(by, first, last) has, without making them."""
    if by == "year":
        return last.year - first.year + 1
    if by == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return (last - first + dt.timedelta(days=first.weekday())).days // 7 + 1


def calendar(by: str, first: dt.date, last: dt.date) -> list[tuple[str, str, str]]:
    """(label, since, until) of every period from the one holding first to
    the one holding last. A week runs Monday to Sunday and is labelled by
    its Monday (the last week of 9999 ends on its last day)."""
    periods = []
    if by == "year":
        return [(str(y), str(y), str(y)) for y in range(first.year, last.year + 1)]
    if by == "month":
        year, month = first.year, first.month
        while (year, month) <= (last.year, last.month):
            label = f"{year:04d}-{month:02d}"
            periods.append((label, label, label))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return periods
    monday = first - dt.timedelta(days=first.weekday())  # 0001-01-01 is a Monday: never before it
    while monday <= last:
        sunday = min(monday, dt.date.max - dt.timedelta(days=6)) + dt.timedelta(days=6)
        periods.append((monday.isoformat(), monday.isoformat(), sunday.isoformat()))
        if sunday == dt.date.max:
            break
        monday += dt.timedelta(days=7)
    return periods


@dataclass
class Days:
    """The days table, dated days in date order, with cumulative counts."""

    keys: list[str]  # day strings (first 10 characters of the date), sorted
    firsts: list[int]
    lasts: list[int]
    before: list[int]  # articles on the days before each (and a last total)
    undated: tuple[int, int, int] | None  # (first, last, articles) of the undated ones

    @classmethod
    def read(cls, conn) -> Days:
        rows = conn.execute("select day, first_date_order, last_date_order, articles from days "
                            "order by first_date_order").fetchall()
        dated = [row for row in rows if row[0] is not None]
        undated = next((tuple(row[1:]) for row in rows if row[0] is None), None)
        return cls([r[0] for r in dated], [r[1] for r in dated], [r[2] for r in dated],
                   [0, *accumulate(r[3] for r in dated)], undated)

    def undated_articles(self) -> int:
        return self.undated[2] if self.undated else 0

    def undated_in(self, rowids: list[int], story_of: Sequence[int] | None = None) -> int:
        """How many of the sorted rowids are undated articles (or stories)."""
        return count(rowids, self.undated[0], self.undated[1], story_of) if self.undated else 0

    def span(self, since: str, until: str) -> tuple[int, int]:
        """Indexes [lo, hi) of the days whose articles a table search with
        _since=since and _until=until finds: date >= since, and the date's
        first len(until) characters <= until (both read the first 10
        characters only, as since and until are at most 10 long)."""
        lo = bisect_left(self.keys, since) if since else 0
        hi = bisect_right(self.keys, until, key=lambda day: day[: len(until)]) if until else len(self.keys)
        return lo, max(lo, hi)


def periods_for(days: Days, params: Params, today: dt.date) -> list[Period]:
    """The periods to draw: from since (default: the first dated article
    from 2000 on) to until (default: the last dated article up to today; a
    later date is a mistake, or an estimate from a date an article
    mentions)."""
    since = params.since or DEFAULT_SINCE
    until = params.until or today.isoformat()
    lo, hi = days.span(since, until)
    valid = [day for day in days.keys[lo:hi] if _DAY.fullmatch(day) and _valid(day)]
    if not valid and not (params.since and params.until):
        return []
    first = _first_day(params.since) if params.since else dt.date.fromisoformat(valid[0])
    last = _last_day(params.until) if params.until else dt.date.fromisoformat(valid[-1])
    # counted before a period is made: since=0001&until=9998&by=week is refused at once
    if (n := period_count(params.by, first, last)) > MAX_PERIODS:
        raise TrendsError(f"{n:,} {params.by}s from {first} to {last} is more than {MAX_PERIODS:,} periods: "
                          "narrow since/until or count by a longer period")
    periods = []
    for label, start, end in calendar(params.by, first, last):
        period = Period(label, max(start, since), narrower_until(end, until))
        lo, hi = days.span(period.since, period.until)
        if hi > lo:
            period.first, period.last = days.firsts[lo], days.lasts[hi - 1]
            period.articles = days.before[hi] - days.before[lo]
        periods.append(period)
    return periods


def _first_day(value: str) -> dt.date:
    """The first day a since value (2024, 2024-07, 2024-07-08) lets in."""
    return dt.date.fromisoformat((value + "-01-01")[:10])


def _last_day(value: str) -> dt.date:
    """The last day an until value lets in."""
    if len(value) == 4:
        return dt.date(int(value), 12, 31)
    if len(value) == 7:
        year, month = int(value[:4]), int(value[5:])
        if month == 12:
            return dt.date(year, 12, 31)
        return dt.date(year, month + 1, 1) - dt.timedelta(days=1)
    return dt.date.fromisoformat(value)


def _valid(day: str) -> bool:
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return False
    return True


def count(rowids: list[int], first: int, last: int, story_of: Sequence[int] | None = None) -> int:
    """How many of the sorted rowids lie in [first, last]; with story_of
    (rowid -> its story's number), how many stories they belong to."""
    lo, hi = bisect_left(rowids, first), bisect_right(rowids, last)
    if story_of is None:
        return max(0, hi - lo)
    return len({story_of[rowid] for rowid in rowids[lo:hi]})


_STORIES: dict[tuple, array] = {}


def story_numbers(conn) -> array:
    """rowid -> the rowid of its story's first article, for the whole
    database. The file is served immutable, so it is read once per process."""
    (path,) = [row[2] for row in conn.execute("pragma database_list") if row[1] == "main"]
    info = Path(path).stat()
    key = (path, info.st_size, info.st_mtime_ns)
    if key not in _STORIES:
        numbers = array("q", [0]) * (conn.execute("select coalesce(max(rowid), 0) from articles").fetchone()[0] + 1)
        for rowid, story in conn.execute(
                "select a.rowid, s.rowid from articles a join articles s on s.id = coalesce(a.story, a.id)"):
            numbers[rowid] = story
        _STORIES.clear()
        _STORIES[key] = numbers
    return _STORIES[key]


@dataclass
class Series:
    label: str
    kind: str  # "q" or "theme"
    value: str
    counts: list[int] = field(default_factory=list)
    shares: list[float | None] = field(default_factory=list)
    total: int = 0  # every match, whatever its date
    undated: int = 0
    outside: int = 0  # dated, but outside the periods drawn


FILTER_SQL = {
    # A tag in either script, as ?_tag= selects it (tags.key: normalised).
    "tag": "id in (select article_id from article_tags where tag_key = :tag)",
    "author": "author = :author",
    "source": "source = :source",
}
THEME_SQL = """
select rowid from articles where id in (
  select article_id from article_terms where term in (select term from lexicon where theme = :theme))
order by rowid
"""


@dataclass
class Trends:
    """The answer to a request: the periods, all articles in each, a line per
    query or theme."""

    params: Params
    periods: list[Period]
    totals: list[int]
    series: list[Series]
    undated: int  # articles without a date (within the filters)
    outside: int  # dated, outside the periods drawn
    since: str
    until: str
    notices: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "by": self.params.by,
            "count": "stories" if self.params.stories else "articles",
            "date": DATE_BASIS,
            "since": self.since,
            "until": self.until,
            "filters": self.params.filters(),
            "periods": [p.label for p in self.periods],
            "period_ranges": [[p.since, p.until] for p in self.periods],
            "totals": self.totals,
            "undated": self.undated,
            "outside": self.outside,
            "series": [{line.kind: line.value, "label": line.label, "counts": line.counts, "shares": line.shares,
                        "total": line.total, "undated": line.undated, "outside": line.outside}
                       for line in self.series],
            "notices": self.notices,
        }


UNKNOWN_SQL = {
    "theme": ("select 1 from themes where theme = ?", "no lexicon theme {!r}: its line counts nothing"),
    "tag": ("select 1 from article_tags where tag_key = ? limit 1", "no article has the tag {!r}"),
    "author": ("select 1 from articles where author = ? limit 1", "no article is by the author {!r}"),
    "source": ("select 1 from articles where source = ? limit 1", "no article is from the source {!r}"),
}


def notices(conn, params: Params) -> list[str]:
    """What the page says about the request: parameters it does not take,
    and themes, tags, authors or sources the archive does not have (a zero
    line is otherwise indistinguishable from a term nobody wrote)."""
    said = list(params.notices)
    asked = [("theme", theme) for theme in params.themes] + list(params.filters().items())
    for name, value in asked:
        sql, message = UNKNOWN_SQL[name]
        try:
            known = conn.execute(sql, [normalise(value) if name == "tag" else value]).fetchone()
        except sqlite3.OperationalError:  # an archive built without a lexicon has no themes table
            known = None
        if not known:
            said.append(message.format(value[:80]) + ("" if name == "theme" else ": every count is 0"))
    return said


def compute(conn, params: Params, today: dt.date) -> Trends:
    """The trends for params, from a connection to the archive."""
    days = Days.read(conn)
    periods = periods_for(days, params, today)
    story_of = story_numbers(conn) if params.stories else None
    universe = None  # with filters, the rowids of the articles they let through
    if params.filters():
        where = " and ".join(FILTER_SQL[name] for name in params.filters())
        values = params.filters() | ({"tag": normalise(params.tag)} if params.tag else {})
        universe = [r for (r,) in conn.execute(f"select rowid from articles where {where} order by rowid", values)]
        allowed = set(universe)
    series = []
    for kind, values in (("q", params.queries), ("theme", params.themes)):
        for value in values:
            if kind == "q":
                rows = conn.execute(f"select rowid from [{FTS_TABLE}] where [{FTS_TABLE}] match ? order by rowid",
                                    [match_expression(value)])
            else:
                rows = conn.execute(THEME_SQL, {"theme": value})
            rowids = [r for (r,) in rows if universe is None or r in allowed]
            series.append(_series(kind, value, rowids, periods, days, story_of))
    if universe is None and story_of is None:
        totals = [p.articles for p in periods]
        everything, undated = days.before[-1] + days.undated_articles(), days.undated_articles()
    else:
        if universe is None:
            universe = list(range(1, len(story_of)))
        totals = [count(universe, p.first, p.last, story_of) for p in periods]
        everything = len(set(map(story_of.__getitem__, universe))) if story_of else len(universe)
        undated = days.undated_in(universe, story_of)
    for line in series:
        line.shares = [round(n / total, 6) if total else None for n, total in zip(line.counts, totals, strict=True)]
    return Trends(params, periods, totals, series, undated, everything - undated - sum(totals),
                  since=periods[0].since if periods else params.since or DEFAULT_SINCE,
                  until=periods[-1].until if periods else params.until or today.isoformat(),
                  notices=notices(conn, params))


def _series(kind: str, value: str, rowids: list[int], periods: list[Period], days: Days,
            story_of: Sequence[int] | None = None) -> Series:
    line = Series(value if kind == "q" else f"主题 theme: {value}", kind, value)
    line.counts = [count(rowids, p.first, p.last, story_of) for p in periods]
    line.total = len(set(map(story_of.__getitem__, rowids))) if story_of else len(rowids)
    line.undated = days.undated_in(rowids, story_of)
    # A story can have members in several periods: outside is only for articles.
    line.outside = 0 if story_of else line.total - line.undated - sum(line.counts)
    return line


# ------------------------------------------------------------------ links


def search_args(line: Series, params: Params, since: str = "", until: str = "", undated: bool = False) -> list:
    """The table search that finds line's articles (in a period): its count
    is the point's."""
    args = [("_search", line.value)] if line.kind == "q" else [("_theme", line.value)]
    if undated:
        args += [("published__isnull", "1"), ("not_before__isnull", "1")]
    else:
        args += [("_since", since), ("_until", until)]
    args += [("_tag", params.tag), ("author", params.author), ("source", params.source)]
    if params.stories:
        args.append(("_collapse", "1"))  # one row per story: the table counts stories
    return [(key, value) for key, value in args if value]


def table_href(datasette, line: Series, params: Params, **period) -> str:
    return datasette.urls.table(DATABASE, "articles") + "?" + urlencode(search_args(line, params, **period))


def ranked_href(datasette, line: Series, params: Params) -> str:
    """The ranked search page for a query line (themes have none)."""
    args = {"q": line.value, "tag": params.tag, "author": params.author, "source": params.source,
            "since": params.since, "until": params.until}
    return datasette.urls.database(DATABASE) + "/search?" + urlencode({k: v for k, v in args.items() if v})


def trends_href(params: Params, format_: str = "", **changes) -> str:
    """This page (or its .json, .csv) with changes to its parameters."""
    values = {"q": params.queries, "theme": params.themes, "by": params.by, "share": "1" if params.share else "",
              "stories": "1" if params.stories else "",
              **{name: getattr(params, name) for name in (*FILTERS, "since", "until")}, **changes}
    args = [(key, item) for key, value in values.items()
            for item in (value if isinstance(value, list) else [value]) if item]
    return f"/-/trends{format_}" + ("?" + urlencode(args) if args else "")


# ------------------------------------------------------------------ the chart

WIDTH, HEIGHT = 800, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 776, 14, 214


def chart(trends: Trends, datasette) -> dict:
    """Coordinates for templates/trends.html: one polyline per series, a
    point (a link to its search) where a count is not 0, axis labels."""
    periods, series, params = trends.periods, trends.series, trends.params
    n = len(periods)
    values = [[(s.shares[i] or 0.0) if params.share else s.counts[i] for i in range(n)] for s in series]
    peak = max([max(v, default=0) for v in values] + [0])
    peak = peak or (1 if not params.share else 0.01)
    step = (RIGHT - LEFT) / max(n - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + (i * step if n > 1 else (RIGHT - LEFT) / 2), 2)

    def y(value: float) -> float:
        return round(BOTTOM - (BOTTOM - TOP) * value / peak, 2)

    lines = []
    for index, (line, vals) in enumerate(zip(series, values, strict=True)):
        points = []
        for i, (period, value) in enumerate(zip(periods, vals, strict=True)):
            if line.counts[i]:
                share = f" ({100 * line.shares[i]:.2f}%)" if line.shares[i] is not None else ""
                points.append({"x": x(i), "y": y(value), "label": f"{line.label} · {period.label}: "
                               f"{line.counts[i]:,}{share}",
                               "href": table_href(datasette, line, params, since=period.since, until=period.until)})
        lines.append({"index": index, "label": line.label,
                      "points": " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(vals)), "dots": points})
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": RIGHT, "top": TOP, "bottom": BOTTOM,
        "peak": f"{100 * peak:.2f}%" if params.share else f"{peak:,}",
        "middle_y": round((TOP + BOTTOM) / 2, 2),
        "middle": f"{50 * peak:.2f}%" if params.share else (f"{peak / 2:,.0f}" if peak >= 2 else ""),
        "ticks": _ticks(periods, x),
        "lines": lines,
    }


def _ticks(periods: list[Period], x) -> list[dict]:
    """Year labels under the axis: at each year's first period, thinned so
    that they never crowd."""
    starts = [(i, p.label[:4]) for i, p in enumerate(periods)
              if i == 0 or p.label[:4] != periods[i - 1].label[:4]]
    every = 1
    while len(starts) / every > 16:
        every += 1
    return [{"x": x(i), "label": year} for i, year in starts if int(year) % every == 0 or len(starts) <= 16]


# ------------------------------------------------------------------ the routes


async def trends_view(datasette, request) -> Response:
    format_ = request.url_vars.get("format") or ""
    try:
        params = parse(request.args)
    except TrendsError as error:
        return await _error(datasette, request, format_, str(error), 400)
    if DATABASE not in datasette.databases:
        return await _error(datasette, request, format_, f"no database named {DATABASE}", 404)
    db = datasette.get_database(DATABASE)
    limit = datasette.setting("sql_time_limit_ms")
    today = dt.date.today()

    def run(conn):
        with sqlite_timelimit(conn, limit):
            return compute(conn, params, today)

    try:
        trends = await db.execute_fn(run)
    except TrendsError as error:
        return await _error(datasette, request, format_, str(error), 400)
    except (QueryInterrupted, sqlite3.OperationalError) as error:  # over the time limit, or an old database
        if "no such table" in str(error):
            message = f"this database has no trends tables ({error}): build it again with make build"
            return await _error(datasette, request, format_, message, 500)
        if isinstance(error, QueryInterrupted) or "interrupted" in str(error):
            return await _error(datasette, request, format_, TOO_LONG, 400)
        raise
    if format_ == ".json":
        return Response.json(trends.as_json(), headers={"Cache-Control": "max-age=3600"})
    if format_ == ".csv":
        return Response(_csv(trends), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'inline; filename="trends.csv"'})
    themes = []
    if await db.table_exists("themes"):
        themes = [dict(row) for row in (await db.execute(
            "select theme, terms, articles from themes order by articles desc, theme limit 100")).rows]

    def href(line: Series, **period) -> str:
        return table_href(datasette, line, params, **period)

    context = {
        "params": params, "data": trends.as_json(), "chart": chart(trends, datasette), "themes": themes,
        "series": [{
            "index": i, "label": line.label, "total": line.total, "undated": line.undated,
            "table_href": href(line, since=params.since, until=params.until),
            "undated_href": href(line, undated=True),
            "ranked_href": ranked_href(datasette, line, params) if line.kind == "q" else None,
        } for i, line in enumerate(trends.series)],  # fmt: skip
        "rows": [{"label": p.label, "total": trends.totals[i], "cells": [
            {"count": line.counts[i], "share": line.shares[i], "href": href(line, since=p.since, until=p.until)}
            for line in trends.series]} for i, p in enumerate(trends.periods)],
        "json_href": trends_href(params, ".json"),
        "csv_href": trends_href(params, ".csv"),
        "share_href": trends_href(params, share="" if params.share else "1"),
        "stories_href": trends_href(params, stories="" if params.stories else "1"),
        "by_hrefs": {by: trends_href(params, by=by) for by in BY},
        "blank_queries": max(0, min(MAX_SERIES - len(params.queries) - len(params.themes), 2)),
    }
    return Response.html(await datasette.render_template("trends.html", context, request=request))


def _csv(trends: Trends) -> str:
    """One row per period (then one for the undated): the period, its first
    and last day as the search takes them, all articles, and each line's
    count and share."""
    out = io.StringIO()
    writer = csv.writer(out)
    series = trends.series
    writer.writerow(["period", "since", "until", "stories" if trends.params.stories else "articles",
                     *[column for line in series for column in (line.label, f"{line.label} (share)")]])
    for i, period in enumerate(trends.periods):
        writer.writerow([period.label, period.since, period.until, trends.totals[i],
                         *[value for line in series for value in (line.counts[i], line.shares[i])]])
    writer.writerow(["undated", "", "", trends.undated, *[v for line in series for v in (line.undated, "")]])
    return out.getvalue()


async def _error(datasette, request, format_: str, message: str, status: int) -> Response:
    if format_ == ".json":
        return Response.json({"ok": False, "error": message}, status=status)
    if format_ == ".csv":
        return Response.text(message, status=status)
    return Response.html(await datasette.render_template("trends.html", {"error": message, "params": None,
                                                                         "themes": []}, request=request),
                         status=status)


@hookimpl
def register_routes():
    return [(r"^/-/trends(?P<format>\.json|\.csv)?$", trends_view)]


# ------------------------------------------------------------------ table filters

# The articles table takes a period the way the ranked search does
# (?_since=2024-07&_until=2024-07), so every point of a trend is a table
# search; a lexicon theme (?_theme=) is registered in web/lexicon.py.
@hookimpl
def filters_from_request(request, database, table, datasette):
    if table != "articles":
        return None
    wheres, params, described = [], {}, []
    since, until = request.args.get("_since"), request.args.get("_until")
    if since:
        wheres.append(f"{ARTICLE_DATE} >= :bannedbook_since")
        params["bannedbook_since"] = since
        described.append(f"date (published, else not before) from {since}")
    if until:
        wheres.append(f"substr({ARTICLE_DATE}, 1, length(:bannedbook_until)) <= :bannedbook_until")
        params["bannedbook_until"] = until
        described.append(f"date (published, else not before) until {until}")
    if not wheres:
        return None
    return FilterArguments(where_clauses=wheres, params=params, human_descriptions=described)
