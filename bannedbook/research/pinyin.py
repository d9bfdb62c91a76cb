"""Pinyin queries answered from an archive: its search index's vocabulary,
read once per database file through an fts5vocab table made in the
connection's temp schema (nothing is written to the archive), and the exact
search's counts. What a pinyin query means and how candidates are found is
search/pinyin.py; the search page, /-/pinyin.json and trends show it.
"""

from __future__ import annotations

from pathlib import Path

from bannedbook.db.schema import FTS_TABLE
from bannedbook.search.pinyin import Answer, Vocabulary, candidates, parse
from bannedbook.search.query import match_expression, quoted

VOCAB_TABLE = "temp.pinyin_terms"
# Terms from the first Han character on (CJK Extension A); earlier ones are Latin, digits, kana.
_FIRST_HAN = "\u3400"
_VOCABULARIES: dict[tuple, Vocabulary] = {}
_ANSWERS: dict[tuple, Answer] = {}
MAX_ANSWERS = 500


def _file_key(conn) -> tuple | None:
    """What identifies the database file (None for one in memory)."""
    (path,) = [row[2] for row in conn.execute("pragma database_list") if row[1] == "main"]
    return (path, Path(path).stat().st_size, Path(path).stat().st_mtime_ns) if path else None


def vocabulary(conn) -> Vocabulary:
    """The index's Chinese terms (search/pinyin.py's Vocabulary). The file is
    served immutable, so it is read once per process and file."""
    key = _file_key(conn)
    if key is None or key not in _VOCABULARIES:
        conn.execute(f"create virtual table if not exists {VOCAB_TABLE} using fts5vocab(main, {FTS_TABLE}, row)")
        made = Vocabulary(conn.execute(f"select term, doc from {VOCAB_TABLE} where term >= ?", [_FIRST_HAN]))
        if key is None:
            return made
        _VOCABULARIES.clear()
        _VOCABULARIES[key] = made
    return _VOCABULARIES[key]


_NAMES: dict[tuple, frozenset[str]] = {}


def names(conn) -> frozenset[str]:
    """The archive's tags (normalised): the strings it knows as names, which
    a pinyin query offers first. Read once per process and file."""
    key = _file_key(conn)
    if key is None or key not in _NAMES:
        found = frozenset(name for (name,) in conn.execute("select distinct key from tags where key is not null"))
        if key is None:
            return found
        _NAMES.clear()
        _NAMES[key] = found
    return _NAMES[key]


def count(conn, text: str) -> int:
    """How many articles the search for text (as one phrase) finds."""
    return conn.execute(f"select count(*) from [{FTS_TABLE}] where [{FTS_TABLE}] match ?",
                        [match_expression(quoted(text))]).fetchone()[0]


class NotReady(RuntimeError):
    """The vocabulary of this file has not been read yet (expand with load=False)."""


def ready(conn) -> bool:
    """Whether this file's vocabulary and names have been read."""
    key = _file_key(conn)
    return key is not None and key in _VOCABULARIES and key in _NAMES


def load(conn) -> None:
    """Read this file's vocabulary and names (seconds at 100,000 articles: the
    whole index is read), so that expansions are fast."""
    vocabulary(conn)
    names(conn)


def expand(conn, query: str, limit: int | None = 20, load: bool = True) -> Answer | None:
    """The archive's strings that read as query (pinyin or initials), or
    None when the query is not pinyin. With load=False, raises NotReady
    instead of reading the vocabulary (for callers under a time limit)."""
    pinyin = parse(query)
    if pinyin is None:
        return None
    if not load and not ready(conn):
        raise NotReady("the archive's vocabulary is still being read")
    # Answers are kept (a few hundred) per file: a page of results, its next
    # page and its trend ask the same question.
    key = (_file_key(conn), query, limit)
    if key[0] is None or key not in _ANSWERS:
        answer = candidates(vocabulary(conn), pinyin, lambda text: count(conn, text), limit, names(conn))
        if key[0] is None:
            return answer
        if len(_ANSWERS) >= MAX_ANSWERS:
            del _ANSWERS[next(iter(_ANSWERS))]
        _ANSWERS[key] = answer
    return _ANSWERS[key]


def as_json(query: str, answer: Answer | None) -> dict:
    """The answer as /-/pinyin.json gives it (shape in CONTRACT.md)."""
    if answer is None:
        return {"q": query, "syllables": [], "initials": False, "candidates": [], "more": False}
    return {
        "q": query,
        "syllables": answer.pinyin.syllables,
        "initials": answer.pinyin.initials,
        "readings": [[s + (str(t) if t else "") for s, t in way] for way in answer.pinyin.segmentations],
        # Most articles first, as the contract says; the page lists names first (its suggestion order), and
        # "name" lets a client do the same.
        "candidates": [{"text": c.text, "articles": c.articles, "name": c.name}
                       for c in sorted(answer.candidates, key=lambda c: (-c.articles, c.text))],
        "more": answer.more,
        "all": or_query([c.text for c in answer.candidates]),
    }


def or_query(texts: list[str]) -> str:
    """One search for any of texts."""
    return " OR ".join(quoted(text) for text in texts)

