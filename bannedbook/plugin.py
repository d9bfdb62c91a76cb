"""The Datasette plugin: Chinese-aware search wherever a reader searches.

Datasette's table search (?_search=, the search box, the JSON API, and
datasette-search-all's /-/search, which calls the table JSON) wraps the
query in the SQL function escape_fts(). We register our own escape_fts that
rewrites the query for the bigram index with chinese.match_expression. Our
prepare_connection must run after Datasette's default one, which registers
the stock escape_fts, hence trylast=True.
"""

from __future__ import annotations

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
