"""The one-walk extractor gives exactly the records the old one gave
(tests/old_extract.py): every field, paragraph, link, tag and warning, and
the same rejection with the same message, on every page shape the tests
know, hostile pages, fuzzed ones and a synthetic crawl. A tool for the
rewrite, removed once it is done."""

from __future__ import annotations

import dataclasses
import os
import sys

import old_extract
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pages import CANONICAL, NO_ARTICLE, NO_AUTHOR_NO_TAGS, SEED, crawl, full_page, traditional
from test_fuzz import HTML_PIECES, mutated_page
from test_hostile import HOSTILE_BODY, hostile_page

from bannedbook.decode import Rejected, decode
from bannedbook.extract import extract

sys.path.insert(0, str(ROOT / "benchmarks"))
from corpus import generate  # noqa: E402

EXAMPLES = int(os.environ.get("EQUIVALENCE_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def outcome(extractor, text: str):
    try:
        return ("article", dataclasses.asdict(extractor(text)))
    except Rejected as rejected:
        return ("rejected", rejected.reason, rejected.message)
    except Exception as error:  # noqa: BLE001 - the build records any other failure by its type and message
        return ("error", type(error).__name__, str(error))


def assert_same(text: str) -> None:
    old, new = outcome(old_extract.extract, text), outcome(extract, text)
    assert new == old


def decoded(data: bytes) -> str | None:
    try:
        return decode(data).text
    except Rejected:
        return None


# Pages whose shape makes the old extractor's order of removals matter.
EDGES = {
    "nested source lines": '<h2>T</h2><div class="entry"><p class="src-info">来源：A<span>'
                           '<p class="src-info">来源：B</p></span></p><p>正文一段。</p></div>',
    "nested notices": '<h2>T</h2><p class="notice"><span><a href="/x">x</a><p class="notice"><a href="/y">y</a>'
                      '</p></span></p><div class="entry"><p>正文一段。</p></div>',
    "nested related": '<h2>T</h2><div class="entry"><p>正文一段。</p><ul class="op-related-articles"><li>'
                      '<a href="/a">a</a><ul class="op-related-articles"><li><a href="/b">b</a></li></ul></li></ul>'
                      '<ul class="texttj"><li><a href="/p">p</a></li></ul></div>',
    "entry is furniture": '<h2>T</h2><div class="entry widget"><p>正文一段。</p></div>',
    "breadcrumb holds the entry": '<div class="breadcrumb"><a href="/bnews/comments/20240101/123.html">c</a>'
                                  '<h2>T</h2><div class="entry"><p>正文一段。</p></div></div>',
    "empty time": '<time datetime=" "></time><h2>T</h2><div class="entry"><p>正文一段。</p></div>',
    "date in a script": '<script class="date">2024-01-02</script><h2>T</h2><div class="entry"><p>正文。</p></div>',
    "date line": '<div class="postmeta">发布于 2023年 5 月 6 日 12:30</div><h2>T</h2><div class="entry">'
                 '<p>正文。</p></div>',
    "ruby and template": '<h2>T<rt>x</rt></h2><div class="entry"><p>正<ruby>文<rt>wen</rt></ruby>。</p>'
                         '<template><p>模板</p><a href="/t">t</a></template><p><strong>小标题</strong></p></div>',
    "keyword link in an embed": '<h2>T</h2><div class="entry"><p>正文<span class="wp_keywordlink">'
                                '<embed><a href="/k">词</a></span>。</p></div>',
    "article, no div.entry": '<h1>标题</h1><article><p>作者：某人</p><p>来源：某处</p><p>正文。</p></article>',
    "heading in furniture": '<nav><h2>菜单</h2></nav><h1>真标题</h1><div class="entry"><p>正文。</p></div>',
    "only a title": '<title>只有标题</title><div class="entry"><p>正文。</p></div>',
    "no title": '<div class="entry"><p>正文。</p></div>',
    "markup after </html>": " <</HTML>!-- x --> " + SEED,
    "empty": "",
    "comment only": "<!-- nothing -->",
    "byte-order mark": "\ufeff" + NO_AUTHOR_NO_TAGS,
    "lone surrogate": "<h2>T</h2><div class='entry'><p>\ud800</p></div>",
    "deep": full_page().replace('<div class="entry">', '<div class="entry">' + "<div>" * 3000),
    "deep, then paragraphs": full_page().replace('<div class="entry">', '<div class="entry">' + "<div>" * 300
                                                 + "<p>深处的一段。</p>"),
    "unclosed": full_page().replace("</p>", "").replace("</div>", ""),
}

PAGES = {
    "seed": SEED,
    "full page": full_page(),
    "traditional": traditional(full_page()),
    "no author, no tags": NO_AUTHOR_NO_TAGS,
    "no article": NO_ARTICLE,
    "hostile": hostile_page(),
    "hostile fragment": HOSTILE_BODY,
    "bad date": full_page(published="not a date", url=CANONICAL.replace("2059001", "99999999999999999999999")),
    **EDGES,
    **{f"crawl {name}": text for name, data in crawl().items() if (text := decoded(data)) is not None},
}


@pytest.mark.parametrize("name", PAGES)
def test_known_pages(name):
    assert_same(PAGES[name])


def test_synthetic_crawl(tmp_path):
    generate(tmp_path, 400, seed=11)
    pages = [text for path in sorted(tmp_path.rglob("*.*")) if (text := decoded(path.read_bytes())) is not None]
    assert len(pages) > 350
    for text in pages:
        assert_same(text)


@SETTINGS
@given(mutated_page())
def test_mutated_pages(data):
    text = decoded(data)
    if text is not None:
        assert_same(text)


@SETTINGS
@given(st.lists(HTML_PIECES, max_size=60).map("".join))
def test_pieces_of_markup(text):
    assert_same(text)
