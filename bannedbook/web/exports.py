"""Whole exports of lists of articles, and CSV that no spreadsheet runs.

Every export link a list of articles offers (the articles table with any
filter, the search, tag and author pages) gives every matching article,
streamed: /bannedbook/NAME.FORMAT with the page's own query string, NAME one
of articles, search, tag, author, undated and FORMAT one of csv, ris, bib,
jsonl.

- The table is read through Datasette's own JSON, page after page by its
  `_next` token (keyset paging: each page costs the same), so every filter
  Datasette and the site's hooks apply (`_search`, `_tag`, `_collapse`,
  column filters, sort) selects the same articles the page lists.
- A canned query (search, tag, author, undated in metadata.yml) runs once
  without its page window (`limit 100 offset …`; undated has none), read
  through one cursor a chunk at a time in the order the page ranks.

Each chunk of ids is looked up (bannedbook/web/cite.py) and written at once, so
memory holds one chunk whatever the number of matches. CSV and JSON lines
carry the article's plain `title`, the search's `title_highlighted` and
`snippet` (CSV writes the match marks as « »; JSON lines keep U+E000/U+E001
as the JSON API does), the original `url` (http(s) only) and the
`archive_url`.

Every other CSV the site serves (Datasette's tables and queries, /-/trends.csv)
passes through `guard_csv`: a cell that a spreadsheet would run as a formula
gets a leading single quote (OWASP's rule, see safe_cell).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import datetime as dt
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.utils.asgi import Response

from bannedbook.research.cite import BibtexKeys, bibtex, citation, ris
from bannedbook.search.snippet import MARK_END, MARK_START, snippet
from bannedbook.text.urls import safe_href
from bannedbook.web import cite
from bannedbook.web.security import HEADERS

# The lists of articles: the table, and the canned queries that list articles
# (metadata.yml), paged by their window or whole as written (undated).
LISTS = ("articles", "search", "tag", "author", "undated")
_EXPORT_PATH = re.compile(rf"^/(?P<database>{cite.DATABASE})/(?P<name>{'|'.join(LISTS)})"
                          r"\.(?P<format>csv|ris|bib|jsonl)$")
# The page window of the canned list queries; an export runs them without it.
WINDOW = re.compile(r"\blimit 100 offset max\(0, cast\(:page as integer\) - 1\) \* 100\b")
PAGE_SIZE = 1000  # ids per chunk; plugin config bannedbook.export_page_size
BATCH = 100  # articles looked up and written at a time
# Query-string keys that shape a page, not which rows it lists.
_PAGE_KEYS = {"_next", "_size", "_shape", "_col", "_nocol", "_labels", "_nolabels", "_dl", "_stream", "_nl",
              "_json", "_nofacet", "_nocount", "_nosuggest", "_timelimit", "_trace"}  # and every _facet…

CSV_COLUMNS = ("id", "title", "author", "source", "published", "not_before", "not_after", "captured", "url",
               "archive_url", "tags")
HIGHLIGHTS = ("title_highlighted", "snippet")

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "ris": cite.RIS_TYPE,
    "bib": cite.BIBTEX_TYPE,
    "jsonl": "application/x-ndjson; charset=utf-8",
}

# OWASP: a cell starting with one of these is read as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: object) -> str:
    """A CSV cell no spreadsheet runs: one that starts like a formula gets a
    leading single quote. A plain number (-3, +1.5e3) is left as it is: it
    cannot hold a formula, and quoting it would turn data into text."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def visible_marks(text: object) -> str:
    """A highlighted text with its match marks as « » (for CSV, where the
    private-use marks would be invisible)."""
    return "" if text is None else str(text).replace(MARK_START, "«").replace(MARK_END, "»")


def record(datasette, base: str, database: str, row: dict, tags: list[str], found: dict | None) -> dict:
    """An article as a CSV or JSON-lines record: its plain fields, the
    search's highlights when it has them (found: title_highlighted, snippet)."""
    data = {name: row.get(name) for name in CSV_COLUMNS if name in row}
    data["url"] = safe_href(row.get("url")) or None
    data["archive_url"] = cite.archive_url(datasette, base, database, row["id"])
    data["tags"] = tags
    for name in HIGHLIGHTS:
        if found and name in found:
            data[name] = found[name]
    return data


class Writer:
    """Turns chunks of (row, tags, query row) into bytes in one format."""

    def __init__(self, format_: str, datasette, base: str, database: str, highlights: bool) -> None:
        self.format, self.datasette, self.base, self.database = format_, datasette, base, database
        self.columns = list(CSV_COLUMNS) + (list(HIGHLIGHTS) if highlights else [])
        self.keys = BibtexKeys()
        self.today = dt.datetime.now(dt.UTC).date()

    def header(self) -> bytes:
        return self._csv([self.columns]) if self.format == "csv" else b""

    def _csv(self, rows: list[list]) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows([[safe_cell(cell) for cell in row] for row in rows])
        return out.getvalue().encode("utf-8")

    def chunk(self, found: list[tuple[dict, list[str], dict | None]]) -> bytes:
        if self.format in ("ris", "bib"):
            citations = [citation(row, cite.archive_url(self.datasette, self.base, self.database, row["id"]),
                                       tags, self.today) for row, tags, _ in found]
            if self.format == "ris":
                return (ris(citations) + "\r\n").encode("utf-8")
            return (bibtex(citations, self.keys) + "\n").encode("utf-8")
        records = [record(self.datasette, self.base, self.database, row, tags, query_row)
                   for row, tags, query_row in found]
        if self.format == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        rows = []
        for r in records:
            r["tags"] = "; ".join(r["tags"])
            for name in HIGHLIGHTS:
                r[name] = visible_marks(r.get(name))
            rows.append([r.get(name) for name in self.columns])
        return self._csv(rows)


class ExportError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def first_values(query_string: str) -> dict[str, str]:
    """Each parameter's first value: what Datasette's request.args.get gives
    the page, so that an export means what its page means."""
    args: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        args.setdefault(name, value)
    return args


def page_size(datasette) -> int:
    return int((datasette.plugin_config(cite.PLUGIN) or {}).get("export_page_size") or PAGE_SIZE)


async def table_chunks(datasette, database: str, query_string: str, size: int) -> AsyncIterator[list[dict]]:
    """Rows ({"id": …}) of the articles table as the page filters them, a page at a time."""
    params = [(k, v) for k, v in parse_qsl(query_string, keep_blank_values=True)
              if k not in _PAGE_KEYS and not k.startswith("_facet")]
    params += [("_size", str(size)), ("_col", "id"), ("_nofacet", "1"), ("_nocount", "1"), ("_shape", "objects")]
    next_token = None
    while True:
        query = params + ([("_next", next_token)] if next_token else [])
        response = await datasette.client.get(f"/{database}/articles.json?{urlencode(query)}")
        if response.status_code != 200:
            data = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            raise ExportError(response.status_code, data.get("error") or response.text[:500])
        data = response.json()
        yield data["rows"]
        next_token = data.get("next")
        if not next_token:
            return


async def query_chunks(datasette, database: str, name: str, query_string: str, size: int
                       ) -> AsyncIterator[list[dict]]:
    """The ids ({"id": …}) a canned list query lists, without its page window,
    in its order, read through one cursor a chunk at a time (one thread at a
    time uses the connection). Only the id column is read, so SQLite computes
    none of the others (the search's snippets cost milliseconds a row)."""
    query = await datasette.get_canned_query(database, name, None)
    if not query or len(WINDOW.findall(query["sql"])) > 1:
        raise ExportError(404, f"{name} cannot be exported")
    args = first_values(query_string)
    params = {param: args.get(param, "") for param in query.get("params", [])}
    sql = f"select id from ({WINDOW.sub('', query['sql'])})"
    loop = asyncio.get_running_loop()
    conn = datasette.get_database(database).connect()
    datasette._prepare_connection(conn, database)
    try:
        try:
            cursor = await loop.run_in_executor(None, conn.execute, sql, params)
        except Exception as error:  # a query the search language refuses: the page says the same
            raise ExportError(400, str(error)) from error
        columns = [d[0] for d in cursor.description]
        while rows := await loop.run_in_executor(None, cursor.fetchmany, size):
            yield [dict(zip(columns, row, strict=True)) for row in rows]
    finally:
        conn.interrupt()
        conn.close()


async def highlights_of(db, ids: list[str], q: str) -> dict[str, dict]:
    """The search's highlights of these articles, as its page shows them:
    chinese.snippet (the page's cjk_snippet) of title and body."""
    marks = ", ".join("?" * len(ids))

    def cut(conn) -> dict[str, dict]:
        rows = conn.execute(f"select id, title, body from articles where id in ({marks})", ids).fetchall()
        return {row[0]: {"title_highlighted": snippet(row[1], q), "snippet": snippet(row[2], q)} for row in rows}

    return await db.execute_fn(cut)


async def export_stream(datasette, scope: dict, database: str, name: str, format_: str
                        ) -> Callable[[], AsyncIterator[bytes]]:
    """The body of an export as an async iterator of bytes, started (its
    first chunk read) so that a bad request fails before any byte is sent.
    Articles are looked up and written BATCH at a time, so the first ones
    go out while the rest are read."""
    query_string = scope.get("query_string", b"").decode("latin-1")
    size = page_size(datasette)
    if name == "articles":
        chunks = table_chunks(datasette, database, query_string, size)
    else:
        chunks = query_chunks(datasette, database, name, query_string, size)
    first = await anext(chunks, None)
    # The search's CSV and JSON lines carry its highlights; they are cut for
    # each batch as it is written (milliseconds an article), not in the query.
    q = first_values(query_string).get("q", "") if name == "search" and format_ in ("csv", "jsonl") else ""
    writer = Writer(format_, datasette, cite.base_url(datasette, scope), database, highlights=bool(q))
    db = datasette.get_database(database)

    async def body() -> AsyncIterator[bytes]:
        yield writer.header()
        rows = first
        while rows is not None:
            ids = list(dict.fromkeys(row["id"] for row in rows if row.get("id")))
            for start in range(0, len(ids), BATCH):
                batch = ids[start : start + BATCH]
                found = await cite.articles(db, batch)
                marked = await highlights_of(db, batch, q) if q else {}
                yield writer.chunk([(row, tags, marked.get(row["id"])) for row, tags in found])
            rows = await anext(chunks, None)

    return body


async def serve_export(datasette, scope, send, database: str, name: str, format_: str) -> None:
    try:
        body = await export_stream(datasette, scope, database, name, format_)
    except ExportError as error:
        response = Response.text(str(error), status=error.status)
        await response.asgi_send(send)
        return
    headers = [(b"content-type", CONTENT_TYPES[format_].encode()),
               (b"content-disposition", f'attachment; filename="bannedbook-{name}.{format_}"'.encode()), *HEADERS]
    if datasette.cors:
        headers.append((b"access-control-allow-origin", b"*"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["method"] != "HEAD":
        async for chunk in body():
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


class CsvGuard:
    """Rewrites a CSV stream, record by record, so that no cell starts a
    formula. Records are cut at line ends outside quotes; one that holds no
    cell starting like a formula passes as it is."""

    _SUSPECT = re.compile(r'(?:^|[,\n])"?[=+\-@\t\r]')

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending = ""

    def feed(self, data: bytes, final: bool = False) -> bytes:
        self.pending += self.decoder.decode(data, final)
        if final:
            done, self.pending = self.pending, ""
        else:
            cut, inside, at = 0, False, 0
            for line in self.pending.split("\n")[:-1]:
                at += len(line) + 1
                inside ^= line.count('"') % 2 == 1
                if not inside:
                    cut = at
            done, self.pending = self.pending[:cut], self.pending[cut:]
        if not done or not self._SUSPECT.search(done):
            return done.encode("utf-8")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in csv.reader(io.StringIO(done, newline="")):
            writer.writerow([safe_cell(cell) for cell in row])
        return out.getvalue().encode("utf-8")


def guard_csv(send):
    """An ASGI send that passes a 200 response's body through CsvGuard."""
    guard = CsvGuard()
    active = False

    async def guarded(message: dict) -> None:
        nonlocal active
        if message["type"] == "http.response.start":
            active = message["status"] == 200
            if active:  # the length changes
                message = {**message, "headers": [(k, v) for k, v in message.get("headers", [])
                                                  if k.lower() != b"content-length"]}
            return await send(message)
        if not active or message["type"] != "http.response.body":
            return await send(message)
        more = message.get("more_body", False)
        body = guard.feed(message.get("body", b""), final=not more)
        return await send({**message, "body": body})

    return guarded


def _newline_delimited(scope: dict) -> bool:
    return first_values(scope.get("query_string", b"").decode("latin-1")).get("_nl", "").lower() in ("on", "1", "true")


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def exports(scope, receive, send):
            if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
                return await app(scope, receive, send)
            if match := _EXPORT_PATH.match(scope["path"]):
                return await serve_export(datasette, scope, send, match["database"], match["name"], match["format"])
            if scope["path"] == f"/{cite.DATABASE}/articles.json" and _newline_delimited(scope):
                # Datasette's "newline-delimited" JSON link: JSON lines, so the whole list.
                return await serve_export(datasette, scope, send, cite.DATABASE, "articles", "jsonl")
            if scope["path"].endswith(".csv"):
                return await app(scope, receive, guard_csv(send))
            return await app(scope, receive, send)

        return exports

    return wrap


def _jsonl(citations_rows):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in citations_rows)


async def _render_jsonl(datasette, request, database, table, columns, rows):
    """JSON lines of the articles on a page that is not a list export (one
    article, a SQL query's rows)."""
    if not cite.can_cite(datasette, database, table, columns, rows):
        return Response.text("JSON lines are made from pages of articles.", status=400)
    found = await cite.articles(datasette.get_database(database), cite._ids(columns, rows))
    base = cite.base_url(datasette, request.scope)
    text = _jsonl(record(datasette, base, database, row, tags, None) for row, tags in found)
    return Response(text, content_type=CONTENT_TYPES["jsonl"])


@hookimpl
def register_output_renderer(datasette):
    return [{"extension": "jsonl", "render": _render_jsonl, "can_render": cite.can_cite}]
