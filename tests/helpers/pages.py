"""Crawled pages of every shape the build must handle, made from the seed
so each one is a real page in another form."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import opencc

ROOT = Path(__file__).resolve().parents[2]
SEED_NAME = "000_e365f8a2e595efac.txt"
SEED = (ROOT / "raw" / SEED_NAME).read_text(encoding="utf-8")
CANONICAL = "https://www.bannedbook.org/bnews/comments/20240708/2059001.html"

FULL_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>{title} - 禁闻网</title>
<link rel="canonical" href="{url}">
<meta property="og:url" content="{url}">
<meta property="og:title" content="{title}">
{published}
<script>var ga = "tracking";</script>
<style>.entry {{ color: black }}</style>
</head>
<body>
<div id="header"><ul class="menu"><li><a href="https://www.bannedbook.org/">首页</a></li>
<li><a href="https://www.bannedbook.org/bnews/comments/">评论</a></li></ul></div>
<div class="breadcrumb"><a href="https://www.bannedbook.org/">首页</a> » <a href="https://www.bannedbook.org/bnews/comments/">评论</a></div>
<div id="content"><div class="post">
{fragment}
</div></div>
<div id="sidebar"><h2>热门文章</h2><ul><li><a href="https://www.bannedbook.org/bnews/x/1.html">侧栏里的热门标题不属于正文</a></li></ul>
<p>侧栏文字：订阅我们的新闻。</p></div>
<div id="footer"><p>版权所有 © 禁闻网 页脚文字</p></div>
</body>
</html>
"""

NO_AUTHOR_NO_TAGS = """<h2>一篇没有作者和标签的短文</h2>
<div class="entry">
<p>这是一篇没有作者署名、也没有标签的报道。</p>
<p>第二段讲的是二〇二三年十月的事情，但没有写出完整的公历日期。</p>
</div>"""

NO_ARTICLE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>禁闻网 首页</title></head>
<body><div id="header"><ul class="menu"><li><a href="/">首页</a></li></ul></div>
<div id="sidebar"><p>最新文章列表</p></div></body></html>"""


@functools.cache
def _to_traditional():
    return opencc.OpenCC("s2t").convert  # OpenCC loads its dictionaries each time one is made


def traditional(text: str) -> str:
    return _to_traditional()(text)


def full_page(charset: str = "utf-8", published: str | None = "2024-07-08T09:30:00+08:00",
              fragment: str = SEED, url: str = CANONICAL) -> str:
    title = "杨威：中共能挖动哈萨克斯坦和上合组织吗？"
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    return FULL_PAGE.format(charset=charset, title=title, url=url, published=meta, fragment=fragment)


def crawl() -> dict[str, bytes]:
    """File name → bytes, one file per shape (see tests/test_build.py)."""
    trad_url = CANONICAL.replace("2059001", "2059002")
    big5_url = CANONICAL.replace("2059001", "2059003")
    gb_url = CANONICAL.replace("2059001", "2059004")
    seed_bytes = SEED.encode("utf-8")
    return {
        SEED_NAME: seed_bytes,
        "copies/exact-duplicate.txt": seed_bytes,
        "full/page.html": full_page().encode("utf-8"),
        "full/traditional.html": traditional(full_page(url=trad_url)).encode("utf-8"),
        "full/gb18030.htm": full_page("gb2312", url=gb_url).encode("gb18030"),
        "full/gb18030-copy-undeclared.htm": full_page("", url=gb_url).replace(
            '<meta http-equiv="Content-Type" content="text/html; charset=">', "").encode("gb18030"),
        "full/big5.html": traditional(full_page("big5", url=big5_url)).encode("big5", "xmlcharrefreplace"),
        "other/no-author-no-tags.txt": NO_AUTHOR_NO_TAGS.encode("utf-8"),
        "broken/empty.txt": b"",
        "broken/random.html": random.Random(7).randbytes(4000),
        "broken/truncated.html": full_page(url=CANONICAL.replace("2059001", "2059005")).encode("utf-8")[:9000],
        "broken/no-article.html": NO_ARTICLE.encode("utf-8"),
        "notes.md": b"not a page: ignored by the build",
    }


def write_crawl(folder: Path, pages: dict[str, bytes] | None = None) -> Path:
    for name, data in (pages or crawl()).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder
