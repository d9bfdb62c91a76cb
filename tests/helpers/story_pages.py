"""A small crawl in which one report arrives four times, and a tag in both scripts.

- the seed as shipped (Simplified, no URL, dated only by the estimate 2024-07-04);
- the same report as a full page under its own URL (published 2024-07-08);
- its Traditional rendering under another URL, its tags written in Traditional
  (習近平, 上合組織 …): the same tags in the other script;
- a repost by another outlet with a paragraph added (REPOST_ONLY), published
  later: a search for that paragraph finds only the repost;
- a different report (tests/helpers/reader_pages.py) sharing some tags, in Simplified.
"""

from __future__ import annotations

from pathlib import Path

from helpers.pages import CANONICAL, SEED, SEED_NAME, full_page, traditional, write_crawl
from helpers.reader_pages import reader_crawl

TRADITIONAL_URL = CANONICAL.replace("2059001", "2059002")
REPOST_URL = CANONICAL.replace("2059001", "2059003")
REPOST_ONLY = "补记：雪莲花开时记者再访阿斯塔纳。"
REPOST_SOURCE = "美国之音"
SEED_STORY_FILES = [SEED_NAME, "full/page.html", "full/traditional.html", "repost/voa.html"]


def story_crawl() -> dict[str, bytes]:
    reposted = SEED.replace('<p class="src-info">来源：中文', f'<p>{REPOST_ONLY}</p><p class="src-info">来源：', 1)
    reposted = reposted.replace("<span class='wp_keywordlink_affiliate'><a href=\"http://www.epochtimes.com/\" "
                                "title=\"大纪元\" target=\"_blank\">大纪元</a></span>",
                                f'<a href="https://www.voachinese.com/">{REPOST_SOURCE}</a>', 1)
    assert REPOST_ONLY in reposted and REPOST_SOURCE in reposted, "the seed page changed: update the repost"
    return {
        **reader_crawl(),
        "full/page.html": full_page().encode(),
        "full/traditional.html": traditional(full_page(url=TRADITIONAL_URL)).encode(),
        "repost/voa.html": full_page(published="2024-07-10T08:00:00+08:00", url=REPOST_URL,
                                     fragment=reposted).encode(),
    }


def write_story_crawl(folder: Path) -> Path:
    return write_crawl(folder, story_crawl())
