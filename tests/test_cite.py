"""Citations: the .ris and .bib exports, read back with real parsers (rispy,
bibtexparser), and the article page's citation meta tags and cite block, on
the seed and on articles whose fields are hostile to both formats."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

import bibtexparser
import pytest
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors
from bs4 import BeautifulSoup
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from bannedbook import cite
from bannedbook.site import make_datasette

BASE = "http://localhost/bannedbook/articles/"
HOSTILE = [
    {"id": "hostile-braces", "title": 'Open { brace, close } } and \\ % & $ # _ ^ ~ "quoted" \'single\' @misc{x,',
     "author": "王 and 李 {x}", "source": "Source & Co. 50% $ #1_a^b~c\\d", "source_url": "https://example.org/a_b%20c",
     "url": "https://www.bannedbook.org/bnews/x/{1} 2.html", "published": "2024-07-08T10:00:00+08:00",
     "not_before": None},
    {"id": "hostile-lines", "title": "第一行\n第二行\r\nER  - \nTY  - JOUR\t制表符\u2028分隔", "author": "作者\n换行",
     "source": None, "source_url": None, "url": None, "published": None, "not_before": "2023-05"},
    {"id": "hostile-traditional", "title": "習近平與「臺灣」問題：{評論}（繁體）", "author": "楊威", "source": "大紀元",
     "source_url": "http://www.epochtimes.com/b5/", "url": "https://www.bannedbook.org/bnews/comments/20240709/1.html",
     "published": None, "not_before": None},
]


def one_line(text: str | None) -> str | None:
    return re.sub(r"\s+", " ", text).strip() if text else text


def latex_decoder() -> LatexNodes2Text:
    """pylatexenc as bibtexparser uses it, taught four text macros its table
    lacks (LaTeX itself knows them)."""
    context = get_default_latex_context_db()
    context.add_context_category("text-macros", prepend=True, macros=[
        MacroTextSpec("textbraceleft", "{"), MacroTextSpec("textbraceright", "}"),
        MacroTextSpec("textasciicircum", "^"), MacroTextSpec("textasciitilde", "~")])
    return LatexNodes2Text(latex_context=context)


def parse_bib(text: str) -> dict[str, dict[str, str]]:
    """{key: {field: decoded value, "ENTRYTYPE": type}}, refusing any block the parser could not read."""
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware(decoder=latex_decoder())])
    assert not library.failed_blocks, [block.error for block in library.failed_blocks]
    return {e.key: {**{f.key: f.value for f in e.fields}, "ENTRYTYPE": e.entry_type} for e in library.entries}


def raw_bib_fields(text: str) -> dict[str, str]:
    library = bibtexparser.parse_string(text)
    return {f"{e.key}.{f.key}": f.value for e in library.entries for f in e.fields}


def copy_db(seed_db: Path, folder: Path, captured: bool) -> Path:
    """The seed build plus the hostile articles; with captured, a capture
    time for the seed and one hostile article (as if from a web archive)."""
    folder.mkdir()
    db_path = folder / "bannedbook.db"
    shutil.copy(seed_db, db_path)
    with sqlite3.connect(db_path) as db:
        (top,) = db.execute("select max(date_order) from articles").fetchone()
        for offset, row in enumerate(HOSTILE, 1):
            db.execute("""insert into articles (id, url, title, author, source, source_url, published, not_before,
                          year, date_order, script, body, file) values (?, ?, ?, ?, ?, ?, ?, ?, 2024, ?, 'simplified',
                          '正文', 'hostile.txt')""",
                       [row["id"], row["url"], row["title"], row["author"], row["source"], row["source_url"],
                        row["published"], row["not_before"], top + offset])
        db.execute("insert into tags (id, name, url) values ('{标签}_%', '{标签}_%', null)")
        db.execute("insert into article_tags (article_id, tag_id) values ('hostile-braces', '{标签}_%')")
        if captured:
            db.execute("update articles set captured = '2024-07-10T08:00:00+00:00' where file != 'hostile.txt'")
            db.execute("update articles set captured = '2024-06-01' where id = 'hostile-traditional'")
    return db_path


@pytest.fixture(scope="module")
def dbs(seed_db, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cite")
    return {"plain": copy_db(seed_db, folder / "plain", captured=False),
            "captured": copy_db(seed_db, folder / "captured", captured=True)}


@pytest.fixture(scope="module")
def get(dbs):
    sites = {name: make_datasette(path) for name, path in dbs.items()}

    def fetch(path: str, db: str = "plain", status: int = 200):
        response = asyncio.run(sites[db].client.get(path))
        assert response.status_code == status, (path, response.text[:500])
        return response

    return fetch


@pytest.fixture(scope="module")
def seed_id(seed_db) -> str:
    with sqlite3.connect(seed_db) as db:
        return db.execute("select id from articles").fetchone()[0]


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def test_seed_as_ris(get, seed_id, gold):
    response = get(f"/bannedbook/articles/{seed_id}.ris")
    assert response.headers["content-type"].startswith("application/x-research-info-systems")
    (record,) = rispy.loads(response.text)
    archive = BASE + seed_id
    assert record["type_of_reference"] == "NEWS"
    assert record["id"] == seed_id
    assert record["title"] == gold["title"]
    assert record["authors"] == [gold["author"]]
    assert gold["source_contains"] in record["publisher"] and record["secondary_title"] == record["publisher"]
    # No date on the page and no capture date: the estimate, marked.
    assert record["year"] == "2024" and record["date"] == "2024/07/04/not before"
    assert record["access_date"] in {today().replace("-", "/"), (dt.date.today()).isoformat().replace("-", "/")}
    assert record["urls"] == [archive]  # no original URL on a fragment: the archive's
    assert record["file_attachments2"] == archive
    assert record["name_of_database"] == cite.ARCHIVE
    assert record["language"] == "zh"
    assert sorted(record["keywords"]) == sorted(gold["tags"])
    (note,) = record["notes"]
    assert archive in note and "not before 2024-07-04" in note and gold["source_url"] in note


def test_seed_as_bibtex(get, seed_id, gold):
    response = get(f"/bannedbook/articles/{seed_id}.bib")
    assert response.headers["content-type"].startswith("application/x-bibtex")
    entries = parse_bib(response.text)
    entry = entries[f"bannedbook-{seed_id}"]
    assert entry["ENTRYTYPE"] == "article"
    assert entry["title"] == gold["title"]
    assert entry["author"] == gold["author"]
    assert gold["source_contains"] in entry["journal"] and entry["publisher"] == entry["journal"]
    assert (entry["year"], entry["month"], entry["date"]) == ("2024", "7", "2024-07-04/")
    assert entry["url"] == BASE + seed_id
    assert entry["urldate"] in {today(), dt.date.today().isoformat()}
    assert sorted(entry["keywords"].split(", ")) == sorted(gold["tags"])
    assert entry["language"] == "Chinese"
    assert BASE + seed_id in entry["note"] and "not before 2024-07-04" in entry["note"]


def test_hostile_fields_survive_both_formats(get):
    for row in HOSTILE:
        records = rispy.loads(get(f"/bannedbook/articles/{row['id']}.ris").text)
        assert len(records) == 1, "a value broke out of its line"
        record = records[0]
        assert record["title"] == one_line(row["title"])
        assert record["authors"] == [one_line(row["author"])]
        assert record["publisher"] == (row["source"] or cite.SITE)
        assert record["urls"] == [row["url"] or BASE + row["id"]]

        text = get(f"/bannedbook/articles/{row['id']}.bib").text
        ((key, entry),) = parse_bib(text).items()
        assert key.isascii() and row["id"].replace("-", "") in key
        assert entry["title"] == one_line(row["title"])
        assert entry["author"] == one_line(row["author"])
        # One author, whatever the name holds ("王 and 李" is no list of two).
        (split,) = bibtexparser.parse_string(text, append_middleware=[SeparateCoAuthors()]).entries
        names = split["author"]
        assert len(names) == 1
        assert entry["publisher"] == (row["source"] or cite.SITE)
        assert entry["ENTRYTYPE"] == ("article" if row["source"] else "misc")
        if row["source"]:
            assert entry["journal"] == row["source"]
        # BibTeX counts every brace, escaped or not: each value must balance.
        for name, value in raw_bib_fields(text).items():
            depth = 0
            for char in value:
                depth += {"{": 1, "}": -1}.get(char, 0)
                assert depth >= 0, name
            assert depth == 0, name
    text = get("/bannedbook/articles/hostile-braces.bib").text
    (entry,) = parse_bib(text).values()
    assert entry["keywords"] == "{标签}_%"
    # biblatex reads url verbatim (no LaTeX decoding): only braces and spaces are encoded.
    assert raw_bib_fields(text)["bannedbook-hostilebraces.url"] == "https://www.bannedbook.org/bnews/x/%7B1%7D%202.html"
    assert (entry["year"], entry["month"], entry["date"]) == ("2024", "7", "2024-07-08")
    assert rispy.loads(get("/bannedbook/articles/hostile-lines.ris").text)[0]["date"] == "2023/05//not before"


def test_many_articles_one_file_with_unique_ascii_keys(get, seed_id):
    ids = [seed_id, *(row["id"] for row in HOSTILE)]
    query = "id__in=" + ",".join(ids)
    text = get(f"/bannedbook/articles.bib?{query}").text
    entries = parse_bib(text)
    assert len(entries) == len(ids)
    assert all(key.isascii() and re.fullmatch(r"[A-Za-z0-9-]+", key) for key in entries)
    records = rispy.loads(get(f"/bannedbook/articles.ris?{query}").text)
    assert sorted(r["id"] for r in records) == sorted(ids)


def test_search_and_table_exports_look_articles_up_by_id(get, seed_id, gold):
    # The search query returns snippets with match marks as its title: the
    # export must cite the article's own title.
    for path in ("/bannedbook/search.ris?q=" + quote("普京"), "/bannedbook/articles.ris?_search=" + quote("普京"),
                 "/bannedbook/articles.ris?_col=title&_search=" + quote("普京"),
                 "/bannedbook.ris?sql=" + quote("select id from articles where title like '%哈萨克斯坦%'")):
        (record,) = rispy.loads(get(path).text)
        assert record["id"] == seed_id and record["title"] == gold["title"], path
    assert "bannedbook-" + seed_id in parse_bib(get("/bannedbook/search.bib?q=" + quote("習近平")).text)


def test_exports_only_where_there_are_articles(get, seed_id):
    get("/bannedbook/tags.ris", status=400)
    get("/bannedbook.bib?sql=" + quote("select title from articles"), status=400)
    get("/bannedbook/search.ris?q=" + quote("不存在的词语组合"), status=404)
    table = BeautifulSoup(get("/bannedbook/articles").text, "html.parser")
    assert table.select_one('a[href^="/bannedbook/articles.ris"]')
    assert table.select_one('a[href^="/bannedbook/articles.bib"]')
    tags = BeautifulSoup(get("/bannedbook/tags").text, "html.parser")
    assert not tags.select_one('a[href*=".ris"]') and not tags.select_one('a[href*=".bib"]')


def meta(page: BeautifulSoup) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for tag in page.head.find_all("meta", attrs={"name": re.compile("^citation_")}):
        found.setdefault(tag["name"], []).append(tag["content"])
    return found


def test_article_page_meta_tags_and_cite_block(get, seed_id, gold):
    page = BeautifulSoup(get(f"/bannedbook/articles/{seed_id}").text, "html.parser")
    tags = meta(page)
    archive = BASE + seed_id
    assert tags["citation_title"] == [gold["title"]]
    assert tags["citation_author"] == [gold["author"]]
    assert gold["source_contains"] in tags["citation_publisher"][0]
    assert tags["citation_public_url"] == [archive]
    assert page.head.find("link", rel="canonical")["href"] == archive
    # The page states no date and no capture date is known: no date to claim.
    assert "citation_publication_date" not in tags and "citation_online_date" not in tags

    block = page.select_one("section.cite")
    assert block.select_one("a.archive-url")["href"] == archive
    assert "not stated" in block.select_one(".original-url").get_text()
    assert "not recorded" in block.select_one(".captured").get_text()
    assert "not before 2024-07-04" in block.select_one(".citation").get_text()
    for link, parse in (("a.ris", rispy.loads), ("a.bib", parse_bib)):
        assert len(parse(get(block.select_one(link)["href"]).text)) == 1


def test_captured_date_is_cited_when_the_database_has_it(get, seed_id):
    archive = BASE + seed_id
    (record,) = rispy.loads(get(f"/bannedbook/articles/{seed_id}.ris", db="captured").text)
    assert record["date"] == "2024/07/10/captured" and record["access_date"] == "2024/07/10"
    assert "Captured 2024-07-10" in record["notes"][0]
    entry = parse_bib(get(f"/bannedbook/articles/{seed_id}.bib", db="captured").text)[f"bannedbook-{seed_id}"]
    assert (entry["date"], entry["urldate"]) == ("2024-07-10", "2024-07-10")

    page = BeautifulSoup(get(f"/bannedbook/articles/{seed_id}", db="captured").text, "html.parser")
    tags = meta(page)
    assert tags["citation_online_date"] == ["2024/07/10"] and "citation_publication_date" not in tags
    assert page.select_one("section.cite .captured").get_text() == "2024-07-10"
    assert page.select_one("section.cite a.archive-url")["href"] == archive

    # A stated date wins over the capture date; the capture date is still the online date.
    page = BeautifulSoup(get("/bannedbook/articles/hostile-traditional", db="captured").text, "html.parser")
    tags = meta(page)
    assert tags["citation_title"] == [HOSTILE[2]["title"]] and tags["citation_author"] == ["楊威"]
    assert tags["citation_online_date"] == ["2024/06/01"]
    assert page.select_one("section.cite a.original-url")["href"] == HOSTILE[2]["url"]
    page = BeautifulSoup(get("/bannedbook/articles/hostile-braces", db="captured").text, "html.parser")
    assert meta(page)["citation_publication_date"] == ["2024/07/08"]
    assert meta(page)["citation_title"] == [HOSTILE[0]["title"]]


@pytest.mark.parametrize("value, expected", [
    ("2024-07-08T10:00:00+08:00", "2024-07-08"), ("2024-07", "2024-07"), ("2024", "2024"),
    (" 2024-07-08 ", "2024-07-08"),
    (1720598400, "2024-07-10"), (1720598400 * 10**9, "2024-07-10"), ("", None), (None, None), ("July", None),
])
def test_dates_from_what_a_column_may_hold(value, expected):
    assert cite.day(value) == expected
