"""One article per story on the articles table: ?_collapse=1.

`/bannedbook/articles?_search=…&_collapse=1` (and `articles.json`, and every
export) lists, of each story, the earliest article that the other filters
keep: a search, a tag, a column filter. Counts and facets then count
stories. Not the story's first article: a search may match only a later
version (a paragraph the repost added), and the story must still be found.

So the clause needs the other filters. It asks Datasette for them the way
the table view does (its Filters for column filters, then every
filters_from_request hook but this one) and keeps, per story, the lowest
rowid among the rows they select: the same rows, collapsed. Rowid is date
order, and the index on (story, date_order) holds both, so a collapse
without a search reads that index alone.
"""

from __future__ import annotations

from contextvars import ContextVar

from datasette import hookimpl
from datasette.filters import FilterArguments, Filters
from datasette.plugins import pm
from datasette.utils import await_me_maybe

# Set while this hook gathers the other filters, so it does not gather itself.
_gathering: ContextVar[bool] = ContextVar("bannedbook_collapse_gathering", default=False)

ON = ("1", "on", "true", "yes")


def wanted(request) -> bool:
    return request.args.get("_collapse", "").lower() in ON


async def _other_filters(request, database: str, table: str, datasette) -> tuple[list[str], dict]:
    """The where clauses and parameters of every filter on this request but
    the collapse, as the table view builds them (datasette/views/table.py)."""
    pairs = [(key, value) for key in request.args if not (key.startswith("_") and "__" not in key)
             for value in request.args.getlist(key)]
    clauses, params = Filters(sorted(pairs)).build_where_clauses(table)
    token = _gathering.set(True)
    try:
        for hook in pm.hook.filters_from_request(request=request, table=table, database=database,
                                                 datasette=datasette):
            arguments = await await_me_maybe(hook)
            if arguments:
                clauses += arguments.where_clauses
                params.update(arguments.params)
    finally:
        _gathering.reset(token)
    return clauses, params


@hookimpl(specname="filters_from_request")
def collapse_filter(request, database, table, datasette):
    if table != "articles" or _gathering.get() or not wanted(request):
        return None

    async def collapsed() -> FilterArguments:
        clauses, params = await _other_filters(request, database, table, datasette)
        where = f"where {' and '.join(clauses)}" if clauses else ""
        return FilterArguments(
            # The same parameter names and values as the outer query's own
            # filters: both were built from this request by the same code.
            where_clauses=[f"rowid in (select min(rowid) from articles {where} group by story)"],
            params=params,
            human_descriptions=["one article per story (its earliest)"],
        )

    return collapsed
