"""The text FTS5 indexes for an article: normalised (text/chinese.py), each
run of letters and digits written as bigrams.

Why bigrams: SQLite's FTS5 tokenizers do not segment Chinese (unicode61 sees
a whole clause as one token). We hand FTS5 text in which every run of
letters and digits is written out as overlapping bigrams, each run's last
character also standing alone ("中国人" -> "中国 国人 人", "wto" -> "wt to o").
Every position of a run then starts exactly one token, so any query of two
or more characters is a phrase of its bigrams: search finds every article
that contains the query, Latin inside words included (a reader looking for
"tok" finds TikTok, as a substring scan would).

One-character queries (的, 中) would be prefix queries over thousands of
bigrams; instead each article's distinct characters are also written once,
each followed by CHAR_MARK ("的\ue002"), so such a query reads one list.
CHAR_MARK is a private-use character: unicode61 keeps it inside a token, and
neither article text (runs are always cut out with spaces around them) nor
a query can produce such a token. The stock unicode61 tokenizer does the
rest, so the database opens in any SQLite.
"""

from __future__ import annotations

import re
import sys
from array import array

import numpy as np

from bannedbook.text.chinese import CharMap, normalise

# Runs of the characters unicode61 keeps in tokens (letters and numbers, so
# 〇, the Chinese zero in 二〇二四年, too) are written as bigrams.
RUN = re.compile(r"[^\W_]+")
# Follows a character in the token that says "this article contains it".
CHAR_MARK = "\ue002"
UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"


def bigrams(run: str) -> str:
    return " ".join(run[i : i + 2] for i in range(len(run)))


# Index text is made without a Python step per character: one str.translate
# normalises the text and sets every character that is not a letter or
# digit between two _CUTs, so str.split cuts it into runs and what lies
# between them; the bigrams of all runs at once come from their UTF-32 code
# units laid out in threes (character, next character, space).
# normalise never outputs _CUT: case folding turns every capital A into a.
_CUT = "A"
_CODE_UNIT = next(code for code in "IL" if array(code).itemsize == 4)
_NO_CODES = np.zeros(0, dtype=np.uint32)
# Where one run's bigrams end ("x\n ": its last character, the newline after
# the run, a space) and the newline's own three begin with the next run's
# first character ("\nY "): the gap between the runs goes there.
_SEAM = re.compile("\n \n. ")


def _marked(char: str) -> str:
    """A character's normalised form, each of its characters that is not a
    letter or digit set between two _CUTs."""
    return "".join(c if RUN.match(c) else f"{_CUT}{c}{_CUT}" for c in normalise(char))


_MARK = CharMap(_marked)


def _runs_and_gaps(text: str) -> list[str]:
    """normalise(text) cut into runs of letters and digits (at even
    places) and what lies between them (at odd places); only the first and
    the last run can be empty."""
    return _MARK(text).replace(_CUT + _CUT, "").split(_CUT)


def _code_units(text: str) -> array:
    return array(_CODE_UNIT, text.encode(UTF32))


def _bigram_runs(codes: array) -> str:
    """The runs whose characters (as code units, runs separated by a
    newline) are codes, each written as bigrams; between two runs " %s "."""
    count = len(codes)
    threes = _code_units(" ") * (3 * count)
    threes[0::3] = codes
    threes[1 : 3 * count - 3 : 3] = codes[1:]
    # [:-2]: the last character has no next one, only two spaces.
    return _SEAM.sub(" %s ", threes.tobytes().decode(UTF32))[:-2]


def _index_text(text: str, seen: list[array]) -> str:
    """index_text(text); appends the code points of its letters and digits
    (runs separated by newlines) to seen."""
    pieces = _runs_and_gaps(text)
    # Runs at even places; only the first and the last can be empty.
    first = 0 if pieces[0] else 2
    last = len(pieces) - 1 if pieces[-1] else len(pieces) - 3
    if first > last:
        return "".join(pieces)
    codes = _code_units("\n".join(pieces[first : last + 1 : 2]))
    seen.append(codes)
    # The gaps between runs go in with %: a run holds letters and digits
    # only, never a %.
    runs = _bigram_runs(codes) % tuple(pieces[first + 1 : last : 2])
    return f"{''.join(pieces[:first])} {runs} {''.join(pieces[last + 1 :])}"


def index_text(text: str) -> str:
    """The text FTS5 indexes: normalised, runs of letters and digits written
    as bigrams."""
    return _index_text(text, [])


def index_columns(title: str, body: str) -> tuple[str, str]:
    """The search index's (body_index, title_index) for an article. The body
    column comes first and carries the article's character tokens: FTS5
    spends two bytes per word and article on any column but the first, so
    the big column goes there (the index is 30% smaller than title first)."""
    seen: list[array] = []
    body_index = _index_text(body, seen)
    title_index = _index_text(title, seen)
    # The distinct characters, by sorting all of them in numpy: a set makes
    # an integer object of every character (a third of this function's time
    # went there), and np.unique hashes, slower than a sort at this size.
    chars = np.sort(np.concatenate([np.frombuffer(codes, dtype=np.uint32) for codes in seen] or [_NO_CODES]))
    chars = chars[np.concatenate(([True], chars[1:] != chars[:-1])) & (chars != ord("\n"))] if len(chars) else chars
    char_tokens = np.empty(3 * len(chars), dtype=np.uint32)
    char_tokens[0::3] = chars
    char_tokens[1::3] = ord(CHAR_MARK)
    char_tokens[2::3] = ord(" ")
    return f"{char_tokens.tobytes().decode(UTF32)[:-1]} {body_index}", title_index


def index_row(row: tuple[int, str, str]) -> tuple[int, str, str]:
    """(rowid, title, body) -> (rowid, body_index, title_index): a search
    index row of an article (the build's index and the lexicon's index of
    changed articles are made alike)."""
    rowid, title, body = row
    return (rowid, *index_columns(title, body))
