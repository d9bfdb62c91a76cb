"""Terms over time, computed: the periods of a calendar, and per period how
many articles each query (or lexicon theme) finds and what share of all
the period's articles that is. The view (/-/trends, its chart, JSON and
CSV) is bannedbook/web/trends.py.

No article row is read: articles are keyed in date order (rowid =
date_order = the search index's rowid) and the days table says which rowids
each day holds, so a period is a range of rowids. A query's matches come
from the search index as sorted rowids and are counted per period by
bisection.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from bannedbook.db.schema import FTS_TABLE, TAG_IN_USE_SQL, tagged_sql, theme_sql
from bannedbook.research.pinyin import NotReady, as_json, expand
from bannedbook.search.query import MAX_QUERY_CHARS, match_expression
from bannedbook.text.chinese import normalise

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
PARAMETERS = ("q", "theme", "by", "share", "stories", *FILTERS, "since", "until", "of")
# What a line counts (of=): the articles the search finds, or only those of
# them whose text was later edited or that vanished (research/versions.py),
# still by the article's own date.
OF_SQL = {"articles": "", "edits": "id in (select article_id from versions where version > 1)",
          "removals": "removed_before is not null"}
TOO_LONG = "the counts took too long: try fewer or narrower queries"
# A line whose query reads as pinyin shows this many strings it may mean (the line counts the query as typed).
PINYIN_CHOICES = 8


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
    of: str = "articles"
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
        of=(args.get("of") or "articles").strip(),
    )
    if params.of not in OF_SQL:
        raise TrendsError(f"of must be {', '.join(OF_SQL)}, not {params.of[:40]!r}")
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

    def undated_in(self, rowids: list[int], story_of: StoryNumbers | None = None) -> int:
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


def count(rowids: list[int], first: int, last: int, story_of: StoryNumbers | None = None) -> int:
    """How many of the sorted rowids lie in [first, last]; with story_of
    (rowid -> its story's number), how many stories they belong to."""
    lo, hi = bisect_left(rowids, first), bisect_right(rowids, last)
    if story_of is None:
        return max(0, hi - lo)
    return len({story_of[rowid] for rowid in rowids[lo:hi]})


class StoryNumbers:
    """rowid -> the rowid of its story's first article, as two sorted
    arrays (16 bytes an article): rowids are sparse date keys."""

    def __init__(self, pairs: Iterable[tuple[int, int]]):
        self.rowids, self.stories = array("q"), array("q")
        for rowid, story in pairs:
            self.rowids.append(rowid)
            self.stories.append(story)

    def __getitem__(self, rowid: int) -> int:
        return self.stories[bisect_left(self.rowids, rowid)]

    def __len__(self) -> int:
        return len(self.rowids)


_STORIES: dict[tuple, StoryNumbers] = {}


def story_numbers(conn) -> StoryNumbers:
    """rowid -> the rowid of its story's first article, for the whole
    database. The file is served immutable, so it is read once per process."""
    (path,) = [row[2] for row in conn.execute("pragma database_list") if row[1] == "main"]
    info = Path(path).stat()
    key = (path, info.st_size, info.st_mtime_ns)
    if key not in _STORIES:
        numbers = StoryNumbers(conn.execute("""select a.rowid, s.rowid from articles a
                                               join articles s on s.id = coalesce(a.story, a.id) order by a.rowid"""))
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
    pinyin: dict | None = None  # a Latin query read as pinyin: the strings it may mean (research/pinyin.py)


FILTER_SQL = {
    # A tag in either script, as ?_tag= selects it (tags.key: normalised).
    "tag": tagged_sql("tag"),
    "author": "author = :author",
    "source": "source = :source",
}
THEME_SQL = f"select rowid from articles where {theme_sql('theme')} order by rowid"


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
            "of": self.params.of,
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
                        "total": line.total, "undated": line.undated, "outside": line.outside,
                        "pinyin": line.pinyin}
                       for line in self.series],
            "notices": self.notices,
        }


UNKNOWN_SQL = {
    "theme": ("select 1 from themes where theme = ?", "no lexicon theme {!r}: its line counts nothing"),
    "tag": (TAG_IN_USE_SQL, "no article has the tag {!r}"),
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
    if params.filters() or OF_SQL[params.of]:
        where = " and ".join(filter(None, [*(FILTER_SQL[name] for name in params.filters()), OF_SQL[params.of]]))
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
            if kind == "q":
                series[-1].pinyin = pinyin_choices(conn, value)
    if universe is None and story_of is None:
        totals = [p.articles for p in periods]
        everything, undated = days.before[-1] + days.undated_articles(), days.undated_articles()
    else:
        if universe is None:
            universe = story_of.rowids  # every article
        totals = [count(universe, p.first, p.last, story_of) for p in periods]
        everything = len(set(map(story_of.__getitem__, universe))) if story_of else len(universe)
        undated = days.undated_in(universe, story_of)
    for line in series:
        line.shares = [round(n / total, 6) if total else None for n, total in zip(line.counts, totals, strict=True)]
    return Trends(params, periods, totals, series, undated, everything - undated - sum(totals),
                  since=periods[0].since if periods else params.since or DEFAULT_SINCE,
                  until=periods[-1].until if periods else params.until or today.isoformat(),
                  notices=notices(conn, params))


def pinyin_choices(conn, query: str) -> dict | None:
    """What a query that reads as pinyin may mean (research/pinyin.py), when
    the archive's vocabulary is ready (never read here, under a time limit)."""
    try:
        answer = expand(conn, query, PINYIN_CHOICES, load=False)
    except NotReady:
        return None
    return as_json(query, answer) if answer else None


def _series(kind: str, value: str, rowids: list[int], periods: list[Period], days: Days,
            story_of: StoryNumbers | None = None) -> Series:
    line = Series(value if kind == "q" else f"主题 theme: {value}", kind, value)
    line.counts = [count(rowids, p.first, p.last, story_of) for p in periods]
    line.total = len(set(map(story_of.__getitem__, rowids))) if story_of else len(rowids)
    line.undated = days.undated_in(rowids, story_of)
    # A story can have members in several periods: outside is only for articles.
    line.outside = 0 if story_of else line.total - line.undated - sum(line.counts)
    return line
