"""Snippets: a passage of an article around its first match, matches
marked, found with the normalisation search uses (text/chinese.py)."""

from __future__ import annotations

import re

import numpy as np

from bannedbook.search.index import UTF32
from bannedbook.search.query import query_terms
from bannedbook.text.chinese import normalise

# Private-use characters mark matches in snippets. They survive SQL and JSON
# untouched and cannot be confused with markup in an article; the search
# hooks (web/search.py) turn them into <mark> after escaping the text around them.
MARK_START = "\ue000"
MARK_END = "\ue001"



def _original_ends(text: str) -> np.ndarray:
    """ends[i]: the length of normalise(text[:i + 1]), for texts whose
    characters do not all normalise to one character (… to ...): a position
    in the normalised text is in the original character searchsorted(ends,
    position, "right"). In numpy, since text may be millions of characters."""
    codes = np.frombuffer(text.encode(UTF32, "surrogatepass"), dtype=np.uint32)
    sizes = np.ones(int(codes.max()) + 1 if len(codes) else 1, dtype=np.int8)  # NFKC makes at most 18 of one
    for char in set(text):
        sizes[ord(char)] = len(normalise(char))
    return np.cumsum(sizes[codes], dtype=np.int64)


def snippet(text: str, query: str, width: int = 120) -> str:
    """A passage of the original text around the first match, matches wrapped
    in MARK_START/MARK_END. Matching uses the same normalisation as search,
    so a Simplified query marks the Traditional characters it matched.
    Time and memory grow with the text only as fast as a normalisation of it
    and a regular expression search (an SQL function must stay within the
    server's time limit): the match positions are looked for only around the
    first match."""
    if not text:
        return ""
    normalised = normalise(text)
    parts = [re.compile(re.escape(part)) for term in query_terms(query) for part in term.split()]
    firsts = [found.start() for found in (part.search(normalised) for part in parts) if found]
    reach = max((len(part.pattern) for part in parts), default=0)
    # An original position is never after its normalised one: the positions
    # up to the window's end are those of text[:first + width + reach].
    ends = None if len(normalised) == len(text) or not firsts else _original_ends(
        text[:min(firsts) + width + reach + 1])

    def original(position: int) -> int:
        return position if ends is None else int(np.searchsorted(ends, position, "right"))

    first = original(min(firsts)) if firsts else 0
    begin = max(0, first - width // 3)
    finish = min(len(text), begin + width)
    # the window's span in the normalised text, widened by a part's length on each side
    low = begin if ends is None else (int(ends[begin - 1]) if begin else 0)
    high = finish if ends is None else (int(ends[finish - 1]) if finish else 0)
    spans = sorted((original(found.start()), original(found.end() - 1) + 1)
                   for part in parts for found in part.finditer(normalised, max(0, low - reach), high + reach))
    out = ["…" if begin else ""]
    cursor = begin
    for start, end in spans:
        if end <= cursor or start >= finish:
            continue
        start = max(start, cursor)
        end = min(end, finish)
        out += [text[cursor:start], MARK_START, text[start:end], MARK_END]
        cursor = end
    out.append(text[cursor:finish])
    out.append("…" if finish < len(text) else "")
    return "".join(out).replace("\n", " ")
