"""Versions of an article and when it vanished: the diff and window rules
(research/versions.py) on texts, then whole builds of web-archive captures
written here: edits, the Traditional mirror, another encoding, a changed
sidebar, 404/410/the site's notice, a page that comes back, full and
incremental builds alike."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers.pages import CANONICAL, full_page, traditional
from helpers.snapshot import content
from helpers.warcs import MIRROR, Entry, write_warc

from bannedbook.build.pipeline import build
from bannedbook.db.versionstore import CONTEXT, compact
from bannedbook.research.versions import (
    changed_text,
    diff,
    is_removal_notice,
    removal_window,
    text_hash,
)
from bannedbook.text.chinese import normalise

PARAGRAPHS = [
    "上海合作组织峰会七月在阿斯塔纳举行，各国领导人讨论了地区安全问题。",
    "习近平在会上发表讲话，呼吁成员国加强合作，共同应对外部挑战。",
    "分析人士认为，哈萨克斯坦希望在大国之间保持平衡，不愿被任何一方主导。",
    "会议最后通过了联合声明，但对乌克兰问题只字未提。",
]


def fragment(paragraphs: list[str], title: str = "峰会报道：上合组织的分歧") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f'<h2>{title}</h2><div class="entry"><p>作者：测试记者</p>{body}</div>'


def page(paragraphs: list[str], url: str = CANONICAL, charset: str = "utf-8", sidebar: str = "") -> bytes:
    html = full_page(charset=charset, fragment=fragment(paragraphs), url=url)
    html = html.replace("侧栏文字：订阅我们的新闻。", "侧栏文字：订阅我们的新闻。" + sidebar)
    return html.encode(charset, errors="xmlcharrefreplace")


def mirror_page(paragraphs: list[str]) -> bytes:
    return traditional(full_page(fragment=fragment(paragraphs), url=MIRROR)).encode("utf-8")


def parts(paragraphs: list[str], title: str = "峰会报道：上合组织的分歧") -> list[str]:
    return [title, "作者：测试记者", *paragraphs]


def sides(blocks: list) -> tuple[list[str], list[str]]:
    """The old and new text of each changed run, normalised, from the segments."""
    old = [normalise("".join(t for op, t in b[1] if op != "+")) for b in blocks if b[0] == "~"]
    new = [normalise("".join(t for op, t in b[1] if op != "-")) for b in blocks if b[0] == "~"]
    return old, new


# ------------------------------------------------------------------ the rules


def test_script_encoding_and_width_make_no_version():
    text = parts(PARAGRAPHS)
    assert text_hash([traditional(p) for p in text]) == text_hash(text)
    assert text_hash([p.replace("7", "７") for p in text]) == text_hash(text)
    # OpenCC renders 了解 as 瞭解 and 反复 as 反覆, characters normalise keeps: still one version.
    assert text_hash(["我们了解到他反复说明"]) == text_hash([traditional("我们了解到他反复说明")])
    assert text_hash(parts(PARAGRAPHS[:3])) != text_hash(text)
    unchanged = diff(text, [traditional(p) for p in text])
    assert unchanged.blocks == [["=", len(text)]] and unchanged.chars_added == unchanged.chars_removed == 0


def test_a_cut_sentence_is_its_characters():
    cut = "在会上"
    new = [p.replace(cut, "") for p in PARAGRAPHS]
    change = diff(parts(PARAGRAPHS), parts(new))
    assert (change.chars_removed, change.chars_added, change.paragraphs_removed) == (len(cut), 0, 0)
    assert change.blocks[0] == ["=", 3] and change.blocks[-1] == ["=", 2]
    assert change.blocks[1][1] == [["=", PARAGRAPHS[1].split(cut)[0]], ["-", cut], ["=", PARAGRAPHS[1].split(cut)[1]]]
    assert changed_text(change.blocks) == (PARAGRAPHS[1], new[1])


def test_replacement_insertion_and_removed_paragraph():
    new = [PARAGRAPHS[0].replace("七月", "八月"), PARAGRAPHS[1], PARAGRAPHS[2] + "但这一平衡越来越难维持。"]
    change = diff(parts(PARAGRAPHS), parts(new))
    assert change.chars_removed == 1 + len(PARAGRAPHS[3])
    assert change.chars_added == 1 + len("但这一平衡越来越难维持。")
    assert change.paragraphs_removed == 1 and change.paragraphs_added == 0
    old_runs, new_runs = sides(change.blocks)
    assert "".join(old_runs).replace("\n", "") == normalise(PARAGRAPHS[0] + PARAGRAPHS[2] + PARAGRAPHS[3])
    assert "".join(new_runs).replace("\n", "") == normalise(new[0] + new[2])


def test_a_moved_paragraph_is_moved_not_rewritten():
    new = [PARAGRAPHS[3], *PARAGRAPHS[:3]]
    change = diff(parts(PARAGRAPHS), parts(new))
    assert (change.paragraphs_moved, change.chars_added, change.chars_removed) == (1, 0, 0)
    assert ["m", PARAGRAPHS[3]] in change.blocks


def test_a_moved_and_edited_paragraph_is_diffed_where_it_went():
    new = [PARAGRAPHS[3].replace("联合声明", "声明"), *PARAGRAPHS[:3]]
    change = diff(parts(PARAGRAPHS), parts(new))
    assert (change.paragraphs_moved, change.chars_added, change.chars_removed) == (1, 0, 2)
    moved = [b for b in change.blocks if b[0] == "M"]
    assert moved and ["-", "联合"] in moved[0][1]


def test_the_diff_shows_each_side_in_its_own_script():
    old = [traditional(p) for p in parts(PARAGRAPHS)]
    new = parts([PARAGRAPHS[0], PARAGRAPHS[1].replace("习近平", "某领导人"), *PARAGRAPHS[2:]])
    change = diff(old, new)
    segments = [s for b in change.blocks if b[0] == "~" for s in b[1]]
    assert ["-", "習近平"] in segments and ["+", "某领导人"] in segments
    assert change.chars_removed == 3 and change.chars_added == 4


@pytest.mark.parametrize(("seen", "gone", "window"), [
    (["2024-01"], [], ("2024-01", None, None)),
    (["2024-01", "2024-02"], ["2024-03", "2024-04"], ("2024-02", "2024-02", "2024-03")),
    (["2024-01", "2024-05"], ["2024-03"], ("2024-05", None, None)),  # came back
    (["2024-01", "2024-05"], ["2024-03", "2024-06"], ("2024-05", "2024-05", "2024-06")),  # and went again
    (["2024-05"], ["2024-03"], ("2024-05", None, None)),  # a 404 before it was ever seen
    ([], ["2024-03"], (None, None, "2024-03")),
])
def test_removal_window(seen, gone, window):
    assert removal_window(seen, gone) == window


def test_removal_notice_rule():
    assert is_removal_notice("", {"error404", "home"})
    assert is_removal_notice("页面不存在 - 禁闻网")
    assert is_removal_notice("抱歉，该文章已被删除")
    assert is_removal_notice("Page not found – 禁闻网")
    assert not is_removal_notice("上合组织峰会：各国在阿斯塔纳讨论安全问题", {"single", "postid-1"})


# ------------------------------------------------------------------ builds

CUT = "习近平在会上发表讲话，呼吁成员国加强合作，共同应对外部挑战。"
EDITED = [PARAGRAPHS[0], PARAGRAPHS[2], PARAGRAPHS[3] + "（本文有删节）"]
NOTICE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>页面不存在</title>
</head><body class="error404"><div id="content"><h1>Oops</h1></div></body></html>""".encode()


def first_warc(raw: Path) -> None:
    """v1 three ways (mirror, GBK with another sidebar), v2 cut, then gone (404)."""
    write_warc(raw / "a.warc.gz", [
        Entry(CANONICAL, page(PARAGRAPHS), date="2024-07-09T08:00:00Z"),
        Entry(MIRROR, mirror_page(PARAGRAPHS), date="2024-07-10T08:00:00Z"),
        Entry(CANONICAL, page(PARAGRAPHS, charset="gbk", sidebar="新的广告"), date="2024-07-11T08:00:00Z",
              content_type="text/html; charset=gbk"),
        Entry(CANONICAL, page(EDITED), date="2024-08-01T08:00:00Z"),
        Entry(CANONICAL, b"<h1>Not Found</h1>", "404 Not Found", date="2024-09-01T08:00:00Z"),
        Entry(CANONICAL, b"<h1>Gone</h1>", "410 Gone", date="2024-09-15T08:00:00Z"),
    ])


def run(raw: Path, db: Path, **options):
    return build(raw, db, workers=1, progress=False, lexicon=[raw.parent / "terms.csv"], **options)


def rows(db: Path, sql: str) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def raw(tmp_path):
    (tmp_path / "terms.csv").write_text("term,theme\n習近平,人物\n上合组织,组织\n", encoding="utf-8")
    first_warc(tmp_path / "raw")
    return tmp_path / "raw"


def test_versions_and_removal_from_captures(raw, tmp_path):
    db = tmp_path / "x.db"
    run(raw, db)
    versions = rows(db, """select version, first_seen, last_seen, captures, chars_added, chars_removed,
                                  paragraphs_removed, exact from versions order by version""")
    # The mirror, the GBK copy and its new sidebar are version 1; the cut is version 2.
    assert versions == [(1, "2024-07-09T08:00:00Z", "2024-07-11T08:00:00Z", 3, None, None, None, 1),
                        (2, "2024-08-01T08:00:00Z", "2024-08-01T08:00:00Z", 1, len("（本文有删节）"), len(CUT), 1, 1)]
    blocks = json.loads(rows(db, "select diff from versions where version = 2")[0][0])
    assert ["-", CUT + "\n"] in blocks[1][1] or ["-", CUT] in [s for b in blocks if b[0] == "~" for s in b[1]]
    assert rows(db, "select term, change, occurrences from version_terms") == [("習近平", "removed", 1)]
    article = rows(db, "select last_seen, removed_after, removed_before, body from articles")[0]
    assert article[:3] == ("2024-08-01T08:00:00Z", "2024-08-01T08:00:00Z", "2024-09-01T08:00:00Z")
    assert "本文有删节" in article[3]  # the article keeps its (latest) text


def test_a_page_that_comes_back_and_goes_again(raw, tmp_path):
    db = tmp_path / "x.db"
    run(raw, db)
    write_warc(raw / "b.warc.gz", [Entry(CANONICAL, page(EDITED), date="2024-10-01T08:00:00Z")])
    assert run(raw, db).incremental
    assert rows(db, "select last_seen, removed_after, removed_before from articles") == [
        ("2024-10-01T08:00:00Z", None, None)]
    assert rows(db, "select version, last_seen from versions order by version") == [
        (1, "2024-07-11T08:00:00Z"), (2, "2024-10-01T08:00:00Z")]
    # Gone again, this time behind the site's own notice (a 200 page).
    write_warc(raw / "c.warc.gz", [Entry(CANONICAL, NOTICE, date="2024-11-01T08:00:00Z")])
    run(raw, db)
    assert rows(db, "select reason from raw_files where path like 'c.warc.gz#%' and status = 'rejected'") == [
        ("removal-notice",)]
    assert rows(db, "select removed_after, removed_before from articles") == [
        ("2024-10-01T08:00:00Z", "2024-11-01T08:00:00Z")]
    run(raw, tmp_path / "full.db", full=True)
    assert content(db) == content(tmp_path / "full.db")


def test_an_article_with_one_text_has_one_version(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "page.html").write_bytes(page(PARAGRAPHS))
    (raw / "mirror.html").write_bytes(mirror_page(PARAGRAPHS))
    db = tmp_path / "x.db"
    build(raw, db, workers=1, progress=False)
    assert rows(db, "select count(*) from articles") == [(1,)]
    # The Traditional mirror is the same text: one version, and no page_texts (they serve several texts).
    assert rows(db, "select version, captures, chars_added, diff from versions") == [(1, 0, None, None)]
    assert rows(db, "select count(*) from page_texts") == [(0,)]
    assert rows(db, "select last_seen, removed_after, removed_before from articles") == [(None, None, None)]


def test_a_stored_diff_keeps_the_change_and_some_context():
    long = "这是一个很长的段落，" * 30
    change = diff(["标题", long + "结尾。"], ["标题", long + "新的结尾。"])
    stored = compact(change.blocks)
    segments = stored[1][1]
    assert ["+", "新的"] in segments and any(op == "…" for op, _ in segments)
    assert sum(len(text) if op != "…" else 0 for op, text in segments) < 2 * CONTEXT + 10
    removed, added = changed_text(stored)
    assert added.endswith("新的结尾。") and removed.endswith("结尾。") and len(added) < 2 * CONTEXT + 10
