"""The lexicon in the site: the lexicon page's themes, a filter of the
articles table by theme or term, and the query that finds a term.

The tables are written by the build (bannedbook/research/lexicon.py); an article's
terms are on its page (reader.article_page).
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.filters import FilterArguments

from bannedbook.db.schema import theme_sql
from bannedbook.search.query import quoted

THEMES_SQL = "select theme, terms, articles from themes order by articles desc, theme"
FILES_SQL = "select path, list, sha256, encoding, terms, message from lexicon_files order by list"


@hookimpl
def filters_from_request(request, database, table, datasette):
    """?_theme=NAME: articles holding a term of the lexicon theme (so a
    theme's trend points are table searches); ?_term=TERM: articles holding
    the term. Repeat either for articles with all of them."""
    if table != "articles":
        return None
    wheres, params, described = [], {}, []
    for i, theme in enumerate(request.args.getlist("_theme")):
        wheres.append(theme_sql(f"bannedbook_theme{i}"))
        params[f"bannedbook_theme{i}"] = theme
        described.append(f'holding a term of lexicon theme "{theme}"')
    for i, term in enumerate(request.args.getlist("_term")):
        wheres.append(f"id in (select article_id from article_terms where term = :bannedbook_term{i})")
        params[f"bannedbook_term{i}"] = term
        described.append(f'holding lexicon term "{term}"')
    if not wheres:
        return None
    return FilterArguments(where_clauses=wheres, params=params, human_descriptions=described)


@hookimpl
def prepare_jinja2_environment(env) -> None:
    # The search that finds a lexicon term as the build matched it: the
    # term as one quoted phrase, whatever characters it holds.
    env.filters["term_query"] = quoted


@hookimpl
def extra_template_vars(template, database, datasette):
    if template != "query-bannedbook-lexicon.html":
        return None

    async def lexicon_vars() -> dict:
        db = datasette.get_database(database)
        if not await db.table_exists("themes"):
            return {"themes": [], "lexicon_files": []}
        return {"themes": [dict(row) for row in (await db.execute(THEMES_SQL)).rows],
                "lexicon_files": [dict(row) for row in (await db.execute(FILES_SQL)).rows]}

    return lexicon_vars
