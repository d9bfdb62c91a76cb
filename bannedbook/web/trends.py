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

The numbers come from bannedbook/research/trends.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
from urllib.parse import urlencode

from datasette import Response, hookimpl
from datasette.database import QueryInterrupted
from datasette.filters import FilterArguments
from datasette.utils import sqlite_timelimit

from bannedbook.db.schema import ARTICLE_DATE
from bannedbook.research.trends import (
    BY,
    FILTERS,
    MAX_SERIES,
    TOO_LONG,
    Params,
    Period,
    Series,
    Trends,
    TrendsError,
    compute,
    parse,
)
from bannedbook.search.pinyin import parse as parse_pinyin
from bannedbook.web.pinyin import choices
from bannedbook.web.pinyin import ready as pinyin_ready
from bannedbook.web.site import NAME as DATABASE

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
              "stories": "1" if params.stories else "", "of": "" if params.of == "articles" else params.of,
              **{name: getattr(params, name) for name in (*FILTERS, "since", "until")}, **changes}
    args = [(key, item) for key, value in values.items()
            for item in (value if isinstance(value, list) else [value]) if item]
    return f"/-/trends{format_}" + ("?" + urlencode(args) if args else "")


def pinyin_choices(line: Series, params: Params) -> dict | None:
    """For a line whose query reads as pinyin: the strings it may mean, each
    a link to this page with that string in the query's place (and all of
    them as one OR query)."""
    index = params.queries.index(line.value) if line.kind == "q" else -1

    def href(query: str) -> str:
        return trends_href(params, q=[*params.queries[:index], query, *params.queries[index + 1 :]])

    return choices(line.pinyin, href) if line.pinyin else None


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
    if any(parse_pinyin(q) for q in params.queries):
        await pinyin_ready(datasette)  # the vocabulary is read outside the time limit
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
            "pinyin": pinyin_choices(line, params),
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
