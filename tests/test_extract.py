"""The seed page against the gold, field by field, and the other shapes."""

import unicodedata

import pytest
from helpers.pages import CANONICAL, NO_AUTHOR_NO_TAGS, SEED, full_page, traditional

from bannedbook.build.extract import _DAY_CHARS, extract, readable_url
from bannedbook.errors import Rejected


@pytest.fixture(scope="module")
def seed():
    return extract(SEED)


def links(article, kind):
    return [link for link in article.links if link.kind == kind]


def test_title_author_source(seed, gold):
    assert seed.title == gold["title"]
    assert seed.author == gold["author"]
    assert gold["source_contains"] in seed.source
    assert seed.source_url == gold["source_url"]
    assert seed.url == gold["url"]


def test_dates(seed, gold):
    assert seed.published == gold["published"]["exact"]
    assert seed.not_before == gold["published"]["not_before"]


def test_tags(seed, gold):
    assert {name for name, _ in seed.tags} == set(gold["tags"])
    urls = dict(seed.tags)
    for name, url in gold["tag_urls"].items():
        assert urls[name] == url


def test_related(seed, gold):
    related = links(seed, "related")
    assert len(related) == len(gold["related"])
    for link, expected in zip(related, gold["related"], strict=True):
        assert link.url == expected["url"]
        if "text" in expected:
            assert link.text == expected["text"]
        else:
            assert link.text.startswith(expected["text_starts_with"])


def test_keyword_boilerplate_and_promo_links(seed, gold):
    assert {(link.url, link.text) for link in links(seed, "keyword")} == {
        (k["url"], k["text"]) for k in gold["keyword_links"]
    }
    boilerplate = {link.url for link in links(seed, "boilerplate")}
    assert set(gold["boilerplate_links_not_in_body"]) <= boilerplate
    promo = {link.url for link in links(seed, "promo")}
    related = {link.url for link in links(seed, "related")}
    assert set(gold["promo_links_not_related"]) <= promo
    assert not promo & related
    assert {link.url for link in links(seed, "author")} == {"https://www.bannedbook.org/bnews/tag/杨威/"}


def test_body(seed, gold):
    assert seed.body.startswith(gold["body_starts_with"])
    assert seed.body.endswith(gold["body_ends_with"])
    for text in gold["body_must_contain"]:
        assert text in seed.body
    for text in gold["body_must_not_contain"]:
        assert text not in seed.body


def test_paragraph_roles(seed, gold):
    roles = gold["paragraph_roles"]
    assert [p.text for p in seed.paragraphs if p.role == "caption"] == roles["caption"]
    assert [p.text for p in seed.paragraphs if p.role == "subheading"] == roles["subheading"]
    assert sum(p.role == "body" for p in seed.paragraphs) == roles["body_paragraph_count"]
    for caption in roles["caption"]:
        assert caption not in seed.body


def test_script(seed):
    assert seed.script == "simplified"
    assert extract(traditional(SEED)).script == "traditional"


def test_full_page_uses_head_metadata_and_drops_furniture():
    article = extract(full_page())
    assert article.url == CANONICAL
    assert article.category == "comments"
    assert article.site_number == 2059001
    assert article.published == "2024-07-08T09:30:00+08:00"
    assert article.not_before is None
    assert article.title == "杨威：中共能挖动哈萨克斯坦和上合组织吗？"
    for furniture in ("侧栏", "页脚", "tracking", "热门文章", "首页"):
        assert furniture not in article.body


def test_date_from_url_when_no_meta():
    article = extract(full_page(published=None))
    assert article.published == "2024-07-08"


def test_no_author_no_tags():
    article = extract(NO_AUTHOR_NO_TAGS)
    assert article.author is None
    assert article.tags == []
    assert article.source is None
    assert article.not_before is None
    assert len(article.paragraphs) == 2


def test_an_undated_page_is_dated_by_any_full_date_its_text_has_once_normalised():
    # Only text holding a character whose NFKC form holds 日 is normalised to
    # look for a date: the list of them must be the whole of Unicode's.
    day = {chr(code) for code in range(0x110000) if "日" in unicodedata.normalize("NFKC", chr(code))}
    assert day == {chr(code) for code in range(0x110000) if _DAY_CHARS.match(chr(code))}
    # Dates in full-width digits, or with 月 as a Kangxi radical (⽉) and a
    # squared day (㏦ is 7日): the latest counts.
    def with_paragraph(text):
        return SEED.replace('<div class="entry">', f'<div class="entry"><p>{text}</p>', 1)

    assert extract(with_paragraph("２０２５年１２月３日、2026年1⽉㏦，⼈")).not_before == "2026-01-07"
    assert extract(with_paragraph("２０２５年１２月３日")).not_before == "2025-12-03"


def test_no_article_is_rejected():
    with pytest.raises(Rejected) as rejected:
        extract("<html><body><div id='sidebar'>menu</div></body></html>")
    assert rejected.value.reason == "no-article"


def test_readable_url_decodes_only_utf8_escapes():
    assert readable_url("https://x.org/tag/%e6%99%ae%e4%ba%ac/?q=a%20b") == "https://x.org/tag/普京/?q=a%20b"
    assert readable_url("https://x.org/%ff%fe") == "https://x.org/%ff%fe"


# lxml's tree builder stops 256 elements deep without a word; such pages are
# read through bs4's tree instead, which must give the same records.

PAGES = {"seed": SEED, "full": full_page(), "traditional": traditional(full_page()),
         "no author, no tags": NO_AUTHOR_NO_TAGS}


@pytest.mark.parametrize("name", PAGES)
def test_bs4_tree_gives_the_records_lxml_gives(name, monkeypatch):
    from dataclasses import asdict

    from bannedbook.build import extract as module

    through_lxml = asdict(extract(PAGES[name]))
    monkeypatch.setattr(module, "_LXML_MAX_DEPTH", 0)  # every page through bs4
    assert asdict(extract(PAGES[name])) == through_lxml


def test_a_page_nested_past_lxml_depth_keeps_its_article():
    deep = full_page().replace('<div class="entry">', '<div class="entry">' + "<div>" * 300 + "<p>深处的一段。</p>")
    article = extract(deep)
    assert "深处的一段。" in article.body
    assert article.body.endswith(extract(full_page()).body)


def test_category_from_the_breadcrumb_when_the_url_has_none():
    world = full_page().replace('<a href="https://www.bannedbook.org/bnews/comments/">评论</a></div>',
                                '<a href="/bnews/world/">国际</a> » <a href="/bnews/tag/普京/">普京</a></div>')
    assert "/bnews/world/" in world  # the breadcrumb now ends in 国际, then a tag page (not a section)
    assert extract(world).category == "comments"  # the URL's section comes first
    assert extract(world.replace(CANONICAL, "https://www.bannedbook.org/about.html")).category == "world"
    assert extract(SEED).category is None  # no URL, no breadcrumb
