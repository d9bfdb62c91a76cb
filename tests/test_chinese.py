"""Normalisation, the bigram index text and the query language."""

import re
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bannedbook.search.index import CHAR_MARK, index_columns, index_text
from bannedbook.search.query import match_expression
from bannedbook.search.snippet import MARK_END, MARK_START, snippet
from bannedbook.text.chinese import is_traditional, normalise, normalise_with_offsets


@pytest.mark.parametrize(
    "text, expected",
    [
        ("習近平", "习近平"),  # Traditional → Simplified
        ("臺灣", "台湾"),
        ("ＷＴＯ", "wto"),  # full-width → ASCII, case folded
        ("TikTok", "tiktok"),
        ("１９９８年", "1998年"),
        ("二〇二四年", "二〇二四年"),
        ("乾隆", "干隆"),  # per character (OpenCC phrases would keep 乾): same for query and text
    ],
)
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_offsets_point_back_into_the_original():
    text = "ﬁ習近平"
    normalised, offsets = normalise_with_offsets(text)
    assert normalised == "fi习近平"
    assert [text[i] for i in offsets] == ["ﬁ", "ﬁ", "習", "近", "平"]


def test_index_text_writes_runs_as_bigrams():
    assert index_text("中国人").split() == ["中国", "国人", "人"]
    assert index_text("G20峰会").split() == ["g2", "20", "0峰", "峰会", "会"]
    assert index_text("TikTok 中国").split() == ["ti", "ik", "kt", "to", "ok", "k", "中国", "国"]
    assert index_text("二〇二四").split() == ["二〇", "〇二", "二四", "四"]


def test_index_columns_put_the_body_first_with_a_token_per_character():
    body_index, title_index = index_columns("中國", "中国人民，中")
    assert title_index.split() == ["中国", "国"]
    tokens = body_index.replace(",", " ").split()  # FTS5 drops the punctuation
    assert tokens[:4] == sorted(["中" + CHAR_MARK, "国" + CHAR_MARK, "人" + CHAR_MARK, "民" + CHAR_MARK])
    assert tokens[4:] == ["中国", "国人", "人民", "民", "中"]


def test_a_character_token_is_one_fts5_token_that_text_cannot_make():
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table t using fts5(body_index, title_index)")
    conn.execute("create virtual table v using fts5vocab(t, 'row')")
    conn.execute("insert into t values (?, ?)", index_columns("", "人" + CHAR_MARK + "民"))
    terms = {term for (term,) in conn.execute("select term from v")}
    assert "人" + CHAR_MARK in terms and "民" + CHAR_MARK in terms
    # The private-use character in the text stands alone, never glued to a character.
    assert CHAR_MARK in terms and "人" in terms


def test_script_detection():
    assert is_traditional("習近平訪問哈薩克斯坦")
    assert not is_traditional("习近平访问哈萨克斯坦")
    assert not is_traditional("TikTok")


# The index text and the script label by their definitions, one character
# at a time: the module builds them with whole-string operations instead.


def index_text_by_definition(text: str) -> str:
    """normalise(text), each run of letters and digits replaced by its
    bigrams and its last character, with a space on each side."""
    return re.sub(r"[^\W_]+", lambda run: " " + " ".join(run[0][i : i + 2] for i in range(len(run[0]))) + " ",
                  normalise(text))


def index_columns_by_definition(title: str, body: str) -> tuple[str, str]:
    chars = sorted({char for char in normalise(title + "\n" + body) if re.match(r"[^\W_]", char)})
    char_tokens = " ".join(char + CHAR_MARK for char in chars)
    return f"{char_tokens} {index_text_by_definition(body)}", index_text_by_definition(title)


def is_traditional_by_definition(text: str) -> bool:
    from bannedbook.text.chinese import _traditional_to_simplified

    traditional = sum(1 for char in text if char in _traditional_to_simplified())
    han = sum(1 for char in text if re.match("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]",
                                              char))
    return han > 0 and traditional / han > 0.05


# Characters where the whole-string tricks could go wrong: Traditional and
# beyond the BMP, capitals (the cut mark is a capital A), forms normalise
# expands (ß, ㈱, ﬁ, İ), combining marks, the private-use marks, newlines.
TRICKY = st.text(st.sampled_from("中國国人臺台著乾aAＡzZ1１_，。、 \n\t𠀀𠁈𡃁😀\ue002\ue000ßẞ㈱ﬁİ\u0300\u00a0-"),
                 max_size=40)
TEXTS = st.one_of(TRICKY, st.text(max_size=40))


@settings(max_examples=300, deadline=None, database=None)
@given(TEXTS, TEXTS)
def test_index_columns_as_defined(title, body):
    assert index_columns(title, body) == index_columns_by_definition(title, body)
    assert index_text(body) == index_text_by_definition(body)


# A Traditional character now and then among Simplified ones and others:
# around the 5 % the label turns on.
FEW_TRADITIONAL = st.text(st.sampled_from([*"国人民中大小上下左右东西南北ab c1，。", "臺"]), min_size=20, max_size=150)


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(TEXTS, FEW_TRADITIONAL, st.text(st.sampled_from("習近平国臺灣人"), max_size=60)))
def test_script_as_defined(text):
    assert is_traditional(text) == is_traditional_by_definition(text)


@pytest.fixture(scope="module")
def index():
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table t using fts5(body_index, title_index)")
    docs = {
        1: "习近平访问哈萨克斯坦，出席上合组织峰会",
        2: "普京和蒙古国总统会谈",
        3: "臺灣的民主選舉",
        4: "ＷＴＯ and TikTok in 二〇二四年",
        5: "上海合作组织 峰会",
    }
    for rowid, text in docs.items():
        conn.execute("insert into t(rowid, body_index, title_index) values (?, ?, ?)",
                     [rowid, *index_columns("", text)])
    conn.execute("insert into t(rowid, body_index, title_index) values (6, ?, ?)", index_columns("鹰", "正文"))
    return conn


def search(conn, query):
    sql = "select rowid from t where t match ? order by rowid"
    return [r for (r,) in conn.execute(sql, [match_expression(query)])]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("习", [1]),  # one character
        ("坦", [1]),  # one character at the end of a run
        ("萨", [1]),  # one character inside a run
        ("鹰", [6]),  # one character of a title
        ("，习", [1]),  # one character after punctuation
        ("〇", [4]),
        ("近平", [1]),
        ("習近平", [1]),  # Traditional query, Simplified text
        ("台湾", [3]),  # Simplified query, Traditional text
        ("选举", [3]),
        ("哈萨克斯坦", [1]),
        ("斯坦，出席", [1]),  # punctuation in the query
        ("wto", [4]),
        ("ikto", [4]),  # Latin inside a word, as a substring scan finds it
        ("t", [4]),
        ("ok in", [4]),
        ("ＴｉｋＴｏｋ", [4]),
        ("〇二", [4]),
        ("习近平 峰会", [1]),  # terms are ANDed
        ("峰会 -习近平", [5]),  # exclusion
        ("普京 OR 台湾", [2, 3]),
        ('"上海合作组织 峰会"', [5]),  # a quoted phrase keeps its space
        ("合作组织峰会", []),  # not across the space in doc 5, not in doc 1
        ("普京 蒙古国总统", [2]),
        ("习近平 蒙古", []),
    ],
)
def test_queries(index, query, expected):
    assert search(index, query) == expected


@pytest.mark.parametrize(
    "query", ['"', '"""', "(", ")", "*", "AND", "OR", "NOT", "a:b", "-", "--", "^", "NEAR(a b)", "{x}", "", "   ",
              "\x00", "'", "习近平\"", "OR 普京", "普京 OR", "-普京"],
)
def test_hostile_queries_never_raise(index, query):
    search(index, query)  # any FTS5 syntax error would raise here


def test_only_exclusions_or_punctuation_match_nothing(index):
    assert search(index, "-普京") == []
    assert search(index, "，。！") == []


def test_snippet_marks_original_characters():
    text = "前文" * 80 + "臺灣的習近平與普京會晤。"
    marked = snippet(text, "习近平 普京", width=40)
    assert f"{MARK_START}習近平{MARK_END}" in marked
    assert f"{MARK_START}普京{MARK_END}" in marked
    assert marked.startswith("…")
    assert len(marked.replace(MARK_START, "").replace(MARK_END, "")) <= 42


# News sentences written in both scripts (not converted by a program), so
# they can check the normalisation that search ground truth also relies on.
BOTH_SCRIPTS = [
    ("臺灣總統府發言人表示，兩岸關係應以和平對話為基礎。", "台湾总统府发言人表示，两岸关系应以和平对话为基础。"),
    ("香港警方以違反《國家安全法》為由逮捕多名民主派人士。", "香港警方以违反《国家安全法》为由逮捕多名民主派人士。"),
    ("維吾爾族學者在新疆再教育營中遭到長期關押。", "维吾尔族学者在新疆再教育营中遭到长期关押。"),
    ("網民批評當局刪除有關疫情的報道，並封鎖相關網站。", "网民批评当局删除有关疫情的报道，并封锁相关网站。"),
    ("六四天安門事件三十五週年前夕，多名維權人士被軟禁。", "六四天安门事件三十五周年前夕，多名维权人士被软禁。"),
]


@pytest.mark.parametrize(("traditional", "simplified"), BOTH_SCRIPTS)
def test_normalise_agrees_with_opencc_on_traditional_text(traditional, simplified):
    import unicodedata

    import opencc

    # NFKC makes the full-width comma a comma; the characters are the Simplified ones.
    assert normalise(traditional) == normalise(simplified) == unicodedata.normalize("NFKC", simplified)
    # OpenCC's own converter, phrase by phrase, agrees with the table built from it character by character.
    assert normalise(traditional) == unicodedata.normalize("NFKC", opencc.OpenCC("t2s").convert(traditional))
