"""What search, lexicons, trends and tag counts must find, worked out apart
from the project's code: text folded with OpenCC's own Traditional →
Simplified converter and Python's NFKC and casefold (never
`bannedbook.text.chinese.normalise`), queries parsed here (never
`bannedbook.search.query.parse_query`), matches found by a substring scan. A bug
in the project's folding or parsing then moves what it finds, not the truth.

The tests import it, and so does benchmarks/search_bench.py (benchmarks run
with tests/ on their path, as `make bench` runs them).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import opencc


@cache
def _t2s():
    return opencc.OpenCC("t2s").convert


class _Simplified(dict):
    """str.translate table: each character as OpenCC converts it alone."""

    def __missing__(self, code: int) -> str:
        self[code] = _t2s()(chr(code))
        return self[code]


_SIMPLIFIED = _Simplified()


def fold(text: str) -> str:
    """text as search compares it: NFKC, case folded, then Traditional →
    Simplified character by character with OpenCC (a query is matched by
    its characters wherever they stand, so no character may be converted
    one way in a query and another way in an article's phrase)."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_SIMPLIFIED)


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class Parsed:
    groups: list[list[str]]  # AND of groups, OR of the terms within one
    excluded: list[str]


def parse(query: str, folded: bool = True) -> Parsed:
    """The query shapes the tests and benchmarks ask: whitespace separates
    terms; "double quotes" keep a phrase with spaces together; a term after
    `-` is excluded; the word `OR` puts the terms either side of it in one
    group. Terms come back folded (unless not folded)."""
    words: list[tuple[str, bool]] = []  # (text, quoted)
    position = 0
    while position < len(query):
        if query[position].isspace():
            position += 1
            continue
        negated = query[position] == "-" and position + 1 < len(query) and not query[position + 1].isspace()
        start = position + negated
        if query[start] == '"':
            end = query.find('"', start + 1)
            end = len(query) if end < 0 else end
            words.append(("-" * negated + query[start + 1 : end], True))
            position = end + 1
        else:
            end = start
            while end < len(query) and not query[end].isspace():
                end += 1
            words.append((query[position:end], False))
            position = end
    groups: list[list[str]] = []
    excluded: list[str] = []
    join = False
    for text, quoted in words:
        if text == "OR" and not quoted:
            join = bool(groups)
            continue
        negated = text.startswith("-") and len(text) > 1
        term = text[1:] if negated else text
        term = fold(term) if folded else term
        if negated:
            excluded.append(term)
        elif join:
            groups[-1].append(term)
        else:
            groups.append([term])
        join = False
    return Parsed(groups, excluded)


def contains(text: str, term: str) -> bool:
    """Whether folded text shows term: as a substring, or, for a phrase of
    several words, those words in order with only spaces or punctuation
    between them."""
    words = term.split()
    if len(words) <= 1:
        return bool(words) and words[0] in text
    return re.search(r"[\W_]+".join(map(re.escape, words)), text) is not None


def shown(texts: tuple[str, ...], term: str) -> bool:
    """Whether any of the texts (title, body) shows term."""
    return any(contains(text, term) for text in texts)


def ground_truth(rows: Iterable[tuple[str, str, str]], queries: list[str]) -> dict[str, set[str]]:
    """Ids of the rows (id, title, body) whose folded title or body shows a
    term of every group of each query and no excluded term: the substring
    scan search must equal."""
    parsed = {query: parse(query) for query in queries}
    truth: dict[str, set[str]] = {query: set() for query in queries}
    for key, title, body in rows:
        texts = (fold(title or ""), fold(body or ""))
        for query, p in parsed.items():
            if (p.groups and all(any(shown(texts, term) for term in group) for group in p.groups)
                    and not any(shown(texts, term) for term in p.excluded)):
                truth[query].add(key)
    return truth


# ---------------------------------------------------------------- lexicon terms

_WORD = re.compile(r"[^\W_]+")


def phrase_hits(term: str, text: str) -> int:
    """Occurrences in folded text of a lexicon term (folded), matched as a
    quoted phrase search matches it. A term of one word is a substring
    (counted as str.count counts, without overlaps). Otherwise its words
    (runs of letters and digits) must meet as many consecutive words of the
    text, separated only by other characters: the first may end a longer
    word, the middle ones are whole words, and the last begins one (is one,
    when the term ends with a character that is not a letter or digit; a
    one-word term so ended must end a word of the text)."""
    words = _WORD.findall(term)
    if not words:
        return 0
    open_end = term.endswith(words[-1])
    if len(words) == 1 and open_end:
        return text.count(words[0])
    found = _WORD.findall(text)
    k, hits, i = len(words), 0, 0
    while i + k <= len(found):
        window = found[i : i + k]
        last_fits = window[-1].startswith(words[-1]) if open_end else k == 1 or window[-1] == words[-1]
        if window[0].endswith(words[0]) and window[1:-1] == words[1:-1] and last_fits:
            hits += 1
            i += k
        else:
            i += 1
    return hits
