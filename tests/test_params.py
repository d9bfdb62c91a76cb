"""Hostile parameter values against every page of the site that takes
parameters, through Datasette's own client on a real archive: no answer is
a 500, and a refusal says why in one line. Then what the pages say about
names they do not know, and the SQL functions' bounds."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from urllib.parse import quote

import pytest

from bannedbook.web.params import MAX_QUERY_CHARS
from bannedbook.web.search import MAX_TEXT_CHARS, Clock, TooLarge, prepare_connection, sql_match, sql_snippet
from bannedbook.web.site import make_datasette

# Each value is sent percent-encoded, except the raw ones (already escapes:
# a lone surrogate's UTF-8 bytes, bytes that are not UTF-8).
VALUES = ["0001", "9999", "9999-12", "0000", "2024-02-30", "-1", "9" * 30, "1e309", "abc", "a\x00b", "%ED%A0%80",
          "%FF%FE", "a" * (MAX_QUERY_CHARS + 1), "的" * MAX_QUERY_CHARS, " ".join(f"-x{i}" for i in range(300)),
          '"', "NEAR(a", "*", "%", "中国", ""]
RAW = {"%ED%A0%80", "%FF%FE"}
ROUTES = {
    "/-/trends": ["q", "theme", "by", "since", "until", "tag"],
    "/-/trends.json": ["q", "theme", "by", "since", "until", "tag", "author", "source", "share", "stories"],
    "/-/trends.csv": ["q", "since", "by"],
    "/bannedbook/search": ["q", "tag", "since", "collapse"],
    "/bannedbook/search.json": ["q", "author", "source", "until", "page"],
    "/bannedbook/tag": ["tag", "page"],
    "/bannedbook/author": ["author", "page"],
    "/bannedbook/articles_per_month": ["q", "tag", "since", "until"],
    "/bannedbook/tags_with": ["tag"],
    "/bannedbook/lexicon": ["theme"],
    "/bannedbook/articles": ["_search", "_since", "_sort", "_through", "author__gt"],
    "/bannedbook/articles.json": ["_search", "_since", "_until", "_tag", "_collapse", "_theme", "_term", "_sort_desc",
                                  "_facet", "_size", "_next", "_col", "_through", "year__gt"],
    "/bannedbook/articles.csv": ["_search", "_since", "_tag"],
    "/": ["q"],
}
# What a page needs beside the parameter under test to do any work.
CONTEXT = {"/bannedbook/search": "q=中国", "/bannedbook/search.json": "q=中国", "/-/trends": "q=中国"}


@pytest.fixture(scope="module")
def client(research_db):
    datasette = make_datasette(research_db)

    def get(path: str):
        return asyncio.run(datasette.client.get(path))

    return get


def message(response) -> str | None:
    """The one-line reason a refusal gives, or None when it gives none."""
    if response.headers.get("content-type", "").startswith("application/json"):
        error = response.json().get("error")
        return error if isinstance(error, str) else None
    if response.headers.get("content-type", "").startswith("text/plain"):
        return response.text.strip() or None
    found = re.search(r'class="message-error[^"]*">(.*?)</p>|border: 3px solid red;">(.*?)</div>',
                      response.text, re.S)
    return (found.group(1) or found.group(2)).strip() if found else None


@pytest.mark.parametrize("route", ROUTES)
def test_no_parameter_value_is_a_500_and_a_refusal_says_why(client, route):
    wrong = []
    for name in ROUTES[route]:
        for value in VALUES:
            encoded = value if value in RAW else quote(value, safe="")
            context = CONTEXT.get(route, "")
            if name == "_collapse":
                context = "_search=中国"
            path = f"{route}?{name}={encoded}" + (f"&{context}" if context and not name == context[:1] else "")
            response = client(path)
            if response.status_code >= 500:
                wrong.append((path[:120], response.status_code, response.text[-300:]))
            elif response.status_code >= 400:
                said = message(response)
                if not said or "\n" in said or "Traceback" in response.text:
                    wrong.append((path[:120], response.status_code, "no one-line reason"))
    assert not wrong, wrong[:5]


def test_a_nul_and_an_overlong_search_are_refused_before_any_work(client):
    response = client("/bannedbook/articles.json?_search=a%00b")
    assert response.status_code == 400
    assert response.json()["error"] == "the parameter '_search' holds a NUL character, which no value here can"
    long = "的" * (MAX_QUERY_CHARS + 1)
    response = client(f"/bannedbook/search?q={quote(long)}")
    assert response.status_code == 400
    assert f"a search is at most {MAX_QUERY_CHARS:,} characters; this one has {MAX_QUERY_CHARS + 1:,}" in response.text


def test_a_sort_by_no_column_is_a_bad_request(client):
    response = client("/bannedbook/articles.json?_sort=nothing")
    assert response.status_code == 400 and response.json()["error"] == "Cannot sort table by nothing"


def test_many_exclusions_are_a_search_not_an_error(client, research_db):
    query = "中国 " + " ".join(f"-x{i}" for i in range(300))
    response = client(f"/bannedbook/articles.json?_search={quote(query)}&_size=1")
    assert response.status_code == 200
    db = sqlite3.connect(research_db)

    def rowids(term: str) -> set[int]:
        sql = "select rowid from articles_fts where articles_fts match ?"
        return {rowid for (rowid,) in db.execute(sql, [sql_match(term)])}

    excluded = set().union(*(rowids(f"x{i}") for i in range(300)))
    expected = rowids("中国") - excluded
    assert excluded and response.json()["filtered_table_rows_count"] == len(expected) > 0


def test_the_search_page_names_what_it_does_not_know(client):
    page = client("/bannedbook/search?q=中国&tag=没有这个标签&since=2024/07&qq=1").text
    notices = re.findall(r'class="message-warning search-notice">(.*?)</p>', page)
    assert notices == [
        "not a parameter of this page, ignored: &#39;qq&#39; (it takes q, tag, author, source, since, until, "
        "collapse, page)",
        "no article has the tag &#39;没有这个标签&#39;: nothing can match",
        "since must be a year, a month or a day (2024, 2024-07 or 2024-07-08), not &#39;2024/07&#39; "
        "(compared as text as it is)",
    ]
    assert "search-notice" not in client("/bannedbook/search?q=中国&since=2020").text


# ------------------------------------------------------------------ the SQL functions


@pytest.fixture(scope="module")
def sql():
    conn = sqlite3.connect(":memory:")
    prepare_connection(conn)
    return conn


@pytest.mark.parametrize("call, size", [
    ("cjk_match(?)", MAX_QUERY_CHARS + 1),
    ("escape_fts(?)", MAX_QUERY_CHARS + 1),
    ("cjk_normalise(?)", MAX_TEXT_CHARS + 1),
    ("cjk_snippet(?, '中国')", MAX_TEXT_CHARS + 1),
])  # fmt: skip
def test_sql_functions_refuse_inputs_beyond_their_size(sql, call, size):
    assert sql.execute(f"select length({call})", ["中" * (size - 1)]).fetchone()[0] >= 0
    with pytest.raises(sqlite3.DataError, match="string or blob too big"):
        sql.execute(f"select {call}", ["中" * size]).fetchone()


def test_too_large_names_the_limit():
    with pytest.raises(TooLarge, match=f"at most {MAX_QUERY_CHARS:,} are taken"):
        sql_match("x" * (MAX_QUERY_CHARS + 1))
    assert sql_snippet(None, None) == "" and sql_snippet("中国人", "国", "2") == "…\ue000国\ue001人"


def test_a_query_of_many_calls_stops_at_the_time_limit():
    """SQLite's own check (Datasette's progress handler, every 1,000
    instructions) sees a query calling cjk_snippet once a row only every
    fifty calls; the Clock interrupts it at the first call after the limit
    (with no progress handler at all here, only the Clock can)."""
    conn = sqlite3.connect(":memory:")
    prepare_connection(conn)
    conn.create_function("slow_snippet", 2, Clock(conn, 0.2).timed(sql_snippet))
    sql = ("with recursive n(i) as (select 1 union all select i + 1 from n where i < 2000) "
           "select count(slow_snippet(printf('%.*c', 50000 - i, '中') || 'x', 'x')) from n")
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        conn.execute(sql).fetchone()


def test_the_console_says_a_query_of_large_snippets_took_too_long(research_db):
    datasette = make_datasette(research_db)
    sql = ("with recursive n(i) as (select 1 union all select i + 1 from n where i < 1000) "
           f"select cjk_snippet(printf('%.*c', {MAX_TEXT_CHARS - 1} - i, '中') || 'x', 'x') from n")
    response = asyncio.run(datasette.client.get(f"/bannedbook.json?sql={quote(sql)}"))
    assert response.status_code == 400 and "SQL query took too long" in response.json()["error"]
