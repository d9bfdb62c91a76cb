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

Every value comes from crawled pages and is treated as hostile: RIS values
are single lines; BibTeX values are escaped for LaTeX with balanced braces
(Chinese stays UTF-8); URLs are percent-encoded where they would break a
field.

The routes that serve these records are bannedbook/web/cite.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from bannedbook.text.urls import safe_href

ARCHIVE = "禁闻档案 · Banned News Archive"
SITE = "bannedbook.org"
LANGUAGE = "zh"

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
