"""The Datasette plugin: Chinese-aware search wherever a reader searches.

Datasette's table search (?_search=, the search box, the JSON API, and
datasette-search-all's /-/search, which calls the table JSON) wraps the
query in the SQL function escape_fts(). We register our own escape_fts that
rewrites the query for the bigram index with chinese.match_expression. Our
prepare_connection must run after Datasette's default one, which registers
the stock escape_fts, hence trylast=True.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from datasette import hookimpl
from markupsafe import Markup, escape

from .chinese import MARK_END, MARK_START, match_expression, normalise, snippet


@hookimpl(trylast=True)
def prepare_connection(conn) -> None:
    conn.create_function("escape_fts", 1, match_expression, deterministic=True)
    # Names for canned queries and the SQL console.
    conn.create_function("cjk_match", 1, match_expression, deterministic=True)
    conn.create_function("cjk_normalise", 1, normalise, deterministic=True)
    conn.create_function("cjk_snippet", 2, snippet, deterministic=True)
    conn.create_function("cjk_snippet", 3, snippet, deterministic=True)


def marked_html(value: str) -> Markup:
    """Snippet text as HTML: everything escaped, then our match markers
    turned into <mark>. Nothing from an article can become markup."""
    return Markup(str(escape(value)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


@hookimpl
def render_cell(value) -> Markup | None:
    if isinstance(value, str) and MARK_START in value:
        return marked_html(value)
    return None


@hookimpl
def asgi_wrapper(datasette):
    """JSON from the articles table skips the default facets unless asked
    (`_facet=`): they are for people browsing; a script paging through a
    search would pay for six GROUP BYs over every match on every page
    (about a second for a common word at 100,000 articles)."""

    def wrap(app):
        async def json_without_default_facets(scope, receive, send):
            if scope["type"] == "http" and scope["path"].endswith("/articles.json"):
                keys = {key for key, _ in parse_qsl(scope["query_string"].decode("latin-1"))}
                if not any(key.startswith(("_facet", "_nofacet")) for key in keys):
                    query = scope["query_string"]
                    scope = dict(scope, query_string=query + (b"&" if query else b"") + b"_nofacet=1")
            await app(scope, receive, send)

        return json_without_default_facets

    return wrap
