"""What changed in the archive: /-/changes lists the articles whose text
was edited (a new version) or that vanished (a removal window), newest
first, filtered like the search (q, tag, author, source) and by a lexicon
term the edit removed (term) or by kind; /-/changes.json, .csv and .atom
give the same rows (JSON a page at a time, CSV and Atom whole).

The rows come from research/versions.py (changes_sql).
"""

from __future__ import annotations

import csv
import io
import sqlite3
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from datasette import Response, hookimpl
from datasette.database import QueryInterrupted
from datasette.utils import sqlite_timelimit

from bannedbook.research.versions import CHANGE_FILTERS, CHANGE_KINDS, changes_sql
from bannedbook.web.cite import archive_url, base_url
from bannedbook.web.exports import safe_cell
from bannedbook.web.site import NAME as DATABASE

PAGE = 100  # rows per HTML or JSON page
COLUMNS = ("kind", "id", "title", "author", "source", "url", "version", "after", "before", "chars_added",
           "chars_removed", "paragraphs_removed", "terms_removed", "terms_added")


def changes_href(args: dict[str, str], format_: str = "", **changes) -> str:
    values = {name: value for name, value in ({**args, **changes}).items() if value}
    return f"/-/changes{format_}" + (f"?{urlencode(values)}" if values else "")


async def changes_view(datasette, request) -> Response:
    format_ = request.url_vars.get("format") or ""
    args = {name: request.args.get(name, "").strip() for name in CHANGE_FILTERS}
    if args["kind"] and args["kind"] not in CHANGE_KINDS:
        return Response.text(f"kind must be one of {', '.join(CHANGE_KINDS)}", status=400)
    try:
        offset = max(int(request.args.get("offset") or 0), 0)
    except ValueError:
        return Response.text("offset must be a number", status=400)
    whole = format_ in (".csv", ".atom")
    sql, params = changes_sql(args)
    if not whole:
        sql += f" limit {PAGE + 1} offset {offset}"
    db = datasette.get_database(DATABASE)
    limit = datasette.setting("sql_time_limit_ms")

    def run(conn):
        with sqlite_timelimit(conn, limit):
            cursor = conn.execute(sql, params)
            return [dict(zip(COLUMNS, row, strict=True)) for row in cursor]

    try:
        rows = await db.execute_fn(run)
    except (QueryInterrupted, sqlite3.OperationalError) as error:
        message = "the query took too long: narrow it" if "interrupt" in str(error) or isinstance(
            error, QueryInterrupted) else f"this database has no versions ({error}): build it again"
        return Response.text(message, status=400)
    base = base_url(datasette, request.scope)
    for row in rows:
        row["archive_url"] = archive_url(datasette, base, DATABASE, row["id"]) + (
            f"#v{row['version']}" if row["kind"] == "edited" else "")
    more = not whole and len(rows) > PAGE
    rows = rows[:PAGE] if not whole else rows
    next_href = changes_href(args, format_, offset=str(offset + PAGE)) if more else None
    if format_ == ".json":
        return Response.json({"filters": {k: v for k, v in args.items() if v}, "rows": rows,
                              "next_url": base + next_href if next_href else None})
    if format_ == ".csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([*COLUMNS, "archive_url"])
        writer.writerows([safe_cell(row[name]) for name in (*COLUMNS, "archive_url")] for row in rows)
        return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'inline; filename="changes.csv"'})
    if format_ == ".atom":
        return Response(_atom(rows, base + changes_href(args, ".atom")), content_type="application/atom+xml")
    context = {"args": args, "rows": rows, "kinds": CHANGE_KINDS, "next_href": next_href,
               "json_href": changes_href(args, ".json"), "csv_href": changes_href(args, ".csv"),
               "atom_href": changes_href(args, ".atom"), "offset": offset}
    return Response.html(await datasette.render_template("changes.html", context, request=request))


def _atom(rows: list[dict], self_url: str) -> str:
    """An Atom feed of the changes, newest first."""
    def when(value: str | None) -> str:
        return value if value and "T" in value else f"{value or '1970-01-01'}T00:00:00Z"

    entries = []
    for row in rows:
        if row["kind"] == "edited":
            title = f"[修改 edited v{row['version']}] {row['title']}"
            summary = (f"+{row['chars_added']} −{row['chars_removed']} characters, seen {row['before']}"
                       + (f"; terms removed: {row['terms_removed']}" if row["terms_removed"] else ""))
        else:
            title = f"[删除 removed] {row['title']}"
            summary = f"gone after {row['after'] or 'an unknown date'}, by {row['before']}"
        entries.append(f"""<entry><id>{escape(row['archive_url'])}#{row['kind']}</id><title>{escape(title)}</title>
<updated>{escape(when(row['before']))}</updated><link href="{escape(row['archive_url'])}"/>
<summary>{escape(summary)}</summary></entry>""")
    updated = when(rows[0]["before"]) if rows else "1970-01-01T00:00:00Z"
    return (f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>{escape(self_url)}</id><title>禁闻档案 · 修改与删除 Changes</title>
<updated>{updated}</updated><link rel="self" href="{escape(self_url)}"/><author><name>bannedbook archive</name></author>
""" + "\n".join(entries) + "\n</feed>\n")


@hookimpl
def register_routes():
    return [(r"^/-/changes(?P<format>\.json|\.csv|\.atom)?$", changes_view)]
