"""Pinyin as a question: which Chinese strings of the archive read like this
Latin query? (xijinping, xi2 jin4 ping2, Xí Jìnpíng, xi'an, lv, xjp)

Nothing about pinyin is indexed. The answer comes from the search index's own
terms (search/index.py): each character an article contains (its CHAR_MARK
token) and each bigram of its runs, with the number of articles holding it.
A query of n syllables is read as every sequence of n characters whose
readings spell it, where each neighbouring pair is a bigram some article has:
the characters come from every reading pypinyin knows (heteronyms: 重 reads
zhong and chong, 行 xing and hang, 都 du and dou), the pairs from the index.
One or two characters are their own index term, so their article count is
the index's; longer strings are counted by the exact search (a callable
given in), most likely ones first, so the best `limit` are found without
counting every chain.

Initials (xjp, zf is too short: at least MIN_INITIALS letters) are read the
same way, one character per letter, the letter being the first of one of
its readings.

This module computes only; reading the index is research/pinyin.py's.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from functools import cache
from itertools import product

import numpy as np

from bannedbook.search.index import CHAR_MARK
from bannedbook.text.chinese import normalise

MIN_INITIALS, MAX_INITIALS = 3, 6
MAX_SYLLABLES = 12
MAX_SEGMENTATIONS = 32
# How many chains may be counted by the exact search for one answer: each
# count is an index query; beyond this the answer says it may be incomplete.
MAX_COUNTS = 60
MAX_INITIAL_COUNTS = 24
MAX_CHAINS = 20_000
# Tone marks as combining characters after NFD: the tone they stand for.
_TONE_MARKS = {"\u0304": 1, "\u0301": 2, "\u030c": 3, "\u0300": 4}
_UMLAUT = "\u0308"  # ü: written v, as pypinyin's plain style does
_SEPARATORS = " '’‘-·"
_TONE_DIGITS = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "0": 5}
# What typists write for lüe/nüe and for ü after j, q, x, y.
_ALIASES = {"lue": "lve", "nue": "nve"}
_VOWEL = re.compile("[aeiouv]")


@cache
def _reading_table() -> tuple[dict[str, tuple[tuple[str, int], ...]], frozenset[str]]:
    """{character: its readings as (plain syllable, tone 1-5)} for every
    character pypinyin knows, and the set of plain syllables."""
    from pypinyin.contrib.tone_convert import to_normal, to_tone3
    from pypinyin.pinyin_dict import pinyin_dict

    converted: dict[str, tuple[str, int]] = {}
    table = {}
    for code, value in pinyin_dict.items():
        readings = []
        for marked in value.split(","):
            if marked not in converted:
                tone3 = to_tone3(marked, neutral_tone_with_five=True)
                plain = to_normal(marked)
                tone = int(tone3[-1]) if tone3[-1:].isdigit() else 5
                converted[marked] = (plain, tone)
            plain, tone = converted[marked]
            if plain.isascii() and plain.isalpha():  # ê alone is no syllable a keyboard types
                readings.append((plain, tone))
        if readings:
            table[chr(code)] = tuple(dict.fromkeys(readings))
    return table, frozenset(plain for plain, _ in converted.values() if plain.isascii() and plain.isalpha())


def readings(char: str) -> tuple[tuple[str, int], ...]:
    """Every reading of a character as (plain syllable, tone), heteronyms
    included; () for a character without one."""
    return _reading_table()[0].get(char, ())


@cache
def _spellings() -> dict[str, str]:
    """{what a typist may write: the syllable it is}: every syllable, lue
    for lve, and ju, qu, xu, yu… also written with v."""
    syllables = _reading_table()[1]
    spellings = {s: s for s in syllables}
    spellings.update({typed: s for typed, s in _ALIASES.items() if s in syllables})
    for s in syllables:
        if s[0] in "jqxy" and "u" in s:
            spellings.setdefault(s.replace("u", "v", 1), s)
    return spellings


@cache
def _initial_letters() -> frozenset[str]:
    return frozenset(s[0] for s in _reading_table()[1])


Syllable = tuple[str, int | None]  # plain syllable, tone (None: any)


@dataclass(frozen=True)
class Pinyin:
    """A Latin query read as pinyin: every way it splits into syllables
    (xian: xian, xi an, …; the first has the fewest), or, for initials, one
    letter per character."""

    query: str
    segmentations: tuple[tuple[Syllable, ...], ...]
    initials: bool = False

    @property
    def syllables(self) -> list[str]:
        """The first reading, as a reader would write it (tones as digits)."""
        return [s + (str(t) if t else "") for s, t in self.segmentations[0]]


def _letters(query: str) -> list[tuple[str, int | None]] | None:
    """The query as (letter, tone mark on it) and separators (" ", tone
    digit as int): None when something in it is not pinyin."""
    out: list[tuple[str, int | None]] = []
    for char in unicodedata.normalize("NFD", normalise(query.strip())):
        if char in _TONE_MARKS or char == _UMLAUT:
            if not out or not out[-1][0].isalpha():
                return None
            letter, _ = out[-1]
            out[-1] = ("v", None) if char == _UMLAUT and letter == "u" else (letter, _TONE_MARKS.get(char))
            if char == _UMLAUT and letter != "u":
                return None
        elif "a" <= char <= "z":
            out.append((char, None))
        elif char in _TONE_DIGITS:
            out.append(("", _TONE_DIGITS[char]))
        elif char in _SEPARATORS:
            out.append((" ", None))
        else:
            return None
    return out


def _split(letters: str) -> list[tuple[tuple[str, str], ...]]:
    """Every way letters split into syllables, as (typed, syllable) pairs,
    fewest syllables first."""
    spellings = _spellings()
    ways: list[list[tuple[tuple[str, str], ...]]] = [[()]] + [[] for _ in letters]
    for end in range(1, len(letters) + 1):
        for start in range(max(0, end - 6), end):
            typed = letters[start:end]
            # n, ng, m, hm, hng (嗯, 呣, 哼) only when written alone: inside a
            # word they would read every -n and -ng as a syllable of its own.
            if (syllable := spellings.get(typed)) and (_VOWEL.search(syllable) or typed == letters):
                ways[end].extend(way + ((typed, syllable),) for way in ways[start] if len(way) < MAX_SYLLABLES)
        del ways[end][MAX_SEGMENTATIONS * 4 :]
    return sorted(ways[-1], key=len)


def parse(query: str) -> Pinyin | None:
    """The query read as pinyin (full syllables, else initials), or None."""
    marked = _letters(query)
    if not marked or not any(letter.isalpha() for letter, _ in marked):
        return None
    # Chunks between separators and tone digits; a tone digit belongs to
    # its chunk's last syllable, a tone mark to the syllable holding it.
    chunks: list[tuple[str, list[int | None], int | None]] = []
    letters, marks = "", []
    for letter, tone in marked + [(" ", None)]:
        if letter.isalpha():
            letters += letter
            marks.append(tone)
        elif letters:
            chunks.append((letters, marks, tone if letter == "" else None))
            letters, marks = "", []
        elif letter == "":
            return None  # a tone digit after no syllable
    per_chunk = []
    for letters, marks, digit in chunks:
        ways = []
        for way in _split(letters):
            toned, at = [], 0
            for i, (typed, syllable) in enumerate(way):
                tones = [mark for mark in marks[at : at + len(typed)] if mark]
                toned.append((syllable, tones[0] if tones else digit if i == len(way) - 1 else None))
                at += len(typed)
            ways.append(tuple(toned))
        if not ways:
            break
        per_chunk.append(ways)
    else:
        segmentations = []
        for combination in product(*per_chunk):
            joined = tuple(s for part in combination for s in part)
            if len(joined) <= MAX_SYLLABLES:
                segmentations.append(joined)
            if len(segmentations) >= MAX_SEGMENTATIONS:
                break
        if segmentations:
            return Pinyin(query, tuple(sorted(segmentations, key=len)))
    plain = "".join(letter for letter, tone in marked if letter.isalpha() and tone is None)
    if (len(plain) == len(marked) and MIN_INITIALS <= len(plain) <= MAX_INITIALS
            and set(plain) <= _initial_letters()):
        return Pinyin(query, (tuple((letter, None) for letter in plain),), initials=True)
    return None


# ------------------------------------------------------------------ the archive's vocabulary


class Vocabulary:
    """The search index's Chinese terms: each character with a reading that
    some article contains, and each bigram of two such characters, with how
    many articles hold it. Made from (term, articles) rows of the index's
    fts5vocab table; kept as arrays, not a Python object per bigram."""

    def __init__(self, rows: Iterable[tuple[str, int]]) -> None:
        table = _reading_table()[0]
        ids: dict[str, int] = {}
        char_articles: dict[str, int] = {}
        firsts, seconds, counts = array("i"), array("i"), array("q")
        for term, docs in rows:
            if len(term) != 2 or term[0] not in table:
                continue
            if term[1] == CHAR_MARK:
                char_articles[term[0]] = docs
            elif term[1] in table:
                firsts.append(ids.setdefault(term[0], len(ids)))
                seconds.append(ids.setdefault(term[1], len(ids)))
                counts.append(docs)
        for char in char_articles:
            ids.setdefault(char, len(ids))
        self.chars = list(ids)
        self.char_articles = np.array([char_articles.get(c, 0) for c in self.chars], dtype=np.int64)
        order = np.argsort(np.frombuffer(firsts, dtype=np.int32), kind="stable")
        self.first = np.frombuffer(firsts, dtype=np.int32)[order]
        self.second = np.frombuffer(seconds, dtype=np.int32)[order]
        self.articles = np.frombuffer(counts, dtype=np.int64)[order]
        # Each character's place in the bigrams (sorted by first character).
        self.starts = np.searchsorted(self.first, np.arange(len(self.chars) + 1))
        # Which characters have each reading, with and without its tone, and each first letter.
        self._ids: dict[tuple, list[int]] = {}
        for i, char in enumerate(self.chars):
            for plain, tone in readings(char):
                for key in ((plain, tone), (plain, None), (plain[0], "initial")):
                    self._ids.setdefault(key, []).append(i)

    def __len__(self) -> int:
        return len(self.articles)

    def allowed(self, syllable: Syllable, initial: bool = False) -> np.ndarray:
        """Mask over character ids: those that read syllable (with its tone
        when given), or, for an initial, have a reading that begins with it."""
        mask = np.zeros(len(self.chars), dtype=bool)
        mask[self._ids.get((syllable[0], "initial") if initial else syllable, [])] = True
        return mask


@dataclass
class Candidate:
    text: str
    articles: int
    name: bool = False  # the archive knows it as a name (a tag)


@dataclass
class Answer:
    pinyin: Pinyin
    candidates: list[Candidate]
    more: bool  # True when strings beyond those listed may read so (limit reached)


def candidates(vocabulary: Vocabulary, pinyin: Pinyin, count: Callable[[str], int],
               limit: int | None = 20, names: Container[str] = frozenset()) -> Answer:
    """The archive's strings that read as pinyin, at most limit (None: all
    of them): names (strings the archive knows as names, its tags) first,
    then the others, each by articles (ties by text). count(text) is the
    exact search's number of articles, asked for strings of three
    characters or more: strongest chains first, until no chain left can
    enter the best `limit` (a chain's articles are at most its rarest
    bigram's)."""

    def rank(text: str, articles: int) -> tuple[bool, int]:
        return text in names, articles

    def order(item: tuple[str, int]) -> tuple:
        return item[0] not in names, -item[1], item[0]

    found: dict[str, int] = {}
    chains: dict[str, int] = {}
    # With a limit, at most MAX_CHAINS chains go on at each step (the strongest):
    # initials of common letters would otherwise make millions.
    beam = None if limit is None else MAX_CHAINS
    more = False
    for segmentation in pinyin.segmentations:
        masks = [vocabulary.allowed(s, pinyin.initials) for s in segmentation]
        if len(masks) == 1:
            for i in np.flatnonzero(masks[0] & (vocabulary.char_articles > 0)).tolist():
                found[vocabulary.chars[i]] = int(vocabulary.char_articles[i])
            continue
        cut, pairs = _chains(vocabulary, masks, beam)
        more = more or cut
        for text, bound in pairs:
            if len(text) == 2:
                found[text] = bound  # a bigram is its own index term: the bound is its count
            else:
                chains[text] = bound
    counts = MAX_COUNTS if not pinyin.initials else MAX_INITIAL_COUNTS
    for text, bound in sorted(chains.items(), key=order):
        if limit is not None and (counts <= 0 or len(found) >= limit
                                  and rank(text, bound) < sorted(rank(*item) for item in found.items())[-limit]):
            more = True  # no chain left can enter the best `limit`, or enough were counted
            break
        counts -= 1
        if articles := count(text):
            found[text] = articles
    ranked = sorted(found.items(), key=order)
    if limit is not None and len(ranked) > limit:
        more, ranked = True, ranked[:limit]
    return Answer(pinyin, [Candidate(text, n, text in names) for text, n in ranked], more)


def _chains(vocabulary: Vocabulary, masks: list[np.ndarray], beam: int | None) -> tuple[bool, list[tuple[str, int]]]:
    """Every string of len(masks) characters, the i-th allowed by masks[i],
    whose neighbouring pairs are all bigrams of the index, with the fewest
    articles any of its bigrams has; with a beam, only that many of the
    strongest go on at each step (and the first value says whether any were
    left out)."""
    second, articles, starts = vocabulary.second, vocabulary.articles, vocabulary.starts
    cut = False
    # Chains of one character to begin with; each step reads only the
    # bigrams that begin with a chain's last character (never all of them).
    ids = np.flatnonzero(masks[0])[:, None]
    bounds = np.full(len(ids), np.iinfo(np.int64).max)
    for mask in masks[1:]:
        last = ids[:, -1]
        lengths = starts[last + 1] - starts[last]
        # Every bigram that begins with each chain's last character …
        rows = np.repeat(np.arange(len(ids)), lengths)
        offsets = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        picked = np.repeat(starts[last], lengths) + offsets
        # … whose second character is allowed here.
        keep = mask[second[picked]]
        rows, picked = rows[keep], picked[keep]
        ids = np.concatenate([ids[rows], second[picked][:, None]], axis=1)
        bounds = np.minimum(bounds[rows], articles[picked])
        if beam is not None and len(ids) > beam:
            cut = True
            strongest = np.argpartition(-bounds, beam)[:beam]
            ids, bounds = ids[strongest], bounds[strongest]
    chars = vocabulary.chars
    return cut, [("".join(chars[i] for i in row), bound) for row, bound in zip(ids.tolist(), bounds.tolist(),
                                                                               strict=True)]
