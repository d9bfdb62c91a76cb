"""Pinyin in the site: /-/pinyin.json?q=xijinping (the archive's strings that
read so: names the archive tags first, then the others, each by articles)
and the same choices on the search page, each a link to its search, and
"all of them" as one OR search. The literal
search for the Latin text runs as it always does (tok still finds TikTok);
the choices are offered beside its results.

The expansion is bannedbook/research/pinyin.py's.
"""

from __future__ import annotations

import asyncio
import sqlite3
from urllib.parse import urlencode

from datasette import Response, hookimpl
from datasette.database import QueryInterrupted
from datasette.utils import sqlite_timelimit

from bannedbook.research.pinyin import NotReady, as_json, expand, load, or_query
from bannedbook.research.pinyin import ready as vocabulary_ready
from bannedbook.search.pinyin import parse
from bannedbook.web.params import SEARCH_PAGE
from bannedbook.web.site import NAME as DATABASE

DEFAULT_LIMIT, MAX_LIMIT = 20, 200
PAGE_CHOICES = 12  # how many a page shows
WAIT_SECONDS = 2.0
LEXICON_PAGE = "query-bannedbook-lexicon.html"
# Lexicon terms that may be pinyin: no character beyond Latin Extended-B (where the tone-marked vowels are).
LATIN_TERMS_SQL = "select distinct term from lexicon where term not glob '*[^ -ɏ]*' order by term"
MAX_LEXICON_TERMS = 200
# The search page's own parameters a choice keeps (its filters).
KEPT = ("tag", "author", "source", "since", "until", "collapse")


_LOADING: dict[tuple[int, int], asyncio.Future] = {}


async def ready(datasette, wait: float = WAIT_SECONDS) -> bool:
    """Whether the archive's vocabulary is read (research/pinyin.py), having
    started reading it (once, outside the time limit) and waited up to wait
    seconds: at 100,000 articles the first read takes longer than a request
    should, so the choices appear once it is done."""
    db = datasette.get_database(DATABASE)
    if await db.execute_fn(vocabulary_ready):
        return True
    for done in [key for key, loading in _LOADING.items() if loading.done()]:
        del _LOADING[done]
    key = (id(datasette), id(asyncio.get_running_loop()))
    if key not in _LOADING:
        _LOADING[key] = asyncio.ensure_future(db.execute_fn(load))
    try:
        await asyncio.wait_for(asyncio.shield(_LOADING[key]), wait)
    except (TimeoutError, sqlite3.Error):  # still reading; or an archive without a search index
        return False
    return True


async def expansion(datasette, query: str, limit: int = DEFAULT_LIMIT) -> dict | None:
    """as_json for query, or None when the archive cannot answer in time."""
    if DATABASE not in datasette.databases:
        return None
    if parse(query) is None:
        return as_json(query, None)
    if not await ready(datasette):
        return None

    def run(conn):
        with sqlite_timelimit(conn, datasette.setting("sql_time_limit_ms")):
            return expand(conn, query, limit, load=False)

    try:
        return as_json(query, await datasette.get_database(DATABASE).execute_fn(run))
    except (QueryInterrupted, sqlite3.OperationalError, NotReady):
        return None


async def pinyin_json(datasette, request) -> Response:
    query = (request.args.get("q") or "").strip()
    try:
        limit = int(request.args.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        return Response.json({"ok": False, "error": f"limit must be a number from 1 to {MAX_LIMIT}"}, status=400)
    if not query:
        return Response.json({"ok": False, "error": "q is missing: /-/pinyin.json?q=xijinping"}, status=400)
    answer = await expansion(datasette, query, limit)
    if answer is None:
        return Response.json({"ok": False, "error": "the archive's vocabulary is still being read, or the expansion "
                              "took too long: try again in a minute"}, status=503, headers={"Retry-After": "30"})
    return Response.json(answer, headers={"Cache-Control": "max-age=3600"})


@hookimpl
def register_routes():
    return [(r"^/-/pinyin\.json$", pinyin_json)]


def choices(answer: dict, href) -> dict | None:
    """What a page shows for an expansion: each candidate with its count and
    link, and "all of them" (href(query) makes a link)."""
    if not answer or not answer["candidates"]:
        return None
    return {
        "syllables": " ".join(answer["syllables"]),
        "initials": answer["initials"],
        "more": answer["more"],
        "candidates": [dict(c, href=href(c["text"])) for c in answer["candidates"]],
        "all_href": href(or_query([c["text"] for c in answer["candidates"]])),
    }


@hookimpl
def extra_template_vars(template, request, datasette):
    if request is None:
        return None
    search = datasette.urls.database(DATABASE) + "/search?"
    if template == SEARCH_PAGE and (request.args.get("q") or "").strip():
        async def pinyin_vars() -> dict:
            kept = {name: request.args.get(name) for name in KEPT if request.args.get(name)}
            answer = await expansion(datasette, request.args.get("q").strip(), PAGE_CHOICES)
            return {"pinyin": choices(answer, lambda q: search + urlencode({"q": q, **kept}))}

        return pinyin_vars
    if template == LEXICON_PAGE:
        # A lexicon term is matched as text (xjp as netizens write it); one
        # that reads as pinyin also shows the Chinese strings it may mean.
        async def lexicon_vars() -> dict:
            db = datasette.get_database(DATABASE)
            if DATABASE not in datasette.databases or not await db.table_exists("lexicon"):
                return {"pinyin_terms": {}}
            terms = [term for (term,) in (await db.execute(LATIN_TERMS_SQL)).rows if parse(term)]
            found = {}
            for term in terms[:MAX_LEXICON_TERMS]:
                found[term] = choices(await expansion(datasette, term, PAGE_CHOICES),
                                      lambda q: search + urlencode({"q": q}))
            return {"pinyin_terms": found}

        return lexicon_vars
    return None
