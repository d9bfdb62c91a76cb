"""The reader's pages: what the article page, the home page and the query
templates (templates/) need beyond the row Datasette hands them.

Every value reaches the page through Jinja's autoescaping; the only thing
this module lets into an href is a URL that is http(s) (`safe_href`), so a
`javascript:` link in a crawled page stays text.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import path_with_added_args, path_with_removed_args, urlsafe_components

from bannedbook.db.schema import tag_counts_sql, tagged_sql
from bannedbook.text.chinese import normalise
from bannedbook.text.urls import safe_href
from bannedbook.web.search import marked_html

ARTICLE_SQL = """
select id, url, title, author, source, source_url, category, published, not_before, captured, not_after,
  year, script, story, last_seen, removed_after, removed_before
from articles where id = :id
"""
# Earliest first: the first is when and where the article was first
# captured; captures with no valid date (captured null) last.
CAPTURES_SQL = """
select url, captured, path, kind, status from captures where article_id = :id
order by captured is null, captured, path
"""
PARAGRAPHS_SQL = "select role, text from paragraphs where article_id = :id order by position"
# Tags in the order the page gave them, each with how many articles carry it
# in any script.
TAGS_SQL = """
select at.tag_id as name,
  (select count(distinct other.article_id) from article_tags other where other.tag_key = at.tag_key) as articles
from article_tags at where at.article_id = :id order by at.rowid
"""
# The story's other articles, first first. A story can be large (a report
# reposted hundreds of times; in a synthetic crawl nearly every article):
# the page shows STORY_SHOWN of them and links to the rest.
STORY_SHOWN = 20
STORY_SQL = """
select id, title, source, published, not_before, not_after, url from articles
where story = :story and id != :id order by date_order limit :shown
"""
STORY_COUNT_SQL = "select members from stories where id = :story"
RELATED_SQL = """
select links.url, links.text, links.target_article_id as target, articles.title as target_title
from links left join articles on articles.id = links.target_article_id
where links.article_id = :id and links.kind = 'related' order by links.position
"""
CITED_BY_SQL = """
select distinct articles.id, articles.title, coalesce(articles.published, articles.not_before) as date
from links join articles on articles.id = links.article_id
where links.target_article_id = :id and links.kind = 'related'
order by date desc
"""
# The article's texts, first first, each with its diff from the one before
# (research/versions.py) and the lexicon terms it lost or gained.
VERSIONS_SQL = """
select version, first_seen, last_seen, captures, chars_added, chars_removed, paragraphs_added,
  paragraphs_removed, paragraphs_moved, exact, path, diff,
  (select json_group_array(json_array(term, change, occurrences)) from version_terms t
   where t.article_id = versions.article_id and t.version = versions.version) as terms
from versions where article_id = :id order by version
"""
AUTHOR_COUNT_SQL = "select count(*) from articles where author = :author"
# The lexicon terms the article holds (bannedbook/research/lexicon.py), most frequent first.
TERMS_SQL = """
select article_terms.term, article_terms.hits, group_concat(distinct lexicon.theme) as themes
from article_terms left join lexicon on lexicon.term = article_terms.term
where article_terms.article_id = :id
group by article_terms.term order by article_terms.hits desc, article_terms.term
"""


async def article_page(db, article_id: str) -> dict | None:
    """Everything the article page shows, or None when there is no such article."""
    params = {"id": article_id}
    rows = (await db.execute(ARTICLE_SQL, params)).rows
    if not rows:
        return None
    article = dict(rows[0])
    article["paragraphs"] = [dict(row) for row in (await db.execute(PARAGRAPHS_SQL, params)).rows]
    article["tags"] = [dict(row) for row in (await db.execute(TAGS_SQL, params)).rows]
    article["related"] = [dict(row) for row in (await db.execute(RELATED_SQL, params)).rows]
    article["cited_by"] = [dict(row) for row in (await db.execute(CITED_BY_SQL, params)).rows]
    article["captures"] = [dict(row) for row in (await db.execute(CAPTURES_SQL, params)).rows]
    article["versions"] = []
    if await db.table_exists("versions"):  # a database built before versions has none
        article["versions"] = [_version(dict(row)) for row in (await db.execute(VERSIONS_SQL, params)).rows]
    article["terms"] = []
    if await db.table_exists("article_terms"):  # a database built before lexicons has none
        article["terms"] = [dict(row) for row in (await db.execute(TERMS_SQL, params)).rows]
    article["story_members"], article["story_others"] = 1, []
    if article["story"]:
        story = {"id": article_id, "story": article["story"], "shown": STORY_SHOWN}
        counted = (await db.execute(STORY_COUNT_SQL, story)).first()
        article["story_members"] = counted[0] if counted else 1
        if article["story_members"] > 1:
            article["story_others"] = [dict(row) for row in (await db.execute(STORY_SQL, story)).rows]
    article["author_articles"] = 0
    if article["author"]:
        article["author_articles"] = (await db.execute(AUTHOR_COUNT_SQL, {"author": article["author"]})).first()[0]
    return article


def _version(row: dict) -> dict:
    row["blocks"] = json.loads(row.pop("diff")) if row["diff"] else []
    row["terms"] = json.loads(row["terms"]) if row["terms"] else []
    return row


async def canned_rows(datasette, database: str, name: str, params: dict) -> list[dict]:
    """Rows of a canned query from metadata.yml, so the home page charts and
    the query pages share one SQL."""
    query = await datasette.get_canned_query(database, name, None)
    if not query:
        return []
    # As Datasette does for a canned query: parameters not given are "".
    params = {name: "" for name in query.get("params", [])} | params
    return [dict(row) for row in (await datasette.get_database(database).execute(query["sql"], params)).rows]


# Tags live in article_tags, not in a column of articles, so neither a column
# nor an array facet can count them. ?_tag=NAME filters articles through the
# tag_key index and the "tag" facet counts tags over the filtered rows; both
# stay fast at 100,000 articles, where json_each over a column would not.
# A tag is its key (tags.key): 中国 and 中國 select and count the same articles.
@hookimpl
def filters_from_request(request, database, table, datasette):
    tags = request.args.getlist("_tag") if table == "articles" else []
    if not tags:
        return None
    params = {f"bannedbook_tag{i}": normalise(tag) for i, tag in enumerate(tags)}
    return FilterArguments(
        where_clauses=[tagged_sql(key) for key in params],
        params=params,
        human_descriptions=[f'tagged "{tag}"' for tag in tags],
    )


class TagFacet(Facet):
    """Facet on the articles' tags: metadata `facets: [{tag: tags}]` or ?_facet_tag=tags."""

    type = "tag"

    async def suggest(self) -> list:
        return []

    async def facet_results(self) -> tuple[list, list]:
        results, timed_out = [], []
        if self.table != "articles":
            return results, timed_out
        size = self.get_facet_size()
        # Which spelling the reader asked for, by key: toggling removes that one.
        selected = {normalise(tag): tag for tag in self.request.args.getlist("_tag")}
        sql = f"{tag_counts_sql(f'select id from ({self.sql})', top=size + 1)} order by count desc, value"
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            name = config.get("simple") or "tags"
            try:
                rows = (await self.ds.execute(self.database, sql, self.params, truncate=False,
                                              custom_time_limit=self.ds.setting("facet_time_limit_ms"))).rows
            except QueryInterrupted:
                timed_out.append(name)
                continue
            results.append({
                "name": name,
                "type": self.type,
                "hideable": source_and_config["source"] != "metadata",
                "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet_tag": name})),
                "results": [{
                    "value": row["value"], "label": row["value"], "count": row["count"],
                    "selected": row["tag_key"] in selected,
                    "toggle_url": self.ds.urls.path(
                        path_with_removed_args(self.request, {"_tag": selected[row["tag_key"]]})
                        if row["tag_key"] in selected
                        else path_with_added_args(self.request, {"_tag": row["value"]})),
                } for row in rows[:size]],
                "truncated": len(rows) > size,
            })  # fmt: skip
        return results, timed_out


@hookimpl
def register_facet_classes() -> list:
    return [TagFacet]


def query_string(values: dict, **changes) -> str:
    """values with changes as a URL query string, empty values left out, so a
    search's URL holds exactly what the reader asked for."""
    return urlencode({k: v for k, v in {**values, **changes}.items() if v not in ("", None)})


@hookimpl
def prepare_jinja2_environment(env) -> None:
    env.filters["safe_href"] = safe_href
    env.filters["marked"] = marked_html
    env.filters["query_string"] = query_string


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if view_name == "row" and table == "articles" and request is not None:
        async def article_vars() -> dict:
            article_id = urlsafe_components(request.url_vars["pks"])[0]
            return {"article": await article_page(datasette.get_database(database), article_id)}

        return article_vars
    if template in ("index.html", "home.html") and "bannedbook" in datasette.databases:
        async def home_vars() -> dict:
            return {
                "timeline": await canned_rows(datasette, "bannedbook", "articles_per_month", {}),
                "top_tags": (await canned_rows(datasette, "bannedbook", "top_tags", {}))[:20],
                "queries": await datasette.get_canned_queries("bannedbook", None),
            }

        return home_vars
    if template == "query-bannedbook-tag.html" and request is not None:
        async def tag_vars() -> dict:
            tag = request.args.get("tag", "")
            spellings = await datasette.get_database(database).execute(
                """select tag_id as name, count(*) as articles from article_tags where tag_key = :key
                   group by tag_id order by articles desc, name""", {"key": normalise(tag)})
            return {"tags_with": (await canned_rows(datasette, database, "tags_with", {"tag": tag}))[:30],
                    "spellings": [dict(row) for row in spellings.rows]}

        return tag_vars
    return None
