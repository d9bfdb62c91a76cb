"""One citation record per article, written the same way on every route:
the article page's meta tags (templates/_cite.html), its cite block, RIS,
BibTeX, and the COinS span each list of articles carries.

The record (docs/design.md, *Citations and exports*, says why):
- a news article (Zotero's newspaperArticle, RIS NEWS, BibTeX @article
  with entrysubtype newspaper, as biblatex and Zotero read one);
- title and author as the page gives them; the outlet is the original
  publisher (来源), else bannedbook.org;
- the date only when the page states it. An undated article has no date:
  its not_before/not_after estimate and its capture date go into the
  record's extra lines (Zotero's Extra, RIS and BibTeX notes, the cite
  block), which no tool reads as the date;
- the URL is the archive's copy of the article; the original URL (only an
  http(s) one) goes into the extra lines;
- accessed: the day of the export (the day the archive's URL was read).

Absolute URLs come from configuration (plugin config `bannedbook.base_url`,
which `make publish` sets), else from the address the server listens on:
never from the request's Host header.

Every value comes from crawled pages and is treated as hostile: RIS values
are single lines; BibTeX values are escaped for LaTeX with balanced braces
(Chinese stays UTF-8); URLs are percent-encoded where they would break a
field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components
from datasette.utils.asgi import BadRequest, NotFound, Response

from bannedbook.web.reader import safe_href

DATABASE = "bannedbook"
PLUGIN = "bannedbook"
ARCHIVE = "禁闻档案 · Banned News Archive"
SITE = "bannedbook.org"
LANGUAGE = "zh"
DEFAULT_BASE_URL = "http://127.0.0.1:8001"
COLUMNS = ("id", "url", "title", "author", "source", "source_url", "published", "not_before", "not_after",
           "captured")
# SQLite's default limit on ? parameters is far above this.
CHUNK = 500

_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ENDS = (".", "!", "?", "。", "！", "？", "…")
_DAY = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
# LaTeX's special characters as LaTeX's own text commands, which LaTeX,
# citation-js and pylatexenc read back (braces: see latex()). Zotero's BibTeX
# import reads \{ \} \$ \% \& \# \_ but not \textbackslash, \textasciitilde or
# \textasciicircum, and no spelling of those three suits it and LaTeX both:
# docs/design.md says so and points Zotero users to RIS, which needs no escaping.
_LATEX = {
    "\\": r"\textbackslash{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}


@dataclass(frozen=True)
class Citation:
    id: str
    title: str
    archive_url: str
    accessed: str  # YYYY-MM-DD: the day of the export
    author: str | None = None
    source: str | None = None  # the original outlet (来源)
    source_url: str | None = None  # http(s) only
    original_url: str | None = None  # the page on bannedbook.org, http(s) only
    date: str | None = None  # stated publication date: YYYY, YYYY-MM or YYYY-MM-DD
    not_before: str | None = None
    not_after: str | None = None
    captured: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def outlet(self) -> str:
        return self.source or SITE

    @property
    def url(self) -> str:
        """The item's URL: the archive's copy (docs/design.md says why)."""
        return self.archive_url

    def extra(self) -> list[str]:
        """What the record says beside its fields, one "Label: value" line
        each; no label is a Zotero field or CSL variable, so no tool takes
        the estimate or the capture for the date."""
        lines = []
        if self.original_url:
            lines.append(f"Original URL: {self.original_url}")
        if not self.date:
            bounds = [f"not before {self.not_before} (estimated from its text)" if self.not_before else "",
                      f"not after {self.not_after} (its first capture)" if self.not_after else ""]
            lines.append("Undated: the page states no date" + "".join(f"; {b}" for b in bounds if b))
        if self.captured:
            lines.append(f"Captured: {self.captured} (first web-archive capture)")
        if self.source_url:
            lines.append(f"Source URL: {self.source_url}")
        return lines

    def text(self) -> str:
        """A citation to paste as it is."""
        author = f"{self.author}. " if self.author else ""
        title = self.title if self.title.endswith(_ENDS) else self.title + "."
        date = self.date or "undated"
        notes = "".join(f" {line}." for line in self.extra())
        return (f"{author}“{title}” {self.outlet}, {date}. {ARCHIVE}, {self.archive_url}. "
                f"Accessed {self.accessed}.{notes}")


def one_line(value: object) -> str:
    """value as one line of text: control characters and runs of space become one space."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", str(value))).strip() if value is not None else ""


def day(value: object) -> str | None:
    """An ISO date (YYYY, YYYY-MM or YYYY-MM-DD) from a stored date, a
    timestamp or seconds since 1970 (ns when it is that large)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1e9 if value > 1e11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    match = _DAY.match(str(value).strip())
    return "-".join(part for part in match.groups() if part) if match else None


def citation(row: Mapping, archive_url: str, tags: Sequence[str] = (), today: dt.date | None = None) -> Citation:
    """The citation of one article row (columns as in COLUMNS)."""
    text = {name: one_line(row.get(name)) or None for name in ("title", "author", "source", "source_url", "url")}
    return Citation(
        id=str(row["id"]),
        title=text["title"] or "",
        author=text["author"],
        source=text["source"],
        source_url=safe_href(text["source_url"]) or None,
        original_url=safe_href(text["url"]) or None,
        archive_url=archive_url,
        date=day(row.get("published")),
        not_before=day(row.get("not_before")),
        not_after=day(row.get("not_after")),
        captured=day(row.get("captured")),
        accessed=(today or dt.datetime.now(dt.UTC).date()).isoformat(),
        tags=[one_line(tag) for tag in tags if one_line(tag)],
    )


def _date_parts(date: str) -> tuple[str, str, str]:
    year, month, dd = (date.split("-") + ["", ""])[:3]
    return year, month, dd


def ris(citations: Iterable[Citation]) -> str:
    """RIS records (type NEWS), CRLF line ends as the format asks."""
    lines: list[str] = []

    def put(tag: str, value: object) -> None:
        if value := one_line(value):
            lines.append(f"{tag}  - {value}")

    for c in citations:
        lines.append("TY  - NEWS")
        put("ID", c.id)
        put("TI", c.title)
        put("AU", c.author)
        put("T2", c.outlet)
        if c.date:
            year, month, dd = _date_parts(c.date)
            put("PY", year)
            put("DA", f"{year}/{month}/{dd}/")
        put("UR", c.url)
        put("Y2", c.accessed.replace("-", "/"))
        put("LA", LANGUAGE)
        for tag in c.tags:
            put("KW", tag)
        put("N1", "; ".join(c.extra()))
        lines.append("ER  - ")
        lines.append("")
    return "\r\n".join(lines)


def _paired_braces(text: str) -> set[int]:
    """Positions of the braces in text that pair up, in order."""
    opened, paired = [], set()
    for at, char in enumerate(text):
        if char == "{":
            opened.append(at)
        elif char == "}" and opened:
            paired.update((opened.pop(), at))
    return paired


def latex(value: object) -> str:
    """Text for a BibTeX field: one line, LaTeX specials escaped. Braces that
    pair up are written \\{ \\} (balanced, as BibTeX counts every brace,
    escaped or not); an unpaired one as \\textbraceleft{} or \\textbraceright{}."""
    text = one_line(value)
    paired = _paired_braces(text)
    out = []
    for at, char in enumerate(text):
        if char in "{}":
            out.append("\\" + char if at in paired else (r"\textbraceleft{}" if char == "{" else r"\textbraceright{}"))
        else:
            out.append(_LATEX.get(char, char))
    return "".join(out)


def url_field(url: str) -> str:
    """A URL for a BibTeX field, which takes URLs verbatim: only what would
    unbalance the field or end it (braces, backslash, space) is percent-encoded."""
    return quote(one_line(url), safe="".join(chr(c) for c in range(33, 127) if chr(c) not in "{}\\"))


def bibtex_key(c: Citation) -> str:
    return "bannedbook-" + re.sub(r"[^0-9A-Za-z]", "", c.id)


def bibtex_entry(c: Citation, key: str) -> str:
    """One @article (a newspaper article: journal is the outlet)."""
    fields = [("title", "{" + latex(c.title) + "}")]
    if c.author:
        # In braces: one name, never split at spaces, commas or "and".
        fields.append(("author", "{{" + latex(c.author) + "}}"))
    fields.append(("journal", "{" + latex(c.outlet) + "}"))
    fields.append(("entrysubtype", "{newspaper}"))
    if c.date:
        year, month, _ = _date_parts(c.date)
        fields.append(("date", "{" + c.date + "}"))
        fields.append(("year", "{" + year + "}"))
        if month:
            fields.append(("month", "{" + str(int(month)) + "}"))
    fields.append(("url", "{" + url_field(c.url) + "}"))
    fields.append(("urldate", "{" + c.accessed + "}"))
    if c.tags:
        fields.append(("keywords", "{" + ", ".join(latex(tag) for tag in c.tags) + "}"))
    fields.append(("language", "{" + LANGUAGE + "}"))
    if extra := c.extra():
        fields.append(("note", "{" + latex("; ".join(extra)) + "}"))
    body = ",\n".join(f"  {name} = {value}" for name, value in fields)
    return f"@article{{{key},\n{body}\n}}\n"


class BibtexKeys:
    """Unique ASCII keys: ids are unique, but stripping characters must not
    make two collide."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, c: Citation) -> str:
        key = base = bibtex_key(c)
        number = 1
        while key in self.seen:
            number += 1
            key = f"{base}-{number}"
        self.seen.add(key)
        return key


def bibtex(citations: Iterable[Citation], keys: BibtexKeys | None = None) -> str:
    keys = keys or BibtexKeys()
    return "\n".join(bibtex_entry(c, keys(c)) for c in citations)


def coins(c: Citation) -> str:
    """The OpenURL ContextObject of a COinS span (the title of a
    <span class="Z3988">), as Zotero's COinS translator reads it: Dublin
    Core format with rft.type set to Zotero's item type."""
    pairs = [("ctx_ver", "Z39.88-2004"), ("rft_val_fmt", "info:ofi/fmt:kev:mtx:dc"), ("rft.type", "newspaperArticle"),
             ("rft.title", c.title)]
    if c.author:
        pairs.append(("rft.creator", c.author))
    pairs.append(("rft.source", c.outlet))
    if c.date:
        pairs.append(("rft.date", c.date))
    pairs += [("rft.identifier", c.url), ("rft.language", LANGUAGE)]
    return urlencode(pairs, quote_via=quote)


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

    return {"extension": extension, "render": render,
            "can_render": lambda datasette, database, table, columns, rows: can_cite(datasette, database, table,
                                                                                      columns, rows)}


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
