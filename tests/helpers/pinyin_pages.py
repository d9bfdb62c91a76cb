"""A small crawl for pinyin queries: polyphones (重庆 read chongqing or
zhongqing, 银行, 成都), homophones (习近平 and 袭近平, 西安 and 县), one
article in Traditional, and a Latin word (TikTok) that a pinyin reading must
not hide."""

from __future__ import annotations

from pathlib import Path

from helpers.pages import FULL_PAGE, traditional, write_crawl

# (title, paragraphs, Traditional?)
ARTICLES = [
    ("重庆市召开会议", ["重庆市政府今天召开会议，讨论银行改革。", "会议在重庆举行。"], False),
    ("重庆的夜景", ["记者走访重庆和成都两地。"], False),
    ("重庆大雾", ["重庆机场航班延误。"], False),
    ("中青年干部培训", ["本市中青年干部参加培训。"], False),
    ("习近平出访", ["习近平今天抵达阿斯塔纳。"], False),
    ("习近平讲话", ["习近平在会上讲话，提到银行业。"], True),
    ("网民称袭近平", ["有网民把他写作袭近平，也有人写xjp。"], False),
    ("成都的银行", ["成都多家银行调整利率，行长表示都市经济稳定。"], False),
    ("西安与县城", ["西安的老城和附近的县城都在发展绿色经济。"], False),
    ("短视频平台", ["TikTok 在美国面临禁令。"], False),
]


def pinyin_crawl() -> dict[str, bytes]:
    pages = {}
    for number, (title, paragraphs, in_traditional) in enumerate(ARTICLES):
        body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
        fragment = f'<h2>{title}</h2>\n<div class="entry">\n{body}</div>'
        day = f"2024-0{1 + number % 9}-0{1 + number % 7}"
        meta = f'<meta property="article:published_time" content="{day}T10:00:00+08:00">'
        url = f"https://www.bannedbook.org/bnews/headline/20240101/{3000000 + number}.html"
        page = FULL_PAGE.format(charset="utf-8", title=title, url=url, published=meta, fragment=fragment)
        pages[f"pinyin/{number:02d}.html"] = (traditional(page) if in_traditional else page).encode("utf-8")
    return pages


def write_pinyin_crawl(folder: Path) -> Path:
    return write_crawl(folder, pinyin_crawl())
