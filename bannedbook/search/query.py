"""The query language a reader types, turned into FTS5 MATCH expressions
over the index text (search/index.py): words and "quoted phrases" all must
match, -word and -"phrase" must not, OR between alternatives.
"""

from __future__ import annotations

import re
import unicodedata

from bannedbook.search.index import CHAR_MARK, RUN, bigrams
from bannedbook.text.chinese import normalise

# The longest query taken (a pasted paragraph fits): its match expression,
# and the work of the SQL functions on it, stay bounded.
MAX_QUERY_CHARS = 2000

_QUERY_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_NEVER = '""'  # an empty FTS5 phrase: valid syntax, matches no row
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"'})


def _phrase(term: str) -> str | None:
    """FTS5 phrase for one normalised term, or None when it has no tokens."""
    runs = RUN.findall(term)
    if not runs:
        return None
    pieces = [bigrams(run) for run in runs[:-1]]
    last = runs[-1]
    prefix = ""
    if len(runs) == 1 and len(last) == 1 and term.endswith(last):
        # One character: the article's token for containing it.
        return f'"{last}{CHAR_MARK}"'
    if not term.endswith(last):
        pieces.append(bigrams(last))
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
    runs = RUN.findall(term)
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
