"""A small crawl for the reader's pages: the seed, plus the article its first
相关阅读 link points at, so related reading lands inside the archive and
"cited by" has something to show. The second article also carries text that
looks like markup and a javascript: link, which the pages must show as text.
"""

from __future__ import annotations

from pathlib import Path

from helpers.pages import FULL_PAGE, SEED, SEED_NAME, write_crawl

RELATED_URL = "https://www.bannedbook.org/bnews/headline/20240702/2057307.html"
RELATED_TITLE = "习近平访问哈萨克斯坦，出席上合组织峰会"
HOSTILE_TEXT = '<script>alert("x")</script>'


def tag(name: str) -> str:
    return f'<a href="https://www.bannedbook.org/bnews/tag/{name}/" class="st_tag internal_tag" rel="tag">{name}</a>'


# (HTML comments break long lines without putting a space into the Chinese text.)
RELATED_FRAGMENT = f"""<h2>{RELATED_TITLE}</h2>
<div class="entry">
<p>作者： {tag('李明')}</p>
<p>中共党魁{tag('习近平')}7月2日抵达哈萨克斯坦首都阿斯塔纳，出席{tag('上合组织')}峰会，<!--
-->并与{tag('哈萨克斯坦')}总统会谈。</p>
<h3>峰会议程</h3>
<p>峰会讨论地区安全与经贸合作。有网友在评论中贴出 &lt;script&gt;alert("x")&lt;/script&gt; 这样的文字，<!--
--><a href="javascript:alert(1)">点这里</a>也不会运行。</p>
<p>来源：<a href="https://www.voachinese.com/">美国之音</a></p>
<ul class="op-related-articles">
<li><a href="https://www.bannedbook.org/bnews/headline/20240601/2040000.html">不在档案中的一篇旧闻</a></li>
</ul>
</div>"""


def reader_crawl() -> dict[str, bytes]:
    meta = '<meta property="article:published_time" content="2024-07-02T10:00:00+08:00">'
    related = FULL_PAGE.format(charset="utf-8", title=RELATED_TITLE, url=RELATED_URL, published=meta,
                               fragment=RELATED_FRAGMENT)
    return {SEED_NAME: SEED.encode("utf-8"), "full/related.html": related.encode("utf-8")}


def write_reader_crawl(folder: Path) -> Path:
    return write_crawl(folder, reader_crawl())
