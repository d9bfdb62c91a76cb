"""Chinese normalisation: the one rule that makes a reader's query and an
article comparable. The same `normalise` indexes articles at build time
(bannedbook/search/index.py), rewrites queries at search time
(search/query.py) and finds the passages that snippets show
(search/snippet.py).

NFKC, case folded, Traditional → Simplified, one character at a time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache

import opencc

_HAN = re.compile("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
# The Han blocks OpenCC's character table covers.
_HAN_BLOCKS = ((0x3400, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F))
# Characters beyond the BMP: text holding any is translated through a dict
# (a list indexed by code point covers the BMP only).
BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")


@cache
def _traditional_to_simplified() -> dict[str, str]:
    # Character by character, never phrase by phrase: a phrase table could
    # rewrite a query and a document differently and would shift offsets.
    convert = opencc.OpenCC("t2s").convert
    table = {}
    for start, end in _HAN_BLOCKS:
        for code in range(start, end + 1):
            char = chr(code)
            simplified = convert(char)
            if simplified != char and len(simplified) == 1:
                table[char] = simplified
    return table


class CharMap:
    """Text rewritten one character at a time by rule(char) -> str (a
    character's form worked out on first use and remembered), with
    str.translate: no Python step per character."""

    def __init__(self, rule: Callable[[str], str]) -> None:
        self.table = _RuleTable(rule)
        # The same for the BMP as a list, which str.translate reads several
        # times faster than a dict; a character not looked up yet holds
        # _UNSEEN, on which translate raises TypeError: the list then
        # learns the text's characters.
        self.bmp: list = [_UNSEEN] * 0x10000

    def __call__(self, text: str) -> str:
        if BEYOND_BMP.search(text):
            return text.translate(self.table)
        try:
            return text.translate(self.bmp)
        except TypeError:  # a character not in the list yet
            for char in set(text):
                self.bmp[ord(char)] = self.table[ord(char)]
            return text.translate(self.bmp)


class _RuleTable(dict):
    """str.translate table that works out each character's form on first use."""

    def __init__(self, rule: Callable[[str], str]) -> None:
        super().__init__()
        self.rule = rule

    def __missing__(self, code: int) -> str:
        value = self[code] = self.rule(chr(code))
        return value


_UNSEEN = object()


def _normalise_char(char: str) -> str:
    t2s = _traditional_to_simplified()
    return "".join(t2s.get(folded, folded) for folded in unicodedata.normalize("NFKC", char).casefold())


_NORMALISE = CharMap(_normalise_char)


def normalise(text: str) -> str:
    """The searchable form of text: NFKC, case folded, Traditional → Simplified.

    Applied one character at a time, so a query and a document can never be
    normalised differently because of their neighbours.
    """
    return _NORMALISE(text)


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """`normalise(text)` and, for each of its characters, the index in `text`
    it came from, so a match found in normalised text can be shown in the
    original (Traditional stays Traditional)."""
    pieces: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        piece = _NORMALISE.table[ord(char)]
        pieces.append(piece)
        offsets.extend([index] * len(piece))
    return "".join(pieces), offsets


@cache
def _traditional_chars() -> tuple[re.Pattern, re.Pattern]:
    """Patterns matching one character that Traditional → Simplified
    changes: within the BMP (a table lookup per character) and beyond it (a
    slow scan through hundreds of characters, only for text that has any)."""
    chars = sorted(_traditional_to_simplified())
    return tuple(re.compile("[" + "".join(map(re.escape, part)) + "]")
                 for part in ([c for c in chars if c <= "\uffff"], [c for c in chars if c > "\uffff"]))


def is_traditional(text: str) -> bool:
    """True when more characters change under Traditional → Simplified than
    look Simplified already; used to label an article's script."""
    in_bmp, beyond_bmp = _traditional_chars()
    traditional = len(in_bmp.findall(text))
    if BEYOND_BMP.search(text):
        traditional += len(beyond_bmp.findall(text))
    if not traditional:
        return False
    # Every character that changes is a Han character, so there are at
    # least as many Han characters, and at most len(text): counting them is
    # needed only when the share of all characters does not already decide.
    if traditional / len(text) > 0.05:
        return True
    han = len(_HAN.findall(text))
    return han > 0 and traditional / han > 0.05
