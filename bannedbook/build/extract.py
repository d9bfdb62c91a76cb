"""Page text to an article record: what the reader of the page read, without
the site's furniture, plus its tags, links and dates.

Pure functions (text in, record out) so they test easily and run in a
process pool. Built for bannedbook.org's WordPress template: seed-style
fragments (<h2> + div.entry) and full documents with <head> metadata,
navigation, sidebars and footers.

A page is parsed once and walked once: `_Page` classifies every element as
the walk meets it (head metadata, the entry, furniture, notice, related
list, promo, source line, paragraph, link …) and keeps the text between
elements. Named steps then read the page in this order; each takes its part
out of the page (marks it and everything in it as gone), so the steps after
it never see it:

  _head         <link rel=canonical>, <meta>, <title>, <time>, date-classed
                elements and the breadcrumb: the URL, the date the page
                states, a fallback title, the site section. Takes out nothing.
  _furniture    scripts, navigation, sidebars, menus, ads, footers; never an
                element that holds the entry; an <embed> loses only its tag.
  _title        the first <h2> (else <h1>) left, else the head's title.
  _notices      p.notice around the entry: the boilerplate links.
  _related      ul.op-related-articles in the entry: related reading.
  _promo        ul.texttj in the entry: promotional links.
  _source_line  p.src-info in the entry (else its paragraphs opening 来源：):
                the source, its URL and links.
  _byline       the first of the entry's first three paragraphs that opens
                作者：: the author and their links.
  _body_links   every link left in the entry: tag, keyword or inline; tags.
  _paragraphs   p, h3–h6 and figcaption left in the entry, outermost only:
                body, subheading or caption.

Texts follow BeautifulSoup's get_text(): text inside <script>, <style>,
<template>, <rt> and <rp> belongs only to an element of that kind.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote, urljoin
from warnings import catch_warnings, simplefilter

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag
from bs4.element import CData, PreformattedString
from lxml import etree

from bannedbook.errors import Rejected
from bannedbook.records import Article, Link, Paragraph
from bannedbook.research.versions import NOTICE, NOTICE_CLASSES, is_removal_notice
from bannedbook.text.chinese import is_traditional
from bannedbook.text.decode import safe_text
from bannedbook.text.urls import SITE, SITE_HOSTS, article_url, same_page

# Site furniture: never part of an article, wherever it sits in the page.
_FURNITURE_TAGS = {"script", "style", "iframe", "noscript", "form", "object", "embed", "nav", "footer"}
_FURNITURE_IDS = {"header", "sidebar", "footer"}
_FURNITURE_CLASSES = {"sidebar", "widget", "menu", "breadcrumb", "breadcrumbs", "banner-ads", "sharedaddy"}
_BREADCRUMB_CLASSES = {"breadcrumb", "breadcrumbs"}
_DATE_CLASSES = {"postmeta", "post-meta", "entry-meta", "date", "time", "post-date"}
_BLOCKS = {"p", "h3", "h4", "h5", "h6", "figcaption"}
# Elements whose text bs4 files under a string class of their own: their
# text is not the text of the elements around them.
_CONTAINERS = {"script", "style", "template", "rt", "rp"}
# libxml2 stops building a tree 256 elements deep (without a word); bs4's
# event-driven builder has no such limit, so deeper pages are read through it.
_LXML_MAX_DEPTH = 255

_SPACE = re.compile(r"\s+")
_FULL_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
# The characters whose NFKC form holds 日 (日, ⽇, ㈰, ㊐, ㏠–㏾): a text with none
# holds no full date, normalised or not (tests/test_extract.py checks the
# list against the Unicode data).
_DAY_CHARS = re.compile("[\u65e5\u2f47\u3230\u3290\u33e0-\u33fe]")
_URL_DATE = re.compile(r"/((?:19|20)\d{2})(\d{2})(\d{2})/")
_VISIBLE_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})日?(?:\s+(\d{1,2}):(\d{2}))?")
_STATED_DATE = re.compile(r"[0-9]{4}")
_ARTICLE_URL = re.compile(r"/bnews/([^/]+)/(?:\d{8}/)?(\d+)\.html?$")
# A section of the site (…/bnews/comments/ or an article in it); tag pages
# (…/bnews/tag/普京/) are not sections.
_SECTION_URL = re.compile(rf"^https?://(?:{'|'.join(map(re.escape, SITE_HOSTS))})/bnews/(?!tag/)([^/?#]+)/")
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


def clean_text(text: str) -> str:
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
    """Category and the site's article number from a bannedbook article URL
    (the Traditional mirror's too: /bnews/zh-tw/<category>/…)."""
    match = _ARTICLE_URL.search(article_url(url) if url else "")
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


def link(href: str, text: str, kind: str, base: str = SITE) -> Link:
    """A link as a browser would resolve it, with its scheme. Never raises:
    an href urljoin cannot parse is kept as written."""
    url, scheme = (_remembered if len(href) <= _REMEMBERED_HREF else _resolved)(href, base)
    return Link(url, text, kind, scheme)


def _resolved(href: str, base: str) -> tuple[str, str]:
    """(URL, scheme) of href on a page at base."""
    href = _URL_IGNORED.sub("", safe_text(href)[0].strip(_URL_EDGES))
    try:
        url = readable_url(urljoin(base, href))
    except ValueError:  # "http://[::1" and other unparseable hosts
        url = href
    scheme = _SCHEME.match(url)
    return url, scheme.group(1).lower() if scheme else ""


# Most links of a page are on many pages (the notice, promotions, tags,
# sources), and resolving one is a quarter of extracting a small page:
# a worker remembers the latest, those of a usual length.
_remembered = lru_cache(maxsize=4096)(_resolved)
_REMEMBERED_HREF = 500


# ---------------------------------------------------------------- the page


class _Page:
    """A parsed page as one walk saw it: its elements in document order
    (numbered from 0), what the steps look for among them, and the text
    between them.

    Element i covers the positions starts[i]..ends[i]-1 of one sequence that
    numbers elements and pieces of text in document order, and the elements
    i+1..stops[i]-1 are inside it. `gone` marks the positions the steps
    have taken out.
    """

    def __init__(self) -> None:
        self.tags: list[str] = []
        self.parents: list[int] = []
        self.classes: list[list[str]] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.stops: list[int] = []
        # Text, as (position, text, kind): kind is the innermost _CONTAINERS
        # element around it, None for the page's own text.
        self.pieces: list[tuple[int, str, str | None]] = []
        self.piece_positions: list[int] = []
        self.gone = bytearray()
        self.max_depth = 0
        # The head.
        self.canonical_href: str | None = None  # of the first <link rel=canonical href>
        self.meta_property: dict[str, str | None] = {}  # property -> content, first of each
        self.meta_name: dict[str, str | None] = {}
        self.title: int | None = None
        self.time_datetime: str | None = None  # of the first <time datetime>
        self.dated: list[int] = []  # elements classed as a post's date line
        self.breadcrumb: int | None = None
        # The body.
        self.div_entry: int | None = None
        self.article: int | None = None
        self.furniture: list[int] = []
        self.headings: dict[str, list[int]] = {"h1": [], "h2": []}
        self.notices: list[int] = []
        self.related: list[int] = []
        self.promo: list[int] = []
        self.source_lines: list[int] = []
        self.ps: list[int] = []
        self.anchors: list[int] = []
        self.hrefs: dict[int, str] = {}
        self.blocks: list[int] = []  # p, h3–h6, figcaption inside no p or figcaption
        self.captions: set[int] = set()  # blocks marked as photo captions
        self.bold: list[int] = []  # strong and b
        # While walking.
        self._open: list[int] = []
        self._kinds: list[str | None] = [None]
        self._in_block = 0
        self._position = 0

    # Building, in document order.

    def start(self, tag: str, attribute) -> None:
        """An element begins; attribute(name) gives its attributes."""
        index = len(self.tags)
        self.tags.append(tag)
        self.parents.append(self._open[-1] if self._open else -1)
        self.starts.append(self._position)
        self.ends.append(0)
        self.stops.append(0)
        self._position += 1
        value = attribute("class")
        classes = value.split() if value else []
        self.classes.append(classes)
        id_ = attribute("id")
        self._open.append(index)
        self.max_depth = max(self.max_depth, len(self._open))
        self._kinds.append(tag if tag in _CONTAINERS else self._kinds[-1])

        if (tag in _FURNITURE_TAGS or (id_ is not None and (id_ in _FURNITURE_IDS or "ADSLOT" in id_
                                                             or id_.startswith("taboola")))
                or (classes and not _FURNITURE_CLASSES.isdisjoint(classes))):
            self.furniture.append(index)
        if classes:
            if self.breadcrumb is None and not _BREADCRUMB_CLASSES.isdisjoint(classes):
                self.breadcrumb = index
            if not _DATE_CLASSES.isdisjoint(classes):
                self.dated.append(index)
        if tag in _BLOCKS:
            if not self._in_block:
                self.blocks.append(index)
                if id_ == "conimg" or "wp-caption-text" in classes or tag == "figcaption":
                    self.captions.add(index)
            if tag == "figcaption":
                self._in_block += 1
        if tag == "p":
            self._in_block += 1
            self.ps.append(index)
            if "notice" in classes:
                self.notices.append(index)
            if "src-info" in classes:
                self.source_lines.append(index)
        elif tag == "a":
            href = attribute("href")
            if href is not None:
                self.anchors.append(index)
                self.hrefs[index] = href
        elif tag == "strong" or tag == "b":
            self.bold.append(index)
        elif tag == "ul":
            if "op-related-articles" in classes:
                self.related.append(index)
            if "texttj" in classes:
                self.promo.append(index)
        elif tag == "div":
            if self.div_entry is None and "entry" in classes:
                self.div_entry = index
        elif tag == "h2" or tag == "h1":
            self.headings[tag].append(index)
        elif tag == "article":
            if self.article is None:
                self.article = index
        elif tag == "title":
            if self.title is None:
                self.title = index
        elif tag == "time":
            if self.time_datetime is None:
                self.time_datetime = attribute("datetime")
        elif tag == "meta":
            content = attribute("content")
            name = attribute("property")
            if name is not None:
                self.meta_property.setdefault(name, content)
            name = attribute("name")
            if name is not None:
                self.meta_name.setdefault(name, content)
        elif tag == "link":
            if self.canonical_href is None and "canonical" in (attribute("rel") or "").split():
                self.canonical_href = attribute("href")

    def text_piece(self, text: str) -> None:
        self.pieces.append((self._position, text, self._kinds[-1]))
        self.piece_positions.append(self._position)
        self._position += 1

    def end(self) -> None:
        index = self._open.pop()
        self._kinds.pop()
        self.ends[index] = self._position
        self.stops[index] = len(self.tags)
        if self.tags[index] in ("p", "figcaption"):
            self._in_block -= 1

    def done(self) -> _Page:
        self.gone = bytearray(self._position)
        return self

    # Reading.

    def present(self, index: int) -> bool:
        return not self.gone[self.starts[index]]

    def take_out(self, index: int) -> None:
        start, end = self.starts[index], self.ends[index]
        self.gone[start:end] = b"\x01" * (end - start)

    def inside(self, index: int, within: list[int]) -> list[int]:
        """The elements of `within` (a list in document order) inside
        element index, left in the page."""
        lo = bisect_right(within, index)
        hi = bisect_left(within, self.stops[index], lo)
        return [i for i in within[lo:hi] if not self.gone[self.starts[i]]]

    def first(self, within: list[int]) -> int | None:
        return next((i for i in within if not self.gone[self.starts[i]]), None)

    def text(self, index: int, separator: str = "") -> str:
        """What bs4's get_text(separator) gives for the element as the page
        now stands."""
        lo = bisect_right(self.piece_positions, self.starts[index])
        hi = bisect_left(self.piece_positions, self.ends[index], lo)
        tag = self.tags[index]
        wanted = tag if tag in _CONTAINERS else None
        gone = self.gone
        return separator.join([text for position, text, kind in self.pieces[lo:hi]
                               if kind == wanted and not gone[position]])

    def meta(self, name: str) -> str | None:
        """The content of the first <meta property=name>, else of the first
        <meta name=name>; None when empty."""
        content = self.meta_property[name] if name in self.meta_property else self.meta_name.get(name)
        return (content or "").strip() or None


def _parse(text: str) -> _Page:
    """Parse with lxml's HTML parser and walk the tree it builds. bs4 (on
    the same parser's events) reads the pages lxml's tree builder cannot:
    one it makes no tree of, and one nested deeper than libxml2 builds
    trees, where it stops without a word."""
    if text.startswith("\ufeff"):  # as bs4 does: a byte-order mark is not text
        text = text[1:]
    parser = etree.HTMLParser(encoding="utf-8")
    try:
        parser.feed(text.encode("utf-8"))  # raises on lone surrogates, as bs4 does
        root = parser.close()
    except etree.LxmlError:
        root = None
    if root is None:
        return _walk_soup(text)
    page = _Page()
    # Markup after </html> starts another top-level element.
    tops = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    for top in tops:
        if not isinstance(top.tag, str):  # a comment outside the document
            continue
        for event, element in etree.iterwalk(top, events=("start", "end", "comment", "pi")):
            if event == "start":
                page.start(element.tag, element.get)
                if element.text:
                    page.text_piece(element.text)
            else:  # the end of an element, or a comment (its text is not text)
                if event == "end":
                    page.end()
                if element.tail:  # a top element's tail lies outside every element: harmless
                    page.text_piece(element.tail)
    if page.max_depth >= _LXML_MAX_DEPTH:
        return _walk_soup(text)
    return page.done()


def _walk_soup(text: str) -> _Page:
    """The page as bs4's tree holds it: BeautifulSoup builds it from lxml's
    parser events in Python, which is slower but has no depth limit."""
    with catch_warnings():  # a page that is only a URL is still a page (to reject)
        simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(text, "lxml")

    def attribute(tag: Tag):
        def get(name: str) -> str | None:
            value = tag.get(name)
            return " ".join(value) if isinstance(value, list) else value
        return get

    page = _Page()
    # Text outside the root element is outside every element (and not in
    # lxml's tree): only what is inside elements counts.
    stack = [iter([child for child in soup.contents if isinstance(child, Tag)])]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            if stack:
                page.end()
        elif isinstance(node, Tag):
            page.start(node.name, attribute(node))
            stack.append(iter(node.contents))
        elif not isinstance(node, PreformattedString) or isinstance(node, CData):
            page.text_piece(str(node))  # comments, doctypes and processing instructions are not text
    return page.done()


# ---------------------------------------------------------------- the steps


@dataclass
class _Head:
    canonical: str | None  # the page's canonical URL, http(s) only
    stated_date: str | None  # the date the page states, unchecked
    title: str | None  # og:title or <title>, for a page without a heading
    section: str | None  # the site section the breadcrumb ends in
    warning: str | None = None  # a stated URL not believed


def _head(page: _Page, base_url: str, page_url: str | None = None) -> _Head:
    """The page's own metadata, read before anything is taken out (the
    breadcrumb is furniture). The canonical URL is where the page was
    captured; the URL the page states (<link rel=canonical>, else og:url)
    only when it names that same page (urls.same_page: a page captured at
    one URL never speaks for another), or when there is no capture (a
    plain file: the build decides what its stated URL is worth)."""
    url = page.canonical_href.strip() if page.canonical_href is not None else page.meta("og:url")
    stated = readable_url(url) if url and url.startswith(("http://", "https://")) else None
    canonical, warning = stated or page_url, None
    if stated and page_url and not same_page(stated, page_url):
        canonical = page_url
        warning = f"the page states its URL is {safe_text(stated[:200])[0]}, not where it was captured: not believed"
    stated_date = page.meta("article:published_time") or _visible_date(page)
    title = page.meta("og:title") or (clean_text(page.text(page.title)) if page.title is not None else None)
    return _Head(canonical, stated_date, title, _breadcrumb_section(page, canonical or base_url), warning)


def _breadcrumb_section(page: _Page, base: str) -> str | None:
    """The last site section the first breadcrumb links to."""
    if page.breadcrumb is None:
        return None
    sections = [found.group(1) for a in page.inside(page.breadcrumb, page.anchors)
                if (found := _SECTION_URL.match(link(page.hrefs[a], "", "crumb", base).url))]
    return sections[-1] if sections else None


def _visible_date(page: _Page) -> str | None:
    if page.time_datetime is not None:
        return page.time_datetime.strip()
    for node in page.dated:
        match = _VISIBLE_DATE.search(unicodedata.normalize("NFKC", page.text(node, " ")))
        if match and _date(*match.groups()[:3]):
            year, month, day, hour, minute = match.groups()
            day_iso = _date(year, month, day).isoformat()
            return f"{day_iso}T{int(hour):02d}:{minute}" if hour else day_iso
    return None


def _holders(page: _Page, entry: int) -> set[int]:
    """The elements the entry is inside."""
    holders = set()
    parent = page.parents[entry]
    while parent >= 0:
        holders.add(parent)
        parent = page.parents[parent]
    return holders


def _furniture(page: _Page, holders: set[int]) -> set[int]:
    """Takes out the furniture; returns the <embed>s that only lost their
    tag (lxml nests what follows an <embed> inside it)."""
    unwrapped = set()
    for node in page.furniture:
        if node in holders or not page.present(node):
            continue
        if page.tags[node] == "embed":
            unwrapped.add(node)
        else:
            page.take_out(node)
    return unwrapped


def _title(page: _Page, head: _Head) -> str:
    heading = page.first(page.headings["h2"])
    if heading is None:
        heading = page.first(page.headings["h1"])
    title = clean_text(page.text(heading)) if heading is not None else head.title
    if not title:
        raise Rejected("no-article", "the page has a body but no title (<h2>, <h1>, og:title or <title>)")
    return title


def _links(page: _Page, node: int, kind: str, base: str) -> list[Link]:
    return [link(page.hrefs[a], clean_text(page.text(a)), kind, base) for a in page.inside(node, page.anchors)]


def _taken_out_with_links(page: _Page, nodes: list[int], kind: str, base: str) -> list[Link]:
    """The links of each node left, in order; takes the nodes out."""
    links = []
    for node in nodes:
        if page.present(node):  # not inside one taken out before it
            links += _links(page, node, kind, base)
            page.take_out(node)
    return links


def _notices(page: _Page, holders: set[int], base: str) -> list[Link]:
    return _taken_out_with_links(page, [n for n in page.notices if n not in holders], "boilerplate", base)


def _related(page: _Page, entry: int, base: str) -> list[Link]:
    return _taken_out_with_links(page, page.inside(entry, page.related), "related", base)


def _promo(page: _Page, entry: int, base: str) -> list[Link]:
    return _taken_out_with_links(page, page.inside(entry, page.promo), "promo", base)


@dataclass
class _Source:
    name: str | None = None
    url: str | None = None
    links: list[Link] = field(default_factory=list)


def _source_line(page: _Page, entry: int, base: str) -> _Source:
    """The last source line names the source; one inside another names
    none (it went with the outer one)."""
    lines = page.inside(entry, page.source_lines) or [
        p for p in page.inside(entry, page.ps) if _SOURCE_LINE.match(page.text(p))]
    source = _Source()
    for node in lines:
        if not page.present(node):
            source.name = source.url = None
            continue
        source.name = _SOURCE_LINE.sub("", clean_text(page.text(node))) or None
        found = _links(page, node, "source", base)
        source.url = found[0].url if found and found[0].web else None
        source.links += found
        page.take_out(node)
    return source


def _byline(page: _Page, entry: int, base: str) -> tuple[str | None, list[Link]]:
    for node in page.inside(entry, page.ps)[:3]:
        if _AUTHOR_LINE.match(page.text(node)):
            author = _AUTHOR_LINE.sub("", clean_text(page.text(node))) or None
            links = _links(page, node, "author", base)
            page.take_out(node)
            return author, links
    return None, []


def _body_links(page: _Page, entry: int, unwrapped: set[int], base: str) -> tuple[list[Link], dict[str, str | None]]:
    links = []
    tags: dict[str, str | None] = {}
    for a in page.inside(entry, page.anchors):
        parent = page.parents[a]
        while parent in unwrapped:
            parent = page.parents[parent]
        if "st_tag" in page.classes[a]:
            kind = "tag"
        elif parent >= 0 and any(c.startswith("wp_keywordlink") for c in page.classes[parent]):
            kind = "keyword"
        else:
            kind = "inline"
        found = link(page.hrefs[a], clean_text(page.text(a)), kind, base)
        links.append(found)
        if kind == "tag" and found.text:
            tags.setdefault(found.text, found.url if found.web else None)
    return links, tags


def _looks_like_subheading(page: _Page, node: int, text: str) -> bool:
    if page.tags[node] in ("h3", "h4", "h5", "h6"):
        return True
    if len(text) > 25 or "。" in text or "，" in text:
        return False
    bold = page.inside(node, page.bold)
    if bold and clean_text(page.text(bold[0])) == text:
        return True
    return not text.endswith(_ENDS_SENTENCE) and not _FULL_DATE.match(text)


def _paragraphs(page: _Page, entry: int) -> list[Paragraph]:
    paragraphs: list[Paragraph] = []
    for node in page.inside(entry, page.blocks):
        text = clean_text(page.text(node))
        if not text:
            continue
        if node in page.captions:
            role = "caption"
        elif _looks_like_subheading(page, node, text):
            role = "subheading"
            # In this template a photo's caption is the paragraph standing
            # just before a sub-heading, opening with the photo's date.
            if paragraphs and paragraphs[-1].role == "body" and _FULL_DATE.match(paragraphs[-1].text):
                paragraphs[-1].role = "caption"
        else:
            role = "body"
        paragraphs.append(Paragraph(role, text))
    return paragraphs


def _category(head: _Head) -> tuple[str | None, int | None]:
    """The site section, from the URL or else the breadcrumb, and the
    site's article number (from the URL only)."""
    category, number = article_url_parts(head.canonical)
    return category or head.section, number


def _published(head: _Head) -> tuple[str | None, list[str]]:
    """The date the page states if it is one, else the date in its URL."""
    published, warnings = head.stated_date, []
    if published and not _STATED_DATE.match(published):
        warnings.append(f"date {published[:40]!r} is not a date: ignored")
        published = None
    if not published and url_date(head.canonical or ""):
        published = url_date(head.canonical).isoformat()
    return published, warnings


def _not_before(title: str, paragraphs: list[Paragraph], related: list[Link]) -> str | None:
    """For an undated page, the latest full date in its text or in the URLs
    of its related reading: it cannot be older."""
    dates = []
    for text in [title] + [p.text for p in paragraphs]:
        if not _DAY_CHARS.search(text):  # no full date, even once normalised: NFKC is the costly part
            continue
        for match in _FULL_DATE.finditer(unicodedata.normalize("NFKC", text)):
            day = _date(*match.groups())
            if day:
                dates.append(day)
    dates += [d for d in (url_date(found.url) for found in related) if d]
    return max(dates).isoformat() if dates else None


def _page_warnings(text: str, title: str) -> list[str]:
    warnings = []
    if "<html" in text[:2000].lower() and "</html>" not in text[-2000:].lower():
        warnings.append("the page looks truncated (no closing </html>)")
    if _MIXED_SCRIPT_WORD.search(title):
        warnings.append("the title mixes Latin with Cyrillic or Greek letters (look-alike characters?)")
    return warnings


_BODY_CLASSES = re.compile(r"<body\b[^>]*?\bclass\s*=\s*[\"']([^\"'>]*)", re.IGNORECASE)


def _removal_notice(page: _Page, head: _Head, text: str) -> None:
    """Raises Rejected (versions.NOTICE) when the page is the site's notice
    that the page asked for is gone, sent in its place (versions.is_removal_notice)."""
    found = _BODY_CLASSES.search(text[:200_000])
    classes = set(found.group(1).split()) if found else set()
    heading = page.first(page.headings["h1"])
    title = " ".join(filter(None, [head.title, clean_text(page.text(heading)) if heading is not None else ""]))
    if is_removal_notice(title, classes) and (classes & NOTICE_CLASSES or not _has_entry_text(page)):
        raise Rejected(NOTICE, f"the site's notice that the page is gone ({safe_text(title[:80])[0]!r}), "
                               "not an article")


def _has_entry_text(page: _Page) -> bool:
    entry = page.div_entry if page.div_entry is not None else page.article
    return entry is not None and len(clean_text(page.text(entry))) > 200


def extract(text: str, *, base_url: str = SITE, page_url: str | None = None) -> Article:
    """Extract the article from a page's text. page_url is where the page was
    captured: the article's URL unless the page states a canonical URL for
    that same page (see _head).
    Raises Rejected when the page holds no article."""
    page = _parse(text)
    head = _head(page, base_url, page_url)
    _removal_notice(page, head, text)
    entry = page.div_entry if page.div_entry is not None else page.article
    if entry is None:
        raise Rejected("no-article", "no article on this page: no div.entry (or <article>) holds a body")
    holders = _holders(page, entry)
    unwrapped = _furniture(page, holders)
    title = _title(page, head)
    base = head.canonical or base_url
    boilerplate = _notices(page, holders, base)
    related = _related(page, entry, base)
    promo = _promo(page, entry, base)
    source = _source_line(page, entry, base)
    author, byline = _byline(page, entry, base)
    body_links, tags = _body_links(page, entry, unwrapped, base)
    paragraphs = _paragraphs(page, entry)
    if not paragraphs:
        raise Rejected("no-article", f"the page titled {title!r} has no body text")
    category, number = _category(head)
    published, date_warnings = _published(head)
    return _safe(Article(
        title=title,
        author=author,
        source=source.name,
        source_url=source.url,
        url=head.canonical,
        category=category,
        site_number=number,
        published=published,
        not_before=None if published else _not_before(title, paragraphs, related),
        script="traditional" if is_traditional(title + "".join(p.text for p in paragraphs)) else "simplified",
        paragraphs=paragraphs,
        tags=list(tags.items()),
        links=boilerplate + promo + source.links + byline + body_links + related,
        warnings=[w for w in [head.warning] if w] + date_warnings + _page_warnings(text, title),
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
