"""Search queries drawn from a built database's own text, and what
Datasette's search returns for them: shared by the search tests
(test_search_recall.py) and benchmarks/search_bench.py, which set what search
finds against a ground truth.

Queries are picked with a seeded RNG in CATEGORIES' proportions: one to many
characters, names, common words, Traditional input, Latin words and parts of
them, several terms, `OR`, `-` exclusions and "quoted phrases".
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from helpers.pages import traditional
from helpers.truth import fold

# Characters of Chinese (and Japanese, Korean) text, for picking queries.
CJK = "\u3007\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_CJK_RUN = re.compile(f"[{CJK}]+")
# Latin words as written in articles, half- or full-width: TikTok, ＷＴＯ, COVID-19.
_LATIN = re.compile(r"[0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+(?:[-\uff0d][0-9A-Za-z\uff10-\uff19]+)*")
_LETTER = re.compile("[A-Za-z\uff21-\uff3a\uff41-\uff5a]")
# What a query of each category looks like, and how many of every 96 queries it gets.
CATEGORIES = {
    "1-char": 10,
    "2-char": 10,
    "3-char": 8,
    "4+-char": 8,
    "name": 8,
    "common": 8,
    "traditional": 8,
    "latin": 8,
    "latin-part": 4,  # inside a Latin word: "ikTo" must find TikTok
    "multi-term": 8,
    "or": 6,  # 甲 OR 乙 [丙]
    "exclude": 6,  # 甲 -乙
    "phrase": 4,  # "甲乙丙丁", "甲乙 丙丁"
}
COMMON_CHARS = ("的", "国", "人", "中", "在", "一")
COMMON_WORDS = (
    "中国",
    "发展",
    "经济",
    "人民",
    "工作",
    "问题",
    "社会主义",
    "改革开放",
    "国家",
    "我们",
    "企业",
    "建设",
    "领导",
    "一个",
    "记者",
    "北京",
)


@dataclass
class Query:
    category: str
    text: str


# ---------------------------------------------------------------- queries


class _Picker:
    """Queries drawn from the database's own text, deterministic for a seed."""

    def __init__(self, conn: sqlite3.Connection, seed: int) -> None:

        self.conn = conn
        self.rng = random.Random(seed)
        self.to_traditional = traditional
        self.rowids = [rowid for (rowid,) in conn.execute("select date_order from articles order by date_order")]
        self.tags = [row[0] for row in conn.execute("select name from tags order by name")]
        self.common = {"1-char": list(COMMON_CHARS), "common": list(COMMON_WORDS)}

    def article(self, script: str | None = None) -> tuple[str, str]:
        """Title and body of a random article (of the given script, when asked)."""
        for _ in range(200):
            row = self.conn.execute(
                "select title, body, script from articles where rowid = ?",
                (self.rng.choice(self.rowids) if self.rowids else 0,),
            ).fetchone()
            if row and (script is None or row[2] == script):
                return row[0], row[1]
        raise RuntimeError("no article found to pick queries from")

    def cjk(self, length: int, script: str | None = None) -> str:
        """A run of `length` CJK characters from some article's text."""
        for _ in range(200):
            runs = [run for run in _CJK_RUN.findall(" ".join(self.article(script))) if len(run) >= length]
            if runs:
                run = self.rng.choice(runs)
                start = self.rng.randint(0, len(run) - length)
                return run[start : start + length]
        raise RuntimeError(f"no run of {length} CJK characters found")

    def latin_words(self) -> list[str]:
        """Latin words (with a letter) as written in a sample of articles."""
        words: set[str] = set()
        for _ in range(300):
            words.update(w for w in _LATIN.findall(self.article()[1]) if _LETTER.search(w))
        return sorted(words)

    def pick(self, category: str) -> str:
        rng = self.rng
        fixed = self.common.get(category)
        if fixed:
            return fixed.pop(0)
        if category == "1-char":
            return self.cjk(1)
        if category == "2-char":
            return self.cjk(2)
        if category == "3-char":
            return self.cjk(3)
        if category == "4+-char":
            return self.cjk(rng.randint(4, 10))
        if category == "common":
            return rng.choice(COMMON_WORDS)
        if category == "name":
            return rng.choice(self.tags) if self.tags else self.cjk(3)
        if category == "traditional":
            for _ in range(50):
                source = rng.choice([self.cjk(rng.randint(2, 4), "simplified"), rng.choice(COMMON_WORDS)])
                converted = self.to_traditional(source)
                if converted != source:
                    return converted
            return converted
        if category in ("latin", "latin-part"):
            return self.latin(category)
        if category == "multi-term":
            if rng.random() < 0.7:
                # Two terms of one article: usually found together.
                runs = [r for r in _CJK_RUN.findall(self.article()[1]) if len(r) >= 3]
                if len(runs) >= 2:
                    first, second = rng.sample(runs, 2)
                    return f"{first[: rng.randint(2, 3)]} {second[-rng.randint(2, 3) :]}"
            return f"{self.cjk(2)} {self.cjk(2)}"
        if category == "or":
            # Either of two terms, sometimes with a term both must show beside it.
            title, body = self.article()
            runs = [r for r in _CJK_RUN.findall(body) if len(r) >= 3] or [self.cjk(3)]
            first = rng.choice(runs)[: rng.randint(2, 3)]
            query = f"{first} OR {self.cjk(rng.randint(2, 3))}"
            return f"{query} {rng.choice(runs)[-2:]}" if rng.random() < 0.5 else query
        if category == "exclude":
            # A term without a common word (or without another term).
            left = self.cjk(rng.randint(2, 3))
            right = rng.choice(COMMON_WORDS) if rng.random() < 0.6 else self.cjk(2)
            return f"{left} -{right}" if rng.random() < 0.7 else f"{left} {self.cjk(2)} -{right}"
        if category == "phrase":
            return self.phrase()
        raise ValueError(category)

    def phrase(self) -> str:
        """A quoted phrase from some article: a run of characters, or the end
        of one run and the start of the next with a space where the text has
        punctuation (the phrase 工作 促进 is found in 工作，促进)."""
        rng = self.rng
        if rng.random() < 0.5:
            return f'"{self.cjk(rng.randint(4, 8))}"'
        for _ in range(100):
            body = self.article()[1]
            pairs = [m for m in re.finditer(f"([{CJK}]{{2,}})[，、；：]([{CJK}]{{2,}})", body)]
            if pairs:
                m = rng.choice(pairs)
                return f'"{m[1][-rng.randint(2, len(m[1])):][-4:]} {m[2][: rng.randint(2, 4)]}"'
        return f'"{self.cjk(6)}"'

    def latin(self, category: str) -> str:
        rng = self.rng
        if not hasattr(self, "_latin"):
            self._latin = self.latin_words() or ["WTO"]
        if category == "latin-part":
            # Three or more letters strictly inside a word of five or more: "ikTo".
            long = [w for w in self._latin if len(w) >= 5 and w.isalpha()] or ["TikTok"]
            word = fold(rng.choice(long))
            start = rng.randint(1, len(word) - 4)
            return word[start : start + rng.randint(3, len(word) - start - 1)]
        word = fold(rng.choice(self._latin)).upper() if rng.random() < 0.5 else rng.choice(self._latin)
        style = rng.choice(["as written", "lower", "full-width", "with-cjk"])
        if style == "lower":
            return word.lower()
        if style == "full-width":
            return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in fold(word).upper())
        if style == "with-cjk":
            # The word and the CJK characters after it, as one query (G20峰会).
            for _ in range(100):
                body = self.article()[1]
                found = [m for m in _LATIN.finditer(body) if _LETTER.search(m[0]) and _CJK_RUN.match(body, m.end())]
                if found:
                    m = rng.choice(found)
                    return body[m.start() : m.end() + 2]
        return word


def pick_queries(db: Path | str, count: int = 96, seed: int = 3) -> list[Query]:
    """`count` distinct queries in CATEGORIES' proportions, from the database's text."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        picker = _Picker(conn, seed)
        plan = [name for name, weight in CATEGORIES.items() for _ in range(weight)]
        plan = [plan[i * len(plan) // count] for i in range(count)]
        queries: list[Query] = []
        seen: set[str] = set()
        for category in plan:
            for _ in range(30):
                text = picker.pick(category)
                if text.strip() and text not in seen:
                    seen.add(text)
                    queries.append(Query(category, text))
                    break
        return queries
    finally:
        conn.close()


def database_rows(db: Path | str) -> Iterator[tuple[str, str, str]]:
    """Every article's (id, title, body): what a ground truth scans."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        yield from conn.execute("select id, title, body from articles")
    finally:
        conn.close()


# ---------------------------------------------------------------- found sets


def search_path(query: str) -> str:
    """Table search for every match, as ids, in pages of max_returned_rows.
    Sorted by id so keyset pagination is exact; no count, no facets."""
    return (
        f"/bannedbook/articles.json?_search={quote(query)}&_sort=id&_size=max"
        "&_col=title&_nocount=1&_nofacet=1&_shape=objects"
    )


def found_ids(get_json: Callable[[str], dict], query: str, max_pages: int = 1000) -> set[str]:
    """Every article Datasette's `?_search=` returns for query, following next_url."""
    ids: set[str] = set()
    path = search_path(query)
    for _ in range(max_pages):
        data = get_json(path)
        ids.update(row["id"] for row in data["rows"])
        next_url = data.get("next_url")
        if not next_url:
            return ids
        # next_url is absolute; keep only its path so we never leave our server.
        parts = urlsplit(next_url)
        path = f"{parts.path}?{parts.query}"
    raise RuntimeError(f"more than {max_pages} pages of results for {query!r}")
