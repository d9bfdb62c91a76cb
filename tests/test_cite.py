"""Citations: one record per article on every route (the page's meta tags
and cite block, RIS, BibTeX, the COinS of list pages), read back by readers
the archive did not write (rispy, bibtexparser, pybtex, citation-js), on the
seed and on articles whose fields are hostile to every format."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import sqlite3
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote

import pytest
import rispy
from bs4 import BeautifulSoup
from helpers.readers import bibtexparser_entries, citationjs, pybtex_entries, raw_bib_fields
from pybtex.richtext import Text

from bannedbook.research import cite
from bannedbook.web.site import make_datasette

BASE = "https://archive.example.org"  # the configured base_url
ARTICLES = BASE + "/bannedbook/articles/"
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
    {"id": "hostile-latin", "title": "Ünïcode ~tilde^caret {paired} cost $5 & 100% #1 _x_ \\path",
     "author": "José O'Brien-Smith", "source": "The New York Times", "source_url": "data:text/html,<b>x</b>",
     "url": "javascript:alert(1)", "published": "2024-07", "not_before": None},
]


def one_line(text: str | None) -> str | None:
    return re.sub(r"\s+", " ", text).strip() if text else text


def copy_db(seed_db: Path, folder: Path, captured: bool) -> Path:
    """The seed build plus the hostile articles; with captured, a capture
    time and not_after bound for the seed (as if from a web archive)."""
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
            db.execute("""update articles set captured = '2024-07-10T08:00:00+00:00', not_after = '2024-07-10'
                          where file != 'hostile.txt'""")
            db.execute("update articles set captured = '2024-06-01' where id = 'hostile-traditional'")
    return db_path


def site(db: Path, base_url: str | None = BASE):
    datasette = make_datasette(db)
    if base_url:
        datasette._metadata_local.setdefault("plugins", {}).setdefault("bannedbook", {})["base_url"] = base_url
    return datasette


@pytest.fixture(scope="module")
def dbs(seed_db, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cite")
    return {"plain": copy_db(seed_db, folder / "plain", captured=False),
            "captured": copy_db(seed_db, folder / "captured", captured=True)}


@pytest.fixture(scope="module")
def get(dbs):
    sites = {name: site(path) for name, path in dbs.items()}

    def fetch(path: str, db: str = "plain", status: int = 200, headers: dict | None = None):
        response = asyncio.run(sites[db].client.get(path, headers=headers))
        assert response.status_code == status, (path, response.text[:500])
        return response

    return fetch


@pytest.fixture(scope="module")
def seed_id(seed_db) -> str:
    with sqlite3.connect(seed_db) as db:
        return db.execute("select id from articles").fetchone()[0]


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def meta(page: BeautifulSoup) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for tag in page.head.find_all("meta", attrs={"name": True}):
        found.setdefault(tag["name"], []).append(tag["content"])
    return found


def test_seed_is_an_undated_news_article_on_every_route(get, seed_id, gold):
    """The seed states no date: no route gives it one; every route gives the
    same type, title, author, outlet and URL."""
    archive = ARTICLES + seed_id
    (record,) = rispy.loads(get(f"/bannedbook/articles/{seed_id}.ris").text)
    assert record["type_of_reference"] == "NEWS" and record["id"] == seed_id
    assert (record["title"], record["authors"], record["urls"]) == (gold["title"], [gold["author"]], [archive])
    assert gold["source_contains"] in record["secondary_title"]
    assert "date" not in record and "year" not in record and "publisher" not in record
    assert record["access_date"] == today().replace("-", "/")
    assert sorted(record["keywords"]) == sorted(gold["tags"])
    (note,) = record["notes"]
    assert "Undated: the page states no date; not before 2024-07-04" in note and gold["source_url"] in note

    text = get(f"/bannedbook/articles/{seed_id}.bib").text
    entry = bibtexparser_entries(text)[f"bannedbook-{seed_id}"]
    assert (entry["ENTRYTYPE"], entry["entrysubtype"]) == ("article", "newspaper")
    assert (entry["title"], entry["author"], entry["journal"]) == (gold["title"], gold["author"],
                                                                   record["secondary_title"])
    assert not {"date", "year", "month", "publisher"} & entry.keys()
    assert (entry["url"], entry["urldate"]) == (archive, today())
    assert "not before 2024-07-04" in entry["note"]

    page = BeautifulSoup(get(f"/bannedbook/articles/{seed_id}").text, "html.parser")
    tags = meta(page)
    assert tags["z:itemType"] == ["newspaperArticle"]
    assert tags["citation_title"] == [gold["title"]] and tags["citation_author"] == [gold["author"]]
    assert tags["prism.publicationName"] == [record["secondary_title"]]
    assert tags["citation_public_url"] == [archive] and page.head.find("link", rel="canonical")["href"] == archive
    # No date, and nothing Zotero would take for one.
    dates = {"citation_publication_date", "citation_date", "citation_online_date"}
    assert not (dates | {"citation_publisher"}) & tags.keys()
    assert not page.select("time[datetime]")
    # Nor anything Zotero would take for an author when a page names none (its byline fallback).
    assert not page.select('[class*="byline" i], [class*="vcard" i], a[rel="author"]')
    assert "not before 2024-07-04" in tags["DC.description"][0]
    block = page.select_one("section.cite")
    assert block.select_one("a.archive-url")["href"] == archive
    assert "not stated on the page" in block.select_one(".cite-date").get_text()
    assert "undated" in block.select_one(".citation").get_text()


def test_capture_dates_are_notes_never_the_date(get, seed_id):
    (record,) = rispy.loads(get(f"/bannedbook/articles/{seed_id}.ris", db="captured").text)
    assert "date" not in record and "year" not in record
    assert record["access_date"] == today().replace("-", "/")  # the day the archive's URL was read
    assert "not after 2024-07-10 (its first capture)" in record["notes"][0]
    assert "Captured: 2024-07-10" in record["notes"][0]
    entry = bibtexparser_entries(get(f"/bannedbook/articles/{seed_id}.bib", db="captured").text)
    assert not {"date", "year"} & entry[f"bannedbook-{seed_id}"].keys()
    page = BeautifulSoup(get(f"/bannedbook/articles/{seed_id}", db="captured").text, "html.parser")
    tags = meta(page)
    assert "citation_online_date" not in tags and "citation_publication_date" not in tags
    assert not page.select("time[datetime]")
    assert "Captured: 2024-07-10" in tags["DC.description"][0]
    assert page.select_one("section.cite .captured").get_text() == "2024-07-10"

    # A stated date is the date, on every route.
    page = BeautifulSoup(get("/bannedbook/articles/hostile-braces", db="captured").text, "html.parser")
    assert meta(page)["citation_publication_date"] == ["2024/07/08"]
    assert rispy.loads(get("/bannedbook/articles/hostile-braces.ris").text)[0]["date"] == "2024/07/08/"
    entry = bibtexparser_entries(get("/bannedbook/articles/hostile-braces.bib").text)["bannedbook-hostilebraces"]
    assert (entry["date"], entry["year"], entry["month"]) == ("2024-07-08", "2024", "7")


def expected(row: dict) -> dict:
    return {"title": one_line(row["title"]), "author": one_line(row["author"]), "outlet": row["source"] or cite.SITE,
            "url": ARTICLES + row["id"], "date": cite.day(row["published"])}


def test_hostile_fields_read_back_by_rispy_and_citationjs(get):
    for row in HOSTILE:
        want = expected(row)
        text = get(f"/bannedbook/articles/{row['id']}.ris").text
        records = rispy.loads(text)
        assert len(records) == 1, "a value broke out of its line"
        (record,) = records
        assert (record["title"], record["authors"], record["secondary_title"], record["urls"]) == (
            want["title"], [want["author"]], want["outlet"], [want["url"]])
        assert record.get("date") == (want["date"].replace("-", "/") + "/" * (3 - want["date"].count("-"))
                                      if want["date"] else None)
        assert "javascript:" not in text and "data:" not in text

        (item,) = citationjs(text, "ris")
        assert (item["type"], item["title"], item["container-title"], item["URL"]) == (
            "article-newspaper", want["title"], want["outlet"], want["url"])
        # RIS names a news article's AU its reporter; citation-js reads the year from PY.
        names = item.get("reporter") or item.get("author")
        names = [names] if isinstance(names, str) else [
            n.get("literal") or " ".join(filter(None, (n.get("given"), n.get("family")))) for n in names]
        assert names == [want["author"]]
        assert item.get("issued", {}).get("date-parts", [[None]])[0][0] == (int(want["date"][:4]) if want["date"]
                                                                           else None)


def test_hostile_fields_read_back_by_three_bibtex_readers(get):
    for row in HOSTILE:
        want = expected(row)
        text = get(f"/bannedbook/articles/{row['id']}.bib").text
        assert "javascript:" not in text and "data:" not in text
        ((key, entry),) = bibtexparser_entries(text).items()
        assert key.isascii() and row["id"].replace("-", "") in key
        assert (entry["title"], entry["author"], entry["journal"], entry.get("date")) == (
            want["title"], want["author"], want["outlet"], want["date"])
        # BibTeX counts every brace, escaped or not: each value must balance.
        for name, value in raw_bib_fields(text).items():
            depth = 0
            for char in value:
                depth += {"{": 1, "}": -1}.get(char, 0)
                assert depth >= 0, name
            assert depth == 0, name

        entries = pybtex_entries(text)
        assert list(entries) == [key]
        parsed = entries[key]
        assert len(parsed.persons["author"]) == 1, "one name, whatever it holds"
        assert parsed.type == "article" and parsed.fields["entrysubtype"] == "newspaper"
        # pybtex decodes LaTeX through latexcodec, which reads none of $ ^ { }:
        # the text is compared where it holds none of them.
        if not set("$^{}") & set(want["title"]):
            assert Text.from_latex(parsed.fields["title"]).render_as("text") == want["title"]

        (item,) = citationjs(text, "bib")
        assert (item["title"], item["container-title"], item["URL"]) == (want["title"], want["outlet"], want["url"])
        assert [n.get("literal") or n.get("family") for n in item["author"]] == [want["author"]]
        assert item.get("issued", {}).get("date-parts") == (
            [[int(part) for part in want["date"].split("-")]] if want["date"] else None)


def test_seed_title_read_back_by_pybtex(get, seed_id, gold):
    entry = pybtex_entries(get(f"/bannedbook/articles/{seed_id}.bib").text)[f"bannedbook-{seed_id}"]
    assert Text.from_latex(entry.fields["title"]).render_as("text") == gold["title"]
    assert str(entry.persons["author"][0]).strip("{}") == gold["author"]


def test_many_articles_one_file_with_unique_ascii_keys(get, seed_id):
    ids = [seed_id, *(row["id"] for row in HOSTILE)]
    query = "sql=" + quote("select id from articles where id in (" + ",".join(f"'{i}'" for i in ids) + ")")
    text = get(f"/bannedbook.bib?{query}").text
    entries = bibtexparser_entries(text)
    assert len(entries) == len(ids) == len(pybtex_entries(text))
    assert all(key.isascii() and re.fullmatch(r"[A-Za-z0-9-]+", key) for key in entries)
    records = rispy.loads(get(f"/bannedbook.ris?{query}").text)
    assert sorted(r["id"] for r in records) == sorted(ids)


def test_exports_only_where_there_are_articles(get):
    get("/bannedbook/tags.ris", status=400)
    get("/bannedbook.bib?sql=" + quote("select title from articles"), status=400)
    tags = BeautifulSoup(get("/bannedbook/tags").text, "html.parser")
    assert not tags.select_one('a[href*=".ris"]') and not tags.select_one('a[href*=".bib"]')


def coins_items(html: str) -> list[dict[str, str]]:
    page = BeautifulSoup(html, "html.parser")
    return [dict(parse_qsl(span["title"])) for span in page.select("span.Z3988[title]")]


def test_lists_of_articles_carry_coins_zotero_reads(get, seed_id, gold):
    """Zotero's COinS translator offers a page with two spans or more as a
    list; each span is the same record as the article's own."""
    for path in ("/bannedbook/articles", "/bannedbook/search?q=" + quote("普京"),
                 "/bannedbook/author?author=" + quote(gold["author"]), "/bannedbook/articles?_search=" + quote("普京")):
        items = coins_items(get(path).text)
        assert items, path
        (seed,) = [item for item in items if item["rft.identifier"] == ARTICLES + seed_id]
        assert seed["rft_val_fmt"] == "info:ofi/fmt:kev:mtx:dc" and seed["rft.type"] == "newspaperArticle"
        assert (seed["rft.title"], seed["rft.creator"]) == (gold["title"], gold["author"])  # no highlight marks
        assert gold["source_contains"] in seed["rft.source"] and "rft.date" not in seed
    items = coins_items(get("/bannedbook/articles").text)
    assert len(items) == 1 + len(HOSTILE)
    (dated,) = [item for item in items if item["rft.identifier"].endswith("hostile-braces")]
    assert dated["rft.date"] == "2024-07-08" and dated["rft.title"] == one_line(HOSTILE[0]["title"])


def test_absolute_urls_never_come_from_the_host_header(dbs, seed_id, serve):
    """A real server, asked with a forged Host: its citations name the
    address it serves (or the configured one), never the forged host."""
    url = serve(dbs["plain"])
    for path in (f"/bannedbook/articles/{seed_id}", f"/bannedbook/articles/{seed_id}.ris",
                 f"/bannedbook/articles/{seed_id}.bib", "/bannedbook/search?q=" + quote("普京"),
                 "/bannedbook/search.ris?q=" + quote("普京"), "/bannedbook/articles.csv"):
        request = urllib.request.Request(url + path, headers={"Host": "evil.example"})
        body = unquote(urllib.request.urlopen(request, timeout=30).read().decode("utf-8"))  # COinS are encoded
        assert "evil.example" not in body, path
        assert url + "/bannedbook/articles/" + seed_id in body, path
    # Configured, it is the configured base whatever the request says.
    configured = site(dbs["plain"], "https://mirror.example.net/")
    page = asyncio.run(configured.client.get(f"/bannedbook/articles/{seed_id}", headers={"host": "evil.example"}))
    assert BeautifulSoup(page.text, "html.parser").head.find("link", rel="canonical")["href"] == (
        "https://mirror.example.net/bannedbook/articles/" + seed_id)


@pytest.mark.parametrize("value, expected", [
    ("2024-07-08T10:00:00+08:00", "2024-07-08"), ("2024-07", "2024-07"), ("2024", "2024"),
    (" 2024-07-08 ", "2024-07-08"),
    (1720598400, "2024-07-10"), (1720598400 * 10**9, "2024-07-10"), ("", None), (None, None), ("July", None),
])
def test_dates_from_what_a_column_may_hold(value, expected):
    assert cite.day(value) == expected
