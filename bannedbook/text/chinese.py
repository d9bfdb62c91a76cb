"""Chinese text normalisation and search.

This module is the one home of the rule that makes a reader's query and an
article comparable. The same `normalise` indexes articles at build time,
rewrites queries at search time and finds the passages that snippets show.

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
import unicodedata
from array import array
from functools import cache

import numpy as np
import opencc

# Runs of the characters unicode61 keeps in tokens (letters and numbers, so
# 〇, the Chinese zero in 二〇二四年, too) are written as bigrams.
_RUN = re.compile(r"[^\W_]+")
_HAN = re.compile("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

# Private-use characters mark matches in snippets. They survive SQL and JSON
# untouched and cannot be confused with markup in an article; the plugin turns
# them into <mark> after escaping the text around them.
MARK_START = "\ue000"
MARK_END = "\ue001"
# Follows a character in the token that says "this article contains it".
CHAR_MARK = "\ue002"

# The Han blocks OpenCC's character table covers.
_HAN_BLOCKS = ((0x3400, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F))


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


class _CharTable(dict):
    """str.translate table that works out each character's form on first use."""

    def __missing__(self, code: int) -> str:
        t2s = _traditional_to_simplified()
        folded = unicodedata.normalize("NFKC", chr(code)).casefold()
        value = "".join(t2s.get(char, char) for char in folded)
        self[code] = value
        return value


_TABLE = _CharTable()
_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_UNSEEN = object()


# The same for the BMP as a list, which str.translate reads several times
# faster than a dict; a character not looked up yet holds _UNSEEN (below).
_BMP_TABLE: list = [_UNSEEN] * 0x10000


def normalise(text: str) -> str:
    """The searchable form of text: NFKC, case folded, Traditional → Simplified.

    Applied one character at a time, so a query and a document can never be
    normalised differently because of their neighbours.
    """
    if _BEYOND_BMP.search(text):
        return text.translate(_TABLE)
    try:
        return text.translate(_BMP_TABLE)
    except TypeError:  # a character not in the list yet
        for char in set(text):
            _BMP_TABLE[ord(char)] = _TABLE[ord(char)]
        return text.translate(_BMP_TABLE)


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """`normalise(text)` and, for each of its characters, the index in `text`
    it came from, so a match found in normalised text can be shown in the
    original (Traditional stays Traditional)."""
    pieces: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        piece = _TABLE[ord(char)]
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
    if _BEYOND_BMP.search(text):
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


def _bigrams(run: str) -> str:
    return " ".join(run[i : i + 2] for i in range(len(run)))


# Index text is made without a Python step per character: one str.translate
# normalises the text and sets every character that is not a letter or
# digit between two _CUTs, so str.split cuts it into runs and what lies
# between them; the bigrams of all runs at once come from their UTF-32 code
# units laid out in threes (character, next character, space).
# normalise never outputs _CUT: case folding turns every capital A into a.
_CUT = "A"
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"
_CODE_UNIT = next(code for code in "IL" if array(code).itemsize == 4)
_NO_CODES = np.zeros(0, dtype=np.uint32)
# Where one run's bigrams end ("x\n ": its last character, the newline after
# the run, a space) and the newline's own three begin with the next run's
# first character ("\nY "): the gap between the runs goes there.
_SEAM = re.compile("\n \n. ")


class _IndexTable(dict):
    """str.translate table: a character's normalised form, each of its
    characters that is not a letter or digit set between two _CUTs."""

    def __missing__(self, code: int) -> str:
        value = "".join(char if _RUN.match(char) else f"{_CUT}{char}{_CUT}" for char in _TABLE[code])
        self[code] = value
        return value


_INDEX_TABLE = _IndexTable()
# The same for the BMP as a list, which str.translate reads faster than any
# dict. A character not looked up yet holds _UNSEEN, on which translate
# raises TypeError: the list then learns the text's characters.
_BMP_INDEX_TABLE: list = [_UNSEEN] * 0x10000


def _runs_and_gaps(text: str) -> list[str]:
    """normalise(text) cut into runs of letters and digits (at even
    places) and what lies between them (at odd places); only the first and
    the last run can be empty."""
    if _BEYOND_BMP.search(text):
        marked = text.translate(_INDEX_TABLE)
    else:
        try:
            marked = text.translate(_BMP_INDEX_TABLE)
        except TypeError:
            for char in set(text):
                _BMP_INDEX_TABLE[ord(char)] = _INDEX_TABLE[ord(char)]
            marked = text.translate(_BMP_INDEX_TABLE)
    return marked.replace(_CUT + _CUT, "").split(_CUT)


def _code_units(text: str) -> array:
    return array(_CODE_UNIT, text.encode(_UTF32))


def _bigram_runs(codes: array) -> str:
    """The runs whose characters (as code units, runs separated by a
    newline) are codes, each written as bigrams; between two runs " %s "."""
    count = len(codes)
    threes = _code_units(" ") * (3 * count)
    threes[0::3] = codes
    threes[1 : 3 * count - 3 : 3] = codes[1:]
    # [:-2]: the last character has no next one, only two spaces.
    return _SEAM.sub(" %s ", threes.tobytes().decode(_UTF32))[:-2]


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
    return f"{char_tokens.tobytes().decode(_UTF32)[:-1]} {body_index}", title_index


# ---------------------------------------------------------------- queries

_QUERY_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_NEVER = '""'  # an empty FTS5 phrase: valid syntax, matches no row
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"'})


def _phrase(term: str) -> str | None:
    """FTS5 phrase for one normalised term, or None when it has no tokens."""
    runs = _RUN.findall(term)
    if not runs:
        return None
    pieces = [_bigrams(run) for run in runs[:-1]]
    last = runs[-1]
    prefix = ""
    if len(runs) == 1 and len(last) == 1 and term.endswith(last):
        # One character: the article's token for containing it.
        return f'"{last}{CHAR_MARK}"'
    if not term.endswith(last):
        pieces.append(_bigrams(last))
    elif len(last) == 1:
        # After punctuation ("U.S"): whatever bigram the character starts.
        pieces.append(last)
        prefix = "*"
    else:
        # The text's run may go on past the query: its next token is then a
        # bigram, not the run's lone last character, so leave that out.
        pieces.append(" ".join(last[i : i + 2] for i in range(len(last) - 1)))
    return '"' + " ".join(pieces) + '"' + prefix


_ENDS_QUOTES = re.compile('["“”「」]')


def quoted(text: str) -> str:
    """The query that searches for text as one quoted phrase, whatever it
    holds: the characters that would end the quotes become spaces (to
    search, like all that is not a letter or digit, they only separate
    words), so OR, -x, *, ( and : inside it are text, never syntax."""
    return '"' + _ENDS_QUOTES.sub(" ", unicodedata.normalize("NFKC", text)) + '"'


def phrase_pattern(term: str) -> re.Pattern | None:
    """What _phrase(term) finds, as a regular expression over normalised
    text (term normalised too), so occurrences of a phrase the index found
    can be counted. The rule, mirrored from the tokens: letters and digits
    must be as in the term; any other characters in it only separate words,
    and a word that is not the term's last (or is followed by such a
    character) must end where the term's does. None when term has no
    letters or digits (its phrase matches nothing)."""
    runs = _RUN.findall(term)
    if not runs:
        return None
    word_ends = r"(?![^\W_])"
    parts = [re.escape(run) + word_ends for run in runs[:-1]]
    last = re.escape(runs[-1])
    parts.append(last if term.endswith(runs[-1]) else last + word_ends)
    return re.compile(r"[\W_]+".join(parts))


def parse_query(query: str) -> tuple[list[list[str]], list[str]]:
    """Split a reader's query into AND-ed groups of OR-ed terms, and terms to
    exclude. Terms come back normalised; quotes keep a phrase together."""
    query = unicodedata.normalize("NFKC", query or "")
    query = query.translate(_QUOTES)
    groups: list[list[str]] = []
    excluded: list[str] = []
    join_next = False
    for match in _QUERY_PART.finditer(query):
        negated, quoted, bare = match.groups()
        if bare == "OR":
            join_next = bool(groups)
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        term = normalise(quoted if quoted is not None else bare)
        if negated:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    return groups, excluded


def match_expression(query: str) -> str:
    """Rewrite a reader's query into an FTS5 MATCH expression over the
    bigram index. Never raises and never returns invalid FTS5 syntax."""
    groups, excluded = parse_query(query)
    clauses = []
    for group in groups:
        phrases = [p for p in map(_phrase, group) if p]
        if phrases:
            clauses.append("(" + " OR ".join(phrases) + ")")
    if not clauses:
        return _NEVER
    expression = " AND ".join(clauses)
    # All exclusions as one NOT of their OR: FTS5 flattens a chain of ORs,
    # while nesting a NOT per exclusion overflows its parser at about 97.
    unwanted = [phrase for phrase in map(_phrase, excluded) if phrase]
    if unwanted:
        expression = f"({expression}) NOT ({' OR '.join(unwanted)})"
    return expression


def query_terms(query: str) -> list[str]:
    """The normalised terms a match must show (exclusions left out)."""
    groups, _ = parse_query(query)
    return [term for group in groups for term in group if term.strip()]


# ---------------------------------------------------------------- snippets


def _original_ends(text: str) -> np.ndarray:
    """ends[i]: the length of normalise(text[:i + 1]), for texts whose
    characters do not all normalise to one character (… to ...): a position
    in the normalised text is in the original character searchsorted(ends,
    position, "right"). In numpy, since text may be millions of characters."""
    codes = np.frombuffer(text.encode(_UTF32, "surrogatepass"), dtype=np.uint32)
    sizes = np.ones(int(codes.max()) + 1 if len(codes) else 1, dtype=np.int8)  # NFKC makes at most 18 of one
    for char in set(text):
        sizes[ord(char)] = len(_TABLE[ord(char)])
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
