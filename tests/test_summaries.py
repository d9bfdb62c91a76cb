"""What the build counts once so that pages need not count on every request:
facet_counts, the canned queries that read it and the days table, the
articles table's facets (bannedbook/web/facets.py) and the home page's kept
table list (bannedbook/web/home.py)."""

import asyncio
import re
import sqlite3
from collections import Counter, defaultdict

import pytest
from bs4 import BeautifulSoup
from helpers.corpus import generate
from helpers.truth import fold

from bannedbook.build.pipeline import build
from bannedbook.web import facets, home
from bannedbook.web.site import make_datasette

FACET_COLUMNS = ("author", "source", "category", "year", "script")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A crawl of the benchmark corpus's shapes: articles over many years,
    in both scripts, with tags, authors and sources."""
    folder = tmp_path_factory.mktemp("summaries")
    generate(folder / "raw", 120, seed=11)
    build(folder / "raw", folder / "bannedbook.db", workers=2, progress=False)
    return folder / "bannedbook.db"


@pytest.fixture(scope="module")
def get(archive):
    datasette = make_datasette(archive)

    def get(path):
        response = asyncio.run(datasette.client.get(path))
        assert response.status_code == 200, (path, response.text[:2000])
        return response

    get.datasette = datasette
    return get


def rows(db, sql, params=()) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def tag_counts(archive, ids: list[str] | None = None) -> Counter:
    """Articles per tag (of the articles ids, else all), a tag in either
    script counted once (folded by tests/helpers/truth.py, not by the build's
    normalise), shown as the spelling most articles of the archive use (the
    first of equals)."""
    articles, spellings = defaultdict(set), defaultdict(Counter)
    for article, tag in rows(archive, "select article_id, tag_id from article_tags"):
        spellings[fold(tag)][tag] += 1
        if ids is None or article in ids:
            articles[fold(tag)].add(article)
    return Counter({min(spellings[key], key=lambda t: (-spellings[key][t], t)): len(found)
                    for key, found in articles.items()})


def test_facet_counts_count_every_article(archive):
    articles = rows(archive, f"select id, {', '.join(FACET_COLUMNS)} from articles")
    expected = Counter()
    for row in articles:
        for column, value in zip(FACET_COLUMNS, row[1:], strict=True):
            if value is not None:
                expected[(column, str(value))] += 1
    for tag, n in tag_counts(archive).items():
        expected[("tags", tag)] = n
    assert len({column for column, _ in expected}) == 6
    assert dict(((facet, value), n) for facet, value, n in rows(archive, "select * from facet_counts")) == expected


def test_top_tags_and_the_month_chart_read_the_build_s_counts(get, archive):
    top = get("/bannedbook/top_tags.json?_shape=array").json()
    tags = tag_counts(archive)
    assert len(tags) < len(rows(archive, "select distinct tag_id from article_tags"))  # both scripts met
    assert [(r["tag"], r["articles"]) for r in top] == sorted(tags.items(), key=lambda t: (-t[1], t[0]))[:100]
    # All articles come from the days table unless since or until holds a
    # time (longer than a date), which only the articles can answer: the
    # two agree.
    days = [day for (day,) in rows(archive, "select day from days where day is not null order by day")]
    some_day, later_day = days[len(days) // 3], days[2 * len(days) // 3]  # days that have articles
    for since, until in (("", ""), ("2012", "2019-06"), (some_day, later_day), (some_day, some_day), ("1990", "")):
        by_day = get(f"/bannedbook/articles_per_month.json?_shape=array&since={since}&until={until}").json()
        timed = f"{since or '2000'}-01-01T00:00"[: max(len(since or "2000"), 10)] + "T00:00"
        by_article = get(f"/bannedbook/articles_per_month.json?_shape=array&since={timed}&until="
                         f"{until + 'T23:59:59' if until else ''}").json()
        assert by_day == by_article, (since, until)
        months = Counter(m[:7] for (m,) in rows(archive, "select coalesce(published, not_before) from articles"
                                                        " where coalesce(published, not_before) >= ?",
                                                 [since or "2000"]) if not until or m[:len(until)] <= until)
        assert {r["month"]: r["articles"] for r in by_day if r["articles"]} == dict(months)


def facet_results(get, path) -> dict:
    return get(path).json()["facet_results"]


def test_the_unfiltered_table_s_facets_are_exact(get, archive):
    found = facet_results(get, "/bannedbook/articles.json?_facet_size=max")
    for column in FACET_COLUMNS:
        exact = dict(rows(archive, f"select {column}, count(*) from articles where {column} is not null"
                                   f" group by {column}"))
        assert {r["value"]: r["count"] for r in found[column]["results"]} == exact
        assert found[column]["sample"] is None
    assert {r["value"]: r["count"] for r in found["tags"]["results"]} == tag_counts(archive)
    assert [r["value"] for r in found["year"]["results"]] == [r["value"] for r in found["year"]["results"]
                                                              if isinstance(r["value"], int)]


def newest_matches(archive, word, count) -> list:
    from bannedbook.search.query import match_expression

    return rows(archive, f"""select id, {', '.join(FACET_COLUMNS)} from articles where date_order in
                    (select rowid from articles_fts where articles_fts match ?) order by date_order desc limit ?""",
                [match_expression(word), count])


def test_a_common_search_counts_its_newest_matches_and_says_so(get, archive, monkeypatch):
    monkeypatch.setattr(facets, "NEWEST", 7)
    everything = newest_matches(archive, "的", 10**6)
    assert len(everything) > 7
    newest = everything[:7]
    found = facet_results(get, "/bannedbook/articles.json?_search=的&_facet_size=max")
    for index, column in enumerate(FACET_COLUMNS, 1):
        if column == "year":  # exact: counted in the index, year by year
            expected = Counter(row[index] for row in everything if row[index] is not None)
            assert found[column]["sample"] is None
        else:
            expected = Counter(row[index] for row in newest if row[index] is not None)
            assert found[column]["sample"] == 7
        assert {r["value"]: r["count"] for r in found[column]["results"]} == expected, column
    ids = [row[0] for row in newest]
    assert {r["value"]: r["count"] for r in found["tags"]["results"]} == tag_counts(archive, ids)
    assert found["tags"]["count_all_url"].endswith("_facet_tag=tags")
    # The HTML page says what was counted, and of how many.
    page = BeautifulSoup(get("/bannedbook/articles?_search=的").text, "html.parser")
    said = {p.get_text(" ", strip=True) for p in page.select(".facet-sample")}
    assert said == {f"最新 7 篇中 · among the newest 7 of {len(everything)} · 全部计数 count all"}
    assert len(page.select(".facet-sample")) == 5  # every facet but the year


def test_facets_of_other_filters_count_the_newest_rows(get, archive, monkeypatch):
    monkeypatch.setattr(facets, "NEWEST", 3)
    (tag, articles), = rows(archive, "select tag_id, count(*) from article_tags group by tag_id"
                                     " order by 2 desc, 1 limit 1")
    assert articles > 3
    newest = rows(archive, """select year, script from articles where id in
                              (select article_id from article_tags where tag_id = ?)
                              order by date_order desc limit 3""", [tag])
    found = facet_results(get, f"/bannedbook/articles.json?_tag={tag}&_facet_size=max")
    assert found["year"]["sample"] == found["script"]["sample"] == 3
    assert {r["value"]: r["count"] for r in found["year"]["results"]} == Counter(y for y, _ in newest if y)
    assert {r["value"]: r["count"] for r in found["script"]["results"]} == Counter(s for _, s in newest)
    assert next(r for r in found["tags"]["results"] if r["value"] == tag)["selected"]


def test_few_matches_are_counted_exactly_and_asked_for_facets_are_datasette_s(get, archive, monkeypatch):
    monkeypatch.setattr(facets, "NEWEST", 7)
    tags = [tag for (tag,) in rows(archive, "select distinct tag_id from article_tags order by tag_id")]
    word, matches = next((tag, found) for tag in tags if 2 <= len(found := newest_matches(archive, tag, 8)) <= 7)
    found = facet_results(get, f"/bannedbook/articles.json?_search={word}&_facet=author")
    assert found["author"]["type"] == "column" and "author_2" not in found  # asked for: Datasette's, once
    for index, column in enumerate(FACET_COLUMNS, 1):
        if column != "author":
            assert found[column]["sample"] is None
            assert {r["value"]: r["count"] for r in found[column]["results"]} == Counter(
                row[index] for row in matches if row[index] is not None)


def test_the_home_page_keeps_its_table_list(get, archive, monkeypatch):
    datasette = get.datasette
    home._LISTINGS.pop(datasette, None)
    checks = []
    original = datasette.permission_allowed

    async def counted(actor, action, resource=None, default=False):
        checks.append(action)
        return await original(actor, action, resource=resource, default=default)

    monkeypatch.setattr(datasette, "permission_allowed", counted)
    first = get("/").text
    first_checks, checks[:] = list(checks), []
    again = get("/").text
    tables = len(rows(archive, "select name from sqlite_master where type = 'table'"))
    # Every table is looked at for the first visitor; then only what every
    # page asks (the menu's search link looks for one searchable table).
    assert first_checks.count("view-table") >= tables > 10
    assert checks.count("view-table") <= 2
    assert "view-instance" in checks  # the visitor is still asked about
    assert re.sub(r"nonce-[^\"']+|nonce=\"[^\"]+\"", "", again) == re.sub(r"nonce-[^\"']+|nonce=\"[^\"]+\"", "",
                                                                          first)
    page = BeautifulSoup(again, "html.parser")
    assert [a.get_text() for a in page.select("h3 a")] == ["bannedbook"]
    listed = [a.get_text() for a in page.select("h3 + p a")]
    assert "articles" in listed and len(listed) >= 5
    assert page.select(".chart-timeline rect") and page.select(".chart-bars rect")
    # Datasette's own view still answers /.json, and a writable database is never kept.
    assert "bannedbook" in get("/.json").json()
    assert home._key(datasette, None) is not None
    monkeypatch.setattr(datasette.databases["bannedbook"], "is_mutable", True)
    assert home._key(datasette, None) is None
