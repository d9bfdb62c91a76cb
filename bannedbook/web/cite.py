"""Citations on every route of the site: the article page's meta tags
(templates/_cite.html) and cite block, RIS and BibTeX renderers for pages
of articles, and the COinS span each list of articles carries. The records
themselves are made by bannedbook/research/cite.py.

Absolute URLs come from configuration (plugin config `bannedbook.base_url`,
which `make publish` sets), else from the address the server listens on:
never from the request's Host header.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components
from datasette.utils.asgi import BadRequest, NotFound, Response

from bannedbook.research.cite import bibtex, citation, coins, ris
from bannedbook.text.urls import safe_href
from bannedbook.web.site import NAME as DATABASE

PLUGIN = "bannedbook"
DEFAULT_BASE_URL = "http://127.0.0.1:8001"
COLUMNS = ("id", "url", "title", "author", "source", "source_url", "published", "not_before", "not_after",
           "captured")
# SQLite's default limit on ? parameters is far above this.
CHUNK = 500


async def articles(db, ids: Sequence[str]) -> list[tuple[dict, list[str]]]:
    """(row, tags) for each id that is an article, in the order given."""
    columns = ", ".join(f"[{name}]" for name in COLUMNS)
    rows: dict[str, dict] = {}
    tags: dict[str, list[str]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        marks = ", ".join("?" * len(chunk))
        for row in (await db.execute(f"select {columns} from articles where id in ({marks})", chunk)).rows:
            rows[row["id"]] = dict(row)
        sql = f"select article_id, tag_id from article_tags where article_id in ({marks}) order by rowid"
        for article_id, tag in (await db.execute(sql, chunk)).rows:
            tags.setdefault(article_id, []).append(tag)
    return [(rows[i], tags.get(i, [])) for i in ids if i in rows]


def base_url(datasette, scope: Mapping | None = None) -> str:
    """The site's absolute base: configured, else the address the server
    listens on (never the Host header a client sends), else the default."""
    configured = (datasette.plugin_config(PLUGIN) or {}).get("base_url")
    if configured and safe_href(configured):
        return safe_href(configured).rstrip("/")
    server = (scope or {}).get("server")
    if server and server[0]:
        host, port = server
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in str(host) else host
        return f"http://{host}" + ("" if port in (None, 80) else f":{port}")
    return DEFAULT_BASE_URL


@hookimpl
def asgi_wrapper(datasette):
    """Every request reaches Datasette with the site's own host and scheme
    (base_url), so nothing it writes (absolute links, alternate URLs,
    citations) echoes a Host header a client made up."""

    def wrap(app):
        async def own_host(scope, receive, send):
            if scope["type"] == "http":
                base = urlsplit(base_url(datasette, scope))
                headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"host"]
                scope = dict(scope, scheme=base.scheme, headers=[*headers, (b"host", base.netloc.encode("idna"))])
            return await app(scope, receive, send)

        return own_host

    return wrap


def archive_url(datasette, base: str, database: str, article_id: str) -> str:
    return base + datasette.urls.row(database, "articles", tilde_encode(article_id))


def _ids(columns: Sequence[str], rows: Iterable) -> list[str]:
    """The article ids of a page's rows, first occurrence first."""
    if "id" not in columns:
        return []
    at = list(columns).index("id")
    found: dict[str, None] = {}
    for row in rows:
        value = row[at]
        if isinstance(value, dict):  # an expanded foreign key label
            value = value.get("value")
        if isinstance(value, str) and value:
            found.setdefault(value, None)
    return list(found)


def can_cite(datasette, database: str, table: str | None, columns: Sequence[str], rows: Sequence) -> bool:
    """Offer the exports on pages of articles: the articles table and its
    rows, and queries that return an `id` column. A query's export holds
    the rows the page got, so it is not offered when Datasette cut them
    off (lists of articles are exported whole by bannedbook/web/exports.py)."""
    if database != DATABASE:
        return False
    if table:
        return table == "articles"
    return "id" in columns and len(rows) < datasette.setting("max_returned_rows")


def renderer(extension: str, content_type: str, write):
    async def render(datasette, request, database, table, columns, rows):
        # Raised, not returned: Datasette would answer a returned error with
        # the status of the page it came from.
        if not can_cite(datasette, database, table, columns, rows):
            raise BadRequest("Citations are made from pages of articles: the articles table, an article, "
                             "or a query that returns the articles' id column (at most max_returned_rows rows).")
        found = await articles(datasette.get_database(database), _ids(columns, rows))
        if not found:
            raise NotFound("No articles to cite on this page.")
        base = base_url(datasette, request.scope)
        today = dt.datetime.now(dt.UTC).date()
        text = write([citation(row, archive_url(datasette, base, database, row["id"]), tags, today)
                      for row, tags in found])
        name = f"bannedbook-{found[0][0]['id']}" if len(found) == 1 else "bannedbook"
        return Response(text, content_type=content_type,
                        headers={"content-disposition": f'attachment; filename="{name}.{extension}"'})

    return {"extension": extension, "render": render, "can_render": can_cite}


RIS_TYPE = "application/x-research-info-systems; charset=utf-8"
BIBTEX_TYPE = "application/x-bibtex; charset=utf-8"


@hookimpl
def register_output_renderer(datasette):
    return [renderer("ris", RIS_TYPE, ris), renderer("bib", BIBTEX_TYPE, bibtex)]


def coins_maker(datasette, request, database: str):
    """coins(row) for a list page's template: the COinS of an article row
    (a mapping with at least id and title), so Zotero offers the list."""
    base = base_url(datasette, request.scope if request is not None else None)
    today = dt.datetime.now(dt.UTC).date()

    def coins_of(row) -> str:
        data = dict(row) if hasattr(row, "keys") else {}
        if not data.get("id"):
            return ""
        return coins(citation(data, archive_url(datasette, base, database, str(data["id"])), today=today))

    return coins_of


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    """`citation` for the article page: its meta tags and cite block
    (templates/_cite.html); `coins` for the pages that list articles."""
    if database != DATABASE:
        return None
    if view_name != "row" or table != "articles" or request is None:
        return {"coins": coins_maker(datasette, request, database)}

    async def citation_vars() -> dict:
        article_id = urlsafe_components(request.url_vars["pks"])[0]
        found = await articles(datasette.get_database(database), [article_id])
        if not found:
            return {"citation": None}
        row, tags = found[0]
        base = base_url(datasette, request.scope)
        return {"citation": citation(row, archive_url(datasette, base, database, article_id), tags),
                "citation_links": {
                    "ris": datasette.urls.row(database, "articles", tilde_encode(article_id), format="ris"),
                    "bib": datasette.urls.row(database, "articles", tilde_encode(article_id), format="bib"),
                }}

    return citation_vars
