"""Lexicons: researchers' lists of sensitive or censored terms (Citizen Lab's
keyword lists, China Digital Times', their own), matched against the archive.

    read_lexicons(paths) -> Lexicon      CSV files in, checked before the build starts
    write_lexicon(db, lexicon, pool)     after the articles are numbered and indexed, in the same write

An article has a term when search for the term as one quoted phrase finds it
(chinese.quoted): the same normalisation as search, Traditional ≡
Simplified, found through the search index, never by scanning the text. A
term is text, never query syntax. `hits` counts the term's occurrences in
the normalised title and body of the articles the index found, with the
phrase's own rule (chinese.phrase_pattern).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sqlite3
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from multiprocessing.pool import Pool
from pathlib import Path

import sqlite_utils

from bannedbook.db.schema import FTS_COLUMNS, FTS_TABLE, INDEXES, TABLES
from bannedbook.errors import BuildError, Rejected
from bannedbook.search.index import index_row
from bannedbook.search.query import match_expression, phrase_pattern, query_terms, quoted
from bannedbook.text.chinese import normalise
from bannedbook.text.decode import decode

# Columns the build computes or names itself; a CSV column of the same name
# is kept under another (name_2).
COMPUTED = {"term", "theme", "list", "articles", "hits", "rowid", "oid", "_rowid_"}
MAX_TERM_CHARS = 200  # a longer cell is a paragraph pasted by mistake, not a term
MAX_COLUMNS = 100
BATCH = 1000  # articles read, normalised and counted at a time


@dataclass
class LexiconReport:
    """What matching a lexicon did, for the build's summary."""

    terms: int = 0  # in the lexicon
    articles: int = 0  # holding at least one term
    pairs: int = 0  # (article, term) rows of article_terms
    written: bool = False  # False: the lexicon was current, left as it was
    notes: list[str] = field(default_factory=list)  # "path: message" of each file with a message
    changed_terms: int | None = None  # an update: the terms gained, lost or given another theme (None: all matched)


class LexiconError(BuildError):
    """A lexicon file that cannot be used at all."""


@dataclass
class Term:
    term: str
    theme: str | None
    list_name: str
    extra: dict[str, str] = field(default_factory=dict)
    phrase: str | None = None  # what search looks for (see searchable)


@dataclass
class LexiconFile:
    path: str
    list_name: str
    sha256: str
    bytes: int
    encoding: str
    terms: int = 0
    message: str | None = None  # what was skipped, and why


@dataclass
class Lexicon:
    terms: list[Term] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # the CSVs' other columns, in order
    files: list[LexiconFile] = field(default_factory=list)

    def fingerprint(self) -> list[tuple[str, str]]:
        """What decides whether the lexicon tables must be written again."""
        return sorted((file.list_name, file.sha256) for file in self.files)


def read_lexicons(paths: Sequence[Path | str]) -> Lexicon:
    """Read and check every lexicon CSV. Raises LexiconError (one line) for a
    file that cannot be used at all; rows that cannot be used are skipped and
    counted in the file's message."""
    lexicon = Lexicon()
    stems = Counter(Path(path).stem for path in paths)
    seen: set[tuple[str, str, str | None]] = set()
    for path in paths:
        path = Path(path)
        name = path.stem if stems[path.stem] == 1 else str(path)
        file, header, rows = _read_csv(path, name)
        skipped: Counter = Counter()
        for row in rows:
            term = Term(row.pop("term"), row.pop("theme", None), name, row)
            if not term.term:
                skipped["empty term(s)"] += 1
            elif len(term.term) > MAX_TERM_CHARS:
                skipped[f"term(s) over {MAX_TERM_CHARS} characters"] += 1
            elif (name, term.term, term.theme) in seen:
                skipped["duplicate(s)"] += 1
            else:
                seen.add((name, term.term, term.theme))
                lexicon.terms.append(term)
                file.terms += 1
                term.phrase = searchable(term.term)
                if term.phrase is None:
                    skipped["kept but match nothing (no letters or digits)"] += 1
        notes = [file.message] if file.message else []
        notes += [f"{n:,} {what}" for what, n in skipped.items()]
        file.message = "; ".join(notes) or None
        lexicon.files.append(file)
        lexicon.columns += [column for column in header if column not in lexicon.columns]
    return lexicon


def searchable(term: str) -> str | None:
    """The normalised phrase search builds for term, or None when the term
    has no letters or digits (such a phrase matches nothing)."""
    found = query_terms(quoted(term))
    # Letters and digits are what chinese.phrase_pattern calls words.
    return found[0] if found and any(char.isalnum() for char in found[0]) else None


def _read_csv(path: Path, name: str) -> tuple[LexiconFile, list[str], list[dict]]:
    """One CSV: its file record, its other columns, its rows as dicts with
    `term` (stripped), `theme` (stripped, None when empty) and the other
    columns under their kept names."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LexiconError(f"lexicon {path}: no such file") from None
    except OSError as error:
        raise LexiconError(f"lexicon {path}: cannot be read ({error.strerror or error})") from None
    if not data.strip():
        raise LexiconError(f"lexicon {path}: the file is empty")
    try:
        decoded = decode(data)
    except Rejected as rejected:
        raise LexiconError(f"lexicon {path}: {rejected.message}") from None
    if decoded.warning:  # a replaced byte inside a term would match the wrong text
        raise LexiconError(f"lexicon {path}: {decoded.warning}; save it as UTF-8")
    text = decoded.text
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else (
        ";" if ";" in first_line and "," not in first_line else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [cell.strip() for cell in next(reader)]
        names = _column_names(header)
        if "term" not in names:
            shown = ", ".join(cell for cell in header if cell)[:200] or "nothing"
            raise LexiconError(f"lexicon {path}: no `term` column in its first row (it holds: {shown})")
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            values = {key: cells[i].strip() if i < len(cells) else "" for key, i in names.items()}
            values["theme"] = values.get("theme") or None
            rows.append(values)
    except csv.Error as error:
        raise LexiconError(f"lexicon {path}: not a CSV file we can read (line {reader.line_num}: {error})") from None
    file = LexiconFile(str(path), name, hashlib.sha256(data).hexdigest(), len(data), decoded.encoding)
    dropped = len([cell for cell in header if cell]) - len(names)
    if dropped > 0:
        file.message = f"{dropped:,} column(s) over {MAX_COLUMNS} left out"
    return file, [key for key in names if key not in ("term", "theme")], rows


def _column_names(header: list[str]) -> dict[str, int]:
    """Kept name -> position: the first `term` and `theme` (any case) are
    those; other columns keep their header (unnamed ones: column_N), made
    unique and never one of the computed names."""
    names: dict[str, int] = {}
    for i, cell in enumerate(header):
        if cell.lower() in ("term", "theme") and cell.lower() not in names:
            names[cell.lower()] = i
            continue
        if len(names) >= MAX_COLUMNS + 2:
            continue
        base = cell or f"column_{i + 1}"
        name, n = base, 1
        while name.lower() in COMPUTED or name.lower() in {key.lower() for key in names}:
            n += 1
            name = f"{base}_{n}"
        names[name] = i
    return names


# ------------------------------------------------------------------ matching


def lexicon_is_current(db_path: Path, lexicon: Lexicon) -> bool:
    """Whether the database at db_path holds this lexicon's tables already
    (same files, same bytes)."""
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            held = sorted(tuple(row) for row in conn.execute("select list, sha256 from lexicon_files"))
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return held == lexicon.fingerprint()


@cache
def _counter(term: str) -> re.Pattern | None:
    """The phrase's pattern, or None when term is one word that may sit
    anywhere: str.count finds that, faster. (Terms without a word never get
    here: they are not matched at all.)"""
    pattern = phrase_pattern(term)
    return None if pattern is not None and pattern.pattern == re.escape(term) else pattern


def count_hits(item: tuple[str, str, tuple[str, ...]]) -> list[int]:
    """(title, body, normalised terms the index found in the article) ->
    occurrences of each term in the normalised title and body (a match never
    spans the two). At least 1: the index decides that the article holds a
    term, and a count can only miss forms the index alone folds (it reads é
    as e). Runs in a worker process."""
    title, body, terms = item
    title, body = normalise(title), normalise(body)
    both = f"{title}\n{body}"  # a one-word term cannot span the line break
    counts = []
    for term in terms:
        pattern = _counter(term)
        if pattern is None:
            n = both.count(term)
        else:
            n = len(pattern.findall(title)) + len(pattern.findall(body))
        counts.append(n or 1)
    return counts


def write_lexicon(db: sqlite_utils.Database, lexicon: Lexicon, pool: Pool | None = None,
                  seconds: dict | None = None) -> LexiconReport:
    """(Re)write lexicon, article_terms, themes and lexicon_files for
    lexicon. With a process pool, occurrences are counted on every core
    while this process writes the previous batch. Returns counts for the
    build's summary; seconds, when given, gets the time of each step."""
    clock = _Clock(seconds)
    _create_tables(db, lexicon.columns)
    _write_terms(db, lexicon, {})
    _write_files(db, lexicon)
    texts_of = _phrases(lexicon.terms)
    themes_of = _themes_of(lexicon.terms)
    texts = [tuple(same) for same in texts_of.values()]
    themes = [frozenset().union(*(themes_of[text] for text in same)) for same in texts]
    tally = _Tally(db, texts, themes)
    _match(db, list(texts_of), FTS_TABLE, tally, pool, clock)
    clock("count occurrences and write article_terms")
    report = tally.finish(lexicon)
    clock("order, index and total")
    return report


def update_lexicon(db: sqlite_utils.Database, lexicon: Lexicon, changed_sql: str, pool: Pool | None = None,
                   map_: Callable = map, seconds: dict | None = None) -> LexiconReport:
    """Bring the lexicon tables of an incremental build up to date, ending as
    write_lexicon would: changed_sql selects the ids of the articles written
    again or gone since they were matched. Only those articles are matched
    (against every term, through an index of their own text), and only the
    terms the lexicon gained are matched over the rest of the archive; the
    rows of terms it lost go. Totals and theme counts are corrected by what
    changed. map_ makes the changed articles' index text (a pool's map
    spreads it over every core). A database without lexicon tables is
    matched whole."""
    if not _has_lexicon_tables(db):
        return write_lexicon(db, lexicon, pool, seconds)
    clock = _Clock(seconds)
    old_totals = {term: (articles, hits) for term, articles, hits in
                  db.execute("select term, articles, hits from lexicon")}
    old_themes: dict[str, set[str]] = {term: set() for term in old_totals}
    for term, theme in db.execute("select term, theme from lexicon where theme is not null"):
        old_themes[term].add(theme)
    new_themes = _themes_of(lexicon.terms)
    gained = new_themes.keys() - old_themes.keys()
    lost = old_themes.keys() - new_themes.keys()
    rethemed = {term for term in new_themes.keys() & old_themes.keys() if new_themes[term] != old_themes[term]}
    db.execute("create temp table if not exists changed_articles (id text primary key)")
    db.execute("delete from temp.changed_articles")
    db.execute(f"insert or ignore into temp.changed_articles {changed_sql}")
    changed = "select id from temp.changed_articles"

    # The changed articles against every term, through an index of their own.
    db.execute("drop table if exists temp.changed_fts")
    db.execute(f"create virtual table temp.changed_fts using fts5({', '.join(FTS_COLUMNS)})")
    rows = db.execute(f"select rowid, title, body from articles where id in ({changed})").fetchall()
    db.conn.executemany("insert into temp.changed_fts (rowid, body_index, title_index) values (?, ?, ?)",
                        map_(index_row, rows))
    texts_of = _phrases(lexicon.terms)
    texts = [tuple(same) for same in texts_of.values()]
    tally = _Tally(db, texts, [frozenset()] * len(texts))
    _match(db, list(texts_of), "temp.changed_fts", tally, pool, clock)
    db.execute("drop table temp.changed_fts")
    # The terms gained against every other article.
    gained_of = _phrases([t for t in lexicon.terms if t.term in gained])
    tally.texts = [tuple(same) for same in gained_of.values()]
    tally.themes = [frozenset()] * len(tally.texts)
    _match(db, list(gained_of), FTS_TABLE, tally, pool, clock, frozenset(rowid for rowid, _, _ in rows))
    clock("match the changed articles and the terms gained")

    # A theme of a term gained, lost or re-themed is counted again whole
    # (below); any other theme changes only with the changed articles:
    # their themes before and after.
    moved = set().union(*(old_themes.get(term, ()) for term in gained | lost | rethemed),
                        *(new_themes.get(term, ()) for term in gained | lost | rethemed))
    db.execute("create temp table if not exists theme_articles (id text primary key)")
    db.execute("delete from temp.theme_articles")
    db.execute(f"insert or ignore into temp.theme_articles {changed}")
    theme_counts = Counter(dict(db.execute("select theme, articles from themes")))
    theme_counts.subtract(_theme_articles(db, old_themes, moved))
    # Rows that go: those of the changed articles and of the terms lost.
    totals = {term: list(old_totals[term]) for term in new_themes.keys() - gained}
    for term, hits in db.execute(f"select term, hits from article_terms where article_id in ({changed})"):
        if term in totals:
            totals[term][0] -= 1
            totals[term][1] -= hits
    db.execute(f"delete from article_terms where article_id in ({changed})")
    db.conn.executemany("delete from article_terms where term = ?", [(term,) for term in lost])
    for term, articles, hits in db.execute(
            "select term, count(*), sum(hits) from temp.new_article_terms group by term"):
        found = totals.setdefault(term, [0, 0])
        found[0] += articles
        found[1] += hits
    db.execute("insert into article_terms select * from temp.new_article_terms order by article_id, term")
    db.execute("drop table temp.new_article_terms")
    theme_counts.update(_theme_articles(db, new_themes, moved))
    recounted = _recount_themes(db, lexicon, moved)
    theme_counts.update({theme: recounted[theme] - theme_counts[theme] for theme in moved})
    clock("write article_terms")

    for table in ("themes", "lexicon_files"):
        db.execute(f"delete from [{table}]")
    _create_table(db, "lexicon", lexicon.columns)  # the CSVs' columns may have changed
    _write_terms(db, lexicon, {term: tuple(total) for term, total in totals.items()})
    _write_files(db, lexicon)
    _write_themes(db, lexicon, theme_counts)
    for table, names in INDEXES:
        if table == "lexicon":
            db[table].create_index(names, if_not_exists=True)
    db.execute("PRAGMA analysis_limit = 1000")
    for table in LEXICON_TABLES:
        db.execute(f"ANALYZE [{table}]")
    db.conn.commit()
    clock("totals, themes and the lexicon table")
    report = LexiconReport(terms=len(lexicon.terms), articles=len(rows), pairs=tally.report.pairs, written=True,
                           notes=_notes(lexicon), changed_terms=len(gained | lost | rethemed))
    return report


def _has_lexicon_tables(db: sqlite_utils.Database) -> bool:
    return all(db[table].exists() for table in LEXICON_TABLES)


def _theme_articles(db: sqlite_utils.Database, themes_of: dict[str, frozenset[str] | set[str]],
                    leave: set[str]) -> Counter:
    """How many of the articles in temp.theme_articles hold a term of each
    theme but those in leave, by the article_terms rows they have now and
    themes_of."""
    counts: Counter = Counter()
    held: dict[str, set[str]] = defaultdict(set)
    for key, term in db.execute("""select article_id, term from article_terms
                                   where article_id in (select id from temp.theme_articles)"""):
        held[key].update(themes_of.get(term, ()))
    for themes in held.values():
        counts.update(themes - leave)
    return counts


def _recount_themes(db: sqlite_utils.Database, lexicon: Lexicon, themes: set[str]) -> Counter:
    """The articles holding a term of each of those themes, counted whole
    through the index on article_terms.term."""
    db.execute("create temp table if not exists theme_terms (theme text, term text, primary key (theme, term))")
    db.execute("delete from temp.theme_terms")
    db.conn.executemany("insert or ignore into temp.theme_terms values (?, ?)",
                        [(t.theme, t.term) for t in lexicon.terms if t.theme in themes])
    # CROSS JOIN keeps this order: each theme's terms looked up in the index.
    return Counter(dict(db.execute("""select theme, count(distinct article_id) from temp.theme_terms
                                      cross join article_terms on article_terms.term = theme_terms.term
                                      group by theme""")))


def _phrases(terms: Sequence[Term]) -> dict[str, list[str]]:
    """Normalised phrase -> the terms as written that search finds as it.
    Terms that normalise alike (習近平, 习近平) are one phrase, matched once."""
    texts_of: dict[str, list[str]] = defaultdict(list)
    for t in {t.term: t for t in terms}.values():
        if t.phrase:
            texts_of[t.phrase].append(t.term)
    return texts_of


def _themes_of(terms: Sequence[Term]) -> dict[str, frozenset[str]]:
    """Each term as written -> its themes (a term may be in several rows)."""
    themes_of: dict[str, set[str]] = {t.term: set() for t in terms}
    for t in terms:
        if t.theme:
            themes_of[t.term].add(t.theme)
    return {term: frozenset(themes) for term, themes in themes_of.items()}


def _match(db: sqlite_utils.Database, phrases: list[str], fts: str, tally: _Tally, pool: Pool | None,
           clock: _Clock, skip: frozenset[int] = frozenset()) -> None:
    """Find each phrase through the search index fts (its rowids are those of
    articles), count its occurrences in the articles found (but those whose
    rowid is in skip) and hand them to tally, a batch of articles at a time."""
    matches = []
    for same in tally.texts:  # the terms as written of each phrase: the first is searched
        rowids = (rowid for (rowid,) in db.execute(
            f"select rowid from {fts} where {fts.rpartition('.')[2]} match ? order by rowid",
            [match_expression(quoted(same[0]))]))
        matches.append(array("q", (rowid for rowid in rowids if rowid not in skip)) if skip else array("q", rowids))
    clock("search the index for each term")
    # Batches of BATCH articles that hold a phrase, however the rowids are spaced.
    held = sorted(set().union(*matches)) if matches else []
    pending = None
    for start in range(0, len(held), BATCH):
        low, high = held[start], held[min(start + BATCH, len(held)) - 1]
        found: dict[int, list[int]] = defaultdict(list)  # rowid -> phrases it holds
        for index, rowids in enumerate(matches):
            for rowid in rowids[bisect_left(rowids, low):bisect_right(rowids, high)]:
                found[rowid].append(index)
        articles = db.execute(
            f"select rowid, id, title, body from articles where rowid in ({', '.join('?' * len(found))})",
            list(found)).fetchall()
        work = [(title, body, tuple(phrases[i] for i in found[rowid])) for rowid, _, title, body in articles]
        keys = [(key, found[rowid]) for rowid, key, _, _ in articles]
        counted = pool.map_async(count_hits, work, chunksize=25) if pool else _Done(list(map(count_hits, work)))
        if pending:
            tally.add(*pending)
        pending = (keys, counted)
    if pending:
        tally.add(*pending)


def _write_terms(db: sqlite_utils.Database, lexicon: Lexicon, totals: dict[str, tuple[int, int]]) -> None:
    """The lexicon table's rows, in the CSVs' order; totals: term -> (articles, hits) when known."""
    names = ["term", "theme", "list", "articles", "hits", *lexicon.columns]
    db.conn.executemany(
        f"insert into lexicon ({', '.join(_quote(name) for name in names)}) values ({', '.join('?' * len(names))})",
        [(t.term, t.theme, t.list_name, *totals.get(t.term, (0, 0)),
          *[t.extra.get(column) for column in lexicon.columns]) for t in lexicon.terms])


class _Clock:
    def __init__(self, seconds: dict | None):
        self.seconds, self.last = seconds, time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        if self.seconds is not None:
            self.seconds[step] = round(now - self.last, 3)
        self.last = now


class _Done:
    """A result already there (no pool), shaped like map_async's."""

    def __init__(self, value: list):
        self.value = value

    def get(self) -> list:
        return self.value


class _Tally:
    """Writes article_terms as batches are counted, and the totals of
    lexicon and themes at the end. Rows wait in a temporary table without
    indexes and go into article_terms in key order at the end: inserting
    them in the order the articles come (by date, keys at random) costs
    three times as much."""

    def __init__(self, db: sqlite_utils.Database, texts: list[tuple[str, ...]], themes: list[frozenset]):
        self.db, self.texts, self.themes = db, texts, themes  # per phrase: its terms as written, their themes
        self.theme_articles: Counter = Counter()
        self.report = LexiconReport()
        db.execute("create temp table new_article_terms (article_id text, term text, hits integer)")

    def add(self, keys: list[tuple[str, list[int]]], counted) -> None:
        rows, texts, themes = [], self.texts, self.themes
        for (key, found), hits in zip(keys, counted.get(), strict=True):
            rows += [(key, text, n) for index, n in zip(found, hits, strict=True) for text in texts[index]]
            self.theme_articles.update(frozenset().union(*[themes[index] for index in found]))
        self.db.conn.executemany("insert into temp.new_article_terms values (?, ?, ?)", rows)
        self.report.articles += len(keys)
        self.report.pairs += len(rows)

    def finish(self, lexicon: Lexicon) -> LexiconReport:
        db = self.db
        db.execute("insert into article_terms select * from temp.new_article_terms order by article_id, term")
        db.execute("drop table temp.new_article_terms")
        for table, names in INDEXES:
            if table in LEXICON_TABLES:
                db[table].create_index(names, if_not_exists=True)
        db.execute("""update lexicon set articles = totals.articles, hits = totals.hits
                      from (select term, count(*) as articles, sum(hits) as hits from article_terms group by term)
                        as totals
                      where totals.term = lexicon.term""")
        _write_themes(db, lexicon, self.theme_articles)
        for table in LEXICON_TABLES:
            db.execute(f"ANALYZE [{table}]")
        db.conn.commit()
        self.report.terms, self.report.written = len(lexicon.terms), True
        self.report.notes = _notes(lexicon)
        return self.report


def _write_files(db: sqlite_utils.Database, lexicon: Lexicon) -> None:
    db["lexicon_files"].insert_all([{
        "path": f.path, "list": f.list_name, "sha256": f.sha256, "bytes": f.bytes, "encoding": f.encoding,
        "terms": f.terms, "message": f.message} for f in lexicon.files])  # fmt: skip


def _write_themes(db: sqlite_utils.Database, lexicon: Lexicon, articles: Counter) -> None:
    """The themes table: each theme's terms, and articles[theme] articles."""
    terms_per_theme = Counter(theme for theme, _ in {(t.theme, t.term) for t in lexicon.terms if t.theme})
    db["themes"].insert_all([{"theme": theme, "terms": n, "articles": articles[theme]}
                             for theme, n in terms_per_theme.items()])


def _notes(lexicon: Lexicon) -> list[str]:
    return sorted(f"{f.path}: {f.message}" for f in lexicon.files if f.message)


def _quote(name: str) -> str:
    """An SQL identifier for any column name a CSV may hold."""
    return '"' + name.replace('"', '""') + '"'


LEXICON_TABLES = ("lexicon", "article_terms", "themes", "lexicon_files")


def _create_tables(db: sqlite_utils.Database, extra: list[str]) -> None:
    """The lexicon tables, empty and without their indexes (made once they
    are filled); lexicon gets the CSVs' other columns after its own.
    article_terms is a WITHOUT ROWID table: one B-tree in key order instead
    of rows plus a key index, a third smaller, and its index on term holds
    the article ids (a theme's articles are read from the index alone)."""
    for table in LEXICON_TABLES:
        _create_table(db, table, extra)


def _create_table(db: sqlite_utils.Database, table: str, extra: list[str]) -> None:
    """One lexicon table, empty (dropped first if there)."""
    db[table].drop(ignore=True)
    types, options = TABLES[table]
    if table == "lexicon":
        types = {**types, **{column: str for column in extra if column not in types}}
    if table == "article_terms":
        db.execute(db.create_table_sql(table, types, **options).rstrip().rstrip(";") + " WITHOUT ROWID")
    else:
        db[table].create(types, **options)
