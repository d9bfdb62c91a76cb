"""The articles table's facets (tags, author, source, category, year,
script) at a cost that does not grow with the archive.

Datasette's column facets run a GROUP BY over every row the table's filter
selects, one query per facet: for a search of a common word that is every
article, six times over (docs/benchmarks.md, pages). Here, in one query:

- the unfiltered table reads the counts the build made (facet_counts,
  bannedbook/db/summaries.py): exact;
- a filtered table (a search, ?_tag=, ?author= …) counts its newest NEWEST
  rows: exact when it has no more, else each facet says that it counts the
  newest NEWEST of them, and links to Datasette's own facet, which counts
  them all (?_facet=author, ?_facet_tag=tags; within facet_time_limit_ms).
  The page's count and its newest-first order stay exact;
- except the year of a plain search (a search and no other filter), which
  is exact: articles are numbered in date order, so a year's articles are
  one run of the search index's rowids (the days table says which), and
  the index counts a search's matches in each run without reading them.

metadata.yml asks for them as `facets: [{newest: tags}, {newest: author}, …]`.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import path_with_added_args, path_with_removed_args

from bannedbook.db.schema import FTS_TABLE, tag_counts_sql
from bannedbook.db.summaries import FACET_SQL
from bannedbook.text.chinese import normalise
from bannedbook.web.search import _COUNT_NEUTRAL as COUNT_NEUTRAL  # the keys that leave a search alone

NEWEST = 1000  # rows of a filtered table the facets count, newest first
TAGS = "tags"  # the facet of the articles' tags (article_tags), filtered with ?_tag=
YEAR = "year"

# A plain search's matches per year, counted in the index over each year's
# run of rowids.
YEARS_BY_INDEX = f"""
with years as (
  select cast(substr(day, 1, 4) as integer) as value, min(first_date_order) as low, max(last_date_order) as high
  from days where day is not null group by 1
)
select value, count from (
  select value, (select count(*) from [{FTS_TABLE}] where [{FTS_TABLE}] match escape_fts(:search)
                 and rowid between years.low and years.high) as count
  from years
) where count > 0
"""


def _ranked(facet: str, inner: str, size: int) -> str:
    """inner's (value, count) rows, the size + 1 most common, labelled facet."""
    return (f"select * from (select '{facet}' as facet, value, count from ({inner})"
            f" order by count desc, value limit {size + 1})")


def _top(facets: list[str], size: int, year_by_index: bool = False) -> str:
    """One query: each facet's size + 1 most common values among `newest`
    (the year's among every match of a plain search, with year_by_index),
    then how many rows newest holds (facet '')."""
    parts = []
    for facet in facets:
        if facet == YEAR and year_by_index:
            inner = YEARS_BY_INDEX
        elif facet == TAGS:
            inner = tag_counts_sql("select id from newest")
        else:
            inner = f"select [{facet}] as value, count(*) as count from newest where [{facet}] is not null group by 1"
        parts.append(_ranked(facet, inner, size))
    parts.append("select '' as facet, null as value, count(*) as count from newest")
    return " union all ".join(parts)


def _summary(facets: list[str], size: int) -> str:
    """The same from the build's counts over every article."""
    return " union all ".join(
        f"""select * from (select facet, value, articles as count from facet_counts where facet = '{facet}'
            order by articles desc, value limit {size + 1})""" for facet in facets)


class NewestFacet(Facet):
    """Facets of the articles table over its newest rows (see the module)."""

    type = "newest"

    async def suggest(self) -> list:
        return []

    def _plain_search(self) -> bool:
        """A search and nothing else that selects rows: its newest matches are
        the search index's last rowids (rowid = date_order), read without
        collecting every match."""
        keys = set(self.request.args)
        searches = self.request.args.getlist("_search")
        return (len(searches) == 1 and bool(searches[0].strip())
                and all(key in COUNT_NEUTRAL or key.startswith("_facet") for key in keys))

    def _requested_elsewhere(self) -> set[str]:
        """Facets asked for as Datasette's exact ones (?_facet=, ?_facet_tag=):
        shown by those instead."""
        args = self.request.args
        return set(args.getlist("_facet")) | ({TAGS} if TAGS in args.getlist("_facet_tag") else set())

    async def facet_results(self) -> tuple[list, list]:
        if self.table != "articles":
            return [], []
        skip = self._requested_elsewhere()
        configs: dict[str, str] = {}  # name -> where it was asked for (the first time)
        for config in self.get_configs():
            name = config["config"].get("simple")
            if name in FACET_SQL and name not in skip:
                configs.setdefault(name, config["source"])
        if not configs:
            return [], []
        names = list(configs)
        size = self.get_facet_size()
        unfiltered = self.sql.rstrip().endswith("from articles")
        plain_search = not unfiltered and self._plain_search()
        exact = set(names) if unfiltered else ({YEAR} if plain_search else set())
        if unfiltered:
            sql, params = _summary(names, size), {}
        else:
            columns = ", ".join(["id", *(f"[{name}]" for name in names if name != TAGS)])
            if plain_search:
                rows = f"""articles where date_order in (select rowid from [{FTS_TABLE}]
                           where [{FTS_TABLE}] match escape_fts(:search) order by rowid desc limit {NEWEST})"""
                params = {"search": self.request.args["_search"]}
            else:
                rows = f"({self.sql}) order by date_order desc limit {NEWEST}"
                params = self.params
            sql = f"with newest as materialized (select {columns} from {rows}) {_top(names, size, plain_search)}"
        try:
            rows = (await self.ds.execute(self.database, sql, params, truncate=False,
                                          custom_time_limit=self.ds.setting("facet_time_limit_ms"))).rows
        except QueryInterrupted:
            return [], names
        by_facet: dict[str, list] = {name: [] for name in names}
        counted = None
        for facet, value, count in rows:
            if facet == "":
                counted = count
            else:
                by_facet[facet].append((int(value) if facet == "year" and unfiltered else value, count))
        # The rows counted are all the rows there are, unless the table's count
        # (when it has one) says more, or (when not) NEWEST were counted.
        sample = None
        if counted is not None and (counted < self.row_count if self.row_count is not None else counted >= NEWEST):
            sample = counted
        total = self.row_count if sample else None
        return [self._facet(name, source, by_facet[name], size, None if name in exact else sample, total)
                for name, source in configs.items()], []

    def _facet(self, name: str, source: str, rows: list, size: int, sample: int | None,
               total: int | None) -> dict:
        arg = "_tag" if name == TAGS else name
        # A tag is chosen in either script (?_tag= selects by key): un-choosing
        # removes the spelling the reader chose.
        same = normalise if name == TAGS else str
        chosen = {same(str(value)): str(value) for value in self.request.args.getlist(arg)}
        results = []
        for value, count in rows[:size]:
            selected = same(str(value)) in chosen
            path = (path_with_removed_args(self.request, {arg: chosen[same(str(value))]}) if selected
                    else path_with_added_args(self.request, {arg: value}))
            results.append({"value": value, "label": value, "count": count, "selected": selected,
                            "toggle_url": self.ds.urls.path(path)})
        return {
            "name": name,
            "type": self.type,
            "hideable": source != "metadata",
            "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet_newest": name})),
            "results": results,
            "truncated": len(rows) > size,
            # When set, the counts are of the newest `sample` rows (of `of`, when
            # counted), not of every row the filter selects; count_all_url asks
            # Datasette's facet that counts them all.
            "sample": sample,
            "of": total,
            "count_all_url": self.ds.urls.path(path_with_added_args(
                self.request, {"_facet_tag": TAGS} if name == TAGS else {"_facet": name})),
        }


@hookimpl
def register_facet_classes() -> list:
    return [NewestFacet]
