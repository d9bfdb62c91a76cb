"""Pinyin queries: how Latin text is read as syllables (tones, spaces,
apostrophes, v for ü, initials), every reading of a polyphone, and the
archive's strings that read so, through /-/pinyin.json and the search page,
each count checked against the search it links to."""

import asyncio
import hashlib
import re
import sqlite3
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from helpers.pinyin_pages import write_pinyin_crawl

from bannedbook.build.pipeline import build
from bannedbook.research.pinyin import as_json, expand
from bannedbook.search.pinyin import Answer, Candidate, parse, readings
from bannedbook.text.chinese import normalise
from bannedbook.web.site import make_datasette


@pytest.fixture(scope="module")
def pinyin_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pinyin")
    db = folder / "bannedbook.db"
    lexicon = folder / "terms.csv"
    lexicon.write_text("term,theme\n重庆,places\nchongqing,places\nxjp,names\nTikTok,names\n", encoding="utf-8")
    build(write_pinyin_crawl(folder / "raw"), db, workers=1, progress=False, lexicon=[lexicon])
    return db


@pytest.fixture(scope="module")
def get(pinyin_db):
    datasette = make_datasette(pinyin_db)

    def get(path, params=()):
        return asyncio.run(datasette.client.get(path + ("?" + urlencode(params) if params else "")))

    return get


def syllables(query):
    reading = parse(query)
    return reading and (reading.syllables, reading.initials)


@pytest.mark.parametrize("query, expected", [
    ("xijinping", (["xi", "jin", "ping"], False)),
    ("Xi Jinping", (["xi", "jin", "ping"], False)),
    ("xi2 jin4 ping2", (["xi2", "jin4", "ping2"], False)),
    ("Xí Jìnpíng", (["xi2", "jin4", "ping2"], False)),
    ("ＸＩＪＩＮＰＩＮＧ", (["xi", "jin", "ping"], False)),  # full width, capitals
    ("xi'an", (["xi", "an"], False)),
    ("xi-an", (["xi", "an"], False)),
    ("xian", (["xian"], False)),  # fewest syllables first; xi an is read too (below)
    ("lv", (["lv"], False)),
    ("lü", (["lv"], False)),
    ("lǜ", (["lv4"], False)),
    ("lue", (["lve"], False)),
    ("nihao3", (["ni", "hao3"], False)),
    ("xjp", (["x", "j", "p"], True)),
    ("gcd", (["g", "c", "d"], True)),
])
def test_syllables(query, expected):
    assert syllables(query) == expected


@pytest.mark.parametrize("query", ["zf", "tiktok", "习近平", "x", "", "  ", "3ni", "vvv", "xjpxjpx", "xi jin ping!"])
def test_not_pinyin(query):
    # zf: initials need three letters; vvv: no syllable begins with v; seven initials are too many
    assert parse(query) is None


def test_every_segmentation_is_read():
    ways = [[s for s, _ in way] for way in parse("xian").segmentations]
    assert ["xian"] in ways and ["xi", "an"] in ways
    # n, ng, m only stand alone: xijinping is never xi ji n ping
    assert [[s for s, _ in way] for way in parse("xijinping").segmentations] == [["xi", "jin", "ping"]]


@pytest.mark.parametrize("char, wanted", [("重", {"zhong", "chong"}), ("行", {"hang", "xing"}),
                                          ("都", {"du", "dou"}), ("绿", {"lv", "lu"}), ("平", {"ping"})])
def test_every_reading_of_a_polyphone(char, wanted):
    assert wanted <= {plain for plain, _ in readings(char)}


def answer(get, query, **params):
    response = get("/-/pinyin.json", [("q", query), *params.items()])
    assert response.status_code == 200, response.text
    return response.json()


def search_count(get, query):
    response = get("/bannedbook/articles.json", [("_search", query), ("_size", "1")])
    assert response.status_code == 200, response.text
    return response.json()["filtered_table_rows_count"]


@pytest.mark.parametrize("query, first", [("chongqing", "重庆"), ("zhongqing", "重庆"), ("yinhang", "银行"),
                                          ("chengdu", "成都"), ("xijinping", "习近平"), ("xjp", "习近平"),
                                          ("Xí Jìnpíng", "习近平"), ("dushi", "都市")])
def test_the_intended_word_first(get, query, first):
    data = answer(get, query)
    assert data["q"] == query
    assert data["candidates"][0]["text"] == first, data
    counts = [c["articles"] for c in data["candidates"]]
    assert counts == sorted(counts, reverse=True)
    for candidate in data["candidates"]:  # every count is the count of the search it links to
        assert candidate["articles"] == search_count(get, candidate["text"]) > 0, candidate


def test_traditional_articles_count(get):
    # 習近平 in the Traditional article reads as xijinping too: two articles, one of them Traditional
    data = answer(get, "xijinping")
    assert [(c["text"], c["articles"]) for c in data["candidates"]] == [("习近平", 2), ("袭近平", 1)]
    assert data["syllables"] == ["xi", "jin", "ping"] and data["initials"] is False


def test_homophones_of_each_segmentation(get):
    assert {c["text"] for c in answer(get, "xian")["candidates"]} == {"西安", "县"}
    assert {c["text"] for c in answer(get, "xi'an")["candidates"]} == {"西安"}


def test_tones_narrow(get):
    assert {c["text"] for c in answer(get, "xi2")["candidates"]} == {"习", "袭"}
    assert "西" in {c["text"] for c in answer(get, "xi")["candidates"]}
    assert answer(get, "xi4jinping")["candidates"] == []  # 习 and 袭 are xí


def all_text(db):
    conn = sqlite3.connect(db)
    return [normalise(title + "\n" + body) for title, body in conn.execute("select title, body from articles")]


def reads_as(text_run, letters):
    """Whether some choice of readings of text_run's characters spells letters."""
    if not text_run:
        return not letters
    return any(letters.startswith(plain) and reads_as(text_run[1:], letters[len(plain):])
               for plain in {p for p, _ in readings(text_run[0])})


@pytest.mark.parametrize("letters", ["chongqing", "zhongqing", "yinhang", "chengdu", "xijinping", "dushi",
                                     "xian", "huiyi", "ganbu", "zhongqingnian"])
def test_recall_against_a_scan(pinyin_db, letters):
    """Every string of the articles whose readings spell the query is a candidate."""
    wanted = set()
    for text in all_text(pinyin_db):
        for start in range(len(text)):
            for end in range(start + 1, min(len(text), start + len(letters)) + 1):
                if reads_as(text[start:end], letters):
                    wanted.add(text[start:end])
    conn = sqlite3.connect(pinyin_db)
    found = {c.text for c in expand(conn, letters, limit=None).candidates}
    assert wanted and found == wanted


def test_limit_keeps_the_best(pinyin_db):
    conn = sqlite3.connect(pinyin_db)
    everything = expand(conn, "xi", limit=None)
    best = expand(conn, "xi", limit=2)
    assert len(everything.candidates) > 2 and best.more
    assert [c.articles for c in best.candidates] == [c.articles for c in everything.candidates[:2]]


def test_nothing_is_written(pinyin_db, get):
    before = hashlib.sha256(pinyin_db.read_bytes()).hexdigest()
    answer(get, "xijinping")
    expand(sqlite3.connect(pinyin_db), "chongqing")
    assert hashlib.sha256(pinyin_db.read_bytes()).hexdigest() == before


def test_json_refuses_clearly(get):
    assert get("/-/pinyin.json").status_code == 400
    response = get("/-/pinyin.json", [("q", "xjp"), ("limit", "0")])
    assert response.status_code == 400 and "limit" in response.json()["error"]
    data = answer(get, "TikTok")
    assert data["candidates"] == [] and data["syllables"] == []


def choices(html):
    block = re.search(r'<(p|span|small) class="pinyin-choices">(.*?)</\1>', html, re.S)
    return block and re.findall(r'<a (?:class="pinyin-all" )?href="([^"]+)">([^<]+)</a>', block.group(2))


def test_search_page_offers_the_choices(get):
    html = get("/bannedbook/search", [("q", "xijinping"), ("tag", "")]).text
    links = choices(html)
    assert [text for _, text in links] == ["习近平", "袭近平", "全部 all of them"]
    for href, text in links:
        query = parse_qs(urlparse(href.replace("&amp;", "&")).query)["q"][0]
        page = get("/bannedbook/search", [("q", query)]).text
        expected = search_count(get, query)
        assert f"{expected:,} article" in page, (text, query)
    assert search_count(get, parse_qs(urlparse(links[-1][0].replace("&amp;", "&")).query)["q"][0]) == 3


def test_literal_latin_search_runs_beside(get):
    html = get("/bannedbook/search", [("q", "tok")]).text
    assert "短视频平台" in html  # TikTok found as text
    assert choices(html) is None  # t-o-k initials: nothing in this archive reads so
    assert choices(get("/bannedbook/search", [("q", "重庆")]).text) is None


def test_search_page_keeps_the_filters(get):
    links = choices(get("/bannedbook/search", [("q", "chongqing"), ("since", "2024")]).text)
    assert links and all("since=2024" in href for href, _ in links)



def test_trends_show_the_choices(get):
    data = get("/-/trends.json", [("q", "chongqing"), ("q", "银行")]).json()
    reading, literal = data["series"]
    assert literal["pinyin"] is None
    assert reading["total"] == search_count(get, "chongqing") == 0  # the line counts the query as typed
    assert [(c["text"], c["articles"]) for c in reading["pinyin"]["candidates"]] == [("重庆", 3)]
    html = get("/-/trends", [("q", "chongqing"), ("q", "银行")]).text
    links = choices(html)
    assert [text for _, text in links][0] == "重庆"
    replaced = parse_qs(urlparse(links[0][0].replace("&amp;", "&")).query)["q"]
    assert replaced == ["重庆", "银行"]


def test_lexicon_shows_what_a_pinyin_term_may_mean(get):
    html = get("/bannedbook/lexicon").text
    rows = dict(re.findall(r'<a class="term" href="[^"]+">([^<]+)</a>(.*?)</td>', html, re.S))
    assert set(rows) == {"重庆", "chongqing", "xjp", "TikTok"}
    assert [text for _, text in choices(rows["chongqing"])] == ["重庆", "全部 all of them"]
    assert [text for _, text in choices(rows["xjp"])][:2] == ["习近平", "袭近平"]
    assert choices(rows["重庆"]) is None and choices(rows["TikTok"]) is None


def test_the_json_lists_most_articles_first_and_marks_names():
    # The page suggests names first; the JSON keeps the contract's order and says which are names.
    suggested = Answer(parse("chengdu"), [Candidate("成都", 3, True), Candidate("程度", 5, False)], False)
    data = as_json("chengdu", suggested)
    assert [(c["text"], c["articles"], c["name"]) for c in data["candidates"]] == [
        ("程度", 5, False), ("成都", 3, True)]
