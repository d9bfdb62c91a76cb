"""Reposts of an article, edited the way bannedbook.org's sources edit them,
and the People's Daily articles to edit: for the labelled pairs that tune
bannedbook/research/stories.py (tests/helpers/story_pairs.py) and the duplicates planted in
benchmarks/stories_bench.py's synthetic archive.

The edits: the title changed (the body reflowed), a Traditional rendering, a
paragraph added or cut at the start, middle or end, another outlet's header
and footer, light word edits, truncation to about 70 %, and several at once.
"""

from __future__ import annotations

import random
from collections import defaultdict

import opencc

EDITS = ("title", "traditional", "added_start", "added_middle", "added_end", "cut_start", "cut_middle",
         "cut_end", "boilerplate", "word_edits", "truncated", "combined")
# A paragraph a repost adds or cuts is at most this share of the article, so
# that most of the text is still shared (what "the same story" means here).
MAX_EDITED_SHARE = 0.25

HEADERS = (
    "【大纪元{y}年{m}月{d}日讯】（大纪元记者{name}报导）",
    "【新唐人北京时间{y}年{m}月{d}日讯】",
    "（自由亚洲电台记者{name}报道）",
    "美国之音记者{name}{y}年{m}月{d}日报道",
    "【看中国{y}年{m}月{d}日讯】（看中国记者{name}综合报导）",
)
FOOTERS = (
    "责任编辑：{name}",
    "记者：{name} 责编：{name2} 网编：{name3}",
    "版权所有©{y}自由亚洲电台。版权所有，不得转载。",
    "本文只代表作者的观点和陈述。",
    "（转自大纪元）",
    "文章来源：美国之音中文网",
    "本文网址：https://www.secretchina.com/news/gb/{y}/{m}/{d}/{n}.html",
)


def originals(corpus) -> tuple[list[str], list[set[str]]]:
    """People's Daily articles (the paragraphs under one headline, at least
    three and 350 characters, cut after 850) with the names they contain."""
    paragraphs: dict[int, list[int]] = defaultdict(list)
    for index, headline in enumerate(corpus.paragraph_headline):
        paragraphs[headline].append(index)
    articles, names = [], []
    for indexes in paragraphs.values():
        texts: list[str] = []
        for index in indexes:
            if texts and sum(map(len, texts)) + len(corpus.paragraphs[index]) > 850:
                break
            texts.append(corpus.paragraphs[index])
        if len(texts) >= 3 and sum(map(len, texts)) >= 350:
            articles.append(texts)
            names.append({name for i in indexes[: len(texts)] for name in corpus.paragraph_names[i]})
    return articles, names


class Editor:
    """The edits reposts make, drawn from one random generator."""

    def __init__(self, rng: random.Random, authors: list[str], spare: list[str]):
        self.rng = rng
        self.authors = authors
        self.spare = spare  # paragraphs from other articles, to add
        # Traditional as Hong Kong and Taiwan outlets write it; s2twp also
        # swaps words for Taiwan's (信息 → 資訊, 软件 → 軟體), which
        # character-by-character normalisation does not undo.
        self.renderings = [opencc.OpenCC(config).convert for config in ("s2t", "s2hk", "s2tw", "s2twp")]

    def edit(self, kind: str, paragraphs: list[str]) -> list[str]:
        rng = self.rng
        if kind == "title":
            # The title is not compared; a repost that changes it often
            # reflows the body too: half-width punctuation, paragraphs joined.
            text = [p.replace("，", ", ").replace("。", ". ") for p in paragraphs]
            at = rng.randrange(len(text) - 1)
            return [*text[:at], text[at] + text[at + 1], *text[at + 2:]]
        if kind == "traditional":
            convert = self.rng.choice(self.renderings)
            return [convert(p) for p in paragraphs]
        if kind.startswith("added_"):
            return self.add(paragraphs, kind.removeprefix("added_"))
        if kind.startswith("cut_"):
            return self.cut(paragraphs, kind.removeprefix("cut_"))
        if kind == "boilerplate":
            return self.boilerplate(paragraphs)
        if kind == "word_edits":
            return self.word_edits(paragraphs, per_100=rng.uniform(1, 2.5))
        if kind == "truncated":
            return self.truncate(paragraphs, rng.uniform(0.65, 0.75))
        if kind == "combined":
            convert = self.rng.choice(self.renderings)
            text = [convert(p) for p in paragraphs]
            text = self.add(text, rng.choice(("start", "middle", "end"))) if rng.random() < 0.5 else \
                self.cut(text, rng.choice(("start", "middle", "end")))
            return self.word_edits(self.boilerplate(text), per_100=1)
        raise ValueError(kind)

    def place(self, count: int, where: str) -> int:
        return {"start": 0, "end": count, "middle": max(1, count // 2)}[where]

    def add(self, paragraphs: list[str], where: str) -> list[str]:
        limit = MAX_EDITED_SHARE * sum(map(len, paragraphs))
        extra = self.rng.choice([p for p in self.spare if len(p) <= limit] or [min(self.spare, key=len)])
        at = self.place(len(paragraphs), where)
        return [*paragraphs[:at], extra, *paragraphs[at:]]

    def cut(self, paragraphs: list[str], where: str) -> list[str]:
        limit = MAX_EDITED_SHARE * sum(map(len, paragraphs))
        at = {"start": 0, "end": len(paragraphs) - 1, "middle": len(paragraphs) // 2}[where]
        if len(paragraphs[at]) > limit:  # cut a sentence of it instead
            sentences = paragraphs[at].split("。")
            kept = "。".join(sentences[1:] if where != "end" else sentences[:-2] + [""])
            return [*paragraphs[:at], kept, *paragraphs[at + 1:]]
        return paragraphs[:at] + paragraphs[at + 1:]

    def boilerplate(self, paragraphs: list[str]) -> list[str]:
        rng = self.rng
        fields = {"y": rng.randint(2005, 2025), "m": rng.randint(1, 12), "d": rng.randint(1, 28),
                  "n": rng.randint(100000, 999999), "name": rng.choice(self.authors),
                  "name2": rng.choice(self.authors), "name3": rng.choice(self.authors)}
        footers = [f.format(**fields) for f in rng.sample(FOOTERS, rng.randint(1, 2))]
        return [rng.choice(HEADERS).format(**fields), *paragraphs, *footers]

    def word_edits(self, paragraphs: list[str], per_100: float) -> list[str]:
        """Replace, delete or insert a character or two here and there, as an
        editor changing words does."""
        rng = self.rng
        text = "\n".join(paragraphs)
        pool = [c for c in text if "\u4e00" <= c <= "\u9fff"]
        for _ in range(max(1, round(len(text) * per_100 / 100))):
            at = rng.randrange(len(text))
            if text[at] == "\n":
                continue
            width = rng.choice((1, 1, 2))
            action = rng.choice(("replace", "delete", "insert"))
            new = "".join(rng.choice(pool) for _ in range(width))
            if action == "replace":
                text = text[:at] + new + text[at + width:]
            elif action == "delete":
                text = text[:at] + text[at + width:]
            else:
                text = text[:at] + new + text[at:]
        return [p for p in text.split("\n") if p]

    def truncate(self, paragraphs: list[str], share: float) -> list[str]:
        """The first `share` of the text, ending at a sentence end when one is near."""
        text = "\n".join(paragraphs)
        cut = round(len(text) * share)
        end = text.rfind("。", round(cut * 0.9), cut)
        return [p for p in text[: end + 1 if end > 0 else cut].split("\n") if p]
