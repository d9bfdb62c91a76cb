"""/-/trends: every point is the count of the table search for its query and
period, through Datasette's own client, by month, year and week, for
AND/OR/NOT, phrases, Traditional input, lexicon themes and filters."""

import asyncio
import csv
import datetime as dt
import io
import random
import sqlite3
from urllib.parse import urlencode

import pytest
from helpers.truth import fold, ground_truth

from bannedbook.research.trends import Days, narrower_until
from bannedbook.search.query import MAX_QUERY_CHARS
from bannedbook.web.site import make_datasette


@pytest.fixture(scope="module")
def get(research_db):
    datasette = make_datasette(research_db)

    def get(path, params=()):
        return asyncio.run(datasette.client.get(path + ("?" + urlencode(params) if params else "")))

    get.db = research_db
    return get


def table_count(get, params) -> int:
    response = get("/bannedbook/articles.json", [*params, ("_size", "1")])
    assert response.status_code == 200, response.text
    return response.json()["filtered_table_rows_count"]


def db_value(db, sql, params=()):
    return sqlite3.connect(db).execute(sql, params).fetchone()[0]


def trend(get, params):
    response = get("/-/trends.json", params)
    assert response.status_code == 200, response.text
    return response.json()


FILTER_ARGS = {"tag": "_tag", "author": "author", "source": "source"}


def check_every_point(get, params, check_totals=True):
    """Each count against the table search for its query (or theme) and
    period; undated and all-dates counts too."""
    data = trend(get, params)
    filters = [(FILTER_ARGS[name], value) for name, value in data["filters"].items()]
    if data["count"] == "stories":  # the table search then shows one row per story
        filters.append(("_collapse", "1"))
    assert data["periods"] and data["series"]
    for line in data["series"]:
        what = [("_search", line["q"])] if "q" in line else [("_theme", line["theme"])]
        for (since, until), n in zip(data["period_ranges"], line["counts"], strict=True):
            assert n == table_count(get, [*what, ("_since", since), ("_until", until), *filters]), (line, since)
        undated = [("published__isnull", "1"), ("not_before__isnull", "1")]
        assert line["undated"] == table_count(get, [*what, *undated, *filters])
        assert line["total"] == table_count(get, [*what, *filters])
        if data["count"] == "articles":  # a story may have members in several periods
            first_since, last_until = data["period_ranges"][0][0], data["period_ranges"][-1][1]
            assert line["outside"] == outside(get.db, line, data["filters"], first_since, last_until), line
            assert sum(line["counts"]) + line["undated"] + line["outside"] == line["total"]
        else:
            assert line["outside"] == 0
        for share, n, total in zip(line["shares"], line["counts"], data["totals"], strict=True):
            assert share == (round(n / total, 6) if total else None)
    if check_totals:
        for (since, until), total in zip(data["period_ranges"], data["totals"], strict=True):
            assert total == table_count(get, [("_since", since), ("_until", until), *filters])
    return data


def outside(db, line, filters, since, until) -> int:
    """The articles of a line dated outside the periods drawn (before since,
    or after until as _until reads it), found without the trends code: a
    query's by a scan of the text folded with OpenCC (tests/helpers/truth.py), a
    theme's from article_terms, filters by their columns (a tag in either
    script)."""
    conn = sqlite3.connect(db)
    if "q" in line:
        rows = conn.execute("select id, title, body from articles").fetchall()
        ids = ground_truth(rows, [line["q"]])[line["q"]]
    else:
        ids = {key for (key,) in conn.execute("""select article_id from article_terms join lexicon using (term)
                                                  where theme = ?""", [line["theme"]])}
    for name in ("author", "source"):
        if name in filters:
            ids &= {key for (key,) in conn.execute(f"select id from articles where {name} = ?", [filters[name]])}
    if "tag" in filters:
        ids &= {key for key, tag in conn.execute("select article_id, tag_id from article_tags")
                if fold(tag) == fold(filters["tag"])}
    dates = dict(conn.execute("select id, coalesce(published, not_before) from articles"))
    conn.close()
    return sum(1 for key in ids if dates[key] and not (dates[key] >= since and dates[key][: len(until)] <= until))


def test_every_month_of_two_queries(get):
    data = check_every_point(get, [("q", "江泽民"), ("q", "香港 OR 澳门")])
    assert data["by"] == "month" and data["date"] == "published, else not_before"
    assert data["periods"][0] >= "2000" and len(data["periods"]) > 100
    assert max(data["series"][0]["counts"]) > 0


def test_every_year_of_many_kinds_of_query(get):
    queries = ["江泽民", "香港 OR 澳门", "中国 -经济", '"人民代表大会"', "經濟 改革", "李鹏 -江泽民"]
    data = check_every_point(get, [("by", "year"), *[("q", q) for q in queries]])
    assert [line["q"] for line in data["series"]] == queries
    counts = {line["q"]: sum(line["counts"]) for line in data["series"]}
    assert all(counts.values()), counts  # every query finds articles in this corpus


def test_traditional_query_counts_simplified_articles(get):
    data = trend(get, [("q", "江澤民"), ("q", "江泽民"), ("by", "year")])
    traditional, simplified = data["series"]
    assert traditional["counts"] == simplified["counts"] and traditional["total"] > 0


def test_every_week_with_since_and_until(get):
    data = check_every_point(get, [("by", "week"), ("q", "江泽民"), ("q", "經濟"), ("since", "2013-03-15"),
                                   ("until", "2014-02")])
    mondays = [dt.date.fromisoformat(label) for label in data["periods"]]
    assert all(day.weekday() == 0 for day in mondays)
    assert all((b - a).days == 7 for a, b in zip(mondays, mondays[1:], strict=False))
    # The first week is cut at since, the last at until.
    assert data["period_ranges"][0][0] == "2013-03-15" and data["period_ranges"][-1][1] == "2014-02"
    assert data["period_ranges"][1] == [mondays[1].isoformat(), (mondays[1] + dt.timedelta(days=6)).isoformat()]
    assert all(line["outside"] > 0 for line in data["series"])  # the articles before since and after until


def test_filters_apply_to_every_line(get, research_db):
    tag = db_value(research_db, "select tag_id from article_tags group by tag_id order by count(*) desc limit 1")
    source = db_value(research_db, "select source from articles where source is not null "
                                    "group by source order by count(*) desc limit 1")
    data = check_every_point(get, [("by", "year"), ("q", "中国"), ("q", "发展 OR 经济"), ("tag", tag)])
    assert data["filters"] == {"tag": tag}
    everything = trend(get, [("by", "year"), ("q", "中国")])
    assert sum(data["totals"]) < sum(everything["totals"])
    check_every_point(get, [("by", "year"), ("q", "中国"), ("source", source)])
    author = db_value(research_db, "select author from articles where author is not null "
                                   "group by author order by count(*) desc limit 1")
    data = check_every_point(get, [("by", "year"), ("q", "的"), ("author", author), ("source", source)])
    assert data["filters"] == {"author": author, "source": source}


def test_themes_count_each_article_once(get, research_db):
    themes = ["领导人 leaders", "民族 ethnic policy"]
    data = check_every_point(get, [("by", "year"), *[("theme", t) for t in themes]], check_totals=False)
    for theme, line in zip(themes, data["series"], strict=True):
        # The same articles as a search for any of the theme's terms, each quoted.
        terms = [t for (t,) in sqlite3.connect(research_db).execute(
            "select term from lexicon where theme = ?", [theme])]
        query = " OR ".join(f'"{term}"' for term in terms)
        assert line["total"] == table_count(get, [("_search", query)]) > 0
        assert line["total"] == db_value(research_db, "select articles from themes where theme = ?", [theme])


def test_csv_holds_the_json_numbers(get):
    params = [("by", "year"), ("q", "江泽民"), ("q", "李鹏")]
    data = trend(get, params)
    response = get("/-/trends.csv", params)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["period", "since", "until", "articles", "江泽民", "江泽民 (share)", "李鹏", "李鹏 (share)"]
    body = rows[1:-1]
    assert [row[0] for row in body] == data["periods"]
    assert [int(row[3]) for row in body] == data["totals"]
    assert [int(row[4]) for row in body] == data["series"][0]["counts"]
    assert [int(row[6]) for row in body] == data["series"][1]["counts"]
    assert rows[-1][:4] == ["undated", "", "", str(data["undated"])]
    assert int(rows[-1][4]) == data["series"][0]["undated"]


def test_the_page_has_a_line_a_legend_entry_and_a_column_per_query(get):
    from bs4 import BeautifulSoup

    html = get("/-/trends", [("q", "江泽民"), ("q", "李鹏"), ("q", "香港"), ("share", "1")]).text
    soup = BeautifulSoup(html, "html.parser")
    assert len(soup.select("svg polyline")) == 3
    assert [li.select_one(".label").text for li in soup.select(".trends-legend li")] == ["江泽民", "李鹏", "香港"]
    assert len(soup.select(".trends-table thead th")) == 2 + 3
    assert soup.select("svg a circle") and "%" in soup.select_one("svg text").text
    assert not soup.select("script:not([src])") or all("nonce" in s.attrs for s in soup.select("script"))


@pytest.mark.parametrize("params, message", [
    ([("by", "day")], "by must be"),
    ([("since", "2024/07")], "since must be"),
    ([("until", "July")], "until must be"),
    ([("since", "2024-13")], "since must be"),
    ([("since", "2024-05"), ("until", "2024-04")], "is after until"),
    ([("q", str(i)) for i in range(9)], "at most 8"),
    ([("q", "的" * (MAX_QUERY_CHARS + 1))], f"at most {MAX_QUERY_CHARS:,} characters"),
    ([("since", "0001"), ("until", "9998"), ("by", "week")], "521,671 weeks from 0001-01-01 to 9998-12-31 is more"),
    ([("since", "0001"), ("by", "month")], "months from 0001-01-01 to"),
    ([("until", "9999-12")], "months from"),
    ([("since", "0000")], "since must be"),
    ([("until", "9999-12-32")], "until must be"),
])  # fmt: skip
def test_bad_requests_say_why(get, params, message):
    response = get("/-/trends.json", params)
    assert response.status_code == 400 and message in response.json()["error"]
    page = get("/-/trends", params)
    assert page.status_code == 400 and message in page.text


def test_hostile_queries_are_just_queries(get):
    queries = ["的" * MAX_QUERY_CHARS, 'NEAR(a b) "x* OR ) -', "'; drop table days; --",
               "中国 " + " ".join(f"-x{i}" for i in range(300))]  # nested NOTs overflowed FTS5's parser at 97
    data = trend(get, [*[("q", q) for q in queries], ("theme", "' or 1=1 --")])
    assert [line["total"] for line in data["series"]] == [table_count(get, [("_search", q)]) for q in queries] + [0]
    assert trend(get, [("q", "中国")])["totals"] == data["totals"]  # the days table is still there


def test_a_database_without_the_days_table_says_so(research_db, tmp_path):
    db = tmp_path / "bannedbook.db"
    db.write_bytes(research_db.read_bytes())
    sqlite3.connect(db).execute("drop table days")
    response = asyncio.run(make_datasette(db).client.get("/-/trends.json?q=x"))
    assert response.status_code == 500 and "build it again" in response.json()["error"]


def test_no_query_is_an_empty_comparison(get):
    data = trend(get, [])
    assert data["series"] == [] and data["periods"]
    assert get("/-/trends").status_code == 200


# ------------------------------------------------------------------ periods as the table search reads them


def test_day_spans_are_the_table_filters(tmp_path):
    """Days.span (bisection over day strings) against SQL's since/until, on
    dates as odd as a crawl may give (a year alone, a month 13, text)."""
    rng = random.Random(5)
    days = sorted({rng.choice(["2010", "2011", "1999", "2024"]) + rng.choice(
        ["", "-01", "-07", "-12", "-13", "x", "-02-30"]) + rng.choice(["", "-01", "-15", "-31", "T", "-1"])
        for _ in range(300)})
    conn = sqlite3.connect(":memory:")
    conn.execute("create table d (day text)")
    conn.executemany("insert into d values (?)", [(day,) for day in days])
    spans = Days(days, list(range(len(days))), list(range(len(days))), list(range(len(days) + 1)), None)
    bounds = ["", "2010", "2010-07", "2010-07-15", "2011-01-01", "1999-12", "2024-13", "2024-02-30"]
    for since in bounds:
        for until in bounds:
            lo, hi = spans.span(since, until)
            expected = [day for (day,) in conn.execute(
                "select day from d where (:s = '' or day >= :s) and (:u = '' or substr(day, 1, length(:u)) <= :u) "
                "order by day", {"s": since, "u": until})]
            assert days[lo:hi] == expected, (since, until)


@pytest.mark.parametrize("a, b, expected", [
    ("2024-07", "2024-07-20", "2024-07-20"),
    ("2024-07", "2024-06-30", "2024-06-30"),
    ("2024-07", "2025", "2024-07"),
    ("2024-08-04", "2024-07", "2024-07"),
    ("2024", "2024-03", "2024-03"),
])  # fmt: skip
def test_narrower_until(a, b, expected):
    assert narrower_until(a, b) == narrower_until(b, a) == expected


def test_days_are_runs_of_date_order(research_db):
    conn = sqlite3.connect(research_db)
    assert conn.execute("select sum(articles) from days").fetchone()[0] == conn.execute(
        "select count(*) from articles").fetchone()[0]
    # Keys are sparse: a day's run holds its own articles and no other.
    assert conn.execute("""select count(*) from days where articles != (select count(*) from articles
                           where date_order between first_date_order and last_date_order)""").fetchone()[0] == 0
    # And each day holds exactly the articles whose date starts with it.
    for day, first, last in conn.execute("select day, first_date_order, last_date_order from days"):
        found = {row[0] for row in conn.execute(
            "select substr(coalesce(published, not_before), 1, 10) from articles where date_order between ? and ?",
            [first, last])}
        assert found == {day}


def test_stories_instead_of_articles(get, research_db):
    """Each point counts the stories with a matching article in the period,
    as the table search with one row per story does."""
    params = [("by", "year"), ("q", "江泽民"), ("q", "香港 OR 澳门")]
    articles = check_every_point(get, params)
    stories = check_every_point(get, [*params, ("stories", "1")])
    assert stories["count"] == "stories" and articles["count"] == "articles"
    for by_story, by_article in zip(stories["series"], articles["series"], strict=True):
        assert all(s <= a for s, a in zip(by_story["counts"], by_article["counts"], strict=True))
    assert sum(stories["totals"]) < sum(articles["totals"])  # the synthetic crawl has reposts
    assert db_value(research_db, "select count(distinct story) from articles") < db_value(
        research_db, "select count(*) from articles")


@pytest.mark.parametrize("params", [
    [("since", "9999"), ("until", "9999"), ("by", "week")],  # the last week of 9999 would end in 10000
    [("since", "9999-12"), ("until", "9999-12"), ("by", "month")],
    [("since", "9999-12-31"), ("until", "9999"), ("by", "year")],
    [("since", "0001-01-01"), ("until", "0001-01-07"), ("by", "week")],
])  # fmt: skip
def test_the_calendar_ends_where_dates_end(get, params):
    data = trend(get, params)
    assert data["periods"] and data["totals"] == [0] * len(data["periods"])
    assert data["period_ranges"][-1][1] <= "9999-12-31"


def test_unknown_names_are_said_on_the_page(get):
    params = [("q", "中国"), ("theme", "没有这个主题"), ("tag", "没有这个标签"), ("author", "无名氏"),
              ("source", "无此来源"), ("quey", "typo")]
    notices = trend(get, params)["notices"]
    assert notices == [
        "not a parameter of this page, ignored: 'quey' (it takes q, theme, by, share, stories, tag, author, source, "
        "since, until, of)",
        "no lexicon theme '没有这个主题': its line counts nothing",
        "no article has the tag '没有这个标签': every count is 0",
        "no article is by the author '无名氏': every count is 0",
        "no article is from the source '无此来源': every count is 0",
    ]
    page = get("/-/trends", params).text
    assert page.count('class="message-warning trends-notice"') == 5 and "没有这个主题" in page
    assert trend(get, [("q", "中国")])["notices"] == []
