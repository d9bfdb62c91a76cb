"""The Datasette plugin: Chinese-aware search wherever a reader searches.

Datasette's table search (?_search=, the search box, the JSON API, and
datasette-search-all's /-/search, which calls the table JSON) wraps the
query in the SQL function escape_fts(). We register our own escape_fts that
rewrites the query for the bigram index with chinese.match_expression. Our
prepare_connection must run after Datasette's default one, which registers
the stock escape_fts, hence trylast=True.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl

from datasette import hookimpl
from markupsafe import Markup, escape

from bannedbook.search.query import MAX_QUERY_CHARS, match_expression
from bannedbook.search.snippet import MARK_END, MARK_START, snippet
from bannedbook.text.chinese import normalise
from bannedbook.text.decode import MAX_PAGE_BYTES
from bannedbook.web.asgi import rewriting_body

# What the SQL functions take. SQLite's time limit interrupts a query between
# steps, never inside a Python function, so each call must be bounded itself:
# a query is at most MAX_QUERY_CHARS (a pasted paragraph fits), a text at most
# MAX_TEXT_CHARS (no article's text is longer than its page may be), and a
# call on the largest text allowed takes about a second (and Clock stops a
# query of many calls at the time limit). Beyond them the function raises
# TooLarge, which SQLite reports as "string or blob too big".
MAX_TEXT_CHARS = MAX_PAGE_BYTES
MAX_SNIPPET_WIDTH = 10_000


class TooLarge(OverflowError):
    """An SQL function's argument beyond its size (an OverflowError, so that
    SQLite answers SQLITE_TOOBIG, "string or blob too big", not a generic error)."""


def _text(value, limit: int, what: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        raise TypeError(f"{what} must be text, not a blob")
    value = str(value)
    if len(value) > limit:
        raise TooLarge(f"{what} is {len(value):,} characters long; at most {limit:,} are taken")
    return value


def sql_match(query) -> str:
    """cjk_match() and escape_fts(): a reader's query as an FTS5 expression."""
    return match_expression(_text(query, MAX_QUERY_CHARS, "a search query"))


def sql_normalise(text) -> str | None:
    return None if text is None else normalise(_text(text, MAX_TEXT_CHARS, "the text"))


def sql_snippet(text, query, width=120) -> str:
    try:
        width = min(max(int(width), 0), MAX_SNIPPET_WIDTH)
    except (TypeError, ValueError):
        raise TypeError("cjk_snippet's width must be a number of characters") from None
    return snippet(_text(text, MAX_TEXT_CHARS, "the text"), _text(query, MAX_QUERY_CHARS, "a search query"), width)


class Clock:
    """Stops a statement that has run past the server's time limit, from
    inside our functions. Datasette's own check runs every 1,000 SQLite
    instructions, which a query calling cjk_snippet once a row spends in
    fifty calls: seconds each on a large text. SQLite's trace callback says
    when each statement starts; a call made after the limit interrupts the
    statement, which Datasette then reports as a query that took too long."""

    def __init__(self, conn, seconds: float) -> None:
        self.conn, self.seconds = conn, seconds
        self.started = time.monotonic()
        conn.set_trace_callback(self.start)

    def start(self, _sql: str) -> None:
        self.started = time.monotonic()

    def timed(self, function):
        def call(*args):
            if time.monotonic() - self.started > self.seconds:
                self.conn.interrupt()
                return None
            return function(*args)

        return call


@hookimpl(trylast=True)
def prepare_connection(conn, datasette=None) -> None:
    timed = Clock(conn, datasette.setting("sql_time_limit_ms") / 1000).timed if datasette else (lambda f: f)
    conn.create_function("escape_fts", 1, timed(sql_match), deterministic=True)
    # Names for canned queries and the SQL console.
    conn.create_function("cjk_match", 1, timed(sql_match), deterministic=True)
    conn.create_function("cjk_normalise", 1, timed(sql_normalise), deterministic=True)
    conn.create_function("cjk_snippet", 2, timed(sql_snippet), deterministic=True)
    conn.create_function("cjk_snippet", 3, timed(sql_snippet), deterministic=True)


def marked_html(value: str) -> Markup:
    """Snippet text as HTML: everything escaped, then our match markers
    turned into <mark>. Nothing from an article can become markup."""
    return Markup(str(escape(value)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


@hookimpl
def render_cell(value) -> Markup | None:
    if isinstance(value, str) and MARK_START in value:
        return marked_html(value)
    return None


# Query-string keys that leave a table search's count equal to the number
# of articles its index query matches (no other filter). _nocount is among
# them because next_url carries the one added here.
_COUNT_NEUTRAL = {"_search", "_size", "_next", "_shape", "_col", "_nocol", "_labels", "_nolabels",
                  "_sort", "_sort_desc", "_nofacet", "_nosuggest", "_timelimit", "_nocount"}


@hookimpl
def asgi_wrapper(datasette):
    """Two shortcuts for scripts reading /DB/articles.json:

    - Default facets are skipped unless a facet is asked for (`_facet=`):
      they are for people browsing; a script paging through a search would
      pay six GROUP BYs over every match on every page (about a second for
      a common word at 100,000 articles).
    - A plain search (`_search` and no other filter) is counted in the
      search index alone. Datasette counts by looking up every match in
      articles, two thirds of the time a search of 的 takes; the index has
      exactly one row per article (the build keeps it so, the tests check),
      so both counts are the same number.
    """

    def wrap(app):
        async def articles_json(scope, receive, send):
            if scope["type"] != "http" or not scope["path"].endswith("/articles.json"):
                return await app(scope, receive, send)
            query = scope["query_string"].decode("latin-1")
            params = parse_qsl(query, keep_blank_values=True)
            keys = {key for key, _ in params}
            added = []
            if not any(key.startswith(("_facet", "_nofacet")) for key in keys):
                added.append("_nofacet=1")
            searches = [value for key, value in params if key == "_search"]
            search = searches[0] if len(searches) == 1 else ""
            count_here = (search.strip() and keys <= _COUNT_NEUTRAL | {"_facet"}
                          and dict(params).get("_shape", "arrays") in ("arrays", "objects"))
            if count_here:
                added.append("_nocount=1")
            if added:
                scope = dict(scope, query_string="&".join(filter(None, [query, *added])).encode("latin-1"))
            if not count_here:
                return await app(scope, receive, send)
            database = datasette.get_database(scope["path"].split("/")[1])
            try:
                count = (await database.execute(
                    "select count(*) from articles_fts where articles_fts match escape_fts(:search)",
                    {"search": search})).first()[0]
            except Exception:  # interrupted: no count, as when Datasette's own count times out
                return await app(scope, receive, send)
            await app(scope, receive, rewriting_body(send, lambda body: _with_count(body, count),
                                                     when=lambda start: start["status"] == 200))

        return articles_json

    return wrap


def _with_count(body: bytes, count: int) -> bytes:
    """A JSON table response with count as its filtered_table_rows_count."""
    if not body:  # HEAD
        return body
    data = json.loads(body)
    data["filtered_table_rows_count"] = count
    return json.dumps(data).encode("utf-8")
