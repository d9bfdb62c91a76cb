"""Request parameters the site cannot take, answered 400 with one clear line
instead of a 500 or a silent zero; and what the search page says about the
parameters it was given.

- Before any work (an ASGI wrapper): a NUL character in any parameter (no
  value here can hold one; SQLite refuses it deep inside a query), and a
  search (`q`, `_search`) longer than the SQL functions take
  (search/query.py's MAX_QUERY_CHARS).
- Datasette's own table parameters that name no column (`_sort=nothing`),
  `_through` that is not its JSON, and digits beyond SQLite's integers in a
  column filter raise errors it reports as a 500: reported as the 400 they are.
- The ranked search page (the canned query `search`) names parameters it
  does not take, a tag no article has, and since/until that are not dates,
  in a notice (templates/query-bannedbook-search.html).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from datasette import Response, hookimpl
from datasette.views.base import DatasetteError

from bannedbook.db.schema import TAG_IN_USE_SQL
from bannedbook.research.trends import date_problem
from bannedbook.search.query import MAX_QUERY_CHARS
from bannedbook.text.chinese import normalise

SEARCH_KEYS = ("q", "_search")
# Datasette's messages for a table parameter that names nothing (it raises them with status 500).
PARAMETER_ERRORS = ("Cannot sort table by", "Cannot use _sort and _sort_desc", "Invalid _through")
SEARCH_PAGE = "query-bannedbook-search.html"
SEARCH_PARAMETERS = ("q", "tag", "author", "source", "since", "until", "collapse", "page")


def refusal(query_string: bytes) -> str | None:
    """Why a request with this query string is refused, or None."""
    if not query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                                 errors="replace"):
        if "\x00" in name or "\x00" in value:
            return f"the parameter {name.replace(chr(0), '')[:40]!r} holds a NUL character, which no value here can"
        if name in SEARCH_KEYS and len(value) > MAX_QUERY_CHARS:
            return f"a search is at most {MAX_QUERY_CHARS:,} characters; this one has {len(value):,}"
    return None


async def refused(datasette, path: str, message: str, request=None) -> Response:
    """A 400 saying message, as JSON for .json, else the site's error page."""
    if path.endswith(".json"):
        return Response.json({"ok": False, "error": message, "status": 400}, status=400)
    await datasette.invoke_startup()  # a no-op once Datasette has started (this may be the first request)
    page = await datasette.render_template(
        "error.html", {"ok": False, "error": message, "status": 400, "title": "Bad request"}, request=request)
    return Response.html(page, status=400)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def guarded(scope, receive, send):
            problem = refusal(scope.get("query_string", b"")) if scope["type"] == "http" else None
            if problem is None:
                return await app(scope, receive, send)
            # no request: this runs before Datasette's own layers (its CSRF token among them)
            await (await refused(datasette, scope["path"], problem)).asgi_send(send)

        return guarded

    return wrap


@hookimpl
def handle_exception(datasette, request, exception):
    """Datasette's own table parameters that name nothing: their errors are
    the request's, so a 400 with Datasette's message (or ours for _through,
    whose JSON Datasette reads without checking)."""
    if (isinstance(exception, DatasetteError) and exception.status == 500
            and str(exception.message).startswith(PARAMETER_ERRORS)):
        message = str(exception.message)
    elif isinstance(exception, OverflowError) and "too large to convert to SQLite" in str(exception):
        # Datasette binds a column filter's digits as an integer (?year__gt=99999999999999999999)
        message = "a number in the parameters is beyond SQLite's integers (at most 9,223,372,036,854,775,807)"
    elif "_through" in request.args and isinstance(exception, ValueError | KeyError | TypeError):
        message = '_through must be JSON naming a table, a column and a value: {"table": …, "column": …, "value": …}'
    else:
        return None

    async def answer() -> Response:
        return await refused(datasette, request.path, message, request)

    return answer


def search_notices(args, tag_known: bool) -> list[str]:
    """What the search page says about its parameters."""
    said = []
    unknown = sorted(name for name in args if name not in SEARCH_PARAMETERS and not name.startswith("_"))
    if unknown:
        names = ", ".join(repr(name[:40]) for name in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        said.append(f"not a parameter of this page, ignored: {names} (it takes {', '.join(SEARCH_PARAMETERS)})")
    if args.get("tag") and not tag_known:
        said.append(f"no article has the tag {args.get('tag')[:80]!r}: nothing can match")
    for name in ("since", "until"):
        if args.get(name) and (problem := date_problem(name, args.get(name))):
            said.append(problem + " (compared as text as it is)")
    return said


@hookimpl
def extra_template_vars(template, database, request, datasette, table):
    if request is None:
        return None
    if template == SEARCH_PAGE:
        async def search_vars() -> dict:
            tag = request.args.get("tag") or ""
            known = not tag or await tag_in_use(datasette, database, tag)
            return {"notices": search_notices(request.args, known)}

        return search_vars
    if table == "articles" and request.args.get("_tag"):
        # The table's `?_tag=` filter (web/search.py): an unknown tag is said, not left as a bare zero.
        async def table_vars() -> dict:
            tag = request.args.get("_tag")
            known = await tag_in_use(datasette, database, tag)
            return {"table_notices": [] if known else [f"no article has the tag {tag[:80]!r} (in either script)"]}

        return table_vars
    return None


async def tag_in_use(datasette, database: str, tag: str) -> bool:
    found = await datasette.get_database(database).execute(TAG_IN_USE_SQL, [normalise(tag)])
    return bool(found.rows)
