"""Citations a researcher can paste: RIS and BibTeX exports of any page that
lists articles, and the citation metadata of the article page.

Exports are Datasette output renderers, so they work wherever articles are
listed: one article (/bannedbook/articles/ID.ris), a table search or filter
(/bannedbook/articles.bib?_search=…), the search query
(/bannedbook/search.ris?q=…) or any SQL returning article ids. The renderer
reads the rows' ids and looks the articles up, so a query need not return
every field a citation needs.

What is cited:
- title, author; publisher: the original outlet (来源), else bannedbook.org;
- the original URL (bannedbook.org's page) and the archive's own URL;
- the date: published when the page states it, else the date the archive
  captured the page (articles.captured: the earliest capture), else
  the estimate, marked "not before";
- the access date: the capture date when known, else the day of the export.

Every value comes from crawled pages and is treated as hostile: RIS values
are single lines, BibTeX values are escaped for LaTeX with balanced braces
(Chinese stays UTF-8), URLs are percent-encoded where they would break a
field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components
from datasette.utils.asgi import BadRequest, NotFound, Response

DATABASE = "bannedbook"
ARCHIVE = "禁闻档案 · Banned News Archive"
SITE = "bannedbook.org"
LANGUAGE = "zh"
COLUMNS = ("id", "url", "title", "author", "source", "source_url", "published", "not_before", "captured")
# SQLite's default limit on ? parameters is far above this; pages list at most 1,000 rows.
CHUNK = 500

_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ENDS = (".", "!", "?", "。", "！", "？", "…")
_DAY = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
# LaTeX's special characters, each written so that braces stay balanced
# (BibTeX counts every brace, escaped or not).
_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_LATEX_TABLE = str.maketrans(_LATEX)


@dataclass(frozen=True)
class Citation:
    id: str
    title: str
    archive_url: str
    accessed: str  # YYYY-MM-DD
    author: str | None = None
    source: str | None = None  # the original outlet (来源)
    source_url: str | None = None
    original_url: str | None = None  # the page on bannedbook.org
    date: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    date_is: str | None = None  # "published", "captured" or "not_before"
    captured: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def publisher(self) -> str:
        return self.source or SITE

    @property
    def url(self) -> str:
        """The URL to cite: the original when known, else the archive's."""
        return self.original_url or self.archive_url

    def date_text(self) -> str:
        if not self.date:
            return "date unknown"
        return {"published": self.date, "captured": f"{self.date} (captured)",
                "not_before": f"not before {self.date}"}[self.date_is]

    def note(self) -> str:
        parts = [f"Archived copy: {ARCHIVE}, {self.archive_url}"]
        if self.date_is == "not_before":
            parts.append(f"The page states no date; not before {self.date}, estimated from its text")
        elif self.date_is == "captured":
            parts.append("The page states no date; the date given is when the archive captured it")
        if self.captured:
            parts.append(f"Captured {self.captured}")
        if self.source_url:
            parts.append(f"Source: {self.publisher}, {self.source_url}")
        return ". ".join(parts) + "."

    def text(self) -> str:
        """A citation to paste as it is."""
        author = f"{self.author}. " if self.author else ""
        title = self.title if self.title.endswith(_ENDS) else self.title + "."
        original = f" Original: {self.original_url}." if self.original_url else ""
        return (f"{author}“{title}” {self.publisher}, {self.date_text()}. {ARCHIVE}, {self.archive_url}."
                f"{original} Accessed {self.accessed}.")


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
    captured = day(row.get("captured"))
    dates = [(day(row.get(name)), name) for name in ("published", "captured", "not_before")]
    date, date_is = next(((date, name) for date, name in dates if date), (None, None))
    text = {name: one_line(row.get(name)) or None for name in ("title", "author", "source", "source_url", "url")}
    return Citation(
        id=str(row["id"]),
        title=text["title"] or "",
        author=text["author"],
        source=text["source"],
        source_url=text["source_url"],
        original_url=text["url"],
        archive_url=archive_url,
        date=date,
        date_is=date_is,
        captured=captured,
        accessed=(captured if captured and len(captured) == 10 else None)
        or (today or dt.datetime.now(dt.UTC).date()).isoformat(),
        tags=[one_line(tag) for tag in tags if one_line(tag)],
    )


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
        put("T2", c.source)
        put("PB", c.publisher)
        if c.date:
            year, month, dd = (c.date.split("-") + ["", ""])[:3]
            put("PY", year)
            qualifier = {"not_before": "not before", "captured": "captured"}.get(c.date_is, "")
            put("DA", f"{year}/{month}/{dd}/{qualifier}")
        put("Y2", c.accessed.replace("-", "/"))
        put("UR", c.url)
        put("L2", c.archive_url)
        put("DB", ARCHIVE)
        put("LA", LANGUAGE)
        for tag in c.tags:
            put("KW", tag)
        put("N1", c.note())
        lines.append("ER  - ")
        lines.append("")
    return "\r\n".join(lines)


def latex(value: object) -> str:
    """Text for a BibTeX field: one line, LaTeX specials escaped."""
    return one_line(value).translate(_LATEX_TABLE)


def url_field(url: str) -> str:
    """A URL for a BibTeX field, which takes URLs verbatim: only what would
    unbalance the field or end it (braces, backslash, space) is percent-encoded."""
    return quote(one_line(url), safe="".join(chr(c) for c in range(33, 127) if chr(c) not in "{}\\"))


def bibtex_key(c: Citation) -> str:
    return "bannedbook-" + re.sub(r"[^0-9A-Za-z]", "", c.id)


def bibtex(citations: Iterable[Citation]) -> str:
    """BibTeX: @article when the outlet is known (as its journal), else @misc."""
    entries, keys = [], set()
    for c in citations:
        key = base = bibtex_key(c)
        number = 1
        while key in keys:  # ids are unique; stripping characters must not make them collide
            number += 1
            key = f"{base}-{number}"
        keys.add(key)
        fields = [("title", "{" + latex(c.title) + "}")]
        if c.author:
            # In braces: one name, never split at spaces or "and".
            fields.append(("author", "{{" + latex(c.author) + "}}"))
        if c.source:
            fields.append(("journal", "{" + latex(c.source) + "}"))
        fields.append(("publisher", "{" + latex(c.publisher) + "}"))
        if c.date:
            year, month, dd = (c.date.split("-") + ["", ""])[:3]
            fields.append(("year", "{" + year + "}"))
            if month:
                fields.append(("month", "{" + str(int(month)) + "}"))
            # biblatex: an open range for "not before".
            fields.append(("date", "{" + c.date + ("/" if c.date_is == "not_before" else "") + "}"))
        fields.append(("url", "{" + url_field(c.url) + "}"))
        fields.append(("urldate", "{" + c.accessed + "}"))
        if c.tags:
            fields.append(("keywords", "{" + ", ".join(latex(tag) for tag in c.tags) + "}"))
        fields.append(("language", "{Chinese}"))
        link = r"\url{" + url_field(c.archive_url) + "}"
        fields.append(("note", "{" + link.join(part.translate(_LATEX_TABLE) for part in c.note().split(c.archive_url))
                       + "}"))
        kind = "article" if c.source else "misc"
        body = ",\n".join(f"  {name} = {value}" for name, value in fields)
        entries.append(f"@{kind}{{{key},\n{body}\n}}\n")
    return "\n".join(entries)


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


def archive_url(datasette, request, database: str, article_id: str) -> str:
    return datasette.absolute_url(request, datasette.urls.row(database, "articles", tilde_encode(article_id)))


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


def can_cite(database: str, table: str | None, columns: Sequence[str]) -> bool:
    """Offer the exports on pages of articles: the articles table and its
    rows, and queries that return an `id` column."""
    return database == DATABASE and (table == "articles" if table else "id" in columns)


def renderer(extension: str, content_type: str, write):
    async def render(datasette, request, database, table, columns, rows):
        # Raised, not returned: Datasette would answer a returned error with
        # the status of the page it came from.
        if not can_cite(database, table, columns):
            raise BadRequest("Citations are made from pages of articles: the articles table, an article, "
                             "or a query that returns the articles' id column.")
        found = await articles(datasette.get_database(database), _ids(columns, rows))
        if not found:
            raise NotFound("No articles to cite on this page.")
        today = dt.datetime.now(dt.UTC).date()
        text = write(citation(row, archive_url(datasette, request, database, row["id"]), tags, today)
                     for row, tags in found)
        name = f"bannedbook-{found[0][0]['id']}" if len(found) == 1 else "bannedbook"
        return Response(text, content_type=content_type,
                        headers={"content-disposition": f'attachment; filename="{name}.{extension}"'})

    return {"extension": extension, "render": render, "can_render": can_cite}


@hookimpl
def register_output_renderer(datasette):
    return [
        renderer("ris", "application/x-research-info-systems; charset=utf-8", ris),
        renderer("bib", "application/x-bibtex; charset=utf-8", bibtex),
    ]


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    """`citation` for the article page: its meta tags and cite block
    (templates/_cite.html)."""
    if view_name != "row" or table != "articles" or database != DATABASE or request is None:
        return None

    async def citation_vars() -> dict:
        article_id = urlsafe_components(request.url_vars["pks"])[0]
        found = await articles(datasette.get_database(database), [article_id])
        if not found:
            return {"citation": None}
        row, tags = found[0]
        return {"citation": citation(row, archive_url(datasette, request, database, article_id), tags),
                "citation_links": {
                    "ris": datasette.urls.row(database, "articles", tilde_encode(article_id), format="ris"),
                    "bib": datasette.urls.row(database, "articles", tilde_encode(article_id), format="bib"),
                }}

    return citation_vars
