"""The extractor as it was before the one-walk rewrite (bannedbook/extract.py at
f867153), kept only while tests/test_extract_equivalence.py checks that the
rewrite gives identical records. Page text to an article record: what the
reader of the page read, without the site's furniture, plus its tags, links
and dates.

Pure functions (text in, record out) so they test easily and run in a
process pool. Built for bannedbook.org's WordPress template: seed-style
fragments (<h2> + div.entry) and full documents with <head> metadata,
navigation, sidebars and footers.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin
from warnings import catch_warnings, simplefilter

from bs4 import BeautifulSoup, Comment, MarkupResemblesLocatorWarning, Tag

from bannedbook.chinese import is_traditional
from bannedbook.decode import Rejected, safe_text

SITE = "https://www.bannedbook.org/"

# Site furniture: never part of an article, wherever it sits in the page.
# Matched with a plain predicate, not a CSS selector list: soupsieve testing
# a selector list against every element was a third of the extraction time
# (see README, Scale).
_FURNITURE_TAGS = {"script", "style", "iframe", "noscript", "form", "object", "embed", "nav", "footer"}
_FURNITURE_IDS = {"header", "sidebar", "footer"}
_FURNITURE_CLASSES = {"sidebar", "widget", "menu", "breadcrumb", "breadcrumbs", "banner-ads", "sharedaddy"}


def _is_furniture(tag: Tag) -> bool:
    if tag.name in _FURNITURE_TAGS:
        return True
    id_ = tag.get("id")
    if isinstance(id_, str) and (id_ in _FURNITURE_IDS or "ADSLOT" in id_ or id_.startswith("taboola")):
        return True
    return not _FURNITURE_CLASSES.isdisjoint(tag.get("class") or ())


_SPACE = re.compile(r"\s+")
_FULL_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_URL_DATE = re.compile(r"/((?:19|20)\d{2})(\d{2})(\d{2})/")
_VISIBLE_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})日?(?:\s+(\d{1,2}):(\d{2}))?")
_ARTICLE_URL = re.compile(r"/bnews/([^/]+)/(?:\d{8}/)?(\d+)\.html?$")
_AUTHOR_LINE = re.compile(r"^\s*作者\s*[:：]\s*")
_SOURCE_LINE = re.compile(r"^\s*来源\s*[:：]\s*")
_ENDS_SENTENCE = tuple("。，,；;：:…”」』》）)")
_NON_ASCII_ESCAPES = re.compile(r"(?:%[89A-Fa-f][0-9A-Fa-f])+")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# What a browser ignores in an href (WHATWG URL parsing): leading and
# trailing C0 controls and spaces, and tabs and newlines anywhere. Removed
# before the scheme is read, so "java\tscript:" is seen as javascript:.
_URL_EDGES = "".join(map(chr, range(0x21)))
_URL_IGNORED = re.compile("[\t\n\r]")
# Latin letters next to Cyrillic or Greek ones in one word: a look-alike
# (homoglyph) spelling such as "Xinhuа" with a Cyrillic а.
_MIXED_SCRIPT_WORD = re.compile(r"(?=\w*[A-Za-z])(?=\w*[\u0370-\u03ff\u0400-\u04ff])\w+")


@dataclass
class Link:
    url: str
    text: str
    kind: str
    # The URL's scheme, lower case ("https", "javascript", "data", "mailto";
    # "" when it has none). Only http and https links may be made clickable.
    scheme: str = ""

    @property
    def web(self) -> bool:
        return self.scheme in ("http", "https")


@dataclass
class Paragraph:
    role: str  # body, subheading or caption
    text: str


@dataclass
class Article:
    title: str
    author: str | None = None
    source: str | None = None
    source_url: str | None = None
    url: str | None = None
    category: str | None = None
    site_number: int | None = None
    published: str | None = None
    not_before: str | None = None
    script: str = "simplified"
    paragraphs: list[Paragraph] = field(default_factory=list)
    tags: list[tuple[str, str | None]] = field(default_factory=list)  # (name, url if http(s))
    links: list[Link] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def body(self) -> str:
        """The article as read: sub-headings and paragraphs, captions left out."""
        return "\n".join(p.text for p in self.paragraphs if p.role != "caption")


def clean_text(node: Tag | str) -> str:
    text = node.get_text() if isinstance(node, Tag) else node
    return _SPACE.sub(" ", text).strip()


def readable_url(url: str) -> str:
    """Percent-escapes of UTF-8 written as the characters they stand for
    (…/tag/%e6%99%ae%e4%ba%ac/ → …/tag/普京/); ASCII escapes stay."""
    return _NON_ASCII_ESCAPES.sub(lambda m: unquote(m.group(), errors="surrogateescape")
                                  if _decodes(m.group()) else m.group(), url.strip())


def _decodes(escaped: str) -> bool:
    try:
        unquote(escaped, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def article_url_parts(url: str | None) -> tuple[str | None, int | None]:
    """Category and the site's article number from a bannedbook article URL."""
    match = _ARTICLE_URL.search(url or "")
    if not match or len(match.group(2)) > 18 or not match.group(2).isascii():  # SQLite integers are 64-bit
        return (None, None)
    return match.group(1), int(match.group(2))


def _date(year: str, month: str, day: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def url_date(url: str) -> dt.date | None:
    match = _URL_DATE.search(url or "")
    return _date(*match.groups()) if match else None


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if tag and tag.get("content", "").strip():
            return tag["content"].strip()
    return None


def _canonical(soup: BeautifulSoup) -> str | None:
    link = soup.find("link", rel="canonical", href=True)
    url = link["href"].strip() if link else _meta(soup, "og:url")
    return readable_url(url) if url and url.startswith(("http://", "https://")) else None


def _visible_date(soup: BeautifulSoup) -> str | None:
    time = soup.find("time", datetime=True)
    if time:
        return time["datetime"].strip()
    for node in soup.find_all(class_=["postmeta", "post-meta", "entry-meta", "date", "time", "post-date"]):
        match = _VISIBLE_DATE.search(unicodedata.normalize("NFKC", node.get_text(" ")))
        if match and _date(*match.groups()[:3]):
            year, month, day, hour, minute = match.groups()
            day_iso = _date(year, month, day).isoformat()
            return f"{day_iso}T{int(hour):02d}:{minute}" if hour else day_iso
    return None


def link(href: str, text: str, kind: str, base: str = SITE) -> Link:
    """A link as a browser would resolve it, with its scheme. Never raises:
    an href urljoin cannot parse is kept as written."""
    href = _URL_IGNORED.sub("", safe_text(href)[0].strip(_URL_EDGES))
    try:
        url = readable_url(urljoin(base, href))
    except ValueError:  # "http://[::1" and other unparseable hosts
        url = href
    scheme = _SCHEME.match(url)
    return Link(url, text, kind, scheme.group(1).lower() if scheme else "")


def _links(node: Tag, kind: str, base: str) -> list[Link]:
    return [link(a["href"], clean_text(a), kind, base) for a in node.find_all("a", href=True)]


def _body_link_kind(a: Tag) -> str:
    if "st_tag" in a.get("class", []):
        return "tag"
    parent = a.parent
    if isinstance(parent, Tag) and any(c.startswith("wp_keywordlink") for c in parent.get("class", [])):
        return "keyword"
    return "inline"


def _paragraph_nodes(entry: Tag) -> list[Tag]:
    blocks = entry.find_all(["p", "h3", "h4", "h5", "h6", "figcaption"])
    return [b for b in blocks if not b.find_parent(["p", "figcaption"])]


def _looks_like_subheading(node: Tag, text: str) -> bool:
    if node.name in ("h3", "h4", "h5", "h6"):
        return True
    if len(text) > 25 or "。" in text or "，" in text:
        return False
    strong = node.find(["strong", "b"])
    if strong and clean_text(strong) == text:
        return True
    return not text.endswith(_ENDS_SENTENCE) and not _FULL_DATE.match(text)


def _caption_class(node: Tag) -> bool:
    classes = node.get("class", [])
    return node.get("id") == "conimg" or "wp-caption-text" in classes or node.name == "figcaption"


def _paragraphs(entry: Tag) -> list[Paragraph]:
    paragraphs: list[Paragraph] = []
    for node in _paragraph_nodes(entry):
        text = clean_text(node)
        if not text:
            continue
        if _caption_class(node):
            role = "caption"
        elif _looks_like_subheading(node, text):
            role = "subheading"
            # In this template a photo's caption is the paragraph standing
            # just before a sub-heading, opening with the photo's date.
            if paragraphs and paragraphs[-1].role == "body" and _FULL_DATE.match(paragraphs[-1].text):
                paragraphs[-1].role = "caption"
        else:
            role = "body"
        paragraphs.append(Paragraph(role, text))
    return paragraphs


def _dates_in_text(texts: list[str]) -> list[dt.date]:
    found = []
    for text in texts:
        for match in _FULL_DATE.finditer(unicodedata.normalize("NFKC", text)):
            day = _date(*match.groups())
            if day:
                found.append(day)
    return found


def extract(text: str, *, base_url: str = SITE) -> Article:
    """Extract the article from a page's text. Raises Rejected when the page
    holds no article."""
    with catch_warnings():  # a page that is only a URL is still a page (to reject)
        simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(text, "lxml")
    canonical = _canonical(soup)
    published = _meta(soup, "article:published_time")
    breadcrumb = soup.find(class_=["breadcrumb", "breadcrumbs"])
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    head_title = _meta(soup, "og:title") or (clean_text(soup.title) if soup.title else None)
    published = published or _visible_date(soup)
    entry = soup.find("div", class_="entry") or soup.find("article")
    # A page whose tags are never closed nests its article in the header.
    holds_entry = {id(parent) for parent in entry.parents} if entry else set()
    for node in soup.find_all(_is_furniture):
        if id(node) in holds_entry:
            continue
        # lxml does not know <embed> is empty and nests what follows inside it.
        node.unwrap() if node.name == "embed" else node.decompose()

    heading = soup.find("h2") or soup.find("h1")
    if entry is None:
        raise Rejected("no-article", "no article on this page: no div.entry (or <article>) holds a body")
    title = clean_text(heading) if heading else head_title
    if not title:
        raise Rejected("no-article", "the page has a body but no title (<h2>, <h1>, og:title or <title>)")

    base = canonical or base_url
    links: list[Link] = []
    warnings: list[str] = []
    for notice in soup.find_all("p", class_="notice"):
        if id(notice) in holds_entry:
            continue
        links += _links(notice, "boilerplate", base)
        notice.decompose()

    related = []
    for node in entry.find_all("ul", class_="op-related-articles"):
        related += _links(node, "related", base)
        node.decompose()
    for node in entry.find_all("ul", class_="texttj"):
        links += _links(node, "promo", base)
        node.decompose()

    source = source_url = None
    source_lines = entry.find_all("p", class_="src-info")
    for node in source_lines or [p for p in entry.find_all("p") if _SOURCE_LINE.match(p.get_text())]:
        source = _SOURCE_LINE.sub("", clean_text(node)) or None
        found = _links(node, "source", base)
        source_url = found[0].url if found and found[0].web else None
        links += found
        node.decompose()

    author = None
    for node in entry.find_all("p", limit=3):
        if _AUTHOR_LINE.match(node.get_text()):
            author = _AUTHOR_LINE.sub("", clean_text(node)) or None
            links += _links(node, "author", base)
            node.decompose()
            break

    tags: dict[str, str] = {}
    for a in entry.find_all("a", href=True):
        kind = _body_link_kind(a)
        found = link(a["href"], clean_text(a), kind, base)
        links.append(found)
        if kind == "tag" and found.text:
            tags.setdefault(found.text, found.url if found.web else None)

    paragraphs = _paragraphs(entry)
    if not paragraphs:
        raise Rejected("no-article", f"the page titled {title!r} has no body text")

    category, number = article_url_parts(canonical)
    if category is None and breadcrumb:
        crumbs = [a["href"] for a in breadcrumb.find_all("a", href=True)]
        category = next((c for c, _ in map(article_url_parts, crumbs) if c), None)
    if published and not re.match(r"[0-9]{4}", published):
        warnings.append(f"date {published[:40]!r} is not a date: ignored")
        published = None
    if not published and url_date(canonical or ""):
        published = url_date(canonical).isoformat()
    not_before = None
    if not published:
        dates = _dates_in_text([title] + [p.text for p in paragraphs])
        dates += [d for d in (url_date(link.url) for link in related) if d]
        not_before = max(dates).isoformat() if dates else None

    article_text = title + "".join(p.text for p in paragraphs)
    if "<html" in text[:2000].lower() and "</html>" not in text[-2000:].lower():
        warnings.append("the page looks truncated (no closing </html>)")
    if _MIXED_SCRIPT_WORD.search(title):
        warnings.append("the title mixes Latin with Cyrillic or Greek letters (look-alike characters?)")
    return _safe(Article(
        title=title,
        author=author,
        source=source,
        source_url=source_url,
        url=canonical,
        category=category,
        site_number=number,
        published=published,
        not_before=not_before,
        script="traditional" if is_traditional(article_text) else "simplified",
        paragraphs=paragraphs,
        tags=list(tags.items()),
        links=links + related,
        warnings=warnings,
    ))


def _safe(article: Article) -> Article:
    """The article with every string passed through decode.safe_text, so
    nothing stored holds NUL, control or bidi-override characters or lone
    surrogates; a warning says how many were removed."""
    removed = 0

    def clean(text: str | None) -> str | None:
        nonlocal removed
        if text is None:
            return None
        text, count = safe_text(text)
        removed += count
        return text

    for name in ("title", "author", "source", "source_url", "url", "category", "published", "not_before"):
        setattr(article, name, clean(getattr(article, name)))
    article.title = article.title.strip()
    if not article.title:
        raise Rejected("no-article", "the page's title is made only of control characters")
    for paragraph in article.paragraphs:
        paragraph.text = clean(paragraph.text).strip()
    article.paragraphs = [p for p in article.paragraphs if p.text]
    if not article.paragraphs:
        raise Rejected("no-article", f"the page titled {article.title!r} has no body text but control characters")
    for found in article.links:
        found.url, found.text = clean(found.url), clean(found.text)
    tags: dict[str, str | None] = {}
    for name, url in article.tags:
        tags.setdefault(clean(name), clean(url))
    article.tags = list(tags.items())
    if removed:
        article.warnings.append(f"{removed} control, bidi-override or invalid character(s) removed from the text")
    return article
